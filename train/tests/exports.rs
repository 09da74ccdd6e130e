//! Every built-in algorithm, on every task it takes, exports an ONNX model that ONNX
//! Runtime scores as the model predicts in process. With `MLPC_EXPORT_DIR` set, the
//! exports and their expected predictions are also written there, for the independent
//! checks in `tests/onnx/check_exports.py` (onnx.checker and Python onnxruntime).

mod common;

use common::*;
use mlpc_train::{Device, Frame, InputType, Params, Spec};
use serde_json::json;

/// A small frame with a learnable signal, nulls, and a category.
fn frame(rows: usize) -> Frame {
    let mut x1 = Vec::new();
    let mut x2 = Vec::new();
    let mut n = Vec::new();
    let mut plan = Vec::new();
    let mut yes = Vec::new();
    let mut kind = Vec::new();
    let mut amount = Vec::new();
    for i in 0..rows {
        let a = ((i * 37) % 101) as f64 / 101.0;
        let b = ((i * 53) % 97) as f64 / 97.0;
        let p = ["basic", "plus", "premium"][i % 3];
        x1.push(if i % 17 == 0 { f64::NAN } else { a });
        x2.push(b);
        n.push((i % 7) as f64);
        plan.push(Some(p));
        let score = 2.0 * a - b + if p == "premium" { 0.5 } else { 0.0 };
        yes.push(if score > 0.5 { 1.0 } else { 0.0 });
        kind.push(Some(if score > 0.9 {
            "high"
        } else if score > 0.2 {
            "mid"
        } else {
            "low"
        }));
        amount.push(10.0 * score + (i % 5) as f64 * 0.1);
    }
    Frame {
        columns: vec![
            number("x1", InputType::Float, x1),
            number("x2", InputType::Float, x2),
            number("visits", InputType::Int, n),
            category("plan", &plan),
            number("churned", InputType::Bool, yes),
            category("segment", &kind),
            number("amount", InputType::Float, amount),
        ],
    }
}

fn params(algorithm: &str) -> Params {
    let p = match algorithm {
        "logistic_regression" => json!({"c": 1.0, "max_iter": 200, "tol": 0.0001}),
        "linear_regression" => json!({"alpha": 0.1, "intercept": true}),
        "gradient_boosting" => {
            json!({"trees": 20, "depth": 3, "learning_rate": 0.2, "max_bins": 64, "min_leaf": 5, "l2": 0.0, "seed": 7})
        }
        "random_forest" => json!({"trees": 10, "depth": 0, "min_leaf": 2, "max_features": 0.7, "seed": 7}),
        "mlp" => {
            json!({"hidden": [8], "epochs": 5, "batch_size": 32, "learning_rate": 0.01, "weight_decay": 0.0, "seed": 7})
        }
        other => panic!("unknown algorithm {other}"),
    };
    Params(serde_json::from_value(p).unwrap())
}

#[test]
fn every_algorithm_exports_what_it_predicts() {
    let data = frame(300);
    let inputs: Vec<String> = ["x1", "x2", "visits", "plan"].map(String::from).to_vec();
    let out = std::env::var_os("MLPC_EXPORT_DIR").map(std::path::PathBuf::from);
    let cases = [
        ("logistic_regression", "churned"),
        ("logistic_regression", "segment"),
        ("linear_regression", "amount"),
        ("gradient_boosting", "churned"),
        ("gradient_boosting", "segment"),
        ("gradient_boosting", "amount"),
        ("random_forest", "churned"),
        ("random_forest", "segment"),
        ("random_forest", "amount"),
        ("mlp", "churned"),
        ("mlp", "segment"),
        ("mlp", "amount"),
    ];
    for (algorithm, label) in cases {
        let p = params(algorithm);
        let spec = Spec { algorithm, params: &p, inputs: &inputs, label, device: Device::Cpu };
        let model = mlpc_train::train(&spec, &data).unwrap_or_else(|e| panic!("{algorithm} → {label}: {e}"));
        assert_onnx_matches(&model, &data, 1e-5);
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            let name = format!("{algorithm}-{label}");
            std::fs::write(dir.join(format!("{name}.onnx")), model.to_onnx(&name, "")).unwrap();
            let pred = model.predict(&data).unwrap();
            let feed: serde_json::Map<String, serde_json::Value> = inputs
                .iter()
                .map(|c| {
                    let values = match &data.column(c).unwrap().values {
                        mlpc_train::Values::Number(v) => v.iter().map(|x| json!(x)).collect::<Vec<_>>(),
                        mlpc_train::Values::Category(v) => {
                            v.iter().map(|x| json!(x.clone().unwrap_or_default())).collect()
                        }
                    };
                    (c.clone(), json!(values))
                })
                .collect();
            let expected = json!({"inputs": feed, "labels": pred.labels, "scores": pred.scores, "width": pred.width});
            std::fs::write(dir.join(format!("{name}.json")), expected.to_string()).unwrap();
        }
    }
}
