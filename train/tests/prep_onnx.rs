//! The exported preprocessing computes exactly the matrix `Prep::transform` computes:
//! imputation, standardization, one-hot and ordinal codes, unseen categories and nulls.

mod common;

use common::*;
use mlpc_train::onnx::Graph;
use mlpc_train::{Encoding, Frame, InputType, Learned, Matrix, Model, Prep, Task};

/// Predicts its own input matrix, so the export's output is the preprocessing's.
struct Echo;

impl Learned for Echo {
    fn predict(&self, x: &Matrix) -> Vec<f32> {
        x.data.clone()
    }
    fn export(&self, g: &mut Graph, features: &str) -> String {
        g.node("Identity", "", &[features], vec![])
    }
}

fn frame() -> Frame {
    Frame {
        columns: vec![
            number("age", InputType::Int, vec![30.0, f64::NAN, 50.0, 41.0]),
            number("spend", InputType::Float, vec![1.5, 2.25, f64::NAN, 1e6]),
            number("vip", InputType::Bool, vec![1.0, 0.0, 0.0, 1.0]),
            category("plan", &[Some("pro"), Some("basic"), None, Some("pro")]),
            category("region", &[Some("eu"), Some("us"), Some("us"), Some("apac")]),
        ],
    }
}

fn echo_model(encoding: Encoding) -> Model {
    let inputs: Vec<String> = ["age", "spend", "vip", "plan", "region"].map(String::from).to_vec();
    let prep = Prep::fit(&frame(), &inputs, encoding).unwrap();
    Model {
        algorithm: "echo".into(),
        label: "y".into(),
        prep,
        task: Task::Regression,
        learner: Box::new(Echo),
        device: "cpu",
    }
}

#[test]
fn scaled_encoding_matches_onnx() {
    let model = echo_model(Encoding::Scaled);
    assert_eq!(
        model.prep.feature_names(),
        ["age", "spend", "vip", "plan=basic", "plan=pro", "region=apac", "region=eu", "region=us"]
    );
    // Scoring rows with a category never seen in training: all-zero one-hot.
    let mut unseen = frame();
    unseen.columns[4] = category("region", &[Some("mars"), None, Some("eu"), Some("")]);
    assert_onnx_matches(&model, &frame(), 0.0);
    assert_onnx_matches(&model, &unseen, 0.0);
    let x = model.prep.transform(&unseen).unwrap();
    assert_eq!(&x.row(0)[5..], &[0.0, 0.0, 0.0]);
}

#[test]
fn raw_encoding_matches_onnx() {
    let model = echo_model(Encoding::Raw);
    let x = model.prep.transform(&frame()).unwrap();
    // The null age is the mean of the others; categories are codes, a null one is -1.
    assert_eq!(x.row(1)[0], 40.333332);
    assert_eq!(x.row(2)[3], -1.0);
    assert_eq!(x.row(3)[4], 0.0);
    assert_onnx_matches(&model, &frame(), 0.0);
}
