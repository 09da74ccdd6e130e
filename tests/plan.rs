//! The churn example's plan: one node per declaration (plus one per split), the
//! expected edges, resolved column types, and a stable serialization; the plan's JSON
//! Schema, shipped as `docs/plan.schema.json`, and the plan fixture the runtime's own tests
//! run (`tests/data/churn.plan.json`). `MLPC_BLESS=1` rewrites both files when they differ.

mod common;

use common::compile_file;
use serde_json::Value;

fn churn_plan() -> Value {
    let c = compile_file("examples/churn/churn.mlp");
    let plan = c.plan.expect("the churn example compiles");
    serde_json::from_str(&plan.to_json()).unwrap()
}

#[test]
fn one_node_per_declaration() {
    let plan = churn_plan();
    assert_eq!(plan["version"], mlpc_plan::PLAN_VERSION);
    let ids: Vec<&str> = plan["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "check:customers",
            "dataset:churn_data",
            "evaluate:churn_model@churn_data.test",
            "features:customer_features",
            "model:churn_model",
            "monitor:churn_drift",
            "register:churn-predictor",
            "serve:churn-predictor",
            "source:customers",
            "source:orders",
            "split:churn_data.test",
            "split:churn_data.train",
        ]
    );
    // Topological: every input appears before the node that reads it.
    for (i, n) in plan["nodes"].as_array().unwrap().iter().enumerate() {
        for input in n["inputs"].as_array().unwrap() {
            let at = ids.iter().position(|id| id == input).unwrap();
            assert!(at < i, "{input} comes after {}", n["id"]);
        }
    }
}

#[test]
fn edges_connect_the_lifecycle() {
    let plan = churn_plan();
    let edges: Vec<(String, String, String)> = plan["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["from"].as_str().unwrap().into(), e["to"].as_str().unwrap().into(), e["kind"].as_str().unwrap().into())
        })
        .collect();
    let has = |from: &str, to: &str, kind: &str| edges.iter().any(|e| e.0 == from && e.1 == to && e.2 == kind);
    for (from, to) in [
        ("source:customers", "check:customers"),
        ("check:customers", "features:customer_features"),
        ("source:orders", "features:customer_features"),
        ("features:customer_features", "dataset:churn_data"),
        ("dataset:churn_data", "split:churn_data.train"),
        ("split:churn_data.train", "model:churn_model"),
        ("model:churn_model", "evaluate:churn_model@churn_data.test"),
        ("split:churn_data.test", "evaluate:churn_model@churn_data.test"),
        ("evaluate:churn_model@churn_data.test", "register:churn-predictor"),
        ("register:churn-predictor", "serve:churn-predictor"),
        ("features:customer_features", "serve:churn-predictor"),
        ("serve:churn-predictor", "monitor:churn_drift"),
        ("split:churn_data.train", "monitor:churn_drift"),
    ] {
        assert!(has(from, to, "data"), "missing data edge {from} -> {to}");
    }
    assert!(has("monitor:churn_drift", "model:churn_model", "trigger"));
    assert!(has("monitor:churn_drift", "serve:churn-predictor", "trigger"));
    assert_eq!(edges.len(), 20, "{edges:#?}");
}

