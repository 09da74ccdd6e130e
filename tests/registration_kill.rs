//! `kill -9` in the middle of a registration, at each point where a crash could split it —
//! inside its transaction, just after the commit (before the audit line reaches an
//! embedded store's log file), before the promotion rules — on the embedded store and on
//! Postgres: the registry then holds the whole version or none, the audit log agrees with
//! it, and the rerun registers cleanly, once.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Where the registration is stopped (`MLPC_TEST_STOP_AT`), in the order it reaches them.
const POINTS: [&str; 3] = ["register:inserted", "registry:committed", "register:registered"];

/// `mlpc ARGS` with this "machine"'s cache folder (a Postgres store's local folder).
fn mlpc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("MLPC_STATE")
        .env_remove("MLPC_ARTIFACTS")
        .env_remove("MLPC_TEST_STOP_AT")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = mlpc(dir, args);
    assert!(out.status.success(), "mlpc {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The registry's versions of the churn model (none while it holds no version).
fn versions(dir: &Path, state: &str) -> Vec<Value> {
    let out = mlpc(dir, &["models", "show", "churn-predictor", "--json", "--state", state]);
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(why.contains("churn-predictor"), "{why}");
        return Vec::new();
    }
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    shown["versions"].as_array().unwrap().clone()
}

/// Runs the pipeline until it stops at `point`, then kills it with SIGKILL.
fn run_killed_at(dir: &Path, state: &str, point: &str) {
    let file = dir.join("churn.mlp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["run", file.to_str().unwrap(), "--state", state])
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("MLPC_TEST_STOP_AT", point)
        .env_remove("MLPC_STATE")
        .env_remove("MLPC_ARTIFACTS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("stopped at"))
        .unwrap_or_else(|| panic!("the run ended before {point}: {:?}", child.wait()));
    assert!(said.contains(point), "{said}");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Each point on a fresh store (`state` gives it for a point): killed there, inspected, rerun.
fn kill_at_each_point(state: impl Fn(&Path, usize) -> String) {
    for (i, point) in POINTS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        common::copy_churn_data(dir);
        std::fs::write(dir.join("churn.mlp"), common::serving_churn("logistic_regression()", false, "200ms")).unwrap();
        let state = state(dir, i);
        run_killed_at(dir, &state, point);

        // The whole version or none: a version has its artifact, its plan, its audit line.
        let after = versions(dir, &state);
        assert!(after.len() <= 1, "{point}: {after:?}");
        if let Some(v) = after.first() {
            assert_eq!(v["version"], 1, "{point}: {v}");
            assert_eq!(v["artifact_sha256"].as_str().map(str::len), Some(64), "{point}: {v}");
        }
        let expect_version = *point != "register:inserted";
        assert_eq!(after.len(), usize::from(expect_version), "{point}: {after:?}");
        let log = ok(dir, &["audit", "--state", &state, "--json"]);
        let registered = log.matches("\"action\": \"register\"").count();
        assert_eq!(registered, after.len(), "{point}: the log agrees with the registry: {log}");
        let verified = ok(dir, &["audit", "verify", "--state", &state]);
        assert!(verified.starts_with("audit log intact"), "{point}: {verified}");

        // The rerun registers the version once, and applies its rules.
        let rerun = ok(dir, &["run", dir.join("churn.mlp").to_str().unwrap(), "--state", &state]);
        assert!(rerun.contains("churn-predictor v1"), "{point}: {rerun}");
        let after = versions(dir, &state);
        assert_eq!(after.len(), 1, "{point}: {after:?}");
        let log = ok(dir, &["audit", "--state", &state, "--json"]);
        assert_eq!(log.matches("\"action\": \"register\"").count(), 1, "{point}: {log}");
        let verified = ok(dir, &["audit", "verify", "--state", &state]);
        assert!(verified.starts_with("audit log intact"), "{point}: {verified}");
    }
}

#[test]
fn a_registration_killed_leaves_the_whole_version_or_none_in_a_state_folder() {
    kill_at_each_point(|dir, _| dir.join("state").to_string_lossy().into_owned());
}

#[test]
fn a_registration_killed_leaves_the_whole_version_or_none_on_postgres() {
    if common::postgres_database("kill_probe").is_none() {
        return;
    }
    kill_at_each_point(|_, i| common::postgres_database(&format!("kill_{i}")).unwrap());
}
