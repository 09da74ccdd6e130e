//! What each kind of plan node holds: everything the runtime needs to execute it, typed.
//! The compiler fills these in, built-ins' defaults included; the runtime, the server and the
//! daemon read them, and nothing else reads a node.

use crate::expr::TExpr;
use crate::types::{Task, Type};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A node's definition, tagged by its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "def", rename_all = "snake_case")]
pub enum NodeDef {
    Source(SourceDef),
    Check(CheckDef),
    Features(FeaturesDef),
    Dataset(DatasetDef),
    Split(SplitDef),
    Model(ModelDef),
    Evaluate(EvaluateDef),
    Register(RegisterDef),
    Serve(Box<ServeDef>),
    Monitor(MonitorDef),
    Score(ScoreDef),
}

impl NodeDef {
    /// The kind, as node ids start with it (`model:churn_model`).
    pub fn kind(&self) -> &'static str {
        match self {
            NodeDef::Source(_) => "source",
            NodeDef::Check(_) => "check",
            NodeDef::Features(_) => "features",
            NodeDef::Dataset(_) => "dataset",
            NodeDef::Split(_) => "split",
            NodeDef::Model(_) => "model",
            NodeDef::Evaluate(_) => "evaluate",
            NodeDef::Register(_) => "register",
            NodeDef::Serve(_) => "serve",
            NodeDef::Monitor(_) => "monitor",
            NodeDef::Score(_) => "score",
        }
    }
}

/// Why `mlpc run` leaves a node kind to another command, or `None` when it runs it: a
/// workflow engine schedules only the kinds `mlpc run` runs.
pub fn runs_elsewhere(kind: &str) -> Option<&'static str> {
    match kind {
        "serve" => Some("served by `mlpc serve` (or `mlpc daemon`)"),
        "monitor" => Some("run by `mlpc daemon` on its schedule"),
        _ => None,
    }
}

/// A column a node produces or a model reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
}

/// `references table.column`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
}

/// A source: a reader of the stdlib over a path relative to the pipeline's folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceDef {
    /// The reader (`csv`, `parquet`, `duckdb`).
    pub format: String,
    pub path: String,
    /// Every other parameter of the reader, defaults filled in from the stdlib.
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl SourceDef {
    /// A reader option the compiler filled in; an error names a plan that lacks it.
    pub fn option(&self, name: &str) -> Result<&serde_json::Value, String> {
        self.options.get(name).ok_or_else(|| {
            format!(
                "the `{}` reader's option `{name}` is missing from the plan (was it compiled by mlpc?)",
                self.format
            )
        })
    }
}

/// `check SOURCE { expect … }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckDef {
    pub source: String,
    pub expectations: Vec<Expectation>,
    pub on_fail: OnFail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Expectation {
    pub text: String,
    pub level: Level,
    pub expr: TExpr,
}

/// What an expectation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Every row must satisfy it.
    Row,
    /// One value for the whole table.
    Table,
}

/// What a failed check does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    /// Stop what reads the source.
    Stop,
    /// Report and go on.
    Warn,
}

/// A feature view over an entity source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeaturesDef {
    pub entity: String,
    pub ttl_ms: Option<u64>,
    /// Related tables the view aggregates over.
    pub tables: BTreeSet<String>,
    pub features: Vec<FeatureDef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeatureDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
    pub expr: TExpr,
}

/// A dataset: its base source's rows with the features of `views` joined point-in-time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatasetDef {
    pub base: String,
    pub views: Vec<String>,
    pub label: Option<String>,
    pub task: Option<Task>,
}

/// One part of a dataset's split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SplitDef {
    pub dataset: String,
    pub part: String,
    pub share: f64,
    /// The splitter of the stdlib (`random`, `by_time`, …).
    pub method: String,
    pub seed: Option<i64>,
    /// Every part of the split with its share in 0..=1, in the order written.
    pub parts: Vec<(String, f64)>,
}

/// A dataset, or one split of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DataRef {
    pub dataset: String,
    pub split: Option<String>,
}

impl DataRef {
    pub fn text(&self) -> String {
        match &self.split {
            Some(s) => format!("{}.{s}", self.dataset),
            None => self.dataset.clone(),
        }
    }
    /// The plan node whose `data` artifact this is.
    pub fn node_id(&self) -> String {
        match &self.split {
            Some(s) => format!("split:{}.{s}", self.dataset),
            None => format!("dataset:{}", self.dataset),
        }
    }
}

