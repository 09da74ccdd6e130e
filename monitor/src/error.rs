//! Why a drift report cannot be made.

/// A drift report's inputs that do not fit together.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DriftError {
    #[error("a test is named for column `{0}`, which is not among the columns tested")]
    NotTested(String),
    #[error("column `{column}` is not in the {sample} data")]
    MissingColumn { column: String, sample: &'static str },
    #[error("column `{column}` is a {reference} in the reference data but a {current} in the current data")]
    TypesDiffer { column: String, reference: &'static str, current: &'static str },
    #[error("`{test}` needs numbers, but column `{column}` is a {ty}")]
    NeedsNumbers { test: &'static str, column: String, ty: &'static str },
    #[error("the drift test `{0}` is not one mlpc computes")]
    UnknownTest(String),
    #[error("the drift test `{test}` is declared to drift {said} its threshold, but its score is {is}")]
    WrongDirection { test: String, said: &'static str, is: &'static str },
    #[error("no threshold is declared for the drift test `{0}`")]
    NoThreshold(&'static str),
}

/// For callers that report errors as text.
impl From<DriftError> for String {
    fn from(e: DriftError) -> String {
        e.to_string()
    }
}
