//! Gradient boosting and random forests: each learns a synthetic signal for every task,
//! its ONNX export predicts what it predicts in process, the seed fixes the model, and bad
//! parameters or devices are clear errors.

mod common;

use common::*;
use mlpc_train::{train, Device, Frame, InputType, Model, Params, Spec, Values};

/// A small deterministic generator (xorshift), uniform in [0, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy)]
enum Label {
    Binary,
    Multiclass,
    Value,
}

const PLANS: [&str; 3] = ["basic", "plus", "pro"];

/// Rows whose label depends on `a`, `b`, `age` and `plan`, not on `junk`. Ages are whole
/// numbers, except every tenth row when `halves`, whose age is halfway between two whole
/// numbers: exactly a threshold, so the `<=` test itself is checked. A `plan` of `mars`
/// is never seen in training.
fn frame(rows: usize, label: Label, seed: u64, halves: bool) -> Frame {
    let mut r = Noise(seed * 7919 + 17);
    let (mut a, mut b, mut age, mut junk, mut plan, mut y) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut classes = vec![];
    for i in 0..rows {
        let (x1, x2) = (r.next() * 4.0 - 2.0, r.next() * 4.0 - 2.0);
        let mut years = (r.next() * 60.0).floor() + 18.0;
        if halves && i % 10 == 0 {
            years += 0.5;
        }
        let p = (r.next() * 3.0) as usize;
        let plan_name = if halves && i % 17 == 0 { "mars" } else { PLANS[p] };
        let signal = x1 + x2 * x2 - 1.3 + (years - 45.0) / 20.0 + [-0.8, 0.0, 0.8][p];
        match label {
            Label::Binary => y.push(f64::from(signal + 0.3 * (r.next() - 0.5) > 0.0)),
            Label::Multiclass => classes.push(Some(if signal < -0.7 {
                "low"
            } else if signal < 0.7 {
                "mid"
            } else {
                "high"
            })),
            Label::Value => y.push(3.0 * signal + 0.2 * (r.next() - 0.5)),
        }
        a.push(x1);
        b.push(x2);
        age.push(years);
        junk.push(r.next());
        plan.push(Some(plan_name));
    }
    let mut columns = vec![
        number("a", InputType::Float, a),
        number("b", InputType::Float, b),
        number("age", InputType::Int, age),
        number("junk", InputType::Float, junk),
        category("plan", &plan),
    ];
    columns.push(match label {
        Label::Binary => number("y", InputType::Bool, y),
        Label::Multiclass => category("y", &classes),
        Label::Value => number("y", InputType::Float, y),
    });
    Frame { columns }
}

fn params(algorithm: &str, overrides: &[(&str, serde_json::Value)]) -> Params {
    let defaults = match algorithm {
        "gradient_boosting" => serde_json::json!({
            "trees": 40, "depth": 4, "learning_rate": 0.2, "max_bins": 255, "min_leaf": 10, "l2": 1.0, "seed": 42
        }),
        _ => serde_json::json!({ "trees": 20, "depth": 0, "min_leaf": 1, "max_features": 0.5, "seed": 42 }),
    };
    let mut map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_value(defaults).expect("an object");
    for (k, v) in overrides {
        map.insert(k.to_string(), v.clone());
    }
    Params(map)
}

fn fit(algorithm: &str, params: &Params, frame: &Frame, device: Device) -> Result<Model, String> {
    let inputs: Vec<String> = ["a", "b", "age", "junk", "plan"].map(String::from).to_vec();
    train(&Spec { algorithm, params, inputs: &inputs, label: "y", device }, frame)
}

fn label_numbers(frame: &Frame) -> Vec<f64> {
    match &frame.column("y").expect("a label").values {
        Values::Number(v) => v.clone(),
        Values::Category(_) => panic!("numbers expected"),
    }
}

