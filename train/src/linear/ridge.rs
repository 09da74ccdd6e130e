//! Linear regression with an optional ridge penalty: minimises `‖y - Xw - b‖² + α‖w‖²`
//! (the intercept `b` is not penalised) through the normal equations of the centred data,
//! `(XcᵀXc + αI) w = Xcᵀyc`, solved by Cholesky; a rank-deficient system (collinear
//! one-hot columns with α = 0) falls back to the minimum-norm SVD solution, as
//! least-squares solvers give.

use super::{bounded, Linear, Link};
use crate::frame::{Matrix, Target};
use crate::{Device, Fitted, Params};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

const CHUNK: usize = 8192;
/// Below this ratio of the smallest to the largest Cholesky pivot the system is treated
/// as rank-deficient.
const PIVOT_RATIO: f64 = 1e-10;

/// Sums `f(row, buffer)` over row chunks in parallel into a buffer of `len`, adding the
/// chunks' sums in chunk order so the result does not depend on thread timing.
fn sum_rows<F>(x: &Matrix, len: usize, f: F) -> Vec<f64>
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    let parts: Vec<Vec<f64>> = (0..x.rows.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0; len];
            (c * CHUNK..((c + 1) * CHUNK).min(x.rows)).for_each(|i| f(i, &mut acc));
            acc
        })
        .collect();
    parts.into_iter().fold(vec![0.0; len], |mut a, b| {
        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        a
    })
}

/// Solves the symmetric positive semi-definite system `a w = b`.
fn solve(a: DMatrix<f64>, b: DVector<f64>) -> DVector<f64> {
    if let Some(chol) = a.clone().cholesky() {
        let pivots = chol.l_dirty().diagonal();
        let (lo, hi) = pivots.iter().fold((f64::INFINITY, 0f64), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        if lo > 0.0 && (lo / hi) * (lo / hi) > PIVOT_RATIO {
            return chol.solve(&b);
        }
    }
    let svd = a.svd(true, true);
    let eps = svd.singular_values.max() * PIVOT_RATIO;
    svd.solve(&b, eps).unwrap_or_else(|_| DVector::zeros(b.len()))
}

/// Fits linear regression (parameters `alpha`, `intercept`). CPU only.
pub fn fit_linear(x: &Matrix, target: &Target, params: &Params, device: Device) -> Result<Fitted, String> {
    let Target::Values(y) = target else {
        return Err("linear_regression regresses: its label must be a number".into());
    };
    if device == Device::Cuda {
        return Err("linear_regression runs on the CPU only: use device = cpu or auto".into());
    }
    let alpha = bounded(params, "alpha", 0.0, false)?;
    let intercept = params.flag("intercept")?;
    let (n, d) = (x.rows, x.cols);
    let (means, y_mean) = if intercept {
        let mut sums = sum_rows(x, d + 1, |i, acc| {
            x.row(i).iter().zip(acc.iter_mut()).for_each(|(&v, a)| *a += v as f64);
            acc[d] += y[i];
        });
        sums.iter_mut().for_each(|s| *s /= n as f64);
        let y_mean = sums.pop().unwrap_or(0.0);
        (sums, y_mean)
    } else {
        (vec![0.0; d], 0.0)
    };
    // The upper triangle of XcᵀXc, then Xcᵀyc, in one buffer.
    let moments = sum_rows(x, d * d + d, |i, acc| {
        let row: Vec<f64> = x.row(i).iter().zip(&means).map(|(&v, m)| v as f64 - m).collect();
        let t = y[i] - y_mean;
        for (j, &a) in row.iter().enumerate() {
            let gram = &mut acc[j * d..(j + 1) * d];
            gram[j..].iter_mut().zip(&row[j..]).for_each(|(g, &b)| *g += a * b);
            acc[d * d + j] += a * t;
        }
    });
    let gram = DMatrix::from_fn(d, d, |i, j| moments[i.min(j) * d + i.max(j)] + if i == j { alpha } else { 0.0 });
    let w = solve(gram, DVector::from_column_slice(&moments[d * d..]));
    let bias = y_mean - w.iter().zip(&means).map(|(w, m)| w * m).sum::<f64>();
    let learner = Linear {
        rows: 1,
        cols: d,
        weights: w.iter().map(|&v| v as f32).collect(),
        bias: vec![bias as f32],
        link: Link::Identity,
    };
    Ok(Fitted { learner: Box::new(learner), device: "cpu" })
}
