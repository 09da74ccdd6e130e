//! L2-regularised logistic regression as scikit-learn defines it: minimises
//! `(Σ log-loss + ‖W‖² / 2C) / n` (the intercept is not penalised) by L-BFGS; one weight
//! vector for two classes, a softmax over one vector per class beyond that. The optimiser
//! runs on the host; the data term is computed on the CPU (rayon over row chunks) or on
//! the GPU (see `crate::cuda::logistic`).

use super::{bounded, lbfgs, Linear, Link};
use crate::frame::{Matrix, Target};
use crate::{cuda, Device, Fitted, Params};
use rayon::prelude::*;

/// Rows per parallel task of the data term.
const CHUNK: usize = 8192;

/// `log(1 + e^z)` without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The data term on the CPU: `Σ log-loss` over the rows and its gradient with respect to
/// `theta` (`k` rows of `cols + 1`: weights, then the bias).
pub fn data_term(x: &Matrix, y: &[u32], k: usize, theta: &[f64]) -> (f64, Vec<f64>) {
    let width = x.cols + 1;
    let chunk_term = |chunk: usize| {
        let mut loss = 0.0;
        let mut grad = vec![0.0; theta.len()];
        let mut z = vec![0.0; k];
        let rows = chunk * CHUNK..((chunk + 1) * CHUNK).min(x.rows);
        for (i, &label) in rows.clone().zip(&y[rows]) {
            let (row, label) = (x.row(i), label as usize);
            for (j, z) in z.iter_mut().enumerate() {
                let w = &theta[j * width..(j + 1) * width];
                *z = w[x.cols] + row.iter().zip(w).map(|(&a, b)| a as f64 * b).sum::<f64>();
            }
            if k == 1 {
                let t = label as f64;
                loss += softplus(z[0]) - t * z[0];
                z[0] = 1.0 / (1.0 + (-z[0]).exp()) - t;
            } else {
                let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
                loss += max + sum.ln() - z[label];
                z.iter_mut().for_each(|v| *v = (*v - max).exp() / sum);
                z[label] -= 1.0;
            }
            for (j, &r) in z.iter().enumerate() {
                let g = &mut grad[j * width..(j + 1) * width];
                row.iter().zip(g.iter_mut()).for_each(|(&a, g)| *g += r * a as f64);
                g[x.cols] += r;
            }
        }
        (loss, grad)
    };
    // Chunk results are added in chunk order, so a fit does not depend on thread timing.
    let parts: Vec<(f64, Vec<f64>)> = (0..x.rows.div_ceil(CHUNK)).into_par_iter().map(chunk_term).collect();
    parts.into_iter().fold((0.0, vec![0.0; theta.len()]), |(l1, mut g1), (l2, g2)| {
        g1.iter_mut().zip(g2).for_each(|(a, b)| *a += b);
        (l1 + l2, g1)
    })
}

/// Fits logistic regression (parameters `c`, `max_iter`, `tol`).
pub fn fit_logistic(x: &Matrix, target: &Target, params: &Params, device: Device) -> Result<Fitted, String> {
    let Target::Classes { classes, y } = target else {
        return Err("logistic_regression classifies: its label must be a bool or a category".into());
    };
    if classes.len() < 2 {
        return Err(format!("logistic_regression needs at least two classes, the label has {}", classes.len()));
    }
    let c = bounded(params, "c", 0.0, true)?;
    let max_iter = params.count("max_iter")?;
    if max_iter == 0 {
        return Err("parameter `max_iter` must be at least 1".into());
    }
    let tol = bounded(params, "tol", 0.0, false)?;
    let k = if classes.len() == 2 { 1 } else { classes.len() };
    let (n, width) = (x.rows as f64, x.cols + 1);
    let gpu = cuda::resolve(device, "logistic_regression")?;
    let mut on_gpu = match &gpu {
        Some(gpu) => Some(cuda::logistic::DataTerm::new(gpu, x, y, k)?),
        None => None,
    };
    let objective = |theta: &[f64]| -> Result<(f64, Vec<f64>), String> {
        let (loss, mut grad) = match &mut on_gpu {
            Some(term) => term.eval(theta)?,
            None => data_term(x, y, k, theta),
        };
        let mut penalty = 0.0;
        for (i, (g, &t)) in grad.iter_mut().zip(theta).enumerate() {
            if i % width != x.cols {
                penalty += t * t;
                *g += t / c;
            }
            *g /= n;
        }
        Ok(((loss + penalty / (2.0 * c)) / n, grad))
    };
    let theta = lbfgs::minimise(vec![0.0; k * width], max_iter, tol, objective)?;
    let weights = (0..k).flat_map(|j| theta[j * width..j * width + x.cols].iter().map(|&v| v as f32)).collect();
    let bias = (0..k).map(|j| theta[j * width + x.cols] as f32).collect();
    let link = if k == 1 { Link::Sigmoid } else { Link::Softmax };
    let learner = Linear { rows: k, cols: x.cols, weights, bias, link };
    Ok(Fitted { learner: Box::new(learner), device: if gpu.is_some() { "cuda" } else { "cpu" } })
}