#[test]
fn nodes_carry_resolved_types() {
    let plan = churn_plan();
    let node = |id: &str| plan["nodes"].as_array().unwrap().iter().find(|n| n["id"] == id).unwrap().clone();
    let column_type = |n: &Value, col: &str| {
        n["schema"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == col)
            .map(|c| c["type"].as_str().unwrap().to_string())
    };
    let customers = node("source:customers");
    assert_eq!(column_type(&customers, "plan").as_deref(), Some("category"));
    assert_eq!(column_type(&customers, "event_timestamp").as_deref(), Some("timestamp"));
    let features = node("features:customer_features");
    assert_eq!(column_type(&features, "spend_90d").as_deref(), Some("float"));
    assert_eq!(column_type(&features, "days_since_last_purchase").as_deref(), Some("int"));
    let spend =
        &features["def"]["features"].as_array().unwrap().iter().find(|f| f["name"] == "spend_90d").unwrap()["expr"];
    assert_eq!(spend["op"], "aggregate");
    assert_eq!(spend["window_ms"], 90 * 86_400_000u64);
    assert_eq!(spend["join"][0]["from_column"], "customer_id");
    let model = node("model:churn_model");
    assert_eq!(model["def"]["task"], "classification");
    assert_eq!(model["def"]["inputs"].as_array().unwrap().len(), 10);
    assert_eq!(model["def"]["trainer"]["params"]["trees"], 200);
    assert_eq!(model["def"]["trainer"]["params"]["max_bins"], 255, "defaults come from stdlib");
    for n in plan["nodes"].as_array().unwrap() {
        assert_eq!(n["hash"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn hashes_ignore_layout_and_comments_but_not_meaning() {
    let text = std::fs::read_to_string("examples/churn/churn.mlp").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hashes = |src: &str| {
        let path = dir.path().join("p.mlp");
        std::fs::write(&path, src).unwrap();
        let c = compile_file(path.to_str().unwrap());
        let plan = c.plan.expect("compiles");
        plan.nodes.iter().map(|n| (n.id.clone(), n.hash.clone())).collect::<std::collections::BTreeMap<_, _>>()
    };
    let base = hashes(&text);
    let relaid = hashes(&text.replace("  ", "    ").replace("// nightly", "// every night"));
    assert_eq!(base, relaid);
    let changed = hashes(&text.replace("trees = 200", "trees = 300"));
    let differ: Vec<&String> = base.keys().filter(|k| base[*k] != changed[*k]).collect();
    assert_eq!(differ, ["model:churn_model"]);
}

/// Compares a generated file with the one in the repository, or rewrites it under `MLPC_BLESS=1`.
fn same_as_file(path: &str, generated: &str) {
    if std::env::var_os("MLPC_BLESS").is_some() {
        std::fs::write(path, generated).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        kept == generated,
        "{path} is not what mlpc generates now: run `MLPC_BLESS=1 cargo test --test plan` and review the diff"
    );
}

#[test]
fn the_churn_fixture_is_the_churn_plan() {
    let plan = compile_file("examples/churn/churn.mlp").plan.expect("the churn example compiles");
    same_as_file("tests/data/churn.plan.json", &format!("{}\n", plan.to_json()));
    assert_eq!(mlpc_plan::Plan::from_json(&plan.to_json()).unwrap(), plan, "a plan reads back as written");
}

#[test]
fn the_shipped_schema_is_the_plan_types_schema() {
    let schema = serde_json::to_string_pretty(&mlpc_plan::Plan::json_schema()).unwrap();
    same_as_file("docs/plan.schema.json", &format!("{schema}\n"));
}

#[test]
fn plans_validate_against_the_schema_and_broken_ones_do_not() {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string("docs/plan.schema.json").unwrap()).unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");
    for file in ["examples/churn/churn.mlp", "examples/fraud/fraud.mlp"] {
        let plan = compile_file(file).plan.unwrap_or_else(|| panic!("{file} compiles"));
        let value: Value = serde_json::from_str(&plan.to_json()).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
    let mut broken = churn_plan();
    broken["nodes"][0]["kind"] = "teleport".into();
    assert!(!validator.is_valid(&broken), "an unknown node kind");
    let mut broken = churn_plan();
    let model = broken["nodes"].as_array_mut().unwrap().iter_mut().find(|n| n["kind"] == "model").unwrap();
    model["def"]["device"] = "tpu".into();
    assert!(!validator.is_valid(&broken), "an unknown device");
    let mut broken = churn_plan();
    let features = broken["nodes"].as_array_mut().unwrap().iter_mut().find(|n| n["kind"] == "features").unwrap();
    features["def"]["features"][0]["expr"] =
        serde_json::json!({"op": "binary", "operator": "=>", "type": "bool", "lhs": null, "rhs": null});
    assert!(!validator.is_valid(&broken), "an unknown operator");
}
