//! `mlpc daemon` over real HTTP on loopback ports: drifted traffic fires a monitor's alert,
//! which retrains the model (a new run in the store) and reaches a webhook; the admin API
//! refuses a missing or wrong token and is off without one; a broken edit keeps the old plan.

mod common;

use common::mlpc;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NAME: &str = "churn-predictor";

const MONITOR: &str = r#"monitor churn_drift on "churn-predictor" {
  every     = 1s
  window    = 1h
  reference = churn_data.train
  alert when drift_share() > 20% then retrain churn_model
}
"#;

/// The churn example with a fast learner and a monitor that checks every second.
struct Pipeline {
    dir: tempfile::TempDir,
}

impl Pipeline {
    fn new() -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let p = Pipeline { dir };
        p.write(MONITOR);
        p
    }
    fn write(&self, monitor: &str) {
        let text = std::fs::read_to_string("examples/churn/churn.mlp").unwrap();
        let text = text[..text.find("monitor churn_drift").unwrap()].to_string() + monitor;
        let text = text
            .replace("gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)", "logistic_regression()")
            .replace("  cv     = 5\n", "");
        std::fs::write(self.file(), text).unwrap();
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("churn.mlp")
    }
    fn state(&self) -> String {
        self.dir.path().join("state").to_string_lossy().into_owned()
    }
    fn mlpc(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        let st = self.state();
        all.extend(["--state", &st]);
        let (code, out, err) = mlpc(&all);
        assert_eq!(code, 0, "mlpc {args:?}:\n{out}{err}");
        out
    }
    /// The daemon with `extra` arguments; `--min-window 50` unless they give it.
    fn daemon(&self, extra: &[&str], token: Option<&str>) -> Daemon {
        let log = std::fs::File::create(self.dir.path().join("daemon.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"));
        let min_window: &[&str] = if extra.contains(&"--min-window") { &[] } else { &["--min-window", "50"] };
        cmd.args(["daemon", &self.file().to_string_lossy(), "--state", &self.state()])
            .args(["--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--tick-ms", "100"])
            .args(min_window)
            .args(extra)
            .env_remove("MLPC_WEBHOOK")
            .env_remove("MLPC_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(t) = token {
            cmd.env("MLPC_ADMIN_TOKEN", t);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut serve, mut api) = (None, None);
        while api.is_none() {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "the daemon stopped: {}", self.log());
            if let Some(a) = line.trim().strip_prefix("serving on ") {
                serve = Some(a.to_string());
            }
            api = line.trim().strip_prefix("api on ").map(str::to_string);
        }
        Daemon {
            child: common::Running(child),
            serve,
            api: api.unwrap_or_default(),
            http: reqwest::blocking::Client::new(),
        }
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }
    /// Version 1 in production, then `change` (new data, a new model), a run, and
    /// version 2 put into production by hand.
    fn second_version_in_production(&self, change: impl FnOnce(&Pipeline)) {
        let file = self.file().to_string_lossy().into_owned();
        self.mlpc(&["run", &file]);
        self.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
        change(self);
        self.mlpc(&["run", &file]);
        self.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    }
    /// The audit line of the monitor's rollback of production to version 1.
    fn monitor_rollback(&self) -> String {
        let audit = self.mlpc(&["audit"]);
        let line = audit.lines().find(|l| l.contains("rollback")).unwrap_or_else(|| panic!("{audit}"));
        assert!(line.contains("churn-predictor 1 production") && line.contains("by monitor churn_drift"), "{audit}");
        line.to_string()
    }
}

/// A running daemon, killed when dropped.
struct Daemon {
    child: common::Running,
    serve: Option<String>,
    api: String,
    http: reqwest::blocking::Client,
}

