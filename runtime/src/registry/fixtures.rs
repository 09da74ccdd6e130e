//! Test fixtures: a temporary state folder and versions of the churn example's model.

use super::NewVersion;
use crate::store::Store;
use std::collections::BTreeMap;

pub(crate) struct Disk;

impl mlpc_compiler::FileSystem for Disk {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

pub(crate) const CHURN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/churn/churn.mlp");

/// The churn example's rules: staging when `auc >= 0.80 and f1 >= 0.60`, production when
/// `auc >= production.auc - 0.01 and approved`.
pub(crate) fn churn_rules() -> Vec<serde_json::Value> {
    let plan = mlpc_compiler::compile(CHURN, &Disk).plan.expect("the example compiles");
    let node = plan.node("register:churn-predictor").expect("a register node");
    node.def["rules"].as_array().expect("rules").clone()
}

pub(crate) fn new_version(sha: &str, auc: f64, f1: f64) -> NewVersion {
    NewVersion {
        name: "churn-predictor".into(),
        run_id: 1,
        model_node: "model:churn_model".into(),
        artifact_sha256: sha.into(),
        plan_hash: "p".into(),
        pipeline_file: CHURN.into(),
        data_hashes: BTreeMap::from([("source:customers".into(), "d".into())]),
        params: BTreeMap::from([("trees".into(), serde_json::json!(200))]),
        metrics: BTreeMap::from([("auc".into(), auc), ("f1".into(), f1), ("bad".into(), f64::NAN)]),
        algorithm: "gradient_boosting".into(),
        device: "cpu".into(),
        rules: churn_rules(),
        git_commit: None,
    }
}

pub(crate) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}
