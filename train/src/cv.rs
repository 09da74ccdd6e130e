//! Shuffled k-fold cross-validation, stratified by class when classifying.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::frame::{Frame, Target};
use crate::metrics;
use crate::model::{Model, Task};

/// One metric over the folds.
#[derive(Clone, Debug, PartialEq)]
pub struct CvMetric {
    pub name: String,
    pub mean: f64,
    /// Population standard deviation (numpy's default, `ddof=0`).
    pub std: f64,
    /// The value on each held-out fold, in fold order.
    pub folds: Vec<f64>,
}

/// The held-out rows of each of `k` folds of `n` rows, each sorted: disjoint, covering
/// every row, sizes within one of each other. Rows are shuffled by `seed`; with `classes`
/// (a class index per row) each class is shuffled and dealt round-robin across the folds,
/// so every fold holds each class's share to within one row.
pub fn folds(n: usize, k: usize, seed: u64, classes: Option<&[u32]>) -> Result<Vec<Vec<usize>>, String> {
    if k < 2 {
        return Err(format!("k-fold cross-validation needs k ≥ 2 folds, not {k}"));
    }
    if k > n {
        return Err(format!("cannot split {n} rows into {k} folds"));
    }
    let mut groups: Vec<Vec<usize>> = match classes {
        Some(c) if c.len() != n => return Err(format!("{} classes to stratify {n} rows by", c.len())),
        Some(c) => {
            let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
            for (i, &class) in c.iter().enumerate() {
                groups.entry(class).or_default().push(i);
            }
            groups.into_values().collect()
        }
        None => vec![(0..n).collect()],
    };
    let mut rng = StdRng::seed_from_u64(seed);
    for g in &mut groups {
        g.shuffle(&mut rng);
    }
    let mut folds = vec![Vec::with_capacity(n / k + 1); k];
    for (j, i) in groups.into_iter().flatten().enumerate() {
        folds[j % k].push(i);
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    Ok(folds)
}

/// Runs `fit_and_score(training rows, held-out rows)` on each of the `k` folds of `frame`
/// (see [`folds`]); returns each fold's scores, or the first fold's error.
pub fn cross_validate_with(
    frame: &Frame,
    k: usize,
    seed: u64,
    stratify_by: Option<&[u32]>,
    fit_and_score: impl Fn(&Frame, &Frame) -> Result<Vec<f64>, String>,
) -> Result<Vec<Vec<f64>>, String> {
    let n = frame.rows();
    let folds = folds(n, k, seed, stratify_by)?;
    let mut fold_of = vec![0; n];
    for (f, held) in folds.iter().enumerate() {
        for &i in held {
            fold_of[i] = f;
        }
    }
    (0..k)
        .map(|f| {
            let train: Vec<usize> = (0..n).filter(|&i| fold_of[i] != f).collect();
            fit_and_score(&frame.take(&train), &frame.take(&folds[f]))
                .map_err(|e| format!("fold {} of {k}: {e}", f + 1))
        })
        .collect()
}

/// Cross-validates `spec` on `frame`: trains with [`crate::train`] on k−1 folds, scores
/// `metrics` on the held-out fold, stratified by the label's classes when classifying. A
/// metric undefined on some fold (auc where it holds one class) fails the whole run.
pub fn cross_validate(
    spec: &crate::Spec,
    frame: &Frame,
    k: usize,
    metrics: &[String],
    seed: u64,
) -> Result<Vec<CvMetric>, String> {
    let label = frame.column(spec.label).ok_or_else(|| format!("label `{}` is missing from the data", spec.label))?;
    let target = Target::from_column(label)?;
    let classes = match &target {
        Target::Classes { y, .. } => Some(y.as_slice()),
        Target::Values(_) => None,
    };
    if metrics.is_empty() {
        return Err("no metrics to cross-validate".into());
    }
    for m in metrics {
        metrics::applies(m, classes.is_some())?;
    }
    let per_fold = cross_validate_with(frame, k, seed, classes, |train, held| {
        let model = crate::train(spec, train)?;
        let pred = model.predict(held)?;
        let label = held.column(spec.label).ok_or_else(|| format!("label `{}` is missing", spec.label))?;
        let truth = in_model_classes(&model, Target::from_column(label)?)?;
        metrics.iter().map(|m| metrics::compute(m, &truth, &pred)).collect()
    })?;
    Ok(metrics
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let folds: Vec<f64> = per_fold.iter().map(|scores| scores[j]).collect();
            let mean = folds.iter().sum::<f64>() / k as f64;
            let std = (folds.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k as f64).sqrt();
            CvMetric { name: name.clone(), mean, std, folds }
        })
        .collect())
}

/// `truth` with its class indexes into the model's classes (those of its training folds).
fn in_model_classes(model: &Model, truth: Target) -> Result<Target, String> {
    match (&model.task, truth) {
        (Task::Classification { classes }, Target::Classes { classes: held, y }) => {
            let map = held
                .iter()
                .map(|c| {
                    classes
                        .binary_search(c)
                        .map(|i| i as u32)
                        .map_err(|_| format!("class `{c}` of the held-out fold is absent from the training folds"))
                })
                .collect::<Result<Vec<u32>, String>>()?;
            Ok(Target::Classes { classes: classes.clone(), y: y.iter().map(|&c| map[c as usize]).collect() })
        }
        (_, truth) => Ok(truth),
    }
}
