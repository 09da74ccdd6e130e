//! The state folder under crashes, deleted or truncated files and concurrent commands.

use crate::common::{self, mlpc};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHURN: &str = "examples/churn/churn.mlp";
const NAME: &str = "churn-predictor";
const INPUTS: &str = "customer_features + [plan, region, monthly_spend, support_tickets, tenure_months]";

/// A logistic regression: the churn example's model, trained in a moment.
fn quick_model(params: &str) -> String {
    format!(
        "model churn_model = logistic_regression({params}) {{\n  train  = churn_data.train\n  inputs = {INPUTS}\n}}"
    )
}

/// A model from an external command that copies `onnx` once the file `release` appears in
/// the pipeline's folder (or after two minutes), after creating `started` there: a run that
/// holds on for as long as a test wants.
fn waiting_model(onnx: &Path) -> String {
    let wait = "i=0; while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done";
    format!(
        "model churn_model = command(\"touch started; {wait}; cp '{}' {{model}}\") {{\n  train  = churn_data.train\n  inputs = {INPUTS}\n}}",
        onnx.display()
    )
}

/// The churn example in a temporary folder (with its data), its model block replaced, and a
/// state folder beside it.
struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new(model: &str) -> Folder {
        let folder = Folder { dir: tempfile::tempdir().unwrap() };
        common::copy_churn_data(folder.dir.path());
        folder.set_model(model);
        folder
    }
    fn set_model(&self, model: &str) {
        let text = std::fs::read_to_string(CHURN).unwrap().replace(" then retrain churn_model", "");
        let start = text.find("model churn_model").unwrap();
        let end = start + text[start..].find("\n}\n").unwrap() + 3;
        std::fs::write(self.file(), format!("{}{model}\n{}", &text[..start], &text[end..])).unwrap();
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn file(&self) -> String {
        self.path("churn.mlp").to_string_lossy().into_owned()
    }
    fn state(&self) -> String {
        self.path("state").to_string_lossy().into_owned()
    }
    /// `mlpc ARGS --state STATE`.
    fn mlpc(&self, args: &[&str]) -> (i32, String, String) {
        let st = self.state();
        mlpc(&[args, &["--state", &st]].concat())
    }
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.mlpc(args);
        assert_eq!(code, 0, "mlpc {args:?}:\n{out}{err}");
        out
    }
    fn run(&self) -> String {
        self.ok(&["run", &self.file()])
    }
    /// `mlpc run` in the background.
    fn start_run(&self, force: bool) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlpc"));
        cmd.args(["run", &self.file(), "--state", &self.state()]);
        if force {
            cmd.arg("--force");
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(&[args, &["--json"]].concat());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
    fn model(&self) -> Value {
        self.json(&["models", "show", NAME])
    }
    fn runs(&self) -> Vec<Value> {
        self.json(&["runs"]).as_array().unwrap().clone()
    }
    fn artifact(&self, version: usize) -> PathBuf {
        let sha = self.model()["versions"][version - 1]["artifact_sha256"].as_str().unwrap().to_string();
        Path::new(&self.state()).join("artifacts").join(&sha[..2]).join(format!("{sha}.onnx"))
    }
    /// `mlpc audit verify`: exit code and stderr.
    fn verify(&self) -> (i32, String) {
        let (code, out, err) = self.mlpc(&["audit", "verify"]);
        (code, out + &err)
    }
    /// Waits for a file the waiting model creates.
    fn wait_for(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.path(name).exists() {
            assert!(Instant::now() < deadline, "{name} did not appear");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A run trained and registered version 1, approved into production.
fn registered() -> Folder {
    let f = Folder::new(&quick_model(""));
    let out = f.run();
    assert!(out.contains("churn-predictor v1; staging ← v1"), "{out}");
    f.ok(&["approve", NAME, "1", "--stage", "production", "--by", "alice"]);
    assert_eq!(f.model()["stages"]["production"], 1);
    f
}

#[test]
fn deleting_the_write_ahead_log_after_runs_loses_nothing() {
    let f = registered();
    f.run();
    let wal = Path::new(&f.state()).join("state.duckdb.wal");
    if wal.exists() {
        std::fs::remove_file(&wal).unwrap();
    }
    let model = f.model();
    assert_eq!(model["stages"]["production"], 1, "the registry is in state.duckdb itself: {model}");
    assert_eq!(model["versions"].as_array().unwrap().len(), 1);
    let runs = f.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    let (code, said) = f.verify();
    assert_eq!(code, 0, "{said}");
}

#[test]
fn a_store_that_lost_what_the_log_records_says_so_and_never_reissues_a_version() {
    let f = registered();
    let first = f.model()["versions"][0]["artifact_sha256"].as_str().unwrap().to_string();
    // The store is gone (deleted, or replaced by an empty one); the log stays.
    for name in ["state.duckdb", "state.duckdb.wal"] {
        let _ = std::fs::remove_file(Path::new(&f.state()).join(name));
    }
    let (code, said) = f.verify();
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("there is no tracking store"), "{said}");

    f.set_model(&quick_model("c = 0.5"));
    let out = f.run();
    assert!(out.contains("churn-predictor v2;"), "version 1 was given out already: {out}");
    let model = f.model();
    let versions = model["versions"].as_array().unwrap();
    assert_eq!((versions.len(), &versions[0]["version"]), (1, &Value::from(2)), "{model}");
    let (code, _, err) = f.mlpc(&["models"]);
    assert_eq!(code, 0);
    assert!(err.contains("warning: the registry does not agree with the audit log"), "not silent: {err}");
    assert_ne!(versions[0]["artifact_sha256"], first.as_str());

    let (code, said) = f.verify();
    assert_eq!(code, 1, "{said}");
    for line in [
        "the log registers version 1 of `churn-predictor` (entry 1), but the registry has no such version",
        "the log puts version 1 of `churn-predictor` in production",
        "the store lost changes the audit log records",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }
}

#[test]
fn a_store_replaced_by_an_older_copy_refuses_changes_instead_of_anchoring_the_loss() {
    let f = registered();
    let db = Path::new(&f.state()).join("state.duckdb");
    let older = f.path("state.duckdb.older");
    std::fs::copy(&db, &older).unwrap();
    f.ok(&["promote", NAME, "1", "--stage", "archived", "--by", "alice"]);
    let newer = f.path("state.duckdb.newer");
    std::fs::copy(&db, &newer).unwrap();
    std::fs::copy(&older, &db).unwrap();
    let _ = std::fs::remove_file(Path::new(&f.state()).join("state.duckdb.wal"));

    let (code, out) = f.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the store lost changes"), "{out}");
    // Chaining a change onto the longer log and anchoring it would silence that for good.
    let (code, _, err) = f.mlpc(&["promote", NAME, "1", "--stage", "archived", "--by", "mallory"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the store lost changes") && err.contains("nothing was changed"), "{err}");
    assert!(err.contains("restore state.duckdb from a backup"), "{err}");
    let (code, out) = f.verify();
    assert_eq!(code, 1, "still reported: {out}");
    let (_, _, err) = f.mlpc(&["models"]);
    assert!(err.contains("warning: the registry does not agree with the audit log"), "not silent: {err}");

    std::fs::copy(&newer, &db).unwrap();
    let (code, out) = f.verify();
    assert_eq!(code, 0, "the restored store agrees: {out}");
}

#[test]
fn a_truncated_emptied_or_deleted_audit_log_fails_verification() {
    let f = registered();
    let log = Path::new(&f.state()).join("audit.log");
    let full = std::fs::read_to_string(&log).unwrap();
    let entries = full.lines().count();
    assert!(entries >= 4, "register, staging, approve, production: {full}");
    let first_line = format!("{}\n", full.lines().next().unwrap());
    for (how, text, said) in [
        ("truncated", Some(first_line.as_str()), "audit.log has 1 entries"),
        ("emptied", Some(""), "audit.log is empty"),
        ("deleted", None, "audit.log is missing"),
    ] {
        match text {
            Some(t) => std::fs::write(&log, t).unwrap(),
            None => std::fs::remove_file(&log).unwrap(),
        }
        let (code, out) = f.verify();
        assert_eq!(code, 1, "{how}: {out}");
        let recorded = format!("but the store recorded {entries} entries");
        assert!(out.contains(said) && out.contains(&recorded), "{how}: {out}");
        // Appending to what is left would hide what was lost: changes are refused.
        let (code, _, err) = f.mlpc(&["promote", NAME, "1", "--stage", "archived", "--by", "mallory"]);
        assert_eq!(code, 2, "{how}: {err}");
        assert!(err.contains("nothing was changed"), "{how}: {err}");
    }
    std::fs::write(&log, &full).unwrap();
    let (code, out) = f.verify();
    assert_eq!(code, 0, "the restored log verifies: {out}");
    assert!(out.contains(&format!("audit log intact: {entries} entries")), "{out}");
}

#[test]
fn a_registry_that_disagrees_with_the_log_is_reported() {
    let f = registered();
    let st = PathBuf::from(f.state());
    {
        let store = mlpc_runtime::Store::open(&st).unwrap();
        store.db.batch("UPDATE model_versions SET artifact_sha256 = repeat('e', 64)").unwrap();
        store.db.batch("DELETE FROM approvals").unwrap();
        store.checkpoint().unwrap();
    }
    let (code, said) = f.verify();
    assert_eq!(code, 1, "{said}");
    for line in [
        "version 1 of `churn-predictor`: the registry's artifact is sha256:eeee",
        "the log records alice's approval of version 1 of `churn-predictor` for production",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }
}

/// A server on a loopback port; the first line it prints says where.
fn serve(f: &Folder) -> (common::Running, String) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
        .args(["serve", &f.file(), "--state", &f.state(), "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("serving on ").unwrap_or_else(|| panic!("not serving: {line:?}")).to_string();
    eprintln!("the server started in {} ms during the run", started.elapsed().as_millis());
    (common::Running(child), base)
}

fn ready(base: &str) -> u16 {
    reqwest::blocking::get(format!("{base}/v2/models/{NAME}/ready")).unwrap().status().as_u16()
}

#[test]
fn registry_commands_and_a_restarted_server_work_while_a_run_is_in_progress() {
    let f = registered();
    f.set_model(&quick_model("c = 0.5"));
    assert!(f.run().contains("churn-predictor v2;"));
    let onnx = f.path("trained.onnx");
    std::fs::copy(f.artifact(1), &onnx).unwrap();
    f.set_model(&waiting_model(&onnx));
    let mut run = common::Running(f.start_run(false));
    f.wait_for("started");

    let t = Instant::now();
    let listed = f.json(&["models"]);
    let waited = t.elapsed();
    eprintln!("`mlpc models` answered in {} ms during the run", waited.as_millis());
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    assert_eq!((&listed[0]["latest"], &listed[0]["stages"]["production"]), (&Value::from(2), &Value::from(1)));
    let out = f.ok(&["promote", NAME, "2", "--stage", "production", "--by", "bob", "--reason", "during a run"]);
    assert!(out.starts_with("moved production of churn-predictor from 1 to 2"), "{out}");
    let out = f.ok(&["rollback", NAME, "--by", "bob"]);
    assert!(out.starts_with("rolled back production of churn-predictor from 2 to 1"), "{out}");
    let out = f.ok(&["approve", NAME, "2", "--stage", "production", "--by", "carol"]);
    assert!(out.contains("rolled back from version 2"), "a rule does not undo the rollback: {out}");
    let runs = f.runs();
    assert_eq!(runs.last().unwrap()["status"], "running", "{runs:?}");

    let (server, base) = serve(&f);
    assert_eq!(ready(&base), 200);
    // A server that crashes comes back while the run goes on.
    drop(server);
    let (mut server, base) = serve(&f);
    assert_eq!(ready(&base), 200);
    assert_eq!(server.stop(Duration::from_secs(10)), 0);

    std::fs::write(f.path("release"), "").unwrap();
    let status = run.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let runs = f.runs();
    assert_eq!(runs.last().unwrap()["status"], "succeeded", "{runs:?}");
    let shown = f.json(&["runs", "show", &runs.last().unwrap()["id"].to_string()]);
    let register = shown["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "register:churn-predictor").unwrap();
    assert!(register["message"].as_str().unwrap().starts_with("churn-predictor v1;"), "{register}");
    assert_eq!(f.model()["versions"].as_array().unwrap().len(), 2, "the same artifact, the same version");
    let (code, said) = f.verify();
    assert_eq!(code, 0, "{said}");
}

#[test]
fn a_run_killed_mid_way_is_interrupted_and_the_next_run_proceeds() {
    let f = registered();
    let onnx = f.path("trained.onnx");
    std::fs::copy(f.artifact(1), &onnx).unwrap();
    f.set_model(&waiting_model(&onnx));
    let mut run = f.start_run(false);
    f.wait_for("started");
    // One run at a time: a second one is refused, naming the first.
    let (code, _, err) = f.mlpc(&["run", &f.file()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("run 2 is in progress") && err.contains(&format!("process {}", run.id())), "{err}");
    let pid = run.id();
    run.kill().unwrap();
    run.wait().unwrap();

    let runs = f.runs();
    let killed = runs.last().unwrap();
    assert_eq!(killed["status"], "interrupted", "{runs:?}");
    let note = killed["note"].as_str().unwrap();
    assert!(note.contains(&format!("process {pid} has exited")), "{note}");

    std::fs::write(f.path("release"), "").unwrap();
    let out = f.run();
    assert!(out.contains("succeeded"), "{out}");
    let (code, said) = f.verify();
    assert_eq!(code, 0, "{said}");
}

/// xorshift64*: delays from a seed that is printed, so a failure can be replayed with
/// `MLPC_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn kill_9_at_random_points_then_rerun_gives_the_uninterrupted_model() {
    let began = Instant::now();
    let seed = std::env::var("MLPC_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("crash test seed: {seed} (MLPC_CRASH_SEED={seed} replays these kill points)");
    let mut rng = Rng(seed);

    // The churn example as it is (gradient boosting, 5-fold cv), uninterrupted.
    let text = std::fs::read_to_string(CHURN).unwrap();
    let start = text.find("model churn_model").unwrap();
    let block = &text[start..start + text[start..].find("\n}\n").unwrap() + 2];
    let reference = Folder::new(block);
    let t = Instant::now();
    reference.run();
    let whole = t.elapsed();
    let sha = reference.model()["versions"][0]["artifact_sha256"].as_str().unwrap().to_string();

    // Five runs, each in a fresh state folder, killed at a random point and run again: the
    // rerun resumes from what the killed run stored.
    let mut killed_runs = 0;
    // How long a whole run takes; a run that finishes before its kill shortens it, so the
    // kill points stay spread over the run as the machine gets less busy.
    let mut whole = whole;
    for round in 1..=5 {
        let f = Folder::new(block);
        let delay = whole.mul_f64(0.05 + 0.9 * rng.next());
        let t = Instant::now();
        let mut run = f.start_run(false);
        let mut finished = false;
        while t.elapsed() < delay && !finished {
            std::thread::sleep(Duration::from_millis(10));
            finished = run.try_wait().unwrap().is_some();
        }
        if finished {
            whole = whole.min(t.elapsed());
        }
        run.kill().unwrap();
        run.wait().unwrap();
        let runs = f.runs();
        let status = runs.first().map_or("none", |r| r["status"].as_str().unwrap()).to_string();
        eprintln!("round {round}: kill -9 after {} ms: the run was {status}", delay.as_millis());
        if !finished && status != "none" {
            assert!(["interrupted", "succeeded"].contains(&status.as_str()), "round {round}: {runs:?}");
            killed_runs += usize::from(status == "interrupted");
        }
        let out = f.run();
        assert!(out.contains("succeeded"), "round {round}: {out}");
        let runs = f.runs();
        assert!(runs.iter().all(|r| r["status"] != "running"), "round {round}: {runs:?}");
        let (code, said) = f.verify();
        assert_eq!(code, 0, "round {round}: {said}");
        let model = f.model();
        let versions = model["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1, "round {round}: one artifact, one version: {model}");
        assert_eq!(versions[0]["artifact_sha256"], sha.as_str(), "round {round}: the uninterrupted run's model");
    }
    eprintln!(
        "crash test: 5 kills ({killed_runs} runs interrupted), {} ms in all; a whole run took {} ms",
        began.elapsed().as_millis(),
        whole.as_millis()
    );
}
