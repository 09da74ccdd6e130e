//! Models through `mlpc run`: a built-in algorithm trained, evaluated, registered and
//! promoted by its rule, then approved into production; models from an ONNX file and from
//! an external command, checked against their declared inputs.

mod common;

use common::mlpc;
use std::path::Path;

const CHURN: &str = "examples/churn/churn.mlp";

/// The churn example in `dir` (with its data), its model block replaced by `model`.
fn pipeline(dir: &Path, model: &str) -> String {
    common::copy_churn_data(dir);
    // An ONNX file cannot be retrained: the monitor only alerts here.
    let text = std::fs::read_to_string(CHURN).unwrap().replace(" then retrain churn_model", "");
    let start = text.find("model churn_model").unwrap();
    let end = start + text[start..].find("\n}\n").unwrap() + 3;
    let file = dir.join("churn.mlp");
    std::fs::write(&file, format!("{}{model}\n{}", &text[..start], &text[end..])).unwrap();
    file.to_string_lossy().into_owned()
}

fn models_show(st: &str) -> serde_json::Value {
    let (code, json, err) = mlpc(&["models", "show", "churn-predictor", "--state", st, "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn a_trained_model_is_registered_promoted_by_its_rule_and_approved_into_production() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), &trained_block("logistic_regression(c = 0.5)"));
    let st = dir.path().join("state");
    let st = st.to_str().unwrap();
    let (code, out, err) = mlpc(&["run", &file, "--state", st]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("logistic_regression on 1607 rows, cpu"), "{out}");
    assert!(out.contains("churn-predictor v1; staging ← v1; production: waits for `mlpc approve"), "{out}");

    let shown = models_show(st);
    assert_eq!(shown["stages"]["staging"], 1);
    assert!(shown["stages"].get("production").is_none(), "production waits for an approval: {shown}");
    let v = &shown["versions"][0];
    assert_eq!(v["params"]["c"], 0.5);
    assert!(v["metrics"]["auc"].as_f64().unwrap() > 0.8, "{v}");
    assert!(v["metrics"]["slice:region=north:auc"].is_number(), "per-slice metrics: {v}");
    let sha = v["artifact_sha256"].as_str().unwrap();
    let artifact = Path::new(st).join("artifacts").join(&sha[..2]).join(format!("{sha}.onnx"));
    assert!(artifact.exists(), "the ONNX artifact is stored by its sha256");
    assert_eq!(v["data_hashes"].as_object().unwrap().len(), 2, "both sources' hashes: {v}");

    // A rerun with nothing changed registers nothing new.
    let (code, out, _) = mlpc(&["run", &file, "--state", st]);
    assert_eq!(code, 0);
    assert!(out.contains("0 ran, 10 cached"), "{out}");

    let (code, out, err) =
        mlpc(&["approve", "churn-predictor", "1", "--stage", "production", "--by", "alice", "--state", st]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(models_show(st)["stages"]["production"], 1);

    let (code, out, _) = mlpc(&["audit", "verify", "--state", st]);
    assert_eq!(code, 0, "{out}");
    let (code, card, err) = mlpc(&["card", "churn-predictor", "--state", st]);
    assert_eq!(code, 0, "{err}");
    for section in ["Predicts which customers will cancel", "ml-platform@example.com", "logistic_regression", "auc"] {
        assert!(card.contains(section), "card lacks {section:?}:\n{card}");
    }

    // One changed byte in the audit log is detected.
    let log = Path::new(st).join("audit.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let i = bytes.iter().position(|&b| b == b'a').unwrap();
    bytes[i] = b'b';
    std::fs::write(&log, bytes).unwrap();
    let (code, _, _) = mlpc(&["audit", "verify", "--state", st]);
    assert_eq!(code, 1, "a tampered audit log fails verification");
}

/// Trains a model on two inputs in one folder and returns its ONNX artifact.
fn trained_onnx(dir: &Path) -> std::path::PathBuf {
    let file = pipeline(
        dir,
        "model churn_model = logistic_regression() {\n  train  = churn_data.train\n  inputs = [total_purchases, monthly_spend, plan]\n}",
    );
    let st = dir.join("state");
    let (code, out, err) = mlpc(&["run", &file, "--state", st.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let sha = models_show(st.to_str().unwrap())["versions"][0]["artifact_sha256"].as_str().unwrap().to_string();
    st.join("artifacts").join(&sha[..2]).join(format!("{sha}.onnx"))
}

const INPUTS: &str = "customer_features + [plan, region, monthly_spend, support_tickets, tenure_months]";

fn trained_block(algorithm: &str) -> String {
    format!("model churn_model = {algorithm} {{\n  train  = churn_data.train\n  inputs = {INPUTS}\n}}")
}

fn run_in(dir: &Path, model: &str) -> (i32, String) {
    let file = pipeline(dir, model);
    let st = dir.join("state");
    let (code, out, err) = mlpc(&["run", &file, "--state", st.to_str().unwrap()]);
    (code, out + &err)
}

#[test]
fn onnx_and_command_models_are_checked_against_their_declared_inputs() {
    let trained = tempfile::tempdir().unwrap();
    let onnx = trained_onnx(trained.path());

    // An ONNX file whose inputs match: evaluated and registered like a trained model.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&onnx, dir.path().join("vendor.onnx")).unwrap();
    let (code, out) = run_in(
        dir.path(),
        "model churn_model = onnx(\"vendor.onnx\") {\n  schema = churn_data\n  inputs = [total_purchases, monthly_spend, plan]\n}",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("from vendor.onnx") && out.contains("churn-predictor v1"), "{out}");

    // Declared inputs the file lacks, and inputs of the file left undeclared: one line each.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&onnx, dir.path().join("vendor.onnx")).unwrap();
    let (code, out) = run_in(
        dir.path(),
        &format!("model churn_model = onnx(\"vendor.onnx\") {{\n  schema = churn_data\n  inputs = {INPUTS}\n}}"),
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("does not match its declared inputs"), "{out}");
    for line in [
        "input `avg_order_value` (float) is declared, but the model has no such input",
        "input `region` (category) is declared, but the model has no such input",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }

    // An external trainer: `{train}` and `{model}` substituted; its output is checked too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&onnx, dir.path().join("prebuilt.onnx")).unwrap();
    let (code, out) = run_in(
        dir.path(),
        "model churn_model = command(\"test -s {train} && cp prebuilt.onnx {model}\") {\n  train  = churn_data.train\n  inputs = [total_purchases, monthly_spend, plan]\n}",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("trained by `test`"), "{out}");

    // A failing trainer is retried, then reported with what it printed.
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run_in(
        dir.path(),
        &format!("model churn_model = command(\"echo out of memory >&2; exit 3; echo {{train}} {{model}}\") {{\n  train  = churn_data.train\n  inputs = {INPUTS}\n}}"),
    );
    assert_ne!(code, 0);
    assert!(
        out.contains("the training command failed")
            && out.contains("(attempt 3 of 3)")
            && out.contains("out of memory"),
        "{out}"
    );
}
