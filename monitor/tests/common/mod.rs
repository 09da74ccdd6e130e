//! Evidently's default thresholds, which `stdlib/drift.mlp` declares (`tests/drift_thresholds.rs`
//! at the workspace root holds the two equal).

use mlpc_monitor::Thresholds;

pub fn evidently() -> Thresholds {
    Thresholds::declared([
        ("ks", 0.05, true),
        ("chi_square", 0.05, true),
        ("z_test", 0.05, true),
        ("jensen_shannon", 0.1, false),
        ("wasserstein", 0.1, false),
        ("psi", 0.1, false),
    ])
    .unwrap()
}
