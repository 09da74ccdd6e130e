//! Canary rollouts, shadow traffic, fallback and feedback of `mlpc serve` over real HTTP on
//! loopback: a healthy candidate is promoted through every step (and a restart in the
//! middle resumes it), a failing one is rolled back with no request failing, the shadow's
//! agreement is recorded, the previous version answers when the serving one fails.
//! The failing candidates are real ONNX models, registered through `onnx("…")` model
//! nodes: version 1's graph with nodes spliced in that make ONNX Runtime slow, or fail on
//! inputs beyond what evaluation saw.

mod common;

use common::faulty::Fault;
use common::load::Load;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const NAME: &str = "churn-predictor";

/// The churn example with a fast learner, one-second canary steps and the serve block given.
struct Pipeline {
    dir: tempfile::TempDir,
}

impl Pipeline {
    fn new(canary: bool) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let p = Pipeline { dir };
        p.write("logistic_regression()", canary);
        p
    }
    fn write(&self, algorithm: &str, canary: bool) {
        std::fs::write(self.file(), common::serving_churn(algorithm, canary, "100ms")).unwrap();
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("churn.mlp")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn mlpc(&self, args: &[&str]) -> String {
        common::runtime_ok(&self.state(), args)
    }
    /// Two trained versions, version 1 in production.
    fn two_versions(&self) {
        self.mlpc(&["run", &self.file().to_string_lossy()]);
        self.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
        let canary = std::fs::read_to_string(self.file()).unwrap().contains("canary {");
        self.write("logistic_regression(c = 0.05)", canary);
        self.mlpc(&["run", &self.file().to_string_lossy()]);
    }
    /// Version 1 in production and version 2 in staging: version 1's ONNX with `fault`,
    /// read by an `onnx("candidate.onnx")` model node (evaluated and registered as usual).
    fn faulty_second_version(&self, fault: Fault) {
        self.mlpc(&["run", &self.file().to_string_lossy()]);
        self.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
        common::faulty::import_faulty(&self.file(), &self.state(), fault);
        self.mlpc(&["run", &self.file().to_string_lossy()]);
    }
    fn production(&self) -> i64 {
        let shown: Value = serde_json::from_str(&self.mlpc(&["models", "show", NAME, "--json"])).unwrap();
        shown["stages"]["production"].as_i64().unwrap()
    }
    fn serve(&self) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"));
        cmd.args(["serve", &self.file().to_string_lossy(), "--addr", "127.0.0.1:0", "--state"])
            .arg(self.state())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("serving on ").unwrap_or_else(|| panic!("no address in {line:?}")).into();
        Server { child: common::Running(child), base }
    }
}

/// A running server, stopped with SIGTERM (or killed when dropped).
struct Server {
    child: common::Running,
    base: String,
}

impl Server {
    fn get(&self, path: &str) -> Value {
        reqwest::blocking::get(format!("{}{path}", self.base)).unwrap().json().unwrap()
    }
    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = reqwest::blocking::Client::new().post(format!("{}{path}", self.base)).json(&body).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    }
    fn canary(&self) -> Value {
        self.get(&format!("/v1/models/{NAME}/canary"))["canary"].clone()
    }
    /// Polls the canary until it is `what` (`done` holds); fails after `secs`.
    fn until(&self, what: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        common::eventually(what, Duration::from_secs(secs), || {
            let c = self.canary();
            if done(&c) {
                Ok(c)
            } else {
                Err(c.to_string())
            }
        })
    }
    /// Polls until a prediction is answered by `version`.
    fn until_served_by(&self, version: &str) {
        common::eventually(&format!("version {version} answers"), Duration::from_secs(20), || {
            let (status, v) = self.post(&format!("/v1/models/{NAME}/predict"), json!({"customer_id": 1}));
            match (status, v["model_version"].as_str()) {
                (200, Some(answered)) if answered == version => Ok(()),
                _ => Err(format!("{status} {v}")),
            }
        })
    }
    fn stop(mut self) {
        self.child.stop(Duration::from_secs(30));
    }
}

