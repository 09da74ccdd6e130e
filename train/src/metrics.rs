//! Evaluation metrics, named as in `stdlib/metrics.mlp`, computed in f64 to agree with
//! scikit-learn 1.9 (`train/tests/fixtures/metrics_sklearn.py` checks each within 1e-9).
//!
//! Conventions:
//! - Classes are the target's, sorted; a bool label has `false`, `true`. With two classes
//!   the positive class is the last (`true`): precision, recall and f1 are scikit-learn's
//!   `average="binary"` on it and auc is the ROC AUC of its probability column.
//! - With any other class count, precision, recall and f1 are macro averages over the classes
//!   that occur in the truth or the predictions (scikit-learn's default `labels=None`), and
//!   auc is the macro one-vs-rest ROC AUC, defined only when every class occurs in the truth.
//! - A ratio with a zero denominator is 0 (precision with nothing predicted positive, recall
//!   with no positive row, f1 with neither), as scikit-learn's default `zero_division` gives.
//! - ROC AUC counts tied scores as half, the trapezoids of scikit-learn's `roc_auc_score`.
//!   Where scikit-learn 1.9 warns and returns NaN (a class absent from the truth) this is
//!   an `Err`, so an undefined metric never averages silently into a report.
//! - log_loss is scikit-learn's `log_loss` on the f32 probabilities: each clipped to
//!   `[ε, 1−ε]` with ε = `f32::EPSILON` (scikit-learn's machine epsilon of the dtype), the
//!   rows not renormalised (scikit-learn 1.9 only warns when they don't sum to 1).
//! - r2 with constant truth is 1 for a perfect fit and 0 otherwise (scikit-learn's
//!   `force_finite`); with fewer than two rows it is an `Err`.
//! - Predicted classes are `Predictions::labels`; probabilities and values are `scores`.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use crate::frame::Target;
use crate::model::Predictions;

/// Metrics of classifiers.
pub const CLASSIFICATION: &[&str] = &["accuracy", "precision", "recall", "f1", "auc", "log_loss"];
/// Metrics of regressors.
pub const REGRESSION: &[&str] = &["rmse", "mae", "r2"];

/// Clipping bound of log_loss probabilities.
const EPS: f64 = f32::EPSILON as f64;

/// Checks that metric `name` exists and applies to the task (classification or not).
pub fn applies(name: &str, classification: bool) -> Result<(), String> {
    let (own, other, task) = if classification {
        (CLASSIFICATION, REGRESSION, "classification")
    } else {
        (REGRESSION, CLASSIFICATION, "regression")
    };
    if own.contains(&name) {
        Ok(())
    } else if other.contains(&name) {
        Err(format!("metric `{name}` does not apply to {task}; {task} metrics are {}", own.join(", ")))
    } else {
        Err(format!("no metric `{name}`; the metrics are {}, {}", CLASSIFICATION.join(", "), REGRESSION.join(", ")))
    }
}

/// Metric `name` of predictions `pred` against `truth`; an error for an unknown metric, one
/// of the other task, mismatched or non-finite inputs, and values that are undefined.
pub fn compute(name: &str, truth: &Target, pred: &Predictions) -> Result<f64, String> {
    applies(name, matches!(truth, Target::Classes { .. }))?;
    if truth.is_empty() {
        return Err(format!("`{name}` of no rows is undefined"));
    }
    let value = match truth {
        Target::Classes { classes, y } => classification(name, classes, y, pred),
        Target::Values(v) => regression(name, v, pred),
    };
    value.map_err(|e| format!("`{name}`: {e}"))
}

fn classification(name: &str, classes: &[String], y: &[u32], pred: &Predictions) -> Result<f64, String> {
    let (n, k) = (y.len(), classes.len());
    if pred.width != k || pred.scores.len() != n * k {
        return Err(format!("{} scores of width {} do not fit {n} rows of {k} classes", pred.scores.len(), pred.width));
    }
    if y.iter().any(|&c| c as usize >= k) {
        return Err(format!("a true class index is not below the class count {k}"));
    }
    match name {
        "auc" => auc(classes, y, pred),
        "log_loss" => log_loss(y, pred),
        _ => {
            let counts = Counts::new(classes, y, &pred.labels)?;
            Ok(match name {
                "accuracy" => counts.tp.iter().sum::<u64>() as f64 / n as f64,
                "precision" => counts.average(|c| ratio(counts.tp[c], counts.predicted[c])),
                "recall" => counts.average(|c| ratio(counts.tp[c], counts.actual[c])),
                _ => counts.average(|c| ratio(2 * counts.tp[c], counts.actual[c] + counts.predicted[c])),
            })
        }
    }
}