fn check_binary(algorithm: &str) {
    let model = fit(algorithm, &params(algorithm, &[]), &frame(3000, Label::Binary, 1, false), Device::Auto).unwrap();
    assert_eq!(model.device, "cpu");
    let test = frame(1000, Label::Binary, 2, true);
    let p = model.predict(&test).unwrap();
    assert_eq!(p.width, 2);
    let truth = mlpc_train::Target::from_column(test.column("y").unwrap()).unwrap();
    let auc = mlpc_train::metrics::compute("auc", &truth, &p).unwrap();
    assert!(auc > 0.95, "{algorithm}: AUC {auc}");
    assert_onnx_matches(&model, &test, 1e-5);
}

fn check_multiclass(algorithm: &str) {
    let model =
        fit(algorithm, &params(algorithm, &[]), &frame(3000, Label::Multiclass, 3, false), Device::Cpu).unwrap();
    let test = frame(1000, Label::Multiclass, 4, true);
    let p = model.predict(&test).unwrap();
    assert_eq!(p.width, 3);
    let Values::Category(truth) = &test.column("y").unwrap().values else { panic!("categories expected") };
    let right = p.labels.iter().zip(truth).filter(|(a, b)| Some(*a) == b.as_ref()).count();
    let accuracy = right as f64 / test.rows() as f64;
    assert!(accuracy > 0.8, "{algorithm}: accuracy {accuracy}");
    for i in 0..test.rows() {
        assert!((p.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    assert_onnx_matches(&model, &test, 1e-5);
}

fn check_regression(algorithm: &str) {
    let model = fit(algorithm, &params(algorithm, &[]), &frame(3000, Label::Value, 5, false), Device::Cpu).unwrap();
    let test = frame(1000, Label::Value, 6, true);
    let p = model.predict(&test).unwrap();
    let y = label_numbers(&test);
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = y.iter().zip(&p.scores).map(|(v, s)| (v - *s as f64).powi(2)).sum();
    let r2 = 1.0 - residual / total;
    assert!(r2 > 0.85, "{algorithm}: R² {r2}");
    // Values reach ±20: f32 sums in another order differ in the last bits.
    assert_onnx_matches(&model, &test, 2e-5 * 20.0);
}

#[test]
fn gbdt_binary() {
    check_binary("gradient_boosting");
}

#[test]
fn gbdt_multiclass() {
    check_multiclass("gradient_boosting");
}

#[test]
fn gbdt_regression() {
    check_regression("gradient_boosting");
}

#[test]
fn forest_binary() {
    check_binary("random_forest");
}

#[test]
fn forest_multiclass() {
    check_multiclass("random_forest");
}

#[test]
fn forest_regression() {
    check_regression("random_forest");
}

#[test]
fn limited_depth_and_single_leaf_trees_export() {
    let data = frame(500, Label::Binary, 7, false);
    let test = frame(300, Label::Binary, 8, true);
    for (algorithm, overrides) in [
        ("gradient_boosting", vec![("depth", 1.into()), ("max_bins", 2.into())]),
        ("random_forest", vec![("depth", 3.into()), ("max_features", 1.0.into())]),
        // Leaves need more rows than there are: every tree is one leaf.
        ("gradient_boosting", vec![("min_leaf", 400.into())]),
        ("random_forest", vec![("min_leaf", 1000.into())]),
        ("random_forest", vec![("min_leaf", u64::MAX.into()), ("depth", u64::MAX.into())]),
    ] {
        let model = fit(algorithm, &params(algorithm, &overrides), &data, Device::Cpu).unwrap();
        assert_onnx_matches(&model, &test, 1e-5);
    }
}

#[test]
fn the_seed_fixes_the_model() {
    let data = frame(800, Label::Multiclass, 9, false);
    for algorithm in ["gradient_boosting", "random_forest"] {
        let once = fit(algorithm, &params(algorithm, &[]), &data, Device::Cpu).unwrap();
        let again = fit(algorithm, &params(algorithm, &[]), &data, Device::Cpu).unwrap();
        assert_eq!(once.to_onnx("m", ""), again.to_onnx("m", ""), "{algorithm}");
    }
    let forest = |seed: u64| {
        fit("random_forest", &params("random_forest", &[("seed", seed.into())]), &data, Device::Cpu).unwrap()
    };
    assert_ne!(forest(1).to_onnx("m", ""), forest(2).to_onnx("m", ""));
}

#[test]
fn cuda_is_refused() {
    let data = frame(50, Label::Binary, 10, false);
    for algorithm in ["gradient_boosting", "random_forest"] {
        let err = fit(algorithm, &params(algorithm, &[]), &data, Device::Cuda).err().unwrap();
        assert_eq!(err, format!("{algorithm} has no CUDA implementation; use device = cpu or auto"));
    }
}

#[test]
fn bad_parameters_are_errors() {
    let data = frame(50, Label::Binary, 11, false);
    let cases: Vec<(&str, &str, serde_json::Value, &str)> = vec![
        ("gradient_boosting", "trees", 0.into(), "parameter `trees` must be at least 1, not 0"),
        ("gradient_boosting", "depth", 0.into(), "parameter `depth` must be at least 1, not 0"),
        ("gradient_boosting", "max_bins", 256.into(), "parameter `max_bins` must be between 2 and 255, not 256"),
        ("gradient_boosting", "max_bins", 1.into(), "parameter `max_bins` must be between 2 and 255, not 1"),
        (
            "gradient_boosting",
            "learning_rate",
            0.0.into(),
            "parameter `learning_rate` must be a positive number, not 0",
        ),
        ("gradient_boosting", "l2", (-1.0).into(), "parameter `l2` must be a number ≥ 0, not -1"),
        ("gradient_boosting", "min_leaf", (-3).into(), "parameter `min_leaf` must be a whole number ≥ 0, not -3"),
        ("random_forest", "trees", 0.into(), "parameter `trees` must be at least 1, not 0"),
        (
            "random_forest",
            "trees",
            u64::MAX.into(),
            "parameter `trees` must be at most 100000, not 18446744073709551615",
        ),
        ("random_forest", "min_leaf", 0.into(), "parameter `min_leaf` must be at least 1, not 0"),
        ("random_forest", "max_features", 0.0.into(), "parameter `max_features` must be a fraction in (0, 1], not 0"),
        ("random_forest", "max_features", 1.5.into(), "parameter `max_features` must be a fraction in (0, 1], not 1.5"),
        ("random_forest", "seed", "x".into(), "parameter `seed` must be a whole number ≥ 0"),
    ];
    for (algorithm, name, value, message) in cases {
        let err = fit(algorithm, &params(algorithm, &[(name, value)]), &data, Device::Cpu).err();
        assert_eq!(err.as_deref(), Some(message), "{algorithm} {name}");
    }
}

#[test]
fn a_single_class_is_an_error_unless_the_label_is_a_bool() {
    let mut data = frame(50, Label::Binary, 12, false);
    data.columns[5] = category("y", &[Some("a"); 50]);
    for algorithm in ["gradient_boosting", "random_forest"] {
        let err = fit(algorithm, &params(algorithm, &[]), &data, Device::Cpu).err().unwrap();
        assert_eq!(err, "the label has a single class (a); classification needs at least two");
    }
    // A bool label that is always true still has two classes: the model says true.
    data.columns[5] = number("y", InputType::Bool, vec![1.0; 50]);
    for algorithm in ["gradient_boosting", "random_forest"] {
        let model = fit(algorithm, &params(algorithm, &[]), &data, Device::Cpu).unwrap();
        let p = model.predict(&data).unwrap();
        assert!(p.labels.iter().all(|l| l == "true"), "{algorithm}");
        assert_onnx_matches(&model, &data, 1e-5);
    }
}
