//! The registry's commands (`models`, `approve`, `promote`, `rollback`, `audit`, `card`)
//! against a state folder filled through the library, as `mlpc run` would fill it.

mod common;

use common::mlpc;
use mlpc_runtime::registry::{self, NewVersion};
use mlpc_runtime::Store;
use std::collections::BTreeMap;

const CHURN: &str = "examples/churn/churn.mlp";

/// Snapshots output with its times and hashes, which change from run to run, masked.
fn assert_stable(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "[time]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[hash]");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// Two versions of `churn-predictor` trained by runs 1 and 2, with the example's rules
/// applied after each (version 1 goes to staging; production waits for an approval).
fn registry() -> tempfile::TempDir {
    let state = tempfile::tempdir().unwrap();
    let plan = mlpc_compiler::compile(CHURN, &mlpc::disk::Disk).plan.expect("the example compiles");
    let Some(mlpc_plan::NodeDef::Register(register)) = plan.node("register:churn-predictor").map(|n| &n.def) else {
        panic!("the churn example registers `churn-predictor`")
    };
    let rules: Vec<serde_json::Value> = register.rules.iter().map(|r| serde_json::to_value(r).unwrap()).collect();
    let pipeline_file = std::fs::canonicalize(CHURN).unwrap().to_string_lossy().into_owned();
    let store = Store::open(state.path()).unwrap();
    for (run, sha, auc) in [(1, "1", 0.86), (2, "2", 0.87)] {
        let v = NewVersion {
            name: "churn-predictor".into(),
            run_id: run,
            model_node: "model:churn_model".into(),
            artifact_sha256: sha.repeat(64),
            plan_hash: "c".repeat(64),
            pipeline_file: pipeline_file.clone(),
            data_hashes: BTreeMap::from([("source:customers".into(), "d".repeat(64))]),
            params: BTreeMap::from([("depth".into(), serde_json::json!(6)), ("trees".into(), serde_json::json!(200))]),
            metrics: BTreeMap::from([
                ("auc".into(), auc),
                ("f1".into(), 0.7),
                ("slice:region=eu:auc".into(), auc - 0.02),
            ]),
            algorithm: "gradient_boosting".into(),
            device: "cpu".into(),
            rules: rules.clone(),
            git_commit: None,
            plan: plan.to_json(),
        };
        let n = registry::register(&store, &v).unwrap();
        registry::apply_rules(&store, "churn-predictor", n, &format!("run {run}")).unwrap();
    }
    state
}

#[test]
fn approve_promote_rollback_and_the_audit_trail() {
    let state = registry();
    let st = state.path().to_str().unwrap();

    let (code, out, err) = mlpc(&["models", "--state", st]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("models", out);

    let (code, json, _) = mlpc(&["models", "show", "churn-predictor", "--state", st, "--json"]);
    assert_eq!(code, 0);
    let model: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(model["stages"], serde_json::json!({ "staging": 2 }), "version 2 took staging from version 1");
    assert_eq!(model["versions"][0]["metrics"]["auc"], 0.86);
    assert_eq!(model["versions"][1]["params"]["trees"], 200);
    assert_eq!(model["versions"][1]["artifact_sha256"], "2".repeat(64));

    let (code, out, err) =
        mlpc(&["approve", "churn-predictor", "1", "--stage", "production", "--by", "alice", "--state", st]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("approve", out);

    let promote = ["promote", "churn-predictor", "2", "--stage", "production", "--by", "bob", "--reason", "better auc"];
    let (code, out, _) = mlpc(&[&promote[..], &["--state", st]].concat());
    assert_eq!((code, out.as_str()), (0, "moved production of churn-predictor from 1 to 2; version 1 archived\n"));

    let (code, out, _) = mlpc(&["rollback", "churn-predictor", "--by", "carol", "--state", st]);
    assert_eq!(
        (code, out.as_str()),
        (0, "rolled back production of churn-predictor from 2 to 1; version 2 archived\n")
    );
    let (code, _, err) = mlpc(&["rollback", "churn-predictor", "--by", "carol", "--state", st]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to roll back to"), "{err}");

    let (code, out, _) = mlpc(&["models", "show", "churn-predictor", "--state", st]);
    assert_eq!(code, 0);
    assert_stable("show", &out);

    let (code, out, _) = mlpc(&["audit", "--state", st]);
    assert_eq!(code, 0);
    assert_stable("audit", &out);

    let (code, out, _) = mlpc(&["audit", "verify", "--state", st]);
    assert_eq!(code, 0);
    assert!(out.starts_with("audit log intact: 10 entries, head "), "{out}");

    let log = state.path().join("audit.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let third_line = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0 + 1;
    bytes[third_line + 20] ^= 0x04;
    std::fs::write(&log, bytes).unwrap();
    let (code, _, err) = mlpc(&["audit", "verify", "--state", st]);
    assert_eq!(code, 1, "a changed byte fails verification");
    assert!(err.contains("is damaged at line 3"), "{err}");
}

#[test]
fn the_card_of_the_production_version() {
    let state = registry();
    let st = state.path().to_str().unwrap();
    let (code, _, err) =
        mlpc(&["promote", "churn-predictor", "1", "--stage", "production", "--by", "alice", "--state", st]);
    assert_eq!(code, 0, "{err}");
    let out = state.path().join("card.md");
    let (code, said, err) = mlpc(&["card", "churn-predictor", "--state", st, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(said.starts_with("wrote the model card of churn-predictor"), "{said}");
    let card = std::fs::read_to_string(&out).unwrap();
    assert!(card.starts_with("# Model card: churn-predictor, version 1\n"), "the production version: {card}");
    for section in [
        "## Purpose",
        "## Data",
        "## Features",
        "## Training",
        "## Metrics",
        "### Slices",
        "## Promotion",
        "## Provenance",
    ] {
        assert!(card.contains(section), "missing {section}:\n{card}");
    }
    assert!(card.contains("| Owner | ml-platform@example.com |"), "{card}");
    assert!(card.contains(&format!("sha256 `{}`", "1".repeat(64))), "{card}");

    let (code, latest, _) = mlpc(&["card", "churn-predictor", "2", "--state", st]);
    assert_eq!(code, 0);
    assert!(latest.starts_with("# Model card: churn-predictor, version 2\n"), "{latest}");
}

#[test]
fn mistakes_are_usage_errors() {
    let state = registry();
    let st = state.path().to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["models", "show", "churn"], "no model named `churn`; registered: churn-predictor"),
        (&["promote", "churn-predictor", "9", "--stage", "production", "--by", "a"], "has no version 9"),
        (&["promote", "churn-predictor", "1", "--stage", "prod", "--by", "a"], "unknown stage `prod`"),
        (&["approve", "churn-predictor", "1", "--stage", "production"], "--by <BY>"),
        (&["rollback", "churn-predictor", "--by", "a"], "no version of `churn-predictor` is in production"),
        (&["card", "nope"], "no model named `nope`"),
    ];
    for (args, expected) in cases {
        let (code, _, err) = mlpc(&[args, &["--state", st]].concat());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = mlpc(&["models", "--state", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no registry in"), "{err}");
}
