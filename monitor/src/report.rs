//! One drift report: each column's test, score and verdict, and the share of drifted columns.

use crate::bins::Counts;
use crate::error::DriftError;
use crate::ks::ks_2samp;
use crate::stats::{chi_square, jensen_shannon, psi, wasserstein_norm, z_test};
use crate::test::{Kind, Test, Thresholds};
use mlpc_frame::{Column, Frame, InputType, Values};
use rayon::prelude::*;
use serde::Serialize;

/// Fewer non-null rows than this in either sample gives no verdict: tests on tiny windows flip.
pub const MIN_ROWS: usize = 30;
/// The dataset drifts when at least this share of the tested columns drift (Evidently's default).
pub const DATASET_DRIFT_SHARE: f64 = 0.5;

/// The outcome for one column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    pub kind: Kind,
    pub test: Test,
    /// Non-null rows in each sample (nulls and infinities are left out, as Evidently does).
    pub n_reference: usize,
    pub n_current: usize,
    /// Distinct non-null values in both samples together.
    pub n_unique: usize,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Tested {
        /// KS D, the chi-square statistic, Z, or the distance itself.
        statistic: f64,
        /// The p-value or the distance the verdict compares with `threshold`.
        score: f64,
        threshold: f64,
        /// A size of the shift that does not grow with the sample: KS D, Cohen's w for chi-square
        /// (√(χ²/n_current)), the difference of proportions for Z, the distance for distance tests.
        effect_size: f64,
        drifted: bool,
    },
    /// Fewer than `min_rows` non-null rows in a sample: no verdict, and not counted in the share.
    NotEnoughData { min_rows: usize },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub columns: Vec<ColumnDrift>,
    /// Drifted columns / tested columns; `None` when no column had enough data.
    pub drift_share: Option<f64>,
    pub dataset_drift: bool,
    pub dataset_drift_share: f64,
}

impl Report {
    pub fn drifted(&self) -> usize {
        self.columns.iter().filter(|c| matches!(c.outcome, Outcome::Tested { drifted: true, .. })).count()
    }
    pub fn tested(&self) -> usize {
        self.columns.iter().filter(|c| matches!(c.outcome, Outcome::Tested { .. })).count()
    }
}

/// Tests each of `columns` (every column of `reference` when empty) of `current` against `reference` with
/// Evidently's default test, or the one `overrides` names for it, at the declared `thresholds`.
pub fn drift_report(
    reference: &Frame,
    current: &Frame,
    columns: &[String],
    overrides: &[(String, Test)],
    thresholds: &Thresholds,
) -> Result<Report, DriftError> {
    let names: Vec<&str> = if columns.is_empty() {
        reference.columns.iter().map(|c| c.name.as_str()).collect()
    } else {
        columns.iter().map(String::as_str).collect()
    };
    if let Some((name, _)) = overrides.iter().find(|(n, _)| !names.contains(&n.as_str())) {
        return Err(DriftError::NotTested(name.clone()));
    }
    let pairs = names
        .iter()
        .map(|&name| Ok((find(reference, name, "reference")?, find(current, name, "current")?)))
        .collect::<Result<Vec<_>, DriftError>>()?;
    let columns = pairs
        .into_par_iter()
        .map(|(r, c)| {
            let named = overrides.iter().find(|(n, _)| *n == r.name).map(|(_, t)| *t);
            column_drift(r, c, named, thresholds)
        })
        .collect::<Result<Vec<_>, DriftError>>()?;
    let mut report =
        Report { columns, drift_share: None, dataset_drift: false, dataset_drift_share: DATASET_DRIFT_SHARE };
    let tested = report.tested();
    if tested > 0 {
        let share = report.drifted() as f64 / tested as f64;
        report.drift_share = Some(share);
        report.dataset_drift = share >= DATASET_DRIFT_SHARE;
    }
    Ok(report)
}

fn find<'a>(frame: &'a Frame, name: &str, sample: &'static str) -> Result<&'a Column, DriftError> {
    frame.column(name).ok_or_else(|| DriftError::MissingColumn { column: name.into(), sample })
}

fn labels(v: &[Option<String>]) -> impl Iterator<Item = &str> {
    v.iter().flatten().map(String::as_str)
}