fn audit_actions(p: &Pipeline) -> Vec<String> {
    let text = std::fs::read_to_string(p.state().join("audit.log")).unwrap();
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["action"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_healthy_candidate_is_promoted_through_every_step_and_a_restart_resumes_it() {
    let p = Pipeline::new(true);
    p.two_versions();
    let s = p.serve();
    let load = Load::start(&s.base, NAME, json!({}));
    p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    let c = s.until("at step 2", 20, |c| c["phase"] == "running" && c["step"] == 2);
    assert_eq!((c["stable"].as_i64(), c["candidate"].as_i64()), (Some(1), Some(2)), "{c}");
    assert_eq!(c["weights"]["candidate"], 0.5, "{c}");
    load.finish();
    s.stop();

    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(p.state().join("canary").join(format!("{NAME}.json"))).unwrap())
            .unwrap();
    assert_eq!((recorded["phase"].as_str(), recorded["step"].as_u64()), (Some("running"), Some(1)), "{recorded}");

    let s = p.serve();
    let c = s.canary();
    assert_eq!((c["phase"].as_str(), c["step"].as_u64()), (Some("running"), Some(2)), "resumed at step 2: {c}");
    assert!(c["last_verdict"]["reason"].as_str().unwrap().contains("resumed"), "{c}");
    let load = Load::start(&s.base, NAME, json!({}));
    let c = s.until("finished", 30, |c| c["phase"] != "running");
    assert_eq!(c["phase"], "promoted", "{c}");
    load.finish();
    // Promoted, the candidate is swapped in as the stable version: from then on it answers all.
    s.until_served_by("2");
    for id in 1..=20 {
        let (status, v) = s.post(&format!("/v1/models/{NAME}/predict"), json!({"customer_id": id}));
        assert_eq!((status, v["model_version"].as_str()), (200, Some("2")), "version 2 serves once promoted");
    }
    assert_eq!(p.production(), 2);
    let actions = audit_actions(&p);
    for a in ["canary-started", "canary-advanced", "canary-promoted"] {
        assert!(actions.iter().any(|x| x == a), "{a} in the audit log: {actions:?}");
    }
    // Counted by the same tick as the swap, just after it.
    let promoted = "mlpc_serve_canary_decisions_total{model=\"churn-predictor\",outcome=\"promoted\"} 1";
    common::eventually("the promotion counted", Duration::from_secs(10), || {
        let metrics = reqwest::blocking::get(format!("{}/metrics", s.base)).unwrap().text().unwrap();
        metrics.contains(promoted).then_some(()).ok_or(metrics)
    });
}

/// Promotes the faulty version 2 under load (`sent` in every request) and checks it is
/// rolled back, with the gate's figures as the reason, and that no request fails (a failing
/// candidate's requests are answered by the stable version). That the first verdict rolls
/// back is `canary.rs`'s unit test, on a clock the test moves.
fn rolled_back(fault: Fault, sent: Value, measured: &str) {
    let p = Pipeline::new(true);
    p.faulty_second_version(fault);
    let s = p.serve();
    let load = Load::start(&s.base, NAME, sent);
    p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    let c = s.until("rolled back", 20, |c| c["phase"] == "rolled_back");
    let reason = c["last_verdict"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("rollback gate `error_rate > 2% or p99_latency > 100ms` held at step 1")
            && reason.contains(measured),
        "{reason}"
    );
    let answered = load.finish();
    if let Fault::Errors = fault {
        assert!(answered.iter().all(|v| v == "1"), "the stable version answered every request");
    }
    for id in 1..=20 {
        let (status, v) = s.post(&format!("/v1/models/{NAME}/predict"), json!({"customer_id": id}));
        assert_eq!(
            (status, v["model_version"].as_str()),
            (200, Some("1")),
            "the stable version serves after the rollback"
        );
    }
    assert_eq!(p.production(), 1, "production moved back in the registry");
    let log = std::fs::read_to_string(p.state().join("audit.log")).unwrap();
    assert!(log.lines().any(|l| l.contains("\"action\":\"rollback\"") && l.contains("\"by\":\"canary\"")), "{log}");
}

#[test]
fn a_candidate_that_errors_is_rolled_back_and_no_request_fails() {
    // Spending beyond anything in the evaluation split: version 2 fails in ONNX Runtime.
    rolled_back(Fault::Errors, json!({"monthly_spend": 9000.0}), "error_rate = 100.00%");
}

#[test]
fn a_slow_candidate_is_rolled_back_and_no_request_fails() {
    rolled_back(Fault::Slow, json!({}), "p99_latency = ");
}

#[test]
fn shadow_agreement_fallback_and_feedback() {
    let p = Pipeline::new(false);
    p.faulty_second_version(Fault::Errors);
    p.mlpc(&["promote", NAME, "2", "--stage", "staging", "--by", "test"]);
    let s = p.serve();
    let predict = format!("/v1/models/{NAME}/predict");
    for id in 1..=20 {
        assert_eq!(s.post(&predict, json!({"customer_id": id})).0, 200);
    }
    let shadow = common::eventually("the shadow scores the 20 rows", Duration::from_secs(10), || {
        let v = s.get(&format!("/v1/models/{NAME}/shadow"))["shadow"].clone();
        if v["rows"] == 20 {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(shadow["version"].as_i64(), Some(2), "{shadow}");
    assert!(shadow["agreement_rate"].as_f64().is_some() && shadow["mean_abs_delta"].as_f64().is_some(), "{shadow}");

    let (status, v) = s.post(&format!("/v1/models/{NAME}/feedback"), json!({"labels": [{"id": "x", "label": true}]}));
    assert_eq!((status, v["accepted"].as_u64()), (202, Some(1)), "{v}");
    let (status, v) = s.post(&format!("/v1/models/{NAME}/feedback"), json!({"label": true}));
    assert_eq!(status, 400, "{v}");
    s.stop();

    // Version 2 serves and fails a request: version 1, the previous, answers.
    let s = p.serve();
    p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    s.until_served_by("2");
    let (status, v) = s.post(&predict, json!({"customer_id": 3, "monthly_spend": 9000.0}));
    assert_eq!((status, v["model_version"].as_str()), (200, Some("1")), "{v}");
    let metrics = reqwest::blocking::get(format!("{}/metrics", s.base)).unwrap().text().unwrap();
    assert!(metrics.contains("mlpc_serve_fallbacks_total{model=\"churn-predictor\",version=\"2\"} 1"), "{metrics}");
}
