//! `mlpc run`, `mlpc runs` and `mlpc plan --state` on the churn example, into a
//! temporary state folder.

mod common;

use common::mlpc;

#[test]
fn the_churn_example_runs_is_tracked_and_reruns_from_cache() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let (code, out, err) = mlpc(&["run", "examples/churn/churn.mlp", "--state", st]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("run 1 succeeded: 10 ran, 0 cached, 0 failed, 0 skipped, 2 not run"), "{out}");
    assert!(out.contains("5 expectations hold"), "{out}");

    let (_, before, _) = mlpc(&["plan", "examples/churn/churn.mlp", "--state", st]);
    assert!(before.contains("features:customer_features") && !before.contains("would run"), "{before}");

    let (code, out, _) = mlpc(&["run", "examples/churn/churn.mlp", "--state", st]);
    assert_eq!(code, 0);
    assert!(out.contains("0 ran, 10 cached"), "second run is all cache hits: {out}");

    let (code, json, _) = mlpc(&["runs", "--state", st, "--json"]);
    assert_eq!(code, 0);
    let runs: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!((runs[0]["nodes_ran"].as_i64(), runs[1]["nodes_cached"].as_i64()), (Some(10), Some(10)));

    let (_, json, _) = mlpc(&["runs", "show", "1", "--state", st, "--json"]);
    let run: serde_json::Value = serde_json::from_str(&json).unwrap();
    let features = run["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "features:customer_features").unwrap();
    assert_eq!(features["metrics"]["rows"], 2000.0);
    let sha = features["artifacts"]["data"].as_str().unwrap();
    let artifact = state.path().join("artifacts").join(&sha[..2]).join(format!("{sha}.parquet"));
    assert!(artifact.exists(), "content-addressed artifact at {}", artifact.display());
    let bytes = std::fs::read(&artifact).unwrap();
    use sha2::Digest;
    assert_eq!(format!("{:x}", sha2::Sha256::digest(&bytes)), sha, "named by its sha256");

    let (code, out, _) = mlpc(&["runs", "compare", "1", "2", "--state", st]);
    assert_eq!(code, 0);
    assert!(out.contains("same artifacts and metrics"), "{out}");
}

#[test]
fn runs_without_a_state_folder_say_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = mlpc(&["runs", "--state", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("run `mlpc run FILE` first"), "{err}");
}

/// The unit a workflow engine schedules: a compiled plan, run without its `.mlp`, and one
/// node of it at a time against the state.
#[test]
fn a_compiled_plan_runs_without_its_source_and_one_node_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_churn_data(dir.path());
    let (code, plan, err) = mlpc(&["plan", "examples/churn/churn.mlp", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let plan_file = dir.path().join("churn.plan.json");
    std::fs::write(&plan_file, plan).unwrap();
    let (p, st) = (plan_file.to_str().unwrap(), dir.path().join("state"));
    let st = st.to_str().unwrap();
    assert!(!dir.path().join("churn.mlp").exists(), "no program beside the plan");

    let (code, out, err) = mlpc(&["run", p, "--state", st, "--node", "model:churn_model"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("reads `split:churn_data.train`, which has no result in this state"), "{err}");

    for node in ["source:customers", "check:customers", "source:orders", "features:customer_features"] {
        let (code, out, err) = mlpc(&["run", p, "--state", st, "--node", node]);
        assert_eq!(code, 0, "{node}: {out}{err}");
        assert!(out.contains("1 ran"), "{node} alone: {out}");
    }
    let (code, out, err) = mlpc(&["run", p, "--state", st]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("6 ran, 4 cached"), "what ran alone is not run again: {out}");

    let (code, out, err) = mlpc(&["run", p, "--state", st, "--node", "model:churn_model", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("run 6 succeeded: 1 ran, 1 cached"), "only the node reruns: {out}");

    let mut bad: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    bad["version"] = (mlpc_plan::PLAN_VERSION + 1).into();
    std::fs::write(p, bad.to_string()).unwrap();
    let (code, _, err) = mlpc(&["run", p, "--state", st]);
    assert_eq!(code, 2);
    assert!(err.contains("upgrade mlpc to run it"), "{err}");
}