/// A column's non-null values: sorted numbers, or label counts.
enum Sample {
    Numbers { reference: Vec<f64>, current: Vec<f64>, integer: bool },
    Labels(Counts),
}

fn kind_of(c: &Column) -> Kind {
    match c.ty {
        InputType::Int | InputType::Float => Kind::Numerical,
        InputType::Bool | InputType::Category => Kind::Categorical,
    }
}

fn prepare(r: &Column, c: &Column) -> Result<Sample, DriftError> {
    match (&r.values, &c.values) {
        (Values::Number(a), Values::Number(b)) => {
            let clean = |v: &[f64]| {
                let mut out: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                out.sort_unstable_by(f64::total_cmp);
                out
            };
            let (reference, current) = rayon::join(|| clean(a), || clean(b));
            // pandas keeps a column without nulls as int64, and numpy bins integers at least 1 wide.
            let integer = r.ty == InputType::Int && reference.len() == a.len() && current.len() == b.len();
            Ok(Sample::Numbers { reference, current, integer })
        }
        (Values::Category(a), Values::Category(b)) => Ok(Sample::Labels(Counts::of_labels(labels(a), labels(b)))),
        _ => Err(DriftError::TypesDiffer { column: r.name.clone(), reference: r.ty.name(), current: c.ty.name() }),
    }
}

fn column_drift(
    r: &Column,
    c: &Column,
    named: Option<Test>,
    thresholds: &Thresholds,
) -> Result<ColumnDrift, DriftError> {
    let kind = kind_of(r);
    let sample = prepare(r, c)?;
    let value_counts = match &sample {
        Sample::Numbers { reference, current, .. } => Counts::of_values(reference, current),
        Sample::Labels(counts) => counts.clone(),
    };
    let n_reference = value_counts.reference.iter().sum::<u64>() as usize;
    let n_current = value_counts.current.iter().sum::<u64>() as usize;
    let n_unique = value_counts.bins();
    let test = named.unwrap_or_else(|| Test::default_for(kind, n_reference, n_unique));
    let numbers = match &sample {
        Sample::Numbers { reference, current, .. } => Some((reference.as_slice(), current.as_slice())),
        Sample::Labels(_) => None,
    };
    if matches!(test, Test::Ks | Test::Wasserstein) && numbers.is_none() {
        return Err(DriftError::NeedsNumbers { test: test.name(), column: r.name.clone(), ty: r.ty.name() });
    }
    let outcome = if n_reference < MIN_ROWS || n_current < MIN_ROWS {
        Outcome::NotEnoughData { min_rows: MIN_ROWS }
    } else {
        let binned = || match &sample {
            Sample::Numbers { reference, current, integer }
                if kind == Kind::Numerical && value_counts.reference.iter().filter(|&&n| n > 0).count() > 20 =>
            {
                Counts::sturges(reference, current, *integer)
            }
            _ => value_counts.clone(),
        };
        let (statistic, score, effect_size) = match (test, numbers) {
            (Test::Ks, Some((a, b))) => {
                let ks = ks_2samp(a, b);
                (ks.statistic, ks.p_value, ks.statistic)
            }
            (Test::Wasserstein, Some((a, b))) => {
                let w = wasserstein_norm(a, b);
                (w, w, w)
            }
            (Test::ChiSquare, _) => {
                let (stat, p) = chi_square(&value_counts);
                (stat, p, (stat / n_current as f64).sqrt())
            }
            (Test::ZTest, _) => {
                let (z, p) = z_test(&value_counts);
                let share = |c: &[u64], n: usize| c.first().map_or(0.0, |&k| k as f64 / n as f64);
                let diff =
                    (share(&value_counts.reference, n_reference) - share(&value_counts.current, n_current)).abs();
                (z, p, diff)
            }
            (Test::JensenShannon, _) => {
                let d = jensen_shannon(&binned());
                (d, d, d)
            }
            (Test::Psi, _) => {
                let d = psi(&binned());
                (d, d, d)
            }
            (Test::Ks | Test::Wasserstein, None) => unreachable!("checked above"),
        };
        let threshold = thresholds.of(test)?;
        Outcome::Tested { statistic, score, threshold, effect_size, drifted: test.drifted(score, threshold) }
    };
    Ok(ColumnDrift { column: r.name.clone(), kind, test, n_reference, n_current, n_unique, outcome })
}
