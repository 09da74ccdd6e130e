//! The drift tests, the thresholds the stdlib declares for them, and Evidently's default
//! choice of test per column.

use crate::error::DriftError;
use serde::Serialize;
use std::collections::HashMap;

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

/// Each test's threshold, as `stdlib/drift.mlp` declares it (a plan's monitor carries them):
/// this crate holds no second list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds(HashMap<Test, f64>);

impl Thresholds {
    /// From each declared test's (name, threshold, whether a score below it is drift); an error
    /// for a test this crate does not compute, or one declared in the wrong direction.
    pub fn declared<'a>(tests: impl IntoIterator<Item = (&'a str, f64, bool)>) -> Result<Thresholds, DriftError> {
        let mut map = HashMap::new();
        for (name, threshold, below) in tests {
            let test = Test::from_name(name).ok_or_else(|| DriftError::UnknownTest(name.into()))?;
            if below != test.is_p_value() {
                let (said, is) = if below { ("below", "a distance") } else { ("above", "a p-value") };
                return Err(DriftError::WrongDirection { test: name.into(), said, is });
            }
            map.insert(test, threshold);
        }
        Ok(Thresholds(map))
    }

    /// The threshold of `test`; an error when none was declared.
    pub fn of(&self, test: Test) -> Result<f64, DriftError> {
        self.0.get(&test).copied().ok_or(DriftError::NoThreshold(test.name()))
    }
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
    fn thresholds_are_declared_with_their_direction() {
        let t = Thresholds::declared([("psi", 0.2, false), ("ks", 0.01, true)]).unwrap();
        assert_eq!((t.of(Test::Psi), t.of(Test::Ks)), (Ok(0.2), Ok(0.01)));
        assert_eq!(t.of(Test::ZTest), Err(DriftError::NoThreshold("z_test")));
        let wrong = Thresholds::declared([("ks", 0.05, false)]).unwrap_err().to_string();
        assert!(wrong.contains("declared to drift above its threshold, but its score is a p-value"), "{wrong}");
        assert_eq!(Thresholds::declared([("energy", 0.1, false)]), Err(DriftError::UnknownTest("energy".into())));
    }

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
