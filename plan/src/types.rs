//! The types of columns, features and expressions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A value type. `Unknown` follows an error and silences the errors it would cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Int,
    Float,
    Bool,
    String,
    Category,
    Date,
    Timestamp,
    Duration,
    Percent,
    List,
    Unknown,
}

impl Type {
    /// The column types a user may write.
    pub const COLUMN_TYPES: &'static [Type] =
        &[Type::Int, Type::Float, Type::Bool, Type::String, Type::Category, Type::Date, Type::Timestamp];

    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::String => "string",
            Type::Category => "category",
            Type::Date => "date",
            Type::Timestamp => "timestamp",
            Type::Duration => "duration",
            Type::Percent => "percent",
            Type::List => "list",
            Type::Unknown => "unknown",
        }
    }
    pub fn from_name(name: &str) -> Option<Type> {
        [
            Type::Int,
            Type::Float,
            Type::Bool,
            Type::String,
            Type::Category,
            Type::Date,
            Type::Timestamp,
            Type::Duration,
            Type::Percent,
            Type::List,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Unknown)
    }
    pub fn is_temporal(self) -> bool {
        matches!(self, Type::Date | Type::Timestamp | Type::Unknown)
    }
    /// Categorical for drift tests and encoding: text-like or boolean.
    pub fn is_categorical(self) -> bool {
        matches!(self, Type::Bool | Type::String | Type::Category | Type::Unknown)
    }
    /// Whether a value of type `found` may be stored where `self` is declared.
    pub fn accepts(self, found: Type) -> bool {
        self == found
            || found == Type::Unknown
            || self == Type::Unknown
            || (self == Type::Float && found == Type::Int)
            || (self == Type::Category && found == Type::String)
    }
    /// Whether two values can be compared with `<`, `==`, `between`, …
    pub fn comparable(self, other: Type) -> bool {
        (self.is_numeric() && other.is_numeric()) || self.accepts(other) || other.accepts(self)
    }
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a model predicts, decided by its label's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Classification,
    Regression,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }
    pub fn from_name(name: &str) -> Option<Task> {
        match name {
            "classification" => Some(Task::Classification),
            "regression" => Some(Task::Regression),
            _ => None,
        }
    }
    /// The task a label of this type implies.
    pub fn for_label(ty: Type) -> Option<Task> {
        match ty {
            Type::Bool | Type::Category | Type::String => Some(Task::Classification),
            Type::Int | Type::Float => Some(Task::Regression),
            _ => None,
        }
    }
}
