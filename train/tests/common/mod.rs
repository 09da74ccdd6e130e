//! Shared by the trainers' tests: small frames, and the check that a model's ONNX export
//! run by ONNX Runtime predicts what the model predicts in process.

#![allow(dead_code)]

use mlpc_train::scorer::{self, Output, Scorer};
use mlpc_train::{Column, Frame, InputType, Model, Task, Values};

pub fn number(name: &str, ty: InputType, v: Vec<f64>) -> Column {
    Column { name: name.into(), ty, values: Values::Number(v) }
}

pub fn category(name: &str, v: &[Option<&str>]) -> Column {
    Column {
        name: name.into(),
        ty: InputType::Category,
        values: Values::Category(v.iter().map(|x| x.map(String::from)).collect()),
    }
}

pub fn ort_ready() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/lib");
    scorer::init(&scorer::library_path(&dir)).expect("ONNX Runtime loads (run scripts/setup)");
}

/// Runs the export through ONNX Runtime; returns labels (if any) and the probabilities or values.
pub fn onnx_scores(bytes: &[u8], frame: &Frame) -> (Vec<String>, Vec<f32>) {
    ort_ready();
    let mut s = Scorer::load(bytes, 1).expect("the export loads");
    let mut labels = Vec::new();
    let mut scores = Vec::new();
    for (name, out) in s.score(frame).expect("the export runs") {
        match (name.as_str(), out) {
            ("label", Output::Strings { data, .. }) => labels = data,
            ("probabilities" | "value", Output::Numbers { data, .. }) => scores = data,
            (other, out) => panic!("unexpected output {other}: {out:?}"),
        }
    }
    (labels, scores)
}

/// Asserts the export and the in-process model agree: scores within `tol`, and labels
/// equal wherever the top two probabilities are further apart than `tol`.
pub fn assert_onnx_matches(model: &Model, frame: &Frame, tol: f32) {
    let bytes = model.to_onnx("test", "");
    let (labels, scores) = onnx_scores(&bytes, frame);
    let ours = model.predict(frame).expect("predicts");
    assert_eq!(scores.len(), ours.scores.len(), "as many scores from ONNX as in process");
    for (i, (a, b)) in scores.iter().zip(&ours.scores).enumerate() {
        assert!((a - b).abs() <= tol, "score {i}: onnx {a} vs in-process {b}");
    }
    if let Task::Classification { .. } = model.task {
        assert_eq!(labels.len(), frame.rows());
        for (i, label) in labels.iter().enumerate() {
            let mut row = ours.row(i).to_vec();
            row.sort_by(|a, b| b.total_cmp(a));
            if row.len() < 2 || row[0] - row[1] > tol {
                assert_eq!(label, &ours.labels[i], "label of row {i}");
            }
        }
    }
}
