//! Test fixtures: a temporary state folder and versions of the churn example's model.

use super::NewVersion;
use crate::store::Store;
use mlpc_plan::{NodeDef, Plan};
use std::collections::BTreeMap;

pub(crate) const CHURN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/churn/churn.mlp");

/// The churn example's compiled plan (`tests/plan.rs` keeps the file equal to what the
/// compiler makes of the example today).
pub(crate) fn churn_plan() -> Plan {
    Plan::from_json(include_str!("../../../tests/data/churn.plan.json")).expect("the fixture reads")
}

/// The churn example's rules: staging when `auc >= 0.80 and f1 >= 0.60`, production when
/// `auc >= production.auc - 0.01 and approved`.
pub(crate) fn churn_rules() -> Vec<serde_json::Value> {
    match churn_plan().node("register:churn-predictor").map(|n| &n.def) {
        Some(NodeDef::Register(def)) => def.rules.iter().map(|r| serde_json::to_value(r).unwrap()).collect(),
        _ => panic!("the churn example registers `churn-predictor`"),
    }
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
        plan: churn_plan().to_json(),
    }
}

/// A new, empty store: a state folder's DuckDB, or, with `MLPC_TEST_STORE=postgres`, a new
/// database on the server `MLPC_TEST_POSTGRES` names (`scripts/services/postgres`), so that
/// one suite tests both engines.
pub(crate) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    if std::env::var("MLPC_TEST_STORE").as_deref() == Ok("postgres") {
        Store::share(dir.path(), fresh_database());
    }
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

/// Whether the suite runs on Postgres (tests of the log file have nothing to test there).
pub(crate) fn on_postgres() -> bool {
    std::env::var("MLPC_TEST_STORE").as_deref() == Ok("postgres")
}

/// A new database on the test server.
pub(crate) fn fresh_database() -> crate::db::PgTarget {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = std::env::var("MLPC_TEST_POSTGRES").expect("MLPC_TEST_POSTGRES: start scripts/services/postgres");
    let admin = crate::db::PgTarget::parse(&server).unwrap();
    let session = crate::db::Db::Postgres(crate::db::PgSession::open(&admin, "mlpc tests").unwrap());
    let name = format!("mlpc_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    session.batch(&format!("CREATE DATABASE {name}")).unwrap();
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    crate::db::PgTarget::parse(&format!("{base}/{name}")).unwrap()
}

/// A state folder on a new database of the test server, and that database; `None` (the test
/// says so) without a server, unless `MLPC_REQUIRE_SERVICES` is set.
pub(crate) fn shared_folder() -> Option<(tempfile::TempDir, crate::db::PgTarget)> {
    if std::env::var("MLPC_TEST_POSTGRES").is_err() {
        assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_POSTGRES is not set");
        eprintln!("not run: no Postgres (start scripts/services/postgres)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = fresh_database();
    crate::Store::share(dir.path(), target.clone());
    Some((dir, target))
}
