//! The tracking store on a real Postgres (`scripts/services/postgres`; its URL in
//! `MLPC_TEST_POSTGRES`): the churn example run, approved, rerun and verified through the
//! binary with `--state postgres://…`, as a team shares it, with each "machine" its own
//! cache folder; a server that swaps to a version promoted from another machine within a
//! second under load; two serving replicas whose requests one monitor reads; with
//! `--artifacts s3://…` on moto (`scripts/services/s3`), machines that share only the two
//! URLs score and serve the registered model; a state folder copied onto Postgres.

mod common;

use common::load::Load;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NAME: &str = "churn-predictor";

/// The S3 bucket of the test server, with a prefix of this test's own; `None` (the test
/// says so) without one.
fn bucket(test: &str) -> Option<String> {
    let Ok(bucket) = std::env::var("MLPC_TEST_S3") else {
        assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_S3 is not set");
        eprintln!("not run: no S3 (start scripts/services/s3)");
        return None;
    };
    Some(format!("{bucket}/{test}_{}", std::process::id()))
}

/// `mlpc ARGS` on a machine whose cache folder is `machine`, as it ended.
fn try_mlpc(machine: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .env("XDG_CACHE_HOME", machine)
        .env_remove("MLPC_STATE")
        .env_remove("MLPC_ARTIFACTS")
        .output()
        .unwrap()
}

/// `mlpc ARGS` as run on a machine whose cache folder is `machine`.
fn mlpc(machine: &Path, args: &[&str]) -> Output {
    let out = try_mlpc(machine, args);
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
    /// The artifact store; without one, servers run on the trainer's machine.
    artifacts: Option<String>,
    dir: tempfile::TempDir,
    /// The cache folder of the machine that trains (and serves, without an artifact store).
    trainer: tempfile::TempDir,
    /// Another machine's, which approves.
    approver: tempfile::TempDir,
    /// A third's, which serves when there is an artifact store: it shares only the URLs.
    server: tempfile::TempDir,
}

