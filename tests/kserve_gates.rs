//! `mlpc daemon --kserve`, the real binary, driving an exported InferenceService's canary
//! against a fake Kubernetes API server (axum on loopback: GET of the service, merge PATCHes
//! recorded and applied as the API server applies them, scripted failures) and a fake
//! Prometheus (its HTTP API answering queries from a scripted table). Healthy figures move
//! the traffic through every step and promote; a failing gate rolls back; no figures, or no
//! Prometheus, move nothing; the API server's 404 and 409 are said and retried.

mod common;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NAME: &str = "churn-predictor";
const SERVICE: &str = "/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/churn-predictor";

/// The fake API server's one InferenceService, what it was sent, and what it answers next.
#[derive(Default)]
struct Kube {
    object: Option<Value>,
    patches: Vec<Value>,
    content_types: Vec<String>,
    /// Status codes the next PATCHes get instead of being applied.
    refuse: VecDeque<u16>,
}

/// A scripted table: the value of a query, or no data.
type Answer = Box<dyn Fn(&str) -> Option<f64> + Send>;

/// The fake Prometheus: its answers, and the queries it was asked.
struct Prom {
    answer: Answer,
    queries: Vec<String>,
}

type Shared<T> = Arc<Mutex<T>>;

fn status(code: u16, reason: &str, message: &str) -> (StatusCode, Json<Value>) {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    (StatusCode::from_u16(code).unwrap(), Json(body))
}

async fn get_service(State(k): State<Shared<Kube>>) -> (StatusCode, Json<Value>) {
    match k.lock().unwrap().object.clone() {
        Some(o) => (StatusCode::OK, Json(o)),
        None => status(404, "NotFound", "inferenceservices.serving.kserve.io \"churn-predictor\" not found"),
    }
}

async fn patch_service(
    State(k): State<Shared<Kube>>,
    headers: HeaderMap,
    Json(patch): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut k = k.lock().unwrap();
    let kind = headers.get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    k.content_types.push(kind);
    if let Some(code) = k.refuse.pop_front() {
        return status(
            code,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version",
        );
    }
    let Some(object) = k.object.as_mut() else { return status(404, "NotFound", "not found") };
    json_patch::merge(object, &patch);
    let patched = object.clone();
    k.patches.push(patch);
    (StatusCode::OK, Json(patched))
}

