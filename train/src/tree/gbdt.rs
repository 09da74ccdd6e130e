//! Gradient boosting: each round fits a tree to the loss's gradients and hessians at the
//! current raw scores and adds its leaves, `−G/(H+l2)` times the learning rate. Losses:
//! binary log-loss (one raw score), softmax (a tree per class per round) and squared
//! error; the raw scores start at the prior (log-odds, class log-priors, mean).

use super::bins::Binned;
use super::ensemble::{Ensemble, Link, Tree, TreeNode};
use super::grow::{Config, Gradients, Grower, Node};
use super::{at_least, check_data, cpu_only, tree_count};
use crate::frame::{Matrix, Target};
use crate::params::Params;
use crate::{Device, Fitted};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;

/// The least hessian sum in each child of a split.
const MIN_HESSIAN: f64 = 1e-3;
/// The least prior probability of a class, so a class absent from training (a bool label
/// that is always true) starts at a finite raw score.
const PRIOR_FLOOR: f64 = 1e-12;

enum Loss<'a> {
    Logistic(&'a [u32]),
    Softmax(&'a [u32], usize),
    Squared(&'a [f64]),
}

impl Loss<'_> {
    fn outputs(&self) -> usize {
        match self {
            Loss::Softmax(_, k) => *k,
            Loss::Logistic(_) | Loss::Squared(_) => 1,
        }
    }

    /// The starting raw scores.
    fn prior(&self) -> Vec<f32> {
        match self {
            Loss::Logistic(y) => {
                let p = y.iter().filter(|&&c| c == 1).count() as f64 / y.len() as f64;
                let p = p.clamp(PRIOR_FLOOR, 1.0 - PRIOR_FLOOR);
                vec![(p / (1.0 - p)).ln() as f32]
            }
            Loss::Softmax(y, k) => {
                let mut counts = vec![0usize; *k];
                y.iter().for_each(|&c| counts[c as usize] += 1);
                counts.iter().map(|&c| (c as f64 / y.len() as f64).max(PRIOR_FLOOR).ln() as f32).collect()
            }
            Loss::Squared(y) => vec![(y.iter().sum::<f64>() / y.len() as f64) as f32],
        }
    }

    /// Gradients and hessians at `raw` (row-major, `outputs` per row), output-major: those
    /// of output `c` are `g[c * n..(c + 1) * n]`.
    fn gradients(&self, raw: &[f32], g: &mut [f32], h: &mut [f32]) {
        let n = g.len() / self.outputs();
        match self {
            Loss::Logistic(y) => g.par_iter_mut().zip(h.par_iter_mut()).enumerate().for_each(|(i, (g, h))| {
                let p = 1.0 / (1.0 + (-raw[i]).exp());
                *g = p - y[i] as f32;
                *h = p * (1.0 - p);
            }),
            Loss::Softmax(y, k) => {
                let mut p = raw.to_vec();
                p.par_chunks_mut(*k).for_each(|row| {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    row.iter_mut().for_each(|v| *v = (*v - max).exp());
                    let sum: f32 = row.iter().sum();
                    row.iter_mut().for_each(|v| *v /= sum);
                });
                for (c, (g, h)) in g.chunks_mut(n).zip(h.chunks_mut(n)).enumerate() {
                    g.par_iter_mut().zip(h.par_iter_mut()).enumerate().for_each(|(i, (g, h))| {
                        let p = p[i * k + c];
                        *g = p - f32::from(y[i] as usize == c);
                        *h = p * (1.0 - p);
                    });
                }
            }
            Loss::Squared(y) => g.par_iter_mut().zip(h.par_iter_mut()).enumerate().for_each(|(i, (g, h))| {
                *g = raw[i] - y[i] as f32;
                *h = 1.0;
            }),
        }
    }
}

pub fn fit(x: &Matrix, y: &Target, params: &Params, device: Device) -> Result<Fitted, String> {
    cpu_only("gradient_boosting", device)?;
    let rounds = tree_count(params)?;
    let depth = at_least(params, "depth", 1)?;
    let min_leaf = at_least(params, "min_leaf", 1)?;
    let max_bins = params.count("max_bins")?;
    if !(2..=255).contains(&max_bins) {
        return Err(format!("parameter `max_bins` must be between 2 and 255, not {max_bins}"));
    }
    let learning_rate = params.float("learning_rate")?;
    if !(learning_rate > 0.0 && learning_rate.is_finite()) {
        return Err(format!("parameter `learning_rate` must be a positive number, not {learning_rate}"));
    }
    let l2 = params.float("l2")?;
    if !(l2 >= 0.0 && l2.is_finite()) {
        return Err(format!("parameter `l2` must be a number ≥ 0, not {l2}"));
    }
    let seed = params.seed()?;
    check_data(x, y)?;

    let loss = match y {
        Target::Classes { classes, y } if classes.len() == 2 => Loss::Logistic(y),
        Target::Classes { classes, y } => Loss::Softmax(y, classes.len()),
        Target::Values(v) => Loss::Squared(v),
    };
    let (n, outputs) = (x.rows, loss.outputs());
    let binned = Binned::new(x, max_bins, seed);
    let config = Config {
        max_depth: depth,
        min_leaf,
        l2,
        min_hessian: MIN_HESSIAN,
        features_per_split: None,
        indicators: false,
        parallel: true,
    };
    let base = loss.prior();
    let mut raw: Vec<f32> = (0..n).flat_map(|_| base.iter().copied()).collect();
    let (mut g, mut h) = (vec![0.0; n * outputs], vec![0.0; n * outputs]);
    // Growing all features of all rows draws nothing; the generator is only passed along.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut trees = Vec::with_capacity(rounds * outputs);
    let mut grower = Grower::new(&binned, &config, 1);
    for _ in 0..rounds {
        loss.gradients(&raw, &mut g, &mut h);
        for c in 0..outputs {
            let grads = Gradients { k: 1, g: &g[c * n..(c + 1) * n], h: &h[c * n..(c + 1) * n] };
            let grown = grower.grow(&grads, 0..n as u32, &mut rng);
            let tree = Tree::new(&grown, &binned.cuts, c, |s| {
                vec![(-s[0] / (s[1] + l2).max(f64::MIN_POSITIVE) * learning_rate) as f32]
            });
            for (node, fitted) in grown.iter().zip(&tree.nodes) {
                if let (Node::Leaf { start, end, .. }, TreeNode::Leaf { at }) = (node, fitted) {
                    let v = tree.values[*at as usize];
                    for &r in &grower.rows()[*start..*end] {
                        raw[r as usize * outputs + c] += v;
                    }
                }
            }
            trees.push(tree);
        }
    }
    let link = match loss {
        Loss::Logistic(_) => Link::Logistic,
        Loss::Softmax(..) => Link::Softmax,
        Loss::Squared(_) => Link::Identity,
    };
    let ensemble = Ensemble { trees, width: 1, outputs, base, average: false, link };
    Ok(Fitted { learner: Box::new(ensemble), device: "cpu" })
}
