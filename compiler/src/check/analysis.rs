//! What the checker learns about a program: the resolved declarations the plan is
//! lowered from, and the definitions and references the language server navigates.

use crate::source::{FileId, Span};
use crate::types::{Task, Type};
use mlpc_plan::TExpr;
pub use mlpc_plan::{AlertAction, AlertDef, CanaryDef, DataRef, Expectation, Level, PromotionRule, Rule, Trainer};
use std::collections::BTreeSet;

/// Where a declaration's name is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Site {
    pub file: FileId,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, Default)]
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
    pub scores: Vec<ScoreInfo>,
    /// Every resolved use of a name, for go-to-definition and references.
    pub references: Vec<Reference>,
    /// The type of every expression the checker typed, for hover.
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

#[derive(Clone, Debug)]
pub struct PipelineInfo {
    pub name: String,
    pub site: Site,
    pub owner: Option<String>,
    pub schedule: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub ty: Type,
    pub key: bool,
    pub time: bool,
    pub references: Option<ColumnRef>,
    /// Where the column comes from: the source, or the feature view that computes it.
    pub view: Option<String>,
    pub site: Site,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
    /// Where `table.column` is written after `references`.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct SourceInfo {
    pub name: String,
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

#[derive(Clone, Debug)]
pub struct CheckInfo {
    pub source: String,
    pub site: Site,
    pub expectations: Vec<Expectation>,
    pub on_fail: String,
}

#[derive(Clone, Debug)]
pub struct FeatureInfo {
    pub name: String,
    pub ty: Type,
    pub expr: TExpr,
    pub site: Site,
    /// Entity columns the expression reads directly.
    pub columns: BTreeSet<String>,
    /// Features (view, name) the expression reads.
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

#[derive(Clone, Debug)]
pub struct ViewInfo {
    pub name: String,
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

#[derive(Clone, Debug)]
pub struct SplitInfo {
    pub method: String,
    pub seed: Option<i64>,
    /// (split name, share in 0..=1), in the order written.
    pub parts: Vec<(String, f64)>,
}

#[derive(Clone, Debug)]
pub struct DatasetInfo {
    pub name: String,
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

#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub name: String,
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

#[derive(Clone, Debug)]
pub struct EvalInfo {
    pub model: String,
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

#[derive(Clone, Debug)]
pub struct RegisterInfo {
    pub registered: String,
    pub site: Site,
    pub model: String,
    pub rules: Vec<PromotionRule>,
}

#[derive(Clone, Debug)]
pub struct ServeInfo {
    pub registered: String,
    pub site: Site,
    pub model: Option<String>,
    pub stage: String,
    pub features: Option<String>,
    pub shadow: Option<String>,
    pub fallback: Option<String>,
    pub canary: Option<CanaryDef>,
}

#[derive(Clone, Debug)]
pub struct MonitorInfo {
    pub name: String,
    pub site: Site,
    pub registered: String,
    pub model: Option<String>,
    pub every_ms: u64,
    pub window_ms: u64,
    pub reference: Option<DataRef>,
    pub alerts: Vec<AlertDef>,
}

#[derive(Clone, Debug)]
pub struct ScoreInfo {
    pub name: String,
    pub site: Site,
    pub registered: String,
    pub model: String,
    pub stage: String,
    /// The plan node whose rows are scored (`source:customers`, `split:churn_data.test`, …).
    pub input: String,
    pub keys: Vec<String>,
    pub time: Option<String>,
    /// The model's inputs; `view` is set on those the input lacks, filled from that view.
    pub inputs: Vec<Column>,
    pub task: Option<Task>,
    pub output: String,
}
