//! Batch scoring end to end, through the binaries: the churn example's `score` node (every
//! customer, features filled point-in-time) against the evaluation's metrics, the stage's
//! version resolved at run time (an error while no version holds it, a rerun when it moves),
//! and `mlpc score` on a CSV file.

mod common;

use common::mlpc;
use mlpc_train::{Predictions, Target};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The churn example with a small model and the score block of `examples/churn/scoring.mlp`
/// (every customer, by the version in production), in one file.
fn program(trees: u32) -> String {
    let churn = common::serving_churn(&format!("gradient_boosting(trees = {trees}, depth = 3)"), false, "200ms");
    let scoring = std::fs::read_to_string("examples/churn/scoring.mlp").unwrap();
    format!("{churn}\n{}", scoring.replace("import \"churn.mlp\"\n", ""))
}

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        Dir { dir }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn arg(&self, p: &str) -> String {
        self.path(p).to_string_lossy().into_owned()
    }
    fn run(&self, trees: u32) -> (i32, String) {
        std::fs::write(self.path("churn.mlp"), program(trees)).unwrap();
        let (code, out, err) = mlpc(&["run", &self.arg("churn.mlp"), "--state", &self.arg("state")]);
        (code, format!("{out}{err}"))
    }
    fn registry(&self, args: &[&str]) {
        let mut all: Vec<&str> = args.to_vec();
        let state = self.arg("state");
        all.extend(["--by", "test", "--state", &state]);
        let (code, out, err) = mlpc(&all);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    /// A node of run `id`, as `mlpc runs show --json` gives it.
    fn node(&self, run: i64, id: &str) -> Value {
        let (code, json, err) = mlpc(&["runs", "show", &run.to_string(), "--state", &self.arg("state"), "--json"]);
        assert_eq!(code, 0, "{err}");
        let run: Value = serde_json::from_str(&json).unwrap();
        run["nodes"].as_array().unwrap().iter().find(|n| n["id"] == id).cloned().unwrap_or(Value::Null)
    }
    fn artifact(&self, sha: &str) -> PathBuf {
        self.path("state").join("artifacts").join(&sha[..2]).join(format!("{sha}.parquet"))
    }
}

fn line<'a>(out: &'a str, node: &str) -> &'a str {
    out.lines().find(|l| l.contains(node) && !l.contains("INFO")).unwrap_or_else(|| panic!("no {node} in:\n{out}"))
}

/// The rows of a query, each column by name.
fn query(sql: &str) -> Vec<serde_json::Map<String, Value>> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let mut stmt = conn.prepare(&format!("SELECT to_json(list(t)) FROM ({sql}) t")).unwrap();
    let json: Option<String> = stmt.query_row([], |r| r.get(0)).unwrap();
    let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(&json.unwrap_or("[]".into())).unwrap();
    rows
}

fn lit(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', "''"))
}

