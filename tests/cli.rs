//! The `mlpc` binary end to end: a snapshot per output format, exit codes, fmt, plan,
//! graph and explain.

mod common;

use common::mlpc;

const BROKEN: &str = "tests/cases/cli/broken.mlp";

#[test]
fn check_examples_is_clean() {
    let (code, out, _) = mlpc(&["check", "examples/"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors, 0 warnings"), "{out}");
}

#[test]
fn check_output_per_format() {
    // The repository's root, where SARIF says it is, differs per checkout.
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r#""uri": "file://[^"]*""#, r#""uri": "[repository root]""#);
    settings.bind(|| {
        for format in ["human", "short", "json", "sarif", "github"] {
            let (code, out, err) = mlpc(&["check", BROKEN, "--format", format]);
            assert_eq!(code, 1, "{format}: {err}");
            insta::assert_snapshot!(format!("check_{format}"), out);
        }
    });
}

#[test]
fn exit_codes() {
    assert_eq!(mlpc(&["check", "tests/cases/ok/multi_hop.mlp"]).0, 0);
    assert_eq!(mlpc(&["check", BROKEN]).0, 1);
    let (code, _, err) = mlpc(&["check", "no/such/file.mlp"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read `no/such/file.mlp`"), "{err}");
    assert_eq!(mlpc(&["check", "--format", "xml", BROKEN]).0, 2, "bad flag value is a usage error");
    assert_eq!(mlpc(&["frobnicate"]).0, 2);
}

#[test]
fn deny_warnings_fails_on_warnings_only_then() {
    let warn = "tests/cases/cli/unused.mlp";
    let (code, out, _) = mlpc(&["check", warn]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("W0001"), "{out}");
    assert_eq!(mlpc(&["check", warn, "--deny-warnings"]).0, 1);
}

#[test]
fn fmt_check_passes_on_examples_and_flags_unformatted_files() {
    let (code, out, err) = mlpc(&["fmt", "--check", "examples/", "tests/cases/ok/"]);
    assert_eq!(code, 0, "{out}{err}");
    let dir = tempfile::tempdir().unwrap();
    let messy = dir.path().join("messy.mlp");
    std::fs::write(&messy, "source s=csv(\"a.csv\"){ id:int key }\ncheck s { expect unique(id) }\n").unwrap();
    let path = messy.to_str().unwrap();
    let (code, out, _) = mlpc(&["fmt", "--check", path]);
    assert_eq!((code, out.contains("would reformat")), (1, true), "{out}");
    assert_eq!(mlpc(&["fmt", path]).0, 0);
    let formatted = std::fs::read_to_string(&messy).unwrap();
    assert_eq!(formatted, "source s = csv(\"a.csv\") {\n  id: int key\n}\n\ncheck s {\n  expect unique(id)\n}\n");
    assert_eq!(mlpc(&["fmt", "--check", path]).0, 0);
}

#[test]
fn fmt_leaves_a_file_that_does_not_parse_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.mlp");
    let text = std::fs::read_to_string(BROKEN).unwrap();
    std::fs::write(&broken, &text).unwrap();
    let (code, _, err) = mlpc(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("E0001") && err.contains("unchanged"), "{err}");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), text);
}

#[test]
fn plan_and_graph() {
    let (code, json, _) = mlpc(&["plan", "examples/churn/churn.mlp", "--format", "json"]);
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["version"], mlpc_plan::PLAN_VERSION);
    let (_, text, _) = mlpc(&["plan", "examples/churn/churn.mlp"]);
    insta::assert_snapshot!("plan_text", text);
    let (code, dot, _) = mlpc(&["graph", "examples/churn/churn.mlp", "--format", "dot"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("graph_dot", dot);
    let (_, mermaid, _) = mlpc(&["graph", "examples/churn/churn.mlp", "--format", "mermaid"]);
    insta::assert_snapshot!("graph_mermaid", mermaid);
    let (code, _, err) = mlpc(&["plan", BROKEN]);
    assert_eq!(code, 1, "no plan for a broken program");
    assert!(err.contains("E0"), "{err}");
}

#[test]
fn explain_prints_the_page() {
    let (code, out, _) = mlpc(&["explain", "e0006"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("# E0006"), "{out}");
    let (code, _, err) = mlpc(&["explain", "E9999"]);
    assert_eq!(code, 2);
    assert!(err.contains("known codes"), "{err}");
}
