//! The dense learners — logistic regression, linear regression, mlp — learn synthetic
//! signals, export ONNX that ONNX Runtime scores as they predict, are reproducible, and
//! report devices and bad parameters as errors.

mod common;

use common::*;
use mlpc_train::{train, Device, Frame, InputType, Model, Params, Spec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const INPUTS: [&str; 4] = ["x1", "x2", "x3", "plan"];

/// Rows of three standard-normal-ish numbers (one with nulls) and a three-level
/// category, with the score `s = 2·x1 - x2 + plan effect` that the labels derive from.
fn features(rows: usize, seed: u64) -> (Frame, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gauss = || (0..6).map(|_| rng.random::<f64>()).sum::<f64>() - 3.0;
    let x: Vec<[f64; 3]> = (0..rows).map(|_| [gauss(), gauss(), gauss()]).collect();
    let plans = ["basic", "pro", "team"];
    let plan: Vec<usize> = (0..rows).map(|i| (i * 7 + i / 3) % 3).collect();
    let score = (0..rows).map(|i| 2.0 * x[i][0] - x[i][1] + [0.0, 1.0, -1.0][plan[i]]).collect();
    let x3 = (0..rows).map(|i| if i % 17 == 0 { f64::NAN } else { x[i][2] }).collect();
    let frame = Frame {
        columns: vec![
            number("x1", InputType::Float, x.iter().map(|r| r[0]).collect()),
            number("x2", InputType::Float, x.iter().map(|r| r[1]).collect()),
            number("x3", InputType::Float, x3),
            category("plan", &plan.iter().map(|&p| Some(plans[p])).collect::<Vec<_>>()),
        ],
    };
    (frame, score)
}

/// A bool label: whether the score plus a little noise is positive.
fn binary(rows: usize, seed: u64) -> Frame {
    let (mut frame, score) = features(rows, seed);
    let y = score.iter().enumerate().map(|(i, s)| f64::from(s + 0.3 * ((i % 5) as f64 - 2.0) > 0.0)).collect();
    frame.columns.push(number("y", InputType::Bool, y));
    frame
}

/// A category label: the score's third (`lo`, `mid`, `hi`).
fn multiclass(rows: usize, seed: u64) -> Frame {
    let (mut frame, score) = features(rows, seed);
    let y: Vec<Option<&str>> = score
        .iter()
        .map(|&s| {
            Some(if s < -1.0 {
                "lo"
            } else if s < 1.0 {
                "mid"
            } else {
                "hi"
            })
        })
        .collect();
    frame.columns.push(category("y", &y));
    frame
}

/// A float label: the score, shifted and scaled, with a little noise.
fn regression(rows: usize, seed: u64) -> Frame {
    let (mut frame, score) = features(rows, seed);
    let y = score.iter().enumerate().map(|(i, s)| 3.0 * s + 10.0 + 0.1 * ((i % 7) as f64 - 3.0)).collect();
    frame.columns.push(number("y", InputType::Float, y));
    frame
}

fn params(algorithm: &str, overrides: serde_json::Value) -> Params {
    let mut p = match algorithm {
        "logistic_regression" => json!({"c": 1.0, "max_iter": 200, "tol": 1e-4}),
        "linear_regression" => json!({"alpha": 0.0, "intercept": true}),
        _ => json!({"hidden": [16, 8], "epochs": 30, "batch_size": 32, "learning_rate": 0.01,
                    "weight_decay": 0.0, "seed": 7}),
    };
    for (k, v) in overrides.as_object().unwrap() {
        p[k] = v.clone();
    }
    Params(serde_json::from_value(p).unwrap())
}

fn fit(algorithm: &str, p: &Params, frame: &Frame, device: Device) -> Result<Model, String> {
    let inputs: Vec<String> = INPUTS.map(String::from).to_vec();
    train(&Spec { algorithm, params: p, inputs: &inputs, label: "y", device }, frame)
}

/// The share of rows whose predicted label is the frame's.
fn accuracy(model: &Model, frame: &Frame) -> f64 {
    let labels = model.predict(frame).unwrap().labels;
    let truth: Vec<String> = match &frame.column("y").unwrap().values {
        mlpc_train::Values::Number(v) => v.iter().map(|&b| (b != 0.0).to_string()).collect(),
        mlpc_train::Values::Category(v) => v.iter().map(|c| c.clone().unwrap()).collect(),
    };
    labels.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

/// R² of the predicted values on the frame's label.
fn r2(model: &Model, frame: &Frame) -> f64 {
    let pred = model.predict(frame).unwrap().scores;
    let mlpc_train::Values::Number(y) = &frame.column("y").unwrap().values else { unreachable!() };
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let res: f64 = y.iter().zip(&pred).map(|(v, p)| (v - *p as f64).powi(2)).sum();
    1.0 - res / ss
}

fn gpu_usable() -> bool {
    mlpc_train::gpu().is_ok()
}

#[test]
fn logistic_regression_learns_binary_and_multiclass_labels() {
    let p = params("logistic_regression", json!({}));
    let model = fit("logistic_regression", &p, &binary(2000, 1), Device::Cpu).unwrap();
    assert_eq!(model.device, "cpu");
    assert!(accuracy(&model, &binary(1000, 2)) > 0.9);
    assert_onnx_matches(&model, &binary(300, 3), 1e-5);

    let model = fit("logistic_regression", &p, &multiclass(3000, 1), Device::Cpu).unwrap();
    assert!(accuracy(&model, &multiclass(1000, 2)) > 0.85);
    assert_onnx_matches(&model, &multiclass(300, 3), 1e-5);
}

#[test]
fn logistic_regression_matches_a_known_optimum() {
    // One feature, labels 0,0,1,1 at -1,-1,1,1 with C = 1: w solves w = 4σ(-w), b = 0
    // (scikit-learn: coef 1.0434, p(1 | x = 1) = 0.73935).
    let frame = Frame {
        columns: vec![
            number("x1", InputType::Float, vec![-1.0, -1.0, 1.0, 1.0]),
            number("y", InputType::Bool, vec![0.0, 0.0, 1.0, 1.0]),
        ],
    };
    let p = params("logistic_regression", json!({"tol": 1e-8}));
    let inputs = vec!["x1".to_string()];
    let spec = Spec { algorithm: "logistic_regression", params: &p, inputs: &inputs, label: "y", device: Device::Cpu };
    let model = train(&spec, &frame).unwrap();
    // The standardized feature equals the raw one (mean 0, std 1).
    let p1 = model.predict(&frame).unwrap().row(3)[1];
    assert!((p1 - 0.73935).abs() < 1e-4, "{p1}");
}

#[test]
fn linear_regression_learns_with_and_without_ridge() {
    for alpha in [0.0, 1.0] {
        let p = params("linear_regression", json!({ "alpha": alpha }));
        let model = fit("linear_regression", &p, &regression(2000, 1), Device::Auto).unwrap();
        assert_eq!(model.device, "cpu");
        assert!(r2(&model, &regression(1000, 2)) > 0.99);
        assert_onnx_matches(&model, &regression(300, 3), 1e-4);
    }
    let p = params("linear_regression", json!({ "intercept": false }));
    let model = fit("linear_regression", &p, &regression(2000, 1), Device::Cpu).unwrap();
    // Without an intercept the one-hot plan columns absorb the offset of 10.
    assert!(r2(&model, &regression(1000, 2)) > 0.99);
}

#[test]
fn cuda_without_a_gpu_is_a_clear_error_and_auto_falls_back() {
    if gpu_usable() {
        return;
    }
    let why = mlpc_train::gpu().unwrap_err();
    assert!(!why.is_empty());
    for algorithm in ["logistic_regression", "mlp"] {
        let p = params(algorithm, json!({}));
        let e = fit(algorithm, &p, &binary(100, 1), Device::Cuda).err().unwrap();
        assert!(e.contains("device = cuda, but no GPU is usable here") && e.contains("device = auto"), "{e}");
        assert_eq!(fit(algorithm, &p, &binary(100, 1), Device::Auto).unwrap().device, "cpu");
    }
    let p = params("linear_regression", json!({}));
    let e = fit("linear_regression", &p, &regression(100, 1), Device::Cuda).err().unwrap();
    assert!(e.contains("CPU only"), "{e}");
}

#[test]
fn bad_parameters_and_labels_are_errors() {
    let cases = [
        ("logistic_regression", json!({"c": 0.0}), "`c`"),
        ("logistic_regression", json!({"c": -1.0}), "`c`"),
        ("logistic_regression", json!({"max_iter": 0}), "`max_iter`"),
        ("logistic_regression", json!({"tol": -1.0}), "`tol`"),
        ("logistic_regression", json!({"c": "high"}), "`c`"),
        ("linear_regression", json!({"alpha": -0.5}), "`alpha`"),
        ("linear_regression", json!({"intercept": 1}), "`intercept`"),
        ("mlp", json!({"hidden": [16, 0]}), "`hidden`"),
        ("mlp", json!({"hidden": 16}), "`hidden`"),
        ("mlp", json!({"epochs": 0}), "`epochs`"),
        ("mlp", json!({"batch_size": 0}), "`batch_size`"),
        ("mlp", json!({"learning_rate": 0.0}), "`learning_rate`"),
        ("mlp", json!({"weight_decay": -1.0}), "`weight_decay`"),
        ("mlp", json!({"seed": -3}), "`seed`"),
    ];
    for (algorithm, overrides, needle) in cases {
        let p = params(algorithm, overrides);
        let frame = if algorithm == "linear_regression" { regression(50, 1) } else { binary(50, 1) };
        let e = fit(algorithm, &p, &frame, Device::Cpu).err().unwrap_or_else(|| panic!("{algorithm} {p:?}"));
        assert!(e.contains(needle), "{algorithm}: {e}");
    }
    let e = fit("logistic_regression", &params("logistic_regression", json!({})), &regression(50, 1), Device::Cpu);
    assert!(e.err().unwrap().contains("classifies"));
    let e = fit("linear_regression", &params("linear_regression", json!({})), &binary(50, 1), Device::Cpu);
    assert!(e.err().unwrap().contains("regresses"));
}

#[test]
fn mlp_learns_classes_and_values() {
    let p = params("mlp", json!({}));
    let model = fit("mlp", &p, &binary(1500, 1), Device::Cpu).unwrap();
    assert_eq!(model.device, "cpu");
    assert!(accuracy(&model, &binary(1000, 2)) > 0.9);
    assert_onnx_matches(&model, &binary(300, 3), 1e-5);

    let model = fit("mlp", &p, &multiclass(1500, 1), Device::Cpu).unwrap();
    assert!(accuracy(&model, &multiclass(1000, 2)) > 0.85);
    assert_onnx_matches(&model, &multiclass(300, 3), 1e-5);

    let p = params("mlp", json!({"hidden": [8], "weight_decay": 1e-4}));
    let model = fit("mlp", &p, &regression(1500, 1), Device::Cpu).unwrap();
    assert!(r2(&model, &regression(1000, 2)) > 0.97);
    assert_onnx_matches(&model, &regression(300, 3), 1e-4);
}

#[test]
fn mlp_same_seed_same_model() {
    let frame = binary(400, 1);
    let scores = |seed: u64| {
        let p = params("mlp", json!({ "seed": seed, "epochs": 3 }));
        fit("mlp", &p, &frame, Device::Cpu).unwrap().predict(&frame).unwrap().scores
    };
    assert_eq!(scores(5), scores(5));
    assert_ne!(scores(5), scores(6));
}
