//! The tracking store on a real Postgres (`scripts/services/postgres`; its URL in
//! `MLPC_TEST_POSTGRES`): the churn example run, approved, rerun and verified through the
//! binary with `--state postgres://…`, as a team shares it, with each "machine" its own
//! cache folder; a server that swaps to a version promoted from another machine within a
//! second under load; two serving replicas whose requests one monitor reads.

mod common;

use common::load::Load;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NAME: &str = "churn-predictor";

/// `mlpc ARGS` as run on a machine whose cache folder is `machine`.
fn mlpc(machine: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .env("XDG_CACHE_HOME", machine)
        .env_remove("MLPC_STATE")
        .output()
        .unwrap();
    assert!(out.status.success(), "mlpc {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_team_shares_runs_the_registry_and_the_audit_log_through_postgres() {
    let Some(url) = common::postgres_database("shared_state") else { return };
    let (trainer, approver) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let state = ["--state", url.as_str()];
    let run = [&["run", "examples/churn/churn.mlp"][..], &state].concat();
    let first = text(&mlpc(trainer.path(), &run));
    assert!(first.contains("run 1 succeeded: 10 ran"), "{first}");

    // Another machine sees the version and approves it; the rule moves production.
    let models = text(&mlpc(approver.path(), &[&["models"][..], &state].concat()));
    assert!(models.contains("churn-predictor               1        1           —"), "{models}");
    let approve = [&["approve", "churn-predictor", "1", "--stage", "production", "--by", "alice"][..], &state].concat();
    assert!(text(&mlpc(approver.path(), &approve)).contains("production  moved to 1"));

    // The trainer's rerun reuses its own cache; the registry shows the approval.
    let again = text(&mlpc(trainer.path(), &run));
    assert!(again.contains("run 2 succeeded: 0 ran, 10 cached"), "{again}");
    let runs = text(
        &Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(["runs"])
            .env("MLPC_STATE", &url)
            .env("XDG_CACHE_HOME", approver.path())
            .output()
            .unwrap(),
    );
    assert_eq!(runs.lines().filter(|l| l.contains("succeeded")).count(), 2, "{runs}");
    let verified = text(&mlpc(approver.path(), &[&["audit", "verify"][..], &state].concat()));
    assert!(verified.starts_with("audit log intact: 4 entries"), "{verified}");

    // A rewritten entry in the shared log is found.
    let tamper = "UPDATE audit_log SET line = replace(line, 'alice', 'mallory') WHERE seq = 3";
    assert!(Command::new("psql").args([&url, "-qc", tamper]).status().unwrap().success());
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args([&["audit", "verify"][..], &state].concat())
        .env("XDG_CACHE_HOME", approver.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("damaged at line 3"), "{said}");
}

/// The churn example in a folder of its own, as one machine of a team has it: a fast
/// learner, no canary, and `monitor` in place of the example's monitor.
struct Team {
    url: String,
    dir: tempfile::TempDir,
    /// The cache folder of the machine that trains and serves.
    trainer: tempfile::TempDir,
    /// Another machine's, which approves.
    approver: tempfile::TempDir,
}

impl Team {
    fn new(url: String, monitor: &str) -> Team {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let team = Team { url, dir, trainer: tempfile::tempdir().unwrap(), approver: tempfile::tempdir().unwrap() };
        team.write("logistic_regression()", monitor);
        team
    }
    fn write(&self, algorithm: &str, monitor: &str) {
        let text = common::serving_churn(algorithm, false, "1s");
        let text = text[..text.find("monitor churn_drift").unwrap()].to_string() + monitor;
        std::fs::write(self.file(), text).unwrap();
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("churn.mlp")
    }
    /// `mlpc ARGS --state URL` on `machine`.
    fn mlpc(&self, machine: &Path, args: &[&str]) -> String {
        text(&mlpc(machine, &[args, &["--state", self.url.as_str()]].concat()))
    }
    fn run(&self) -> String {
        self.mlpc(self.trainer.path(), &["run", &self.file().to_string_lossy()])
    }
    /// `mlpc-runtime ARGS --state URL` on the trainer's machine, started; the first line it
    /// prints that starts with `wait_for`, without that prefix.
    fn start(&self, args: &[&str], env: &[(&str, &str)], wait_for: &str) -> (common::Running, String) {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::fs::File::create(self.dir.path().join(format!("{}-{n}.log", args[0]))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
            .args(args)
            .args(["--state", &self.url])
            .env("XDG_CACHE_HOME", self.trainer.path())
            .env_remove("MLPC_STATE")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        // Killed and waited for if it fails to start.
        let mut running = common::Running(child);
        let mut out = BufReader::new(running.0.stdout.take().unwrap());
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "mlpc {args:?} stopped");
            if let Some(rest) = line.trim().strip_prefix(wait_for) {
                // The rest of its output is not read; it must not block on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
                return (running, rest.to_string());
            }
        }
    }
    fn serve(&self) -> (common::Running, String) {
        let file = self.file().to_string_lossy().into_owned();
        self.start(&["serve", &file, "--addr", "127.0.0.1:0"], &[], "serving on ")
    }
    fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql").args([&self.url, "-tAc", sql]).output().unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        text(&out).trim().to_string()
    }
}