/// `a / b`, or 0 when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Per class: rows of it, rows predicted as it, and rows both.
struct Counts {
    actual: Vec<u64>,
    predicted: Vec<u64>,
    tp: Vec<u64>,
}

impl Counts {
    fn new(classes: &[String], y: &[u32], labels: &[String]) -> Result<Counts, String> {
        if labels.len() != y.len() {
            return Err(format!("{} predicted labels for {} rows", labels.len(), y.len()));
        }
        let index: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let k = classes.len();
        let mut counts = Counts { actual: vec![0; k], predicted: vec![0; k], tp: vec![0; k] };
        for (&t, label) in y.iter().zip(labels) {
            let p = *index.get(label.as_str()).ok_or_else(|| format!("predicted label `{label}` is not a class"))?;
            counts.actual[t as usize] += 1;
            counts.predicted[p] += 1;
            counts.tp[p] += u64::from(p == t as usize);
        }
        Ok(counts)
    }

    /// `per_class` of the positive (last) class with two classes, else its macro average
    /// over the classes that occur in the truth or the predictions.
    fn average(&self, per_class: impl Fn(usize) -> f64) -> f64 {
        if self.actual.len() == 2 {
            return per_class(1);
        }
        let present: Vec<usize> = (0..self.actual.len()).filter(|&c| self.actual[c] + self.predicted[c] > 0).collect();
        present.iter().map(|&c| per_class(c)).sum::<f64>() / present.len() as f64
    }
}

fn finite_scores(pred: &Predictions) -> Result<(), String> {
    match pred.scores.par_iter().position_first(|s| !s.is_finite()) {
        Some(i) => Err(format!("score {} of row {} is {}", i % pred.width + 1, i / pred.width + 1, pred.scores[i])),
        None => Ok(()),
    }
}

fn auc(classes: &[String], y: &[u32], pred: &Predictions) -> Result<f64, String> {
    finite_scores(pred)?;
    let k = classes.len();
    let mut present = vec![false; k];
    for &c in y {
        present[c as usize] = true;
    }
    if let Some(c) = present.iter().position(|p| !p) {
        return Err(format!("class `{}` is absent from the truth, so ROC AUC is undefined", classes[c]));
    }
    if k < 2 {
        return Err("ROC AUC needs two classes or more".into());
    }
    let one_vs_rest = |c: usize| roc_auc(y.len(), |i| pred.scores[i * k + c], |i| y[i] as usize == c);
    Ok(if k == 2 { one_vs_rest(1) } else { (0..k).map(one_vs_rest).sum::<f64>() / k as f64 })
}

/// ROC AUC of `score` ranking rows where `positive` holds above the others, ties counting
/// half; both sides must be non-empty. Sorts once: O(n log n).
fn roc_auc(n: usize, score: impl Fn(usize) -> f32 + Sync, positive: impl Fn(usize) -> bool + Sync) -> f64 {
    let mut rows: Vec<(f32, bool)> = (0..n).into_par_iter().map(|i| (score(i), positive(i))).collect();
    rows.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    // Twice the area under the curve of counts (false positives, true positives), exactly.
    let (mut tp, mut fp, mut area2) = (0u64, 0u64, 0u128);
    let mut start = 0;
    while start < n {
        let end = start + rows[start..].iter().position(|r| r.0 != rows[start].0).unwrap_or(n - start);
        let pos = rows[start..end].iter().filter(|r| r.1).count() as u64;
        let neg = (end - start) as u64 - pos;
        area2 += u128::from(neg) * u128::from(2 * tp + pos);
        tp += pos;
        fp += neg;
        start = end;
    }
    area2 as f64 / (2.0 * tp as f64 * fp as f64)
}

