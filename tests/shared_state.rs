//! The tracking store on a real Postgres (`scripts/services/postgres`; its URL in
//! `MLPC_TEST_POSTGRES`): the churn example run, approved, rerun and verified through the
//! binary with `--state postgres://…`, as a team shares it, with each "machine" its own
//! cache folder.

mod common;

use std::path::Path;
use std::process::{Command, Output};

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