/// How a model is made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trainer {
    /// A built-in algorithm; `params` holds every parameter, defaults filled in, in range.
    Algorithm { algorithm: String, params: serde_json::Map<String, serde_json::Value> },
    /// A model file, relative to the pipeline's folder.
    Onnx { path: String },
    /// An external command that writes an ONNX model.
    Command {
        command: String,
        /// Environment variables passed to the command beside `PATH`, `HOME`, `LANG`,
        /// `LC_*` and `TMPDIR`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        env: Vec<String>,
    },
}

/// Where a model runs its training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// CUDA when a GPU is there, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelDef {
    pub trainer: Trainer,
    pub train: Option<DataRef>,
    /// The dataset whose columns the inputs name (the training data's, or `schema =`).
    pub dataset: Option<String>,
    pub task: Option<Task>,
    /// The input column names, in the model's order (their types are the node's schema).
    pub inputs: Vec<String>,
    pub output: ModelOutput,
    pub device: Device,
    /// Folds of cross-validation, when asked for.
    pub cv: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelOutput {
    pub label: Option<String>,
    /// The ONNX outputs: `label` and `probabilities` for a classifier, `value` otherwise.
    pub outputs: Vec<String>,
}

/// `evaluate MODEL on DATA { metrics = […] }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluateDef {
    pub model: String,
    pub data: DataRef,
    pub metrics: Vec<String>,
    /// Columns whose values each get their own metrics.
    pub slices: Vec<String>,
}

/// A condition as written and as typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rule {
    pub text: String,
    pub expr: TExpr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionRule {
    pub stage: String,
    #[serde(flatten)]
    pub rule: Rule,
}

/// `register MODEL as "NAME" { promote to STAGE when … }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterDef {
    pub model: String,
    pub rules: Vec<PromotionRule>,
}

/// `serve "NAME" { … }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServeDef {
    pub registered: String,
    /// The model registered under that name.
    pub model: String,
    pub stage: String,
    /// The feature view requests are completed from, by entity key.
    pub features: Option<String>,
    /// The stage whose version gets a copy of every request.
    pub shadow: Option<String>,
    /// Whether the previous version answers when the serving one fails.
    pub fallback: Fallback,
    pub canary: Option<CanaryDef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    Previous,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CanaryDef {
    /// Traffic shares in 0..=1, increasing.
    pub steps: Vec<f64>,
    pub interval_ms: u64,
    /// Requests the candidate must answer in a step before any verdict.
    pub min_requests: u64,
    pub promote: Option<Rule>,
    pub rollback: Option<Rule>,
}

/// `score NAME on "REGISTERED" { … }`: the version at `stage` scores every row of `input`,
/// in batches, into a Parquet file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreDef {
    pub registered: String,
    /// The model registered under that name.
    pub model: String,
    /// The stage whose version scores, resolved in the registry when the node runs.
    pub stage: String,
    /// The node whose `data` rows are scored: `source:…`, `features:…`, `dataset:…` or `split:…`.
    pub input: String,
    /// The entity's key columns, written with each prediction.
    pub keys: Vec<String>,
    /// The entity's `time` column: written too, and the moment each row's features are
    /// filled as of.
    pub time: Option<String>,
    /// The model's inputs with their types; those with a `view` are not in the input and are
    /// filled point-in-time from that feature view, by the keys (and `time`).
    pub inputs: Vec<Column>,
    pub task: Option<Task>,
    /// The Parquet file written, relative to the pipeline's folder.
    pub output: String,
}

/// `monitor NAME on "REGISTERED" { … }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitorDef {
    pub name: String,
    pub registered: String,
    /// The model registered under that name.
    pub model: String,
    pub every_ms: u64,
    pub window_ms: u64,
    pub reference: DataRef,
    pub alerts: Vec<AlertDef>,
    /// The stdlib's drift tests, with the thresholds `drift_share()` counts a column by.
    pub drift_tests: Vec<DriftTestDef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertDef {
    #[serde(flatten)]
    pub rule: Rule,
    pub action: Option<AlertAction>,
}

/// What a firing alert does beside notifying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertAction {
    Retrain { model: String },
    Rollback,
}

/// As the alert's `then` writes it: `retrain churn_model`, `rollback`.
impl std::fmt::Display for AlertAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlertAction::Retrain { model } => write!(f, "retrain {model}"),
            AlertAction::Rollback => f.write_str("rollback"),
        }
    }
}

/// A drift test of the stdlib.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftTestDef {
    pub name: String,
    pub threshold: f64,
    /// Whether a score below the threshold is drift (p-values) rather than above it (distances).
    pub drift_when_below: bool,
}
