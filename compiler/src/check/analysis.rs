//! What the checker learns about a program: the resolved declarations the plan is
//! lowered from, and the definitions and references the language server navigates.

use crate::plan::TExpr;
use crate::source::{FileId, Span};
use crate::types::{Task, Type};
pub use mlpc_plan::{
    AlertAction, AlertDef as AlertInfo, CanaryDef as CanaryInfo, DataRef, PromotionRule, Rule, Trainer,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a declaration's name is written.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Site {
    #[serde(skip)]
    pub file: FileId,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Analysis {
    pub pipeline: Option<PipelineInfo>,
    pub sources: Vec<SourceInfo>,
    pub checks: Vec<CheckInfo>,
    pub views: Vec<ViewInfo>,
    pub datasets: Vec<DatasetInfo>,
    pub models: Vec<ModelInfo>,
    pub evaluations: Vec<EvalInfo>,
    pub registrations: Vec<RegisterInfo>,
    pub serves: Vec<ServeInfo>,
    pub monitors: Vec<MonitorInfo>,
    /// Every resolved use of a name, for go-to-definition and references.
    #[serde(skip)]
    pub references: Vec<Reference>,
    /// The type of every expression the checker typed, for hover.
    #[serde(skip)]
    pub types: Vec<(FileId, Span, Type)>,
}

/// What a used name resolved to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Decl { kind: &'static str, name: String },
    Column { table: String, column: String },
    Feature { view: String, name: String },
    Registered { name: String },
    Std { kind: crate::ast::StdKind, name: String },
}

#[derive(Clone, Debug)]
pub struct Reference {
    pub file: FileId,
    pub span: Span,
    pub target: Target,
}

#[derive(Clone, Debug, Serialize)]
pub struct PipelineInfo {
    pub name: String,
    #[serde(flatten)]
    pub site: Site,
    pub owner: Option<String>,
    pub schedule: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub time: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ColumnRef>,
    /// Where the column comes from: the source, or the feature view that computes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
    #[serde(skip)]
    pub site: Site,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
    /// Where `table.column` is written after `references`.
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    pub name: String,
    #[serde(flatten)]
    pub site: Site,
    pub format: String,
    pub path: String,
    /// Other reader options (`delimiter`, `table`, …) as written.
    pub options: serde_json::Map<String, serde_json::Value>,
    pub columns: Vec<Column>,
}

impl SourceInfo {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn time_column(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.time)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Expectation {
    pub text: String,
    /// `row`: every row must satisfy it; `table`: one value for the whole table.
    pub level: &'static str,
    pub expr: TExpr,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckInfo {
    pub source: String,
    #[serde(flatten)]
    pub site: Site,
    pub expectations: Vec<Expectation>,
    pub on_fail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FeatureInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
    pub expr: TExpr,
    #[serde(skip)]
    pub site: Site,
    /// Entity columns the expression reads directly.
    #[serde(skip)]
    pub columns: BTreeSet<String>,
    /// Features (view, name) the expression reads.
    #[serde(skip)]
    pub features: BTreeSet<(String, String)>,
}

impl FeatureInfo {
    /// The feature as a column of a dataset or of its view's table.
    pub fn column(&self, view: &str) -> Column {
        Column {
            name: self.name.clone(),
            ty: self.ty,
            key: false,
            time: false,
            references: None,
            view: Some(view.to_string()),
            site: self.site.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ViewInfo {
    pub name: String,
    #[serde(flatten)]
    pub site: Site,
    pub entity: String,
    pub ttl_ms: Option<u64>,
    pub features: Vec<FeatureInfo>,
    /// Related tables the view aggregates over.
    pub tables: BTreeSet<String>,
}

impl ViewInfo {
    pub fn feature(&self, name: &str) -> Option<&FeatureInfo> {
        self.features.iter().find(|f| f.name == name)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SplitInfo {
    pub method: String,
    pub seed: Option<i64>,
    /// (split name, share in 0..=1), in the order written.
    pub parts: Vec<(String, f64)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DatasetInfo {
    pub name: String,
    #[serde(flatten)]
    pub site: Site,
    pub base: String,
    pub views: Vec<String>,
    pub label: Option<String>,
    pub task: Option<Task>,
    pub split: Option<SplitInfo>,
    pub columns: Vec<Column>,
}

impl DatasetInfo {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn has_split(&self, name: &str) -> bool {
        self.split.as_ref().is_some_and(|s| s.parts.iter().any(|(n, _)| n == name))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub name: String,
    #[serde(flatten)]
    pub site: Site,
    pub trainer: Trainer,
    pub train: Option<DataRef>,
    /// The dataset whose columns the inputs name (the training data's, or `schema =`).
    pub dataset: Option<String>,
    pub label: Option<String>,
    pub task: Option<Task>,
    pub inputs: Vec<Column>,
    pub device: String,
    pub cv: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EvalInfo {
    pub model: String,
    #[serde(flatten)]
    pub site: Site,
    pub data: DataRef,
    pub metrics: Vec<String>,
    pub slices: Vec<String>,
}

impl EvalInfo {
    pub fn id(&self) -> String {
        format!("{}@{}", self.model, self.data.text())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RegisterInfo {
    pub registered: String,
    #[serde(flatten)]
    pub site: Site,
    pub model: String,
    pub rules: Vec<PromotionRule>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServeInfo {
    pub registered: String,
    #[serde(flatten)]
    pub site: Site,
    pub model: Option<String>,
    pub stage: String,
    pub features: Option<String>,
    pub shadow: Option<String>,
    pub fallback: Option<String>,
    pub canary: Option<CanaryInfo>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MonitorInfo {
    pub name: String,
    #[serde(flatten)]
    pub site: Site,
    pub registered: String,
    pub model: Option<String>,
    pub every_ms: u64,
    pub window_ms: u64,
    pub reference: Option<DataRef>,
    pub alerts: Vec<AlertInfo>,
}