impl Team {
    fn new(url: String, monitor: &str) -> Team {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let machine = || tempfile::tempdir().unwrap();
        let team = Team { url, artifacts: None, dir, trainer: machine(), approver: machine(), server: machine() };
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
    /// `--state URL`, and `--artifacts URL` with an artifact store.
    fn shared(&self) -> Vec<&str> {
        let mut args = vec!["--state", self.url.as_str()];
        args.extend(self.artifacts.iter().flat_map(|a| ["--artifacts", a.as_str()]));
        args
    }
    /// `mlpc ARGS` with the shared URLs on `machine`.
    fn mlpc(&self, machine: &Path, args: &[&str]) -> String {
        text(&mlpc(machine, &[args, &self.shared()].concat()))
    }
    fn run(&self) -> String {
        self.mlpc(self.trainer.path(), &["run", &self.file().to_string_lossy()])
    }
    /// `mlpc-runtime ARGS` with the shared URLs on the serving machine, started; the first
    /// line it prints that starts with `wait_for`, without that prefix.
    fn start(&self, args: &[&str], env: &[(&str, &str)], wait_for: &str) -> (common::Running, String) {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::fs::File::create(self.dir.path().join(format!("{}-{n}.log", args[0]))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
            .args(args)
            .args(self.shared())
            .env("XDG_CACHE_HOME", if self.artifacts.is_some() { self.server.path() } else { self.trainer.path() })
            .env_remove("MLPC_STATE")
            .env_remove("MLPC_ARTIFACTS")
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
    let (Some(url), Some(artifacts)) = (common::postgres_database("shared_state"), bucket("promotion")) else {
        return;
    };
    // Three machines: one trains, one approves, one serves; they share the two URLs only.
    let team = Team { artifacts: Some(artifacts), ..Team::new(url, NO_MONITOR) };
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
    // Its results are the store's, for every daemon and UI of the team; no file of its own.
    let recorded = team.psql("SELECT count(*) > 0 FROM monitor_checks WHERE monitor = 'churn_drift' AND rows = 50");
    assert_eq!(recorded, "t", "the check is in the store's monitor_checks");
    let mut todo = vec![team.trainer.path().to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            assert_ne!(e.file_name(), "monitors.duckdb", "a results file in {}", dir.display());
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            }
        }
    }
}

/// The artifact files of a machine's cache folder.
fn cached_artifacts(machine: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![machine.join("mlpc")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match path.extension().and_then(|e| e.to_str()) {
                _ if path.is_dir() => todo.push(path),
                Some("onnx" | "parquet") => found.push(path.file_name().unwrap().to_string_lossy().into_owned()),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

#[test]
fn machines_that_share_only_the_two_urls_score_and_serve_the_model_from_object_storage() {
    let (Some(url), Some(artifacts)) = (common::postgres_database("shared_artifacts"), bucket("artifacts")) else {
        return;
    };
    let machines: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let [trainer, approver, scorer, server, fresh] = [0, 1, 2, 3, 4].map(|i| machines[i].path());
    let shared = ["--state", url.as_str(), "--artifacts", artifacts.as_str()];
    let run = [&["run", "examples/churn/churn.mlp"][..], &shared].concat();
    let first = text(&mlpc(trainer, &run));
    assert!(first.contains("run 1 succeeded: 10 ran"), "{first}");
    let approve =
        [&["approve", "churn-predictor", "1", "--stage", "production", "--by", "alice"][..], &shared].concat();
    assert!(text(&mlpc(approver, &approve)).contains("production  moved to 1"));
    assert!(cached_artifacts(approver).is_empty(), "approving reads no artifact");
    // A rerun on that machine reuses the trainer's cached nodes, their outputs fetched.
    let again = text(&mlpc(approver, &run));
    assert!(again.contains("run 2 succeeded: 0 ran, 10 cached"), "{again}");
    assert!(cached_artifacts(approver).len() >= 5, "{:?}", cached_artifacts(approver));

    // Another machine scores with the version in production, its model and feature tables
    // fetched from the bucket into its cache.
    let out = scorer.join("scores.parquet");
    let score = [
        &["score", "churn-predictor", "--input", "examples/churn/data/customers.csv"][..],
        &["--output", out.to_str().unwrap()],
        &shared,
    ]
    .concat();
    let said = text(&mlpc(scorer, &score));
    assert!(said.starts_with("2000 rows scored by churn-predictor v1 (production)"), "{said}");
    let fetched = cached_artifacts(scorer);
    let model = fetched.iter().find(|f| f.ends_with(".onnx")).expect("the model was fetched").clone();
    assert!(fetched.iter().any(|f| f.ends_with(".parquet")), "and a feature table: {fetched:?}");
    let sha = model.trim_end_matches(".onnx").to_string();
    let shown: Value = serde_json::from_slice(
        &mlpc(scorer, &[&["models", "show", "churn-predictor", "--json"][..], &shared].concat()).stdout,
    )
    .unwrap();
    assert_eq!(shown["versions"][0]["artifact_sha256"], sha.as_str(), "the registered version's model");

    // A server on a fourth machine serves it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["serve", "examples/churn/churn.mlp", "--addr", "127.0.0.1:0"])
        .args(shared)
        .env("XDG_CACHE_HOME", server)
        .env_remove("MLPC_STATE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let mut running = common::Running(child);
    let base = line.trim().strip_prefix("serving on ").unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    let answer: Value = reqwest::blocking::Client::new()
        .post(format!("{base}/v1/models/churn-predictor/predict"))
        .body(json!({"customer_id": 17}).to_string())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(answer["predictions"].is_array(), "{answer}");
    assert_eq!(running.stop(std::time::Duration::from_secs(10)), 0);
    assert!(cached_artifacts(server).contains(&model), "the server fetched the model");

    // An object altered in the bucket is refused on a machine that fetches it, never used.
    let key = format!("{}/{}/{model}", artifacts.split_once("s3://mlpc-test/").unwrap().1, &sha[..2]);
    let python = "import boto3, os, sys; boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\
        .put_object(Bucket='mlpc-test', Key=sys.argv[1], Body=b'not the model')";
    assert!(Command::new(".venv/bin/python").args(["-c", python, &key]).status().unwrap().success());
    let refused = try_mlpc(fresh, &score);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains(&sha) && why.contains(&model) && why.contains("sha256"), "{why}");
    assert!(!cached_artifacts(fresh).contains(&model), "nothing corrupt is kept: {why}");
    // Where the model is already cached, it is used as verified then.
    assert!(text(&mlpc(scorer, &score)).starts_with("2000 rows scored"));
}

#[test]
fn a_state_folder_copied_to_postgres_keeps_its_history_registry_and_audit_chain() {
    let (Some(url), Some(artifacts)) = (common::postgres_database("state_copy"), bucket("copy")) else { return };
    let (work, machine, other) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let folder = work.path().join("state");
    let folder = folder.to_str().unwrap();
    let local = ["--state", folder];
    assert!(text(&mlpc(machine.path(), &[&["run", "examples/churn/churn.mlp"][..], &local].concat()))
        .contains("run 1 succeeded"));
    mlpc(
        machine.path(),
        &[&["approve", "churn-predictor", "1", "--stage", "production", "--by", "bob"][..], &local].concat(),
    );
    let models = |machine: &Path, state: &[&str]| {
        text(&mlpc(machine, &[&["models", "show", "churn-predictor"][..], state].concat()))
    };

    let copy = ["state", "copy", "--from", folder, "--to", url.as_str(), "--artifacts", artifacts.as_str()];
    let said = text(&mlpc(machine.path(), &copy));
    assert!(said.contains("model_versions   1") && said.contains("audit_log        4"), "{said}");
    assert!(said.contains("uploaded to the artifact store"), "{said}");
    let shared = ["--state", url.as_str(), "--artifacts", artifacts.as_str()];
    assert_eq!(models(other.path(), &shared), models(machine.path(), &local), "the registry is the same");
    let verified = text(&mlpc(other.path(), &[&["audit", "verify"][..], &shared].concat()));
    assert!(verified.starts_with("audit log intact: 4 entries"), "{verified}");

    // A second copy is refused, nothing changed; --replace copies it again, the same.
    let again = try_mlpc(machine.path(), &copy);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"), "{again:?}");
    mlpc(machine.path(), &[&copy[..], &["--replace"]].concat());
    assert_eq!(models(other.path(), &shared), models(machine.path(), &local));

    // The store goes on from there: an approval from another machine, a run whose nodes
    // are all cached (their outputs fetched from the bucket), the chain intact.
    let approve =
        [&["approve", "churn-predictor", "1", "--stage", "production", "--by", "carol"][..], &shared].concat();
    assert!(text(&mlpc(other.path(), &approve)).contains("approved: churn-predictor 1 for production by carol"));
    let rerun = text(&mlpc(other.path(), &[&["run", "examples/churn/churn.mlp"][..], &shared].concat()));
    assert!(rerun.contains("run 2 succeeded: 0 ran, 10 cached"), "{rerun}");
    let verified = text(&mlpc(machine.path(), &[&["audit", "verify"][..], &shared].concat()));
    assert!(verified.starts_with("audit log intact: 5 entries"), "{verified}");

    // Not a state folder: refused.
    let wrong = try_mlpc(machine.path(), &["state", "copy", "--from", "examples", "--to", url.as_str()]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no state folder at `examples`"), "{wrong:?}");
}

#[test]
fn state_migrate_says_what_it_did_and_refuses_a_newer_schema() {
    let Some(url) = common::postgres_database("state_migrate") else { return };
    let machine = tempfile::tempdir().unwrap();
    let migrate = ["state", "migrate", "--state", url.as_str()];
    let said = text(&mlpc(machine.path(), &migrate));
    assert!(said.contains("applied migrations 1, 2, 3, 4 (schema version 0 → 4)"), "{said}");
    assert!(text(&mlpc(machine.path(), &migrate)).contains("is at schema version 4: nothing to apply"));
    let newer = "INSERT INTO mlpc_schema VALUES (1000, now(), 'a newer mlpc')";
    assert!(Command::new("psql").args([&url, "-qc", newer]).status().unwrap().success());
    for args in [&migrate[..], &["models", "--state", url.as_str()]] {
        let refused = try_mlpc(machine.path(), args);
        assert!(!refused.status.success());
        let why = String::from_utf8_lossy(&refused.stderr);
        assert!(why.contains("schema version 1000") && why.contains("upgrade mlpc"), "{args:?}: {why}");
    }
}

#[test]
fn a_cached_rerun_uploads_what_was_made_before_the_bucket_was_given() {
    let (Some(url), Some(artifacts)) = (common::postgres_database("late_bucket"), bucket("late")) else { return };
    let (trainer, scorer) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let state = ["--state", url.as_str()];
    let shared = ["--state", url.as_str(), "--artifacts", artifacts.as_str()];
    let run = ["run", "examples/churn/churn.mlp"];
    assert!(text(&mlpc(trainer.path(), &[&run[..], &state].concat())).contains("run 1 succeeded: 10 ran"));
    let approve = [&["approve", "churn-predictor", "1", "--stage", "production", "--by", "alice"][..], &state].concat();
    mlpc(trainer.path(), &approve);
    let out = scorer.path().join("scores.parquet");
    let score = [
        &["score", "churn-predictor", "--input", "examples/churn/data/customers.csv"][..],
        &["--output", out.to_str().unwrap()],
        &shared,
    ]
    .concat();
    let missing = try_mlpc(scorer.path(), &score);
    assert!(!missing.status.success(), "the bucket has nothing yet");
    let why = String::from_utf8_lossy(&missing.stderr);
    assert!(why.contains(&artifacts), "the error names the object: {why}");

    let again = text(&mlpc(trainer.path(), &[&run[..], &shared].concat()));
    assert!(again.contains("run 2 succeeded: 0 ran, 10 cached"), "{again}");
    assert!(text(&mlpc(scorer.path(), &score)).starts_with("2000 rows scored by churn-predictor v1"));
}
