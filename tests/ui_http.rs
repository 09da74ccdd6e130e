//! `mlpc ui` over real HTTP on 127.0.0.1: the churn example run twice into a temporary
//! state, then each page, and the approve flow with its token, Origin check and audit line.

mod common;

use common::{mlpc, Running};
use mlpc_monitor::{drift_report, Test, Thresholds};
use mlpc_runtime::monitor_results;
use mlpc_serve::{Live, Outcome, Phase, Record, Verdict};
use mlpc_train::{Column, Frame, InputType, Values};
use reqwest::blocking::Client;
use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const TOKEN: &str = "t0ken-for-the-ui-test";

/// The UI on an ephemeral port; its base URL (`http://127.0.0.1:PORT`).
fn start(state: &str) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["ui", "examples/churn/churn.mlp", "--state", state, "--addr", "127.0.0.1:0"])
        .env("MLPC_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("ui on ").and_then(|u| u.strip_suffix("/ui/")).expect("the address").to_string();
    (Running(child), base)
}

fn get(client: &Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn the_pages_show_the_state_and_approving_moves_the_stage() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    for _ in 0..2 {
        let (code, out, err) = mlpc(&["run", "examples/churn/churn.mlp", "--state", st]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (_ui, base) = start(st);
    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let (code, dag) = get(&client, &format!("{base}/ui/"));
    assert_eq!(code, 200);
    for node in ["source:customers", "features:customer_features", "model:churn_model", "monitor:churn_drift"] {
        assert!(dag.contains(&format!("href=\"/ui/nodes/{node}\"")), "{node} is drawn: {dag}");
    }
    assert!(dag.contains("class=\"st-cached\""), "nodes coloured by their last status");

    let (code, runs) = get(&client, &format!("{base}/ui/runs"));
    assert_eq!(code, 200);
    assert!(runs.contains("href=\"/ui/runs/1\"") && runs.contains("href=\"/ui/runs/2\""), "{runs}");
    let (_, failed) = get(&client, &format!("{base}/ui/runs?status=failed"));
    assert!(!failed.contains("href=\"/ui/runs/1\""), "the status filter leaves succeeded runs out");

    let (code, run) = get(&client, &format!("{base}/ui/runs/1"));
    assert_eq!(code, 200);
    assert!(run.contains("features:customer_features") && run.contains("auc"), "{run}");

    let (code, same) = get(&client, &format!("{base}/ui/compare?run=1&run=2"));
    assert_eq!(code, 200);
    assert!(same.contains("have the same"), "a rerun from cache differs in nothing: {same}");
    assert_eq!(get(&client, &format!("{base}/ui/compare?run=1")).0, 400);

    let (code, model) = get(&client, &format!("{base}/ui/registry/churn-predictor"));
    assert_eq!(code, 200);
    assert!(model.contains("Audit chain: ") && model.contains("intact"), "{model}");
    assert!(model.contains("Model card"), "{model}");
    let (code, _) = get(&client, &format!("{base}/ui/serving"));
    assert_eq!(code, 200);

    // Approving: signed out, from another site, with a wrong token — all refused.
    let act = format!("{base}/ui/registry/churn-predictor/act");
    let form = [("action", "approve"), ("version", "1"), ("stage", "production"), ("by", "tester")];
    let signed_out = client.post(&act).header(ORIGIN, &base).form(&form).send().unwrap();
    assert_eq!(signed_out.status().as_u16(), 401);
    let wrong =
        client.post(format!("{base}/ui/login")).header(ORIGIN, &base).form(&[("token", "nope")]).send().unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let login = client.post(format!("{base}/ui/login")).header(ORIGIN, &base).form(&[("token", TOKEN)]).send().unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains(TOKEN), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let cross = client.post(&act).header(COOKIE, &session).header(ORIGIN, "http://evil.example").form(&form).send();
    assert_eq!(cross.unwrap().status().as_u16(), 403, "a cross-site POST is refused");
    let (_, before, _) = mlpc(&["models", "show", "churn-predictor", "--state", st, "--json"]);
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert!(before["stages"].get("production").is_none(), "not in production before: {before}");

    let done = client.post(&act).header(COOKIE, &session).header(ORIGIN, &base).form(&form).send().unwrap();
    assert_eq!(done.status().as_u16(), 200);
    assert!(done.text().unwrap().contains("moved to production"));
    let (code, shown, _) = mlpc(&["models", "show", "churn-predictor", "--state", st, "--json"]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["stages"]["production"], 1, "{shown}");
    let (_, log, _) = mlpc(&["audit", "--state", st, "--json"]);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let approvals: Vec<_> = log.as_array().unwrap().iter().filter(|r| r["action"] == "approve").collect();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["by"], "ui: tester");
    let (code, out, err) = mlpc(&["audit", "verify", "--state", st]);
    assert_eq!(code, 0, "the chain holds after the UI's write: {out}{err}");
}

/// A check of `churn_drift` — a real drift report of `monthly_spend` and `tenure_months`,
/// the current sample shifted by `shift` — recorded through the results store the daemon writes.
fn record_check(state: &std::path::Path, shift: f64) {
    let frame = |shift: f64| Frame {
        columns: ["monthly_spend", "tenure_months"]
            .map(|name| Column {
                name: name.into(),
                ty: InputType::Float,
                values: Values::Number((0..200).map(|i| f64::from(i) + shift).collect()),
            })
            .to_vec(),
    };
    let thresholds = Thresholds::declared([("ks", 0.05, true)]).unwrap();
    let report = drift_report(&frame(0.0), &frame(shift), &[], &[("monthly_spend".into(), Test::Ks)], &thresholds);
    let report = report.unwrap();
    let check = monitor_results::Check {
        monitor: "churn_drift",
        model: "churn-predictor",
        rows: 200,
        status: "ok",
        drift_share: report.drift_share,
        report: serde_json::to_string(&report).unwrap(),
    };
    monitor_results::record_check(state, &check).unwrap();
}

/// A running canary of `churn-predictor` whose last decision read a p99 of 120 ms.
fn record_canary(state: &std::path::Path) {
    let live = Live { request_count: 40, p99_latency: 120.0, ..Live::default() };
    let verdict =
        Verdict { at: "2026-01-01T00:00:00Z".into(), step: 0, outcome: Outcome::Inconclusive, reason: "".into(), live };
    let record = Record {
        model: "churn-predictor".into(),
        stage: "production".into(),
        stable: 1,
        candidate: 2,
        step: 0,
        steps: vec![0.1, 0.5, 1.0],
        phase: Phase::Running,
        started_at: "2026-01-01T00:00:00Z".into(),
        last: Some(verdict),
    };
    std::fs::create_dir_all(state.join("canary")).unwrap();
    std::fs::write(state.join("canary/churn-predictor.json"), serde_json::to_string(&record).unwrap()).unwrap();
}

#[test]
fn the_serving_page_shows_canary_gates_monitor_checks_and_fired_alerts() {
    let state = tempfile::tempdir().unwrap();
    record_canary(state.path());
    record_check(state.path(), 1.0);
    record_check(state.path(), 150.0);
    let firing = monitor_results::Firing {
        monitor: "churn_drift",
        alert: "drift(monthly_spend, psi) > 0.2",
        event: "fired",
        reason: "drift(monthly_spend, psi) > 0.2 (drift(monthly_spend, psi) = 0.4)",
        action: Some("retrain churn_model".into()),
        outcome: Some("run 3 succeeded".into()),
    };
    monitor_results::record_firing(state.path(), &firing).unwrap();

    // The request log held by another process, as a running `mlpc serve` holds it.
    let _held = duckdb::Connection::open(state.path().join("requests.duckdb")).unwrap();

    let (_ui, base) = start(state.path().to_str().unwrap());
    let (code, page) = get(&Client::new(), &format!("{base}/ui/serving"));
    assert_eq!(code, 200);
    for shown in ["churn_drift", "monthly_spend", "tenure_months", "<svg", "drift share", "drifted"] {
        assert!(page.contains(shown), "{shown} is shown: {page}");
    }
    assert!(page.contains("retrain churn_model") && page.contains("run 3 succeeded"), "the alert fired: {page}");
    // p99 120 ms: the promote gate (< 50ms) does not hold, and neither does the rollback gate (> 200ms).
    assert!(page.contains("p99_latency = 120"), "the gates' values: {page}");
    assert!(page.contains("badge st-fails") && page.contains("badge st-passes"), "each gate's verdict: {page}");
    assert!(page.contains("the request log is held by the running server"), "{page}");
}

#[test]
fn the_daemon_serves_the_pages_on_its_api_port() {
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
        .args(["daemon", "examples/churn/churn.mlp", "--state", state.path().to_str().unwrap()])
        .args(["--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0"])
        .env_remove("MLPC_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let _daemon = Running(child);
    let api = out.lines().map_while(Result::ok).find_map(|l| l.strip_prefix("api on ").map(str::to_string));
    let api = api.expect("the daemon's API address");
    let client = Client::new();
    let (code, dag) = get(&client, &format!("{api}/ui/"));
    assert_eq!(code, 200);
    assert!(dag.contains("href=\"/ui/nodes/monitor:churn_drift\""), "the pipeline: {dag}");
    let (code, serving) = get(&client, &format!("{api}/ui/serving"));
    assert_eq!(code, 200);
    assert!(serving.contains("Requests in the last") && !serving.contains("held by the running server"), "{serving}");
}
