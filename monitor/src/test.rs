//! The drift tests, their thresholds, and Evidently's default choice of test per column.

use serde::Serialize;

/// A drift test, named as in `stdlib/drift.mlp` (`z_test` is Evidently's default for two-valued columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    Ks,
    ChiSquare,
    ZTest,
    JensenShannon,
    Wasserstein,
    Psi,
}

/// How a column is treated: Evidently's numerical or categorical feature type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Numerical,
    Categorical,
}

/// Below this many reference rows (inclusive) Evidently picks hypothesis tests, above it distances.
pub const SMALL_REFERENCE: usize = 1000;

impl Test {
    pub const ALL: [Test; 6] =
        [Test::Ks, Test::ChiSquare, Test::ZTest, Test::JensenShannon, Test::Wasserstein, Test::Psi];

    pub fn name(self) -> &'static str {
        match self {
            Test::Ks => "ks",
            Test::ChiSquare => "chi_square",
            Test::ZTest => "z_test",
            Test::JensenShannon => "jensen_shannon",
            Test::Wasserstein => "wasserstein",
            Test::Psi => "psi",
        }
    }

    pub fn from_name(name: &str) -> Option<Test> {
        Test::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Evidently's default threshold.
    pub fn threshold(self) -> f64 {
        match self {
            Test::Ks | Test::ChiSquare | Test::ZTest => 0.05,
            Test::JensenShannon | Test::Wasserstein | Test::Psi => 0.1,
        }
    }

    /// Whether the score is a p-value (drift when small) rather than a distance (drift when large).
    pub fn is_p_value(self) -> bool {
        matches!(self, Test::Ks | Test::ChiSquare | Test::ZTest)
    }

    /// Evidently's verdict: KS drifts at p ≤ threshold, chi-square and Z at p < threshold, distances at ≥.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Test::Ks => score <= threshold,
            Test::ChiSquare | Test::ZTest => score < threshold,
            Test::JensenShannon | Test::Wasserstein | Test::Psi => score >= threshold,
        }
    }

    /// Evidently's default: by reference size, kind, and distinct values in both samples together.
    pub fn default_for(kind: Kind, n_ref: usize, n_unique: usize) -> Test {
        let many_numbers = kind == Kind::Numerical && n_unique > 5;
        match (n_ref <= SMALL_REFERENCE, many_numbers) {
            (true, true) => Test::Ks,
            (true, false) if n_unique > 2 => Test::ChiSquare,
            (true, false) => Test::ZTest,
            (false, true) => Test::Wasserstein,
            (false, false) => Test::JensenShannon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Test::ALL {
            assert_eq!(Test::from_name(t.name()), Some(t));
        }
    }

    #[test]
    fn defaults_follow_evidently() {
        use Kind::*;
        assert_eq!(Test::default_for(Numerical, 1000, 6), Test::Ks);
        assert_eq!(Test::default_for(Numerical, 1000, 5), Test::ChiSquare);
        assert_eq!(Test::default_for(Numerical, 500, 2), Test::ZTest);
        assert_eq!(Test::default_for(Categorical, 500, 9), Test::ChiSquare);
        assert_eq!(Test::default_for(Categorical, 500, 2), Test::ZTest);
        assert_eq!(Test::default_for(Numerical, 1001, 6), Test::Wasserstein);
        assert_eq!(Test::default_for(Numerical, 1001, 5), Test::JensenShannon);
        assert_eq!(Test::default_for(Categorical, 5000, 40), Test::JensenShannon);
    }
}