#[test]
fn the_score_node_predicts_what_the_evaluation_measured_and_follows_its_stage() {
    let d = Dir::new();
    let (code, out) = d.run(20);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "score:churn_scores").contains(
            "no version of `churn-predictor` is in production: move a version there with `mlpc promote churn-predictor VERSION --stage production`"
        ),
        "{out}"
    );
    d.registry(&["approve", "churn-predictor", "1", "--stage", "production"]);
    let (code, out) = d.run(20);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "score:churn_scores").contains("2000 rows scored by churn-predictor v1 (production)"), "{out}");

    // Every customer is scored; on the test split's rows, the predictions give the metrics
    // the evaluation computed from the same model.
    let scores = d.path("scores/churn_scores.parquet");
    let columns =
        query(&format!("SELECT column_name AS c FROM (DESCRIBE SELECT * FROM read_parquet({}))", lit(&scores)));
    let columns: Vec<&str> = columns.iter().map(|c| c["c"].as_str().unwrap()).collect();
    assert_eq!(
        columns,
        ["customer_id", "event_timestamp", "model", "model_version", "label", "probability_false", "probability_true"]
    );
    let node = d.node(2, "score:churn_scores");
    assert_eq!(node["metrics"]["rows"], 2000.0);
    let sha = node["artifacts"]["data"].as_str().unwrap();
    assert_eq!(std::fs::read(d.artifact(sha)).unwrap(), std::fs::read(&scores).unwrap(), "the output is the artifact");
    let test = d.node(2, "split:churn_data.test");
    let test = d.artifact(test["artifacts"]["data"].as_str().unwrap_or_else(|| panic!("{test}")));
    let rows = query(&format!(
        "SELECT t.churned, s.label, s.probability_false, s.probability_true, s.model, s.model_version
         FROM read_parquet({}) t JOIN read_parquet({}) s USING (customer_id, event_timestamp)",
        lit(&test),
        lit(&scores)
    ));
    assert_eq!(rows.len(), 393, "one prediction per test row");
    assert!(rows.iter().all(|r| r["model"] == "churn-predictor" && r["model_version"] == 1));
    let classes = vec!["false".to_string(), "true".to_string()];
    let truth = Target::Classes { classes, y: rows.iter().map(|r| r["churned"].as_bool().unwrap() as u32).collect() };
    let p =
        |r: &serde_json::Map<String, Value>, class: &str| r[&format!("probability_{class}")].as_f64().unwrap() as f32;
    let pred = Predictions {
        labels: rows.iter().map(|r| r["label"].as_str().unwrap().to_string()).collect(),
        scores: rows.iter().flat_map(|r| [p(r, "false"), p(r, "true")]).collect(),
        width: 2,
    };
    let evaluated = d.node(2, "evaluate:churn_model@churn_data.test");
    for m in ["accuracy", "auc", "f1", "log_loss"] {
        let ours = mlpc_train::metrics::compute(m, &truth, &pred).unwrap();
        let theirs = evaluated["metrics"][m].as_f64().unwrap();
        assert!((ours - theirs).abs() < 1e-6, "{m}: scored {ours}, evaluated {theirs}");
    }

    // Cached while nothing changes; the output file is put back when it is gone.
    std::fs::remove_file(&scores).unwrap();
    let (code, out) = d.run(20);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "score:churn_scores").contains("cache hit"), "{out}");
    assert_eq!(std::fs::read(d.artifact(sha)).unwrap(), std::fs::read(&scores).unwrap());

    // A second version, trained but not approved: production still holds v1. Moved there
    // by hand, the score node alone reruns, with v2.
    let (code, out) = d.run(21);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "score:churn_scores").contains("by churn-predictor v1 (production)"), "{out}");
    d.registry(&["promote", "churn-predictor", "2", "--stage", "production"]);
    let (_, stale, _) = mlpc(&["plan", &d.arg("churn.mlp"), "--state", &d.arg("state")]);
    let stale = line(&stale, "score:churn_scores");
    assert!(stale.contains("would run") && stale.contains("the version it scores with changed (now v2)"), "{stale}");
    let (code, out) = d.run(21);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 ran, 10 cached"), "{out}");
    assert!(line(&out, "score:churn_scores").contains("by churn-predictor v2 (production)"), "{out}");
    let versions = query(&format!("SELECT DISTINCT model_version AS v FROM read_parquet({})", lit(&scores)));
    assert_eq!(versions.iter().map(|r| r["v"].clone()).collect::<Vec<_>>(), [Value::from(2)]);
}

#[test]
fn mlpc_score_fills_what_a_file_lacks_from_the_views_or_names_it() {
    let d = Dir::new();
    d.run(20);
    d.registry(&["approve", "churn-predictor", "1", "--stage", "production"]);
    let (code, out) = d.run(20);
    assert_eq!(code, 0, "{out}");
    let state = d.arg("state");

    // The customers file has the key and the time, not the features: they are filled.
    let out_file = d.arg("one-off.parquet");
    let (code, out, err) = mlpc(&[
        "score",
        "churn-predictor",
        "--input",
        &d.arg("data/customers.csv"),
        "--output",
        &out_file,
        "--state",
        &state,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("2000 rows scored by churn-predictor v1 (production)"), "{out}");
    assert!(out.contains("filled from customer_features: total_purchases, avg_order_value, spend_90d"), "{out}");
    let differ = query(&format!(
        "SELECT count(*) AS n FROM read_parquet({}) a JOIN read_parquet({}) b USING (customer_id, event_timestamp)
         WHERE a.label != b.label OR abs(a.probability_true - b.probability_true) > 1e-6",
        lit(Path::new(&out_file)),
        lit(&d.path("scores/churn_scores.parquet"))
    ));
    assert_eq!(differ[0]["n"], 0, "the one-off scores as the pipeline's score node does");

    // Without the time, features cannot be filled point-in-time; without `plan`, nothing fills it.
    let csv = std::fs::read_to_string(d.path("data/customers.csv")).unwrap();
    let cut: String = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|f| format!("{},{},{},{},{}\n", f[0], f[3], f[4], f[5], f[6]))
        .collect();
    std::fs::write(d.path("partial.csv"), cut).unwrap();
    let (code, _, err) = mlpc(&[
        "score",
        "churn-predictor",
        "--input",
        &d.arg("partial.csv"),
        "--output",
        &d.arg("partial.parquet"),
        "--state",
        &state,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lacks what `churn-predictor` needs"), "{err}");
    assert!(err.contains("`plan`: an input of the model"), "{err}");
    assert!(err.contains("`event_timestamp`: ") && err.contains("spend_90d"), "{err}");
    assert!(!d.path("partial.parquet").exists(), "nothing is written");

    let (code, _, err) =
        mlpc(&["score", "churn-predictor", "--stage", "staging", "--input", &d.arg("x.json"), "--output", "o.parquet"]);
    assert_eq!(code, 2);
    assert!(err.contains("is neither a .csv nor a .parquet file"), "{err}");
}
