//! The churn example's plan: one node per declaration (plus one per split), the
//! expected edges, resolved column types, and a stable serialization.

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
    assert_eq!(plan["version"], 1);
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

#[test]
fn churn_plan_snapshot() {
    insta::assert_json_snapshot!(churn_plan());
}
