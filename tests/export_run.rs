//! The exported Workflow executed faithfully here, with no cluster: each task's container
//! command and arguments (template parameters filled in, the plan artifact put where the
//! task reads it) run as separate processes in `depends` order on one shared state; the
//! registry and artifacts must equal those of a local `mlpc run`. Then `mlpc export kserve`
//! on that registry.

mod common;

use mlpc_export::argo::{Template, Workflow, PLAN_PATH};
use mlpc_export::check::depends_names;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const NAME: &str = "churn-predictor";

/// The churn example with a fast learner, in a temporary folder.
fn pipeline() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_churn_data(dir.path());
    let text = std::fs::read_to_string("examples/churn/churn.mlp")
        .unwrap()
        .replace("gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)", "logistic_regression()")
        .replace("  cv     = 5\n", "");
    std::fs::write(dir.path().join("churn.mlp"), text).unwrap();
    dir
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = common::mlpc(args);
    assert_eq!(code, 0, "mlpc {args:?}:\n{out}{err}");
    out
}

/// The state the tasks share. Swapping in the team state (Postgres + object storage) is
/// this one line: `--state postgres://…` and `--artifacts s3://…`.
fn shared_state(dir: &Path) -> Vec<String> {
    vec!["--state".into(), dir.join("workflow-state").to_string_lossy().into_owned()]
}

/// Runs the Workflow's DAG as Argo would: a task starts once every task its `depends` names
/// has succeeded; each is its template's container command with the task's parameters.
fn execute(workflow: &Workflow, sandbox: &Path) -> Vec<String> {
    let templates: BTreeMap<&str, &Template> = workflow.spec.templates.iter().map(|t| (t.name.as_str(), t)).collect();
    let dag = templates[workflow.spec.entrypoint.as_str()].dag.as_ref().expect("the entrypoint is the DAG");
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while done.len() < dag.tasks.len() {
        let ready = dag
            .tasks
            .iter()
            .find(|t| {
                !done.contains(&t.name)
                    && t.depends.as_deref().map(depends_names).unwrap_or_default().iter().all(|d| done.contains(d))
            })
            .expect("a task is ready: the DAG has no cycle");
        let template = templates[ready.template.as_str()];
        let inputs = template.inputs.as_ref().unwrap();
        // Argo puts each raw artifact at its path; here the path is inside the sandbox.
        let mut paths = BTreeMap::new();
        for a in &inputs.artifacts {
            let local = sandbox.join(a.path.trim_start_matches('/'));
            std::fs::create_dir_all(local.parent().unwrap()).unwrap();
            std::fs::write(&local, &a.raw.data).unwrap();
            paths.insert(a.path.clone(), local.to_string_lossy().into_owned());
        }
        let container = template.container.as_ref().unwrap();
        let fill = |arg: &String| -> String {
            let mut arg = paths.get(arg).cloned().unwrap_or_else(|| arg.clone());
            for p in &ready.arguments.parameters {
                arg = arg.replace(&format!("{{{{inputs.parameters.{}}}}}", p.name), p.value.as_deref().unwrap());
            }
            arg
        };
        assert_eq!(container.command, ["mlpc"], "the image's entry is mlpc");
        let args: Vec<String> = container.args.iter().map(fill).collect();
        assert!(!args.iter().any(|a| a.contains("{{")), "every parameter is filled: {args:?}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlpc")).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "task {} ({args:?}):\n{}{}",
            ready.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        order.push(ready.name.clone());
        done.insert(ready.name.clone());
    }
    order
}

/// What a state holds that a run decides: registry versions (model sha256, metrics, params,
/// data hashes) and the artifacts by content.
fn outcome(state: &str) -> (Value, BTreeSet<String>) {
    let mut shown: Value = serde_json::from_str(&ok(&["models", "show", NAME, "--state", state, "--json"])).unwrap();
    let versions: Vec<Value> = shown["versions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(|v| {
            // How long the fit took is the one figure that may differ.
            v["metrics"].as_object_mut().unwrap().remove("fit_seconds").expect("the fit is timed");
            serde_json::json!({"version": v["version"], "artifact_sha256": v["artifact_sha256"], "metrics": v["metrics"],
                "params": v["params"], "data_hashes": v["data_hashes"], "plan_hash": v["plan_hash"], "stages": v["stages"]})
        })
        .collect();
    let mut files = BTreeSet::new();
    let mut todo = vec![PathBuf::from(state).join("artifacts")];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                files.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    (Value::Array(versions), files)
}

#[test]
fn the_exported_workflow_run_task_by_task_matches_mlpc_run() {
    let dir = pipeline();
    let file = dir.path().join("churn.mlp").to_string_lossy().into_owned();
    let base = dir.path().to_string_lossy().into_owned();
    let mut args: Vec<String> = ["export", "argo", &file, "--base-dir", &base].map(String::from).into();
    args.extend(shared_state(dir.path()));
    let yaml = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let docs: Vec<&str> = yaml.split("\n---\n").collect();
    assert_eq!(docs.len(), 2, "a Workflow and a CronWorkflow");
    let workflow: Workflow = serde_norway::from_str(docs[0]).expect("the Workflow reads back");
    let order = execute(&workflow, &dir.path().join("sandbox"));
    assert_eq!(order.len(), 10, "{order:?}");
    assert!(dir.path().join("sandbox").join(PLAN_PATH.trim_start_matches('/')).exists());

    let local = dir.path().join("local-state").to_string_lossy().into_owned();
    ok(&["run", &file, "--state", &local]);
    let workflow_state = shared_state(dir.path())[1].clone();
    let (versions, artifacts) = outcome(&workflow_state);
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert!(!versions[0]["metrics"].as_object().unwrap().is_empty(), "{versions}");
    assert_eq!((versions, artifacts), outcome(&local));

    // Version 1 to production, then the KServe export of that registry.
    ok(&["promote", NAME, "1", "--stage", "production", "--by", "test", "--state", &workflow_state]);
    let repos = dir.path().join("repos");
    let out = ok(&[
        "export",
        "kserve",
        &file,
        "--state",
        &workflow_state,
        "--artifacts",
        &repos.to_string_lossy(),
        "--storage-uri",
        "s3://models/mlpc",
    ]);
    assert!(out.starts_with("# Requests: POST /v2/models/churn-predictor/infer"), "{out}");
    let isvc: mlpc_export::kserve::InferenceService =
        serde_norway::from_str(&out).expect("the InferenceService reads back");
    assert_eq!(isvc.spec.predictor.model.storage_uri, "s3://models/mlpc/churn-predictor/v1");
    let root = repos.join("churn-predictor/v1/churn-predictor");
    let config = std::fs::read_to_string(root.join("config.pbtxt")).unwrap();
    assert!(
        config.contains("platform: \"onnxruntime_onnx\"") && config.contains("name: \"monthly_spend\""),
        "{config}"
    );
    let sha = outcome(&workflow_state).0[0]["artifact_sha256"].as_str().unwrap().to_string();
    let model = std::fs::read(root.join("1/model.onnx")).unwrap();
    assert_eq!(format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&model)), sha, "the registered model, unchanged");
    if let Ok(keep) = std::env::var("MLPC_KSERVE_DIR") {
        // For tests/kserve (Triton's ModelConfig protobuf and onnxruntime, in Python).
        let kept = Path::new(&keep).join("churn-predictor");
        std::fs::create_dir_all(kept.join("1")).unwrap();
        std::fs::copy(root.join("config.pbtxt"), kept.join("config.pbtxt")).unwrap();
        std::fs::copy(root.join("1/model.onnx"), kept.join("1/model.onnx")).unwrap();
    }
}
