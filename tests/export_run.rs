//! The exported Workflow executed faithfully here, with no cluster: each task's container
//! command and arguments (template parameters filled in, the plan artifact put where the
//! task reads it) run as separate processes in `depends` order on one shared state; the
//! registry and artifacts must equal those of a local `mlpc run`, on a state folder and on
//! the team state (the registry on a real Postgres, `MLPC_TEST_POSTGRES`; the artifacts on a
//! real S3 endpoint, `MLPC_TEST_S3`, each task on a machine of its own). Then `mlpc export
//! kserve` on that registry.

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

/// A state the tasks (or a local run) share: `--state` as given, and the machine's cache
/// folder (`XDG_CACHE_HOME`), where the team state keeps its artifacts; with `pods`, each
/// task runs on a machine of its own (a cache folder there named for the task), as pods
/// with empty disks that share only the state and the artifact store.
struct Shared {
    state: String,
    cache: PathBuf,
    pods: Option<PathBuf>,
}

impl Shared {
    fn folder(dir: &Path, name: &str) -> Shared {
        Shared {
            state: dir.join(name).to_string_lossy().into_owned(),
            cache: dir.join(format!("{name}-cache")),
            pods: None,
        }
    }
    /// `mlpc ARGS --state STATE` on this machine.
    fn mlpc(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(args)
            .args(["--state", &self.state])
            .env("XDG_CACHE_HOME", &self.cache)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "mlpc {args:?}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
        text
    }
    /// Where the artifacts are: the state folder's, or the team state's folder in the cache
    /// (in each pod's).
    fn artifacts(&self) -> Vec<PathBuf> {
        if !self.state.starts_with("postgres://") {
            return vec![Path::new(&self.state).join("artifacts")];
        }
        let machines: Vec<PathBuf> = match &self.pods {
            Some(pods) => std::fs::read_dir(pods).unwrap().map(|e| e.unwrap().path()).collect(),
            None => vec![self.cache.clone()],
        };
        machines
            .iter()
            .map(|m| {
                let mut folders: Vec<PathBuf> =
                    std::fs::read_dir(m.join("mlpc/shared")).unwrap().map(|e| e.unwrap().path()).collect();
                assert_eq!(folders.len(), 1, "one team state's folder: {folders:?}");
                folders.pop().unwrap().join("artifacts")
            })
            // A pod whose node wrote no file keeps none.
            .filter(|a| a.exists())
            .collect()
    }
}

/// Runs the Workflow's DAG as Argo would: a task starts once every task its `depends` names
/// has succeeded; each is its template's container command with the task's parameters.
fn execute(workflow: &Workflow, sandbox: &Path, machine: &Shared) -> Vec<String> {
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
        let cache = machine.pods.as_ref().map_or_else(|| machine.cache.clone(), |pods| pods.join(&ready.name));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(&args)
            .env("XDG_CACHE_HOME", cache)
            .env_remove("MLPC_ARTIFACTS")
            .output()
            .unwrap();
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
fn outcome(state: &Shared) -> (Value, BTreeSet<String>) {
    let mut shown: Value = serde_json::from_str(&state.mlpc(&["models", "show", NAME, "--json"])).unwrap();
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
    let mut todo = state.artifacts();
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                let name = e.file_name().to_string_lossy().into_owned();
                // A fetched artifact's stamp says this machine checked it; it is no artifact.
                if !name.ends_with(".verified") {
                    files.insert(name);
                }
            }
        }
    }
    (Value::Array(versions), files)
}

/// Exports the pipeline in `dir` to Argo with the tasks on `tasks`' state (and `artifacts`,
/// the artifact store, when given), runs the Workflow task by task, runs `mlpc run` on
/// `local`, and checks both decided the same.
fn workflow_matches_run(dir: &Path, tasks: &Shared, artifacts: Option<&str>, local: &Shared) {
    let file = dir.join("churn.mlp").to_string_lossy().into_owned();
    let base = dir.to_string_lossy().into_owned();
    let mut export = vec!["export", "argo", &file, "--base-dir", &base, "--state", &tasks.state];
    export.extend(artifacts.iter().flat_map(|a| ["--artifacts", a]));
    let yaml = ok(&export);
    let docs: Vec<&str> = yaml.split("\n---\n").collect();
    assert_eq!(docs.len(), 2, "a Workflow and a CronWorkflow");
    let workflow: Workflow = serde_norway::from_str(docs[0]).expect("the Workflow reads back");
    let sandbox = dir.join("sandbox");
    let order = execute(&workflow, &sandbox, tasks);
    assert_eq!(order.len(), 10, "{order:?}");
    assert!(sandbox.join(PLAN_PATH.trim_start_matches('/')).exists());

    local.mlpc(&["run", &file]);
    let (versions, artifacts) = outcome(tasks);
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert!(!versions[0]["metrics"].as_object().unwrap().is_empty(), "{versions}");
    assert!(artifacts.iter().any(|a| a.ends_with(".onnx")) && artifacts.len() > 1, "{artifacts:?}");
    assert_eq!((versions, artifacts), outcome(local));
}

#[test]
fn the_exported_workflow_on_postgres_and_s3_matches_mlpc_run_on_postgres() {
    let (Some(tasks), Some(local)) =
        (common::postgres_database("export_run_tasks"), common::postgres_database("export_run_local"))
    else {
        return;
    };
    let Ok(bucket) = std::env::var("MLPC_TEST_S3") else {
        assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_S3 is not set");
        eprintln!("not run: no S3 (start scripts/services/s3)");
        return;
    };
    let artifacts = format!("{bucket}/export_run_{}", std::process::id());
    let dir = pipeline();
    // Each task on an empty machine: what it reads that another task made comes from S3.
    let tasks = Shared { state: tasks, cache: dir.path().join("tasks-cache"), pods: Some(dir.path().join("pods")) };
    let local = Shared { state: local, cache: dir.path().join("local-cache"), pods: None };
    workflow_matches_run(dir.path(), &tasks, Some(&artifacts), &local);
    let verified = tasks.mlpc(&["audit", "verify"]);
    assert!(verified.starts_with("audit log intact"), "{verified}");
}

#[test]
fn the_exported_workflow_run_task_by_task_matches_mlpc_run() {
    let dir = pipeline();
    let file = dir.path().join("churn.mlp").to_string_lossy().into_owned();
    let tasks = Shared::folder(dir.path(), "workflow-state");
    workflow_matches_run(dir.path(), &tasks, None, &Shared::folder(dir.path(), "local-state"));
    let workflow_state = tasks.state.clone();

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
    let sha = outcome(&tasks).0[0]["artifact_sha256"].as_str().unwrap().to_string();
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