impl Daemon {
    fn admin(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.http.get(format!("{}/admin{path}", self.api));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
    /// The version the serving port answers with.
    fn serving(&self) -> Value {
        let serve = self.serve.as_deref().expect("serving");
        let r = self.http.get(format!("{serve}/v1/models/{NAME}/canary")).send().unwrap();
        r.json::<Value>().unwrap()["serving"].clone()
    }
    /// Waits until the server serves `version`; fails after a minute.
    fn until_serving(&self, version: i64, log: impl Fn() -> String) {
        common::eventually(&format!("serving version {version}"), Duration::from_secs(60), || {
            let serving = self.serving();
            if serving == version {
                Ok(())
            } else {
                Err(format!("version {serving}; the daemon's log:\n{}", log()))
            }
        })
    }
    /// Polls the admin status until `done` holds; fails after `secs`.
    fn until_status(&self, what: &str, secs: u64, token: &str, done: impl Fn(&Value) -> bool) -> Value {
        common::eventually(what, Duration::from_secs(secs), || {
            let (_, status) = self.admin("/status", Some(token));
            if done(&status) {
                Ok(status)
            } else {
                Err(status.to_string())
            }
        })
    }
    /// SIGTERM, then the exit status.
    fn stop(mut self) -> i32 {
        self.child.stop(Duration::from_secs(30))
    }
}

/// A loopback HTTP listener that hands over each request body, then answers 200: once a
/// POST to it has returned, its body is in the channel.
fn webhook() -> (String, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let handed = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if handed.is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// The drifted churn sample's rows as prediction requests: the customer's key (its
/// features come from the online store) and the drifted base columns.
fn drifted_requests(dir: &Path, rows: usize) -> Vec<Value> {
    let out = dir.join("drifted");
    let (code, o, e) = mlpc(&["example-data", "churn", "--drift", "--out", &out.to_string_lossy()]);
    assert_eq!(code, 0, "{o}{e}");
    let text = std::fs::read_to_string(out.join("customers.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    lines
        .take(rows)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |n: &str| f[at(n)].parse::<f64>().unwrap();
            json!({
                "customer_id": f[at("customer_id")].parse::<i64>().unwrap(), "plan": f[at("plan")], "region": f[at("region")],
                "monthly_spend": num("monthly_spend"), "support_tickets": num("support_tickets"),
                "tenure_months": num("tenure_months"),
            })
        })
        .collect()
}

fn runs(p: &Pipeline) -> Vec<Value> {
    serde_json::from_str(&p.mlpc(&["runs", "--json"])).unwrap()
}

#[test]
fn a_drift_alert_retrains_and_reaches_the_webhook() {
    let p = Pipeline::new();
    p.mlpc(&["run", &p.file().to_string_lossy()]);
    p.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
    let (url, alerts) = webhook();
    let d = p.daemon(&["--webhook", &url], Some("s3cret"));
    let serve = d.serve.clone().unwrap_or_else(|| panic!("not serving: {}", p.log()));
    for chunk in drifted_requests(p.dir.path(), 300).chunks(50) {
        let r = d.http.post(format!("{serve}/v1/models/{NAME}/predict")).json(&json!({ "instances": chunk })).send();
        let r = r.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap());
    }
    let alert = alerts.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("no alert: {}", p.log()));
    assert_eq!(alert["monitor"], "churn_drift");
    assert_eq!(alert["action"], "retrain churn_model");
    assert!(alert["reason"].as_str().unwrap().starts_with("drift_share() > 20% (drift_share() = "), "{alert}");
    // Edge-triggered: a check after the one that fired finds the condition still true, and
    // posts nothing (a check is recorded in the status after its alerts are posted).
    let alerted = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
    d.until_status("a check after the alert", 60, "s3cret", |s| {
        let check = &s["monitors"][0]["last_check"];
        check["at_micros"].as_u64().is_some_and(|at| at > alerted) && check["conditions"][0][1] == true
    });
    assert!(alerts.try_recv().is_err(), "the alert fired twice");
    // The retraining run: a second run in which the model node ran again.
    let status =
        d.until_status("run 2", 120, "s3cret", |s| s["last_run"].as_str().is_some_and(|l| l.starts_with("run 2 ")));
    assert_eq!(status["monitors"][0]["last_check"]["status"], "ok", "{status}");
    assert_eq!(d.stop(), 0, "{}", p.log());
    assert_eq!(runs(&p).len(), 2, "{}", p.log());
    let second = p.mlpc(&["runs", "show", "2", "--json"]);
    let second: Value = serde_json::from_str(&second).unwrap();
    let model = second["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "model:churn_model").cloned();
    assert_eq!(model.unwrap_or_default()["status"], "ran", "{second}");
}

#[test]
fn the_admin_api_needs_the_token() {
    let p = Pipeline::new();
    let d = p.daemon(&[], Some("s3cret"));
    assert_eq!(d.admin("/status", None).0, 401);
    assert_eq!(d.admin("/status", Some("wrong")).0, 401);
    let (code, status) = d.admin("/status", Some("s3cret"));
    assert_eq!(code, 200);
    assert_eq!(status["monitors"][0]["name"], "churn_drift");
    assert_eq!(status["schedule"], "0 2 * * *");
    assert_eq!(d.stop(), 0, "{}", p.log());

    let off = p.daemon(&[], None);
    let (code, body) = off.admin("/status", Some("s3cret"));
    assert_eq!(code, 403);
    assert!(body["error"].as_str().unwrap().contains("MLPC_ADMIN_TOKEN"), "{body}");
    assert!(p.log().contains("the admin API is off"));
}

#[test]
fn a_broken_edit_keeps_the_running_plan() {
    let p = Pipeline::new();
    let d = p.daemon(&[], Some("t"));
    let every = |d: &Daemon| d.admin("/status", Some("t")).1["monitors"][0]["every_ms"].clone();
    assert_eq!(every(&d), 1000);
    let wait_for = |what: &str| {
        let done = |s: &Value| s["last_reload"].as_str().is_some_and(|r| r.starts_with(what));
        d.until_status(&format!("a reload that {what}"), 20, "t", done)["last_reload"].clone()
    };
    p.write(&MONITOR.replace("every     = 1s", "every     = oops"));
    let kept = wait_for("kept");
    assert!(kept.as_str().unwrap_or_default().starts_with("kept the running program"), "{kept}");
    assert_eq!(every(&d), 1000);
    p.write(&MONITOR.replace("every     = 1s", "every     = 2s"));
    assert_eq!(wait_for("reloaded"), "reloaded");
    assert_eq!(every(&d), 2000);
    assert!(!p.log().contains("serve blocks changed"), "a monitor edit leaves the server alone");

    // A changed serve block: a new server takes over on the same address.
    let serve = d.serve.clone().unwrap_or_else(|| panic!("not serving: {}", p.log()));
    let shadow_stage = || {
        let r = d.http.get(format!("{serve}/v1/models/{NAME}/shadow")).send();
        r.ok().and_then(|r| r.json::<Value>().ok()).map(|v| v["shadow_stage"].clone())
    };
    assert_eq!(shadow_stage(), Some(json!("staging")));
    let text = std::fs::read_to_string(p.file()).unwrap().replace("  shadow   = staging\n", "");
    std::fs::write(p.file(), text).unwrap();
    common::eventually("the new server, with no shadow", Duration::from_secs(20), || match shadow_stage() {
        Some(Value::Null) => Ok(()),
        other => Err(format!("shadow stage {other:?}; the daemon's log:\n{}", p.log())),
    });
    assert!(p.log().contains("serving the changed serve blocks on"), "{}", p.log());
    assert_eq!(d.stop(), 0, "{}", p.log());
}

/// An edit to an imported file reloads the program as an edit to the root does.
#[test]
fn an_edit_to_an_imported_file_reloads() {
    let p = Pipeline::new();
    let monitor = p.dir.path().join("monitor.mlp");
    let root = std::fs::read_to_string(p.file()).unwrap();
    let at = root.find("monitor churn_drift").unwrap();
    std::fs::write(p.file(), format!("import \"monitor.mlp\"\n\n{}", &root[..at])).unwrap();
    std::fs::write(&monitor, MONITOR).unwrap();
    let d = p.daemon(&[], Some("t"));
    let every = |d: &Daemon| d.admin("/status", Some("t")).1["monitors"][0]["every_ms"].clone();
    assert_eq!(every(&d), 1000, "{}", p.log());
    std::fs::write(&monitor, MONITOR.replace("every     = 1s", "every     = 3s")).unwrap();
    let done = |s: &Value| s["last_reload"] == "reloaded" && s["monitors"][0]["every_ms"] == 3000;
    d.until_status("a reload after the imported file changed", 20, "t", done);
    assert_eq!(d.stop(), 0, "{}", p.log());
}

/// The lifecycle the churn README shows (`examples/churn/watch.sh`), on the example as
/// written but for its clocks: a cron tick trains v1, approved into production; drifted
/// traffic fires the example's own `drift_share() > 30%` alert, which retrains (v2);
/// approved, v2 goes through every canary step under live traffic with no failed request;
/// measured against v2's training data from then on, the drift alert clears.
#[test]
fn the_churn_lifecycle_runs_end_to_end() {
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("examples/churn/watch.sh")
        .env("MLPC", env!("CARGO_BIN_EXE_mlpc"))
        .env("WORK", work.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let order = [
        "run 1 succeeded: 10 ran, 0 cached, 0 failed (schedule)",
        "serving v1",
        "alert: drift_share() > 30% (drift_share() = 0.4000)",
        "run 2 succeeded: 10 ran, 0 cached, 0 failed (monitor churn_drift: drift_share() > 30%",
        "canary: running, step 1 of 3: v2 takes 10% of requests",
        "canary: running, step 2 of 3: v2 takes 50% of requests",
        "canary: running, step 3 of 3: v2 takes 100% of requests",
        "canary: promoted: v2 serves (step 3: promote gate",
        "serving v2",
        "alert cleared: drift_share() > 30%",
        "failed requests during the lifecycle: 0",
        "daemon stopped cleanly",
    ];
    let mut from = 0;
    for line in order {
        let at = text[from..].find(line).unwrap_or_else(|| panic!("`{line}` is missing or out of order:\n{text}"));
        from += at + line.len();
    }
}

/// Labels sent back through the serving port feed the monitor's `auc`; when it falls
/// under the threshold, `then rollback` moves production back to the version before and
/// the server swaps it in.
#[test]
fn a_metric_alert_on_labels_sent_back_rolls_back() {
    let p = Pipeline::new();
    p.write(&MONITOR.replace("drift_share() > 20% then retrain churn_model", "auc < 0.75 then rollback"));
    // A later quarter's data: version 2.
    p.second_version_in_production(|p| {
        let data = p.dir.path().join("data");
        let (code, o, e) = mlpc(&["example-data", "churn", "--drift", "--out", &data.to_string_lossy()]);
        assert_eq!(code, 0, "{o}{e}");
    });
    let d = p.daemon(&[], Some("t"));
    let serve = d.serve.clone().unwrap_or_else(|| panic!("not serving: {}", p.log()));
    assert_eq!(d.serving(), 2);
    // Every answer is wrong: the label sent back is the one not predicted.
    for chunk in (1..=120).collect::<Vec<i64>>().chunks(20) {
        let rows: Vec<Value> = chunk.iter().map(|id| json!({ "customer_id": id })).collect();
        let r = d.http.post(format!("{serve}/v1/models/{NAME}/predict")).json(&json!({ "instances": rows })).send();
        let answer: Value = r.unwrap().json().unwrap();
        let labels: Vec<Value> = answer["predictions"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .enumerate()
            .map(|(i, p)| json!({"id": answer["id"], "row": i + 1, "label": p["label"] != "true"}))
            .collect();
        let r = d.http.post(format!("{serve}/v1/models/{NAME}/feedback")).json(&json!({ "labels": labels })).send();
        assert_eq!(r.unwrap().status().as_u16(), 202);
    }
    d.until_serving(1, || p.log());
    assert_eq!(d.stop(), 0, "{}", p.log());
    let rollback = p.monitor_rollback();
    assert!(rollback.contains("auc < 0.75 (auc = 0."), "{rollback}");
}

/// Version 2 fails on half the requests (they spend more than it can take); the monitor's
/// `alert` rolls it back. With `fallback` the previous version answers those requests.
/// Alerts wait for all 60 requests' rows (`--min-window 60`), so the rate is exactly half.
/// Returns the rollback's audit line.
fn half_failing_version_rolled_back_by(alert: &str, fallback: bool) -> String {
    let p = Pipeline::new();
    p.write(&MONITOR.replace("drift_share() > 20% then retrain churn_model", alert));
    if !fallback {
        let without = std::fs::read_to_string(p.file()).unwrap().replace("  fallback = previous\n", "");
        std::fs::write(p.file(), without).unwrap();
    }
    p.second_version_in_production(|p| {
        common::faulty::import_faulty(&p.file(), Path::new(&p.state()), common::faulty::Fault::Errors)
    });
    let d = p.daemon(&["--min-window", "60"], Some("t"));
    let serve = d.serve.clone().unwrap_or_else(|| panic!("not serving: {}", p.log()));
    assert_eq!(d.serving(), 2);
    let mut answered_by = Vec::new();
    for id in 1..=60 {
        let spend = if id % 2 == 0 { 9000.0 } else { 50.0 };
        let body = json!({"customer_id": id, "monthly_spend": spend});
        let r = d.http.post(format!("{serve}/v1/models/{NAME}/predict")).json(&body).send().unwrap();
        let status = r.status().as_u16();
        answered_by.push((status, r.json::<Value>().unwrap()["model_version"].as_str().map(str::to_string)));
    }
    let count = |want: (u16, Option<&str>)| answered_by.iter().filter(|(s, v)| (*s, v.as_deref()) == want).count();
    if fallback {
        assert_eq!((count((200, Some("2"))), count((200, Some("1")))), (30, 30), "{answered_by:?}");
    } else {
        assert_eq!((count((200, Some("2"))), count((500, None))), (30, 30), "{answered_by:?}");
    }
    d.until_serving(1, || p.log());
    assert_eq!(d.stop(), 0, "{}", p.log());
    p.monitor_rollback()
}

/// Requests the server fails count in a monitor's `error_rate` (the request log keeps them).
#[test]
fn failed_requests_feed_error_rate_and_roll_back() {
    let rollback = half_failing_version_rolled_back_by("error_rate > 10% then rollback", false);
    assert!(rollback.contains("error_rate > 10% (error_rate = 0.5000)"), "{rollback}");
}

/// Requests the previous version answered for the failing one count in its `fallback_rate`.
#[test]
fn fallback_answers_feed_fallback_rate_and_roll_back() {
    let rollback = half_failing_version_rolled_back_by("fallback_rate > 10% then rollback", true);
    assert!(rollback.contains("fallback_rate > 10% (fallback_rate = 0.5000)"), "{rollback}");
}
