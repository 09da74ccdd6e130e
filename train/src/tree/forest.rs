//! Random forest: each tree grows on a bootstrap sample (rows drawn with replacement,
//! as weights) trying a random fraction of the features at each split, until its leaves
//! are pure, hold too few rows to split, or reach the depth limit. Classification leaves
//! hold class distributions and the forest averages them, as scikit-learn does;
//! regression leaves hold means.

use super::bins::Binned;
use super::ensemble::{Ensemble, Link, Tree};
use super::grow::{Config, Gradients, Grower};
use super::{at_least, check_data, cpu_only, tree_count};
use crate::frame::{Matrix, Target};
use crate::params::Params;
use crate::{Device, Fitted};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// Bins per feature: the most a `u8` bin allows.
const MAX_BINS: usize = 255;

pub fn fit(x: &Matrix, y: &Target, params: &Params, device: Device) -> Result<Fitted, String> {
    cpu_only("random_forest", device)?;
    let trees = tree_count(params)?;
    let depth = params.count("depth")?;
    let min_leaf = at_least(params, "min_leaf", 1)?;
    let max_features = params.float("max_features")?;
    if !(max_features > 0.0 && max_features <= 1.0) {
        return Err(format!("parameter `max_features` must be a fraction in (0, 1], not {max_features}"));
    }
    let seed = params.seed()?;
    check_data(x, y)?;

    let n = x.rows;
    let binned = Binned::new(x, MAX_BINS, seed);
    // Gradients per row: the class indicator (one for two classes) or the value.
    let (k, targets, width) = match y {
        Target::Classes { classes, y } if classes.len() == 2 => (1, y.iter().map(|&c| c as f32).collect(), 2),
        Target::Classes { classes, y } => {
            let k = classes.len();
            let mut t = vec![0.0; n * k];
            y.iter().enumerate().for_each(|(i, &c)| t[i * k + c as usize] = 1.0);
            (k, t, k)
        }
        Target::Values(v) => (1, v.iter().map(|&v| v as f32).collect::<Vec<f32>>(), 1),
    };
    let classification = matches!(y, Target::Classes { .. });
    let config = Config {
        max_depth: if depth == 0 { usize::MAX } else { depth },
        min_leaf,
        l2: 0.0,
        min_hessian: 0.0,
        features_per_split: Some(((max_features * x.cols as f64) as usize).max(1)),
        indicators: classification,
        parallel: false,
    };
    let leaf = |s: &[f64]| -> Vec<f32> {
        let h = s[k];
        match (classification, k) {
            (true, 1) => {
                let p = (s[0] / h) as f32;
                vec![1.0 - p, p]
            }
            _ => s[..k].iter().map(|g| (g / h) as f32).collect(),
        }
    };
    let trees = (0..trees)
        .into_par_iter()
        .map_init(
            || Grower::new(&binned, &config, k),
            |grower, t| {
                let mut rng = StdRng::seed_from_u64(seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut weight = vec![0u32; n];
                for _ in 0..n {
                    weight[rng.random_range(0..n)] += 1;
                }
                let rows = (0..n as u32).filter(|&i| weight[i as usize] > 0);
                let g: Vec<f32> = targets.iter().enumerate().map(|(j, &v)| v * weight[j / k] as f32).collect();
                let h: Vec<f32> = weight.iter().map(|&w| w as f32).collect();
                let grown = grower.grow(&Gradients { k, g: &g, h: &h }, rows, &mut rng);
                Tree::new(&grown, &binned.cuts, 0, leaf)
            },
        )
        .collect();
    let ensemble =
        Ensemble { trees, width, outputs: width, base: vec![0.0; width], average: true, link: Link::Identity };
    Ok(Fitted { learner: Box::new(ensemble), device: "cpu" })
}
