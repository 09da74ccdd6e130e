//! A trained model: learned preprocessing plus a learner. It predicts in process and
//! exports itself as one ONNX graph whose inputs are the raw columns by name and type and
//! whose outputs are `label` and `probabilities` (classification) or `value` (regression).

use crate::frame::{Frame, Matrix};
use crate::onnx::{attr, dtype, Graph};
use crate::prep::Prep;

#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Class names, sorted; probability columns follow this order.
    Classification {
        classes: Vec<String>,
    },
    Regression,
}

/// What every algorithm's fitted state provides.
pub trait Learned: Send + Sync {
    /// Per row, row-major: the class probabilities when classifying (rows × classes), one
    /// value when regressing.
    fn predict(&self, x: &Matrix) -> Vec<f32>;
    /// Adds the learner to `g`, reading `features` (`[N, D]` float). Returns the name of a
    /// `[N, classes]` float tensor of probabilities, or of `[N, 1]` float values.
    fn export(&self, g: &mut Graph, features: &str) -> String;
}

pub struct Model {
    pub algorithm: String,
    pub label: String,
    pub prep: Prep,
    pub task: Task,
    pub learner: Box<dyn Learned>,
    /// Where it was trained: `cpu` or `cuda`.
    pub device: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// Classification: the most probable class per row (ties go to the first).
    pub labels: Vec<String>,
    /// Row-major probabilities (`rows × classes`), or one value per row.
    pub scores: Vec<f32>,
    /// Scores per row: the class count, or 1.
    pub width: usize,
}

impl Predictions {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.scores[i * self.width..(i + 1) * self.width]
    }
}

/// The index of the largest value; the first on ties, as ONNX `ArgMax` picks.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (k, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = k;
        }
    }
    best
}

impl Model {
    pub fn predict(&self, frame: &Frame) -> Result<Predictions, String> {
        self.predict_matrix(&self.prep.transform(frame)?)
    }

    /// Predictions for rows already encoded by this model's preprocessing.
    pub fn predict_matrix(&self, x: &Matrix) -> Result<Predictions, String> {
        let scores = self.learner.predict(x);
        Ok(match &self.task {
            Task::Classification { classes } => {
                let width = classes.len();
                let labels = scores.chunks(width).map(|row| classes[argmax(row)].clone()).collect();
                Predictions { labels, scores, width }
            }
            Task::Regression => Predictions { labels: Vec::new(), scores, width: 1 },
        })
    }

    /// The model, preprocessing included, as an encoded ONNX `ModelProto`.
    pub fn to_onnx(&self, name: &str, doc: &str) -> Vec<u8> {
        let mut g = Graph::default();
        let features = self.prep.export(&mut g);
        let out = self.learner.export(&mut g, &features);
        let mut metadata = vec![
            ("mlpc.algorithm".to_string(), self.algorithm.clone()),
            ("mlpc.label".to_string(), self.label.clone()),
            ("mlpc.device".to_string(), self.device.to_string()),
        ];
        match &self.task {
            Task::Classification { classes } => {
                g.node_into("Identity", "", &[&out], "probabilities", vec![]);
                let index = g.node("ArgMax", "", &[&out], vec![attr::int("axis", 1), attr::int("keepdims", 0)]);
                let names = g.const_strings(&[classes.len() as i64], classes);
                g.node_into("Gather", "", &[&names, &index], "label", vec![attr::int("axis", 0)]);
                g.output("label", dtype::STRING, &[None]);
                g.output("probabilities", dtype::FLOAT, &[None, Some(classes.len() as i64)]);
                metadata.push(("mlpc.classes".to_string(), classes.join(",")));
            }
            Task::Regression => {
                let shape = g.const_i64(&[1], vec![-1]);
                g.node_into("Reshape", "", &[&out, &shape], "value", vec![]);
                g.output("value", dtype::FLOAT, &[None]);
            }
        }
        g.encode(name, doc, &metadata)
    }
}
