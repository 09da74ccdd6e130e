//! Linear models: logistic regression (L-BFGS, binary or multinomial, CPU or CUDA) and
//! linear regression (ridge normal equations, CPU), sharing one learner and ONNX export.

mod lbfgs;
mod logistic;
mod ridge;

pub use logistic::fit_logistic;
pub use ridge::fit_linear;

use crate::frame::Matrix;
use crate::model::Learned;
use crate::onnx::{attr, Graph};
use rayon::prelude::*;

/// How the linear scores `z = x·Wᵀ + b` become outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// One score; probabilities `[1 - σ(z), σ(z)]`.
    Sigmoid,
    /// One score per class; probabilities `softmax(z)`.
    Softmax,
    /// One score: the value itself.
    Identity,
}

/// A fitted linear model: `rows` score vectors of `cols` weights, plus one bias each.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub rows: usize,
    pub cols: usize,
    /// Row-major `rows × cols`.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub link: Link,
}

/// Rows per parallel task when predicting.
const PREDICT_CHUNK: usize = 4096;

impl Linear {
    fn width(&self) -> usize {
        if self.link == Link::Sigmoid {
            2
        } else {
            self.rows
        }
    }

    /// Scores one row into `out` (its `width()` outputs), in f32 as ONNX Runtime computes.
    fn score(&self, x: &[f32], z: &mut [f32], out: &mut [f32]) {
        for (k, z) in z.iter_mut().enumerate() {
            let w = &self.weights[k * self.cols..(k + 1) * self.cols];
            *z = x.iter().zip(w).map(|(x, w)| x * w).sum::<f32>() + self.bias[k];
        }
        match self.link {
            Link::Sigmoid => {
                let p = 1.0 / (1.0 + (-z[0]).exp());
                out[0] = 1.0 - p;
                out[1] = p;
            }
            Link::Softmax => softmax(z, out),
            Link::Identity => out[0] = z[0],
        }
    }
}

/// `out = softmax(z)`, shifted by the maximum for stability.
pub fn softmax(z: &[f32], out: &mut [f32]) {
    let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for (o, &v) in out.iter_mut().zip(z) {
        *o = (v - max).exp();
        sum += *o;
    }
    out.iter_mut().for_each(|o| *o /= sum);
}

impl Learned for Linear {
    fn predict(&self, x: &Matrix) -> Vec<f32> {
        let width = self.width();
        let mut out = vec![0f32; x.rows * width];
        out.par_chunks_mut(PREDICT_CHUNK * width).enumerate().for_each(|(c, out)| {
            let mut z = vec![0f32; self.rows];
            for (r, o) in out.chunks_mut(width).enumerate() {
                self.score(x.row(c * PREDICT_CHUNK + r), &mut z, o);
            }
        });
        out
    }

    fn export(&self, g: &mut Graph, features: &str) -> String {
        let w = g.const_f32(&[self.rows as i64, self.cols as i64], self.weights.clone());
        let b = g.const_f32(&[self.rows as i64], self.bias.clone());
        let z = g.node("Gemm", "", &[features, &w, &b], vec![attr::int("transB", 1)]);
        match self.link {
            Link::Sigmoid => {
                let p = g.node("Sigmoid", "", &[&z], vec![]);
                let one = g.const_f32(&[1], vec![1.0]);
                let q = g.node("Sub", "", &[&one, &p], vec![]);
                g.node("Concat", "", &[&q, &p], vec![attr::int("axis", 1)])
            }
            Link::Softmax => g.node("Softmax", "", &[&z], vec![attr::int("axis", 1)]),
            Link::Identity => z,
        }
    }
}

/// A parameter that must be a finite number at least `min` (strictly above it when `strict`).
pub fn bounded(params: &crate::Params, name: &str, min: f64, strict: bool) -> Result<f64, String> {
    let v = params.float(name)?;
    if !v.is_finite() || v < min || (strict && v == min) {
        let bound = if strict { ">" } else { "≥" };
        return Err(format!("parameter `{name}` must be a finite number {bound} {min}, not {v}"));
    }
    Ok(v)
}