fn log_loss(y: &[u32], pred: &Predictions) -> Result<f64, String> {
    if let Some(i) = pred.scores.par_iter().position_first(|s| !(0.0..=1.0).contains(s)) {
        let (row, col) = (i / pred.width + 1, i % pred.width + 1);
        return Err(format!("probability {col} of row {row} is {}, not in [0, 1]", pred.scores[i]));
    }
    let k = pred.width;
    Ok(mean(y.len(), |i| -f64::from(pred.scores[i * k + y[i] as usize]).clamp(EPS, 1.0 - EPS).ln()))
}

fn regression(name: &str, v: &[f64], pred: &Predictions) -> Result<f64, String> {
    let n = v.len();
    if pred.width != 1 || pred.scores.len() != n {
        return Err(format!("{} predictions of width {} for {n} values", pred.scores.len(), pred.width));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("the true value of row {} is {}", i + 1, v[i]));
    }
    finite_scores(pred)?;
    let p = |i: usize| f64::from(pred.scores[i]);
    Ok(match name {
        "rmse" => mean(n, |i| (v[i] - p(i)).powi(2)).sqrt(),
        "mae" => mean(n, |i| (v[i] - p(i)).abs()),
        _ => {
            if n < 2 {
                return Err("undefined for fewer than two rows".into());
            }
            let m = mean(n, |i| v[i]);
            let residual = mean(n, |i| (v[i] - p(i)).powi(2));
            let total = mean(n, |i| (v[i] - m).powi(2));
            match (residual == 0.0, total == 0.0) {
                (true, _) => 1.0,
                (false, true) => 0.0,
                _ => 1.0 - residual / total,
            }
        }
    })
}

/// The mean of `f` over `0..n`, summed in fixed chunks in parallel: deterministic, and
/// accurate at tens of millions of rows.
fn mean(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    const CHUNK: usize = 1 << 14;
    let partial: Vec<f64> =
        (0..n.div_ceil(CHUNK)).into_par_iter().map(|c| (c * CHUNK..n.min((c + 1) * CHUNK)).map(&f).sum()).collect();
    partial.iter().sum::<f64>() / n as f64
}

/// The metrics of the rows of one slice.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceMetrics {
    /// The slice's value; `None` for rows where it is null.
    pub slice: Option<String>,
    pub rows: usize,
    /// Each metric asked for, in order: its value, or why it is undefined for this slice.
    pub metrics: Vec<(String, Result<f64, String>)>,
}

/// Metrics `names` per value of `slice` (null values form a slice of their own), sorted by
/// value with the null slice first. A metric undefined for a slice (auc where it has one
/// class) is an error in that slice's entry; only inputs of different lengths fail it all.
pub fn by_slice(
    names: &[String],
    truth: &Target,
    pred: &Predictions,
    slice: &[Option<String>],
) -> Result<Vec<SliceMetrics>, String> {
    let n = truth.len();
    if slice.len() != n || pred.scores.len() != n * pred.width || !(pred.labels.is_empty() || pred.labels.len() == n) {
        return Err(format!(
            "{n} true rows, {} slice values, {} scores of width {} and {} labels do not line up",
            slice.len(),
            pred.scores.len(),
            pred.width,
            pred.labels.len()
        ));
    }
    let mut groups: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    for (i, s) in slice.iter().enumerate() {
        groups.entry(s.as_deref()).or_default().push(i);
    }
    Ok(groups
        .into_iter()
        .map(|(value, idx)| {
            let (truth, pred) = (truth.take(&idx), take(pred, &idx));
            SliceMetrics {
                slice: value.map(String::from),
                rows: idx.len(),
                metrics: names.iter().map(|m| (m.clone(), compute(m, &truth, &pred))).collect(),
            }
        })
        .collect())
}

/// The predictions of rows `idx`.
fn take(pred: &Predictions, idx: &[usize]) -> Predictions {
    Predictions {
        labels: if pred.labels.is_empty() { Vec::new() } else { idx.iter().map(|&i| pred.labels[i].clone()).collect() },
        scores: idx.iter().flat_map(|&i| pred.row(i)).copied().collect(),
        width: pred.width,
    }
}