async fn query(State(p): State<Shared<Prom>>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let mut p = p.lock().unwrap();
    let query = q.get("query").cloned().unwrap_or_default();
    let result = match (p.answer)(&query) {
        Some(v) => json!([{"metric": {}, "value": [1.7e9, v.to_string()]}]),
        None => json!([]),
    };
    p.queries.push(query);
    Json(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
}

/// Both fakes, on their own runtime for the length of a test.
struct Fakes {
    kube: Shared<Kube>,
    prom: Shared<Prom>,
    kube_url: String,
    prom_url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Fakes {
    fn start(object: Option<Value>, answer: impl Fn(&str) -> Option<f64> + Send + 'static) -> Fakes {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let kube = Arc::new(Mutex::new(Kube { object, ..Kube::default() }));
        let prom = Arc::new(Mutex::new(Prom { answer: Box::new(answer), queries: Vec::new() }));
        let api = Router::new().route(SERVICE, get(get_service).patch(patch_service)).with_state(kube.clone());
        let prometheus = Router::new().route("/api/v1/query", get(query)).with_state(prom.clone());
        let listen = |router: Router| {
            let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
            url
        };
        let (kube_url, prom_url) = (listen(api), listen(prometheus));
        Fakes { kube, prom, kube_url, prom_url, _runtime: runtime }
    }

    fn patches(&self) -> Vec<Value> {
        self.kube.lock().unwrap().patches.clone()
    }
}

/// Healthy figures: 20 requests, no errors, p99 of 3ms.
fn healthy(q: &str) -> Option<f64> {
    Some(if q.contains("nv_inference_request_failure{") {
        0.0
    } else if q.contains("quantile") {
        3.0
    } else {
        20.0
    })
}

/// The churn example with a fast learner and one-second canary steps (promote when p99 <
/// 5s and error rate < 1%; roll back on error rate > 2% or p99 > 100ms): version 1 in
/// production, then version 2 moved there, and the service `mlpc export kserve` writes.
struct Pipeline {
    dir: tempfile::TempDir,
}

impl Pipeline {
    fn new() -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let p = Pipeline { dir };
        let write = |algorithm| std::fs::write(p.file(), common::serving_churn(algorithm, true, "100ms")).unwrap();
        write("logistic_regression()");
        p.mlpc(&["run", &p.file_arg()]);
        p.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
        write("logistic_regression(c = 0.05)");
        p.mlpc(&["run", &p.file_arg()]);
        p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
        p
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("churn.mlp")
    }
    fn file_arg(&self) -> String {
        self.file().to_string_lossy().into_owned()
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn mlpc(&self, args: &[&str]) -> String {
        common::runtime_ok(&self.state(), args)
    }
    /// The exported InferenceService, as JSON.
    fn exported(&self, mode: &str) -> Value {
        let repos = self.dir.path().join("repos").to_string_lossy().into_owned();
        let out = self.mlpc(&[
            "export",
            "kserve",
            &self.file_arg(),
            "--artifacts",
            &repos,
            "--storage-uri",
            "s3://models/mlpc",
            "--namespace",
            "models",
            "--mode",
            mode,
        ]);
        serde_norway::from_str(&out).unwrap()
    }
    fn production(&self) -> i64 {
        let shown: Value = serde_json::from_str(&self.mlpc(&["models", "show", NAME, "--json"])).unwrap();
        shown["stages"]["production"].as_i64().unwrap()
    }
    /// The audit log's entries.
    fn audit(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state().join("audit.log")).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
    fn canary_actions(&self) -> Vec<String> {
        self.audit()
            .iter()
            .filter_map(|a| a["action"].as_str().filter(|a| a.starts_with("canary-")).map(String::from))
            .collect()
    }
    fn audit_intact(&self) {
        let (code, out, err) = common::mlpc(&["audit", "verify", "--state", &self.state().to_string_lossy()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.starts_with("audit log intact"), "{out}");
    }
    fn daemon(&self, f: &Fakes, prometheus: &str) -> Daemon {
        let started = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos();
        let log = self.dir.path().join(format!("daemon-{started}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(["daemon", &self.file_arg(), "--state"])
            .arg(self.state())
            .args(["--kserve", "--namespace", "models", "--kube-api", &f.kube_url, "--prometheus", prometheus])
            .args(["--api-addr", "127.0.0.1:0", "--tick-ms", "100"])
            .env("MLPC_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let api =
            line.trim().strip_prefix("api on ").unwrap_or_else(|| panic!("not started: {line:?}\n{}", read(&log)));
        Daemon { child: common::Running(child), log, api: api.into() }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

struct Daemon {
    child: common::Running,
    log: PathBuf,
    api: String,
}

const TOKEN: &str = "kserve-gates-test-token";

impl Daemon {
    /// The admin API's status.
    fn status(&self) -> Value {
        let client = reqwest::blocking::Client::new();
        client.get(format!("{}/admin/status", self.api)).bearer_auth(TOKEN).send().unwrap().json().unwrap()
    }

    /// Stops it; what it logged.
    fn stop(mut self) -> String {
        assert_eq!(self.child.stop(Duration::from_secs(30)), 0, "{}", read(&self.log));
        read(&self.log)
    }
}

/// Polls until the fake API server has taken `n` patches.
fn until_patched(f: &Fakes, d: &Daemon, n: usize) -> Vec<Value> {
    common::eventually(&format!("{n} patches"), Duration::from_secs(30), || {
        let p = f.patches();
        if p.len() >= n {
            Ok(p)
        } else {
            Err(format!("{p:?}\n{}", read(&d.log)))
        }
    })
}

fn promotion() -> Value {
    json!({"metadata": {"annotations": {"mlpc.dev/stable-version": "2", "mlpc.dev/candidate-version": null}},
        "spec": {"predictor": {"canaryTrafficPercent": null}}})
}

#[test]
fn healthy_figures_move_the_traffic_through_every_step_and_promote() {
    let p = Pipeline::new();
    let exported = p.exported("serverless");
    assert_eq!(exported["spec"]["predictor"]["canaryTrafficPercent"], 10, "the export starts at the first step");
    let f = Fakes::start(Some(exported), healthy);
    let d = p.daemon(&f, &f.prom_url);
    let patches = until_patched(&f, &d, 3);
    std::thread::sleep(Duration::from_millis(1500));
    let canaries = d.status()["canaries"].clone();
    let log = d.stop();
    assert_eq!((&canaries[0]["phase"], &canaries[0]["candidate"]), (&json!("promoted"), &json!(2)), "{canaries}");
    let step = |pct: i64| json!({"spec": {"predictor": {"canaryTrafficPercent": pct}}});
    assert_eq!(patches, [step(50), step(100), promotion()], "{log}");
    assert_eq!(f.patches().len(), 3, "nothing after the promotion: {log}");
    assert!(f.kube.lock().unwrap().content_types.iter().all(|c| c == "application/merge-patch+json"));
    let object = f.kube.lock().unwrap().object.clone().unwrap();
    assert_eq!(object["spec"]["predictor"]["model"]["storageUri"], "s3://models/mlpc/churn-predictor/v2");
    assert_eq!(object["spec"]["predictor"].get("canaryTrafficPercent"), None);
    assert_eq!(p.production(), 2);
    let actions = p.canary_actions();
    assert_eq!(actions, ["canary-started", "canary-advanced", "canary-advanced", "canary-promoted"], "{log}");
    let promoted = p.audit().into_iter().rev().find(|a| a["action"] == "canary-promoted").unwrap();
    let reason = promoted["reason"].as_str().unwrap();
    assert!(reason.starts_with("step 3: promote gate `p99_latency < 5s and error_rate < 1%` held:"), "{reason}");
    assert_eq!((&promoted["by"], &promoted["version"]), (&json!("canary"), &json!(2)));
    p.audit_intact();
    let queries = f.prom.lock().unwrap().queries.clone();
    assert!(
        queries.iter().all(|q| q.contains(r#"namespace="models",model="churn-predictor",version="2""#)),
        "{queries:?}"
    );
    assert!(queries.iter().any(|q| q.contains(r#"quantile="0.99""#)), "{queries:?}");
    // Exported again, the service is what the driver made it: version 2 alone.
    let again = p.exported("serverless");
    assert_eq!(again["spec"]["predictor"].get("canaryTrafficPercent"), None, "{again}");
    assert_eq!(again["metadata"]["annotations"]["mlpc.dev/stable-version"], "2");
}

#[test]
fn a_failing_gate_rolls_back_the_traffic_and_the_stage() {
    let p = Pipeline::new();
    let exported = p.exported("raw");
    assert_eq!(exported["spec"]["canary"][0]["trafficPercent"], 10);
    let failing = |q: &str| if q.contains("nv_inference_request_failure{") { Some(0.5) } else { healthy(q) };
    let f = Fakes::start(Some(exported.clone()), failing);
    let d = p.daemon(&f, &f.prom_url);
    let patches = until_patched(&f, &d, 1);
    std::thread::sleep(Duration::from_millis(1500));
    let log = d.stop();
    let mut back = exported["spec"]["canary"].clone();
    back[0]["trafficPercent"] = json!(0);
    assert_eq!(patches, [json!({"spec": {"canary": back}})], "{log}");
    assert_eq!(f.patches().len(), 1, "nothing after the rollback: {log}");
    assert_eq!(p.production(), 1, "the stage moved back");
    assert_eq!(p.canary_actions(), ["canary-started"], "the rollback is the registry's move");
    let moved = p.audit().into_iter().rev().find(|a| a["stage"] == "production").unwrap();
    let reason = moved["reason"].as_str().unwrap();
    assert_eq!(
        (&moved["action"], &moved["by"], &moved["version"]),
        (&json!("rollback"), &json!("canary"), &json!(1)),
        "{moved}"
    );
    assert!(
        reason
            .starts_with("rollback gate `error_rate > 2% or p99_latency > 100ms` held at step 1: error_rate = 50.00%"),
        "{reason}"
    );
    p.audit_intact();
    // Exported again: version 1 alone, not a new canary of the version that failed.
    let again = p.exported("raw");
    assert_eq!(again["spec"].get("canary"), None, "{again}");
    assert_eq!(again["spec"]["predictor"]["model"]["storageUri"], "s3://models/mlpc/churn-predictor/v1");
}

#[test]
fn without_figures_nothing_moves_and_the_log_says_why() {
    let p = Pipeline::new();
    let exported = p.exported("serverless");
    // Prometheus unreachable: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let f = Fakes::start(Some(exported), |q| if q.contains("quantile") { None } else { healthy(q) });
    let d = p.daemon(&f, &nowhere);
    std::thread::sleep(Duration::from_millis(2500));
    let log = d.stop();
    assert!(f.patches().is_empty(), "{log}");
    assert!(
        log.contains(&format!("no verdict at step 1, which holds: Prometheus at {nowhere} cannot be reached")),
        "{log}"
    );
    // Reachable, but no p99 series for the candidate.
    let d = p.daemon(&f, &f.prom_url);
    std::thread::sleep(Duration::from_millis(2500));
    let log = d.stop();
    assert!(f.patches().is_empty(), "{log}");
    assert!(log.contains("Prometheus has no data for p99_latency"), "{log}");
    assert_eq!(p.production(), 2);
    let held: Vec<String> = p
        .audit()
        .iter()
        .filter(|a| a["action"] == "canary-inconclusive")
        .map(|a| a["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(held.len(), 2, "each hold once: {held:?}");
    assert!(held[1].contains("Prometheus has no data for p99_latency (`max(max_over_time("), "{held:?}");
    assert_eq!(p.canary_actions()[..2], ["canary-started", "canary-inconclusive"]);
    p.audit_intact();
}

#[test]
fn the_api_server_s_404_and_409_are_said_and_retried() {
    let p = Pipeline::new();
    let exported = p.exported("serverless");
    let f = Fakes::start(None, healthy);
    // The first step's patch is refused on all three tries, the next one once.
    f.kube.lock().unwrap().refuse = VecDeque::from([409, 409, 409, 409]);
    let d = p.daemon(&f, &f.prom_url);
    common::eventually("the missing service said", Duration::from_secs(20), || {
        let log = read(&d.log);
        if log.contains("InferenceService churn-predictor not found (404)") {
            Ok(())
        } else {
            Err(log)
        }
    });
    f.kube.lock().unwrap().object = Some(exported);
    let patches = until_patched(&f, &d, 3);
    let log = d.stop();
    assert_eq!(f.kube.lock().unwrap().content_types.len(), 7, "3 + 1 refused, 3 taken: {log}");
    assert_eq!(patches[2], promotion(), "{log}");
    assert!(log.contains("patch failed (InferenceService churn-predictor: conflict (409): "), "{log}");
    assert!(log.contains("the canary's verdict `advanced` (step 1: promote gate"), "{log}");
    assert!(log.contains("is not applied: InferenceService churn-predictor: conflict (409): "), "{log}");
    assert_eq!(
        p.canary_actions(),
        ["canary-started", "canary-advanced", "canary-advanced", "canary-promoted"],
        "{log}"
    );
    p.audit_intact();
}
