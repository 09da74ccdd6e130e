//! Drift statistics for mlpc monitors, pure (no IO): Evidently's default choice of test per column (KS,
//! chi-square, two-proportion Z, Jensen–Shannon, normalised Wasserstein) or a named one (also PSI), each
//! computed as scipy computes it, and the share of drifted columns. The reference sample is the reference
//! split's rows themselves.

mod bins;
mod error;
mod kolmogorov;
mod ks;
mod report;
mod stats;
mod test;

pub use bins::Counts;
pub use error::DriftError;
pub use kolmogorov::kstwo_sf;
pub use ks::{ks_2samp, KsResult};
pub use report::{drift_report, ColumnDrift, Outcome, Report, DATASET_DRIFT_SHARE, MIN_ROWS};
pub use stats::{chi_square, jensen_shannon, psi, wasserstein, wasserstein_norm, z_test};
pub use test::{Kind, Test, Thresholds, SMALL_REFERENCE};