/// The version a server's `/v2/models/NAME` says it serves.
fn serving(http: &reqwest::blocking::Client, base: &str) -> String {
    let meta: Value = http.get(format!("{base}/v2/models/{NAME}")).send().unwrap().json().unwrap();
    meta["versions"][0].as_str().unwrap_or_default().to_string()
}

const NO_MONITOR: &str = "";

#[test]
fn a_promotion_from_another_machine_is_served_within_a_second_and_fails_no_request() {
    let Some(url) = common::postgres_database("shared_state") else { return };
    let team = Team::new(url, NO_MONITOR);
    team.run();
    team.mlpc(team.approver.path(), &["promote", NAME, "1", "--stage", "production", "--by", "alice"]);
    team.write("logistic_regression(c = 0.05)", NO_MONITOR);
    assert!(team.run().contains("run 2 succeeded"));
    let (_server, base) = team.serve();
    let http = reqwest::blocking::Client::new();
    assert_eq!(serving(&http, &base), "1");
    let load = Load::start(&base, NAME, json!({}));
    load.until_answered_by("1", 20);

    // Another machine promotes version 2; the promotion has committed once the command is done.
    let asked = Instant::now();
    team.mlpc(team.approver.path(), &["promote", NAME, "2", "--stage", "production", "--by", "bob"]);
    let committed = Instant::now();
    while serving(&http, &base) != "2" {
        assert!(committed.elapsed() < Duration::from_secs(10), "version 2 is not served");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (seen, with_command) = (committed.elapsed(), asked.elapsed());
    eprintln!("the promotion was served {seen:?} after `mlpc promote` returned ({with_command:?} after it started)");
    assert!(seen < Duration::from_secs(1), "served {seen:?} after the promotion committed");
    load.until_answered_by("2", 20);
    let answered = load.finish();
    assert!(answered.iter().any(|v| v == "1") && answered.iter().any(|v| v == "2"));
}

const MONITOR: &str = r#"monitor churn_drift on "churn-predictor" {
  every     = 1s
  window    = 1h
  reference = churn_data.train
  alert when auc >= 0
}
"#;

#[test]
fn one_monitor_reads_the_requests_and_labels_of_every_replica() {
    let Some(url) = common::postgres_database("shared_state") else { return };
    let team = Team::new(url, MONITOR);
    team.run();
    team.mlpc(team.approver.path(), &["promote", NAME, "1", "--stage", "production", "--by", "alice"]);
    let replicas = [team.serve(), team.serve()];
    let http = reqwest::blocking::Client::new();
    // 30 requests to the first replica, 20 to the second; the labels of all of them sent
    // back to the second.
    let mut labels = Vec::new();
    for id in 1..=50 {
        let base = &replicas[usize::from(id > 30)].1;
        let r = http
            .post(format!("{base}/v1/models/{NAME}/predict"))
            .header("x-request-id", format!("r{id}"))
            .json(&json!({ "customer_id": id }))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().unwrap());
        labels.push(json!({ "id": format!("r{id}"), "label": id % 2 == 0 }));
    }
    let r = http
        .post(format!("{}/v1/models/{NAME}/feedback", replicas[1].1))
        .json(&json!({ "labels": labels }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().unwrap());
    common::eventually("both replicas' rows in the store", Duration::from_secs(10), || {
        let rows = team.psql("SELECT count(*), count(DISTINCT replica) FROM requests");
        (rows == "50|2").then_some(()).ok_or(rows)
    });
    common::eventually("the labels in the store", Duration::from_secs(10), || {
        let rows = team.psql("SELECT count(*) FROM feedback");
        (rows == "50").then_some(()).ok_or(rows)
    });

    // The daemon (whose own server is sent nothing) checks the monitor over every
    // replica's rows, the labels joined with the predictions they are for.
    let file = team.file().to_string_lossy().into_owned();
    let args = ["daemon", &file, "--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--tick-ms", "100"];
    let (_daemon, api) =
        team.start(&[&args[..], &["--min-window", "50"]].concat(), &[("MLPC_ADMIN_TOKEN", "t")], "api on ");
    let check = common::eventually("a check over 50 rows", Duration::from_secs(30), || {
        let status: Value = http.get(format!("{api}/admin/status")).bearer_auth("t").send().unwrap().json().unwrap();
        let check = status["monitors"][0]["last_check"].clone();
        (check["rows"] == 50).then_some(check.clone()).ok_or(check.to_string())
    });
    assert_eq!(check["status"], "ok", "{check}");
    assert_eq!(check["conditions"], json!([["auc >= 0", true]]), "the labels are joined: {check}");
}
