//! What the daemon takes from a compiled plan: the pipeline's cron schedule and each
//! `monitor` block with its alerts, the monitored model's inputs and its reference data.

use mlpc_compiler::plan::{Plan, TExpr};
use mlpc_compiler::types::Type;
use serde::Deserialize;
use std::time::Duration;

/// A compiled program, ready to run.
pub struct Program {
    pub plan: Plan,
    pub schedule: Option<croner::Cron>,
    pub monitors: Vec<Monitor>,
}

/// One `monitor` block.
#[derive(Clone, Debug)]
pub struct Monitor {
    pub name: String,
    /// The registered name whose served traffic is watched.
    pub registered: String,
    /// The stage its `serve` block serves, which `then rollback` moves back.
    pub stage: String,
    pub every: Duration,
    pub window: Duration,
    /// The plan node whose `data` artifact is the reference sample (a split or a dataset).
    pub reference: String,
    /// The served model's inputs, with their declared types.
    pub inputs: Vec<(String, Type)>,
    /// Whether the served model classifies (its metrics from labels are classification metrics).
    pub classification: bool,
    pub alerts: Vec<Alert>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Alert {
    /// The condition as written.
    pub text: String,
    pub expr: TExpr,
    pub action: Option<Action>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Retrain { model: String },
    Rollback,
}

#[derive(Deserialize)]
struct MonitorDef {
    name: String,
    registered: String,
    model: String,
    every_ms: u64,
    window_ms: u64,
    reference: Reference,
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
struct Reference {
    dataset: String,
    split: Option<String>,
}

#[derive(Deserialize)]
struct ServeDef {
    registered: String,
    stage: String,
}

#[derive(Deserialize)]
struct ModelDef {
    inputs: Vec<String>,
    task: String,
}

impl Program {
    pub fn new(plan: Plan) -> Result<Program, String> {
        let schedule = match plan.pipeline.as_ref().and_then(|p| p.schedule.as_deref()) {
            Some(s) => Some(croner::Cron::new(s).parse().map_err(|e| format!("schedule `{s}`: {e}"))?),
            None => None,
        };
        let monitors: Result<Vec<_>, _> =
            plan.nodes.iter().filter(|n| n.kind == "monitor").map(|n| monitor(&plan, &n.def)).collect();
        Ok(Program { schedule, monitors: monitors?, plan })
    }
}

fn read<T: for<'de> Deserialize<'de>>(id: &str, def: &serde_json::Value) -> Result<T, String> {
    T::deserialize(def).map_err(|e| format!("plan node `{id}` cannot be read: {e} (was it compiled by this mlpc?)"))
}

fn monitor(plan: &Plan, def: &serde_json::Value) -> Result<Monitor, String> {
    let d: MonitorDef = read("monitor", def)?;
    let model_id = format!("model:{}", d.model);
    let model = plan.node(&model_id).ok_or_else(|| format!("monitor `{}`: the plan has no `{model_id}`", d.name))?;
    let m: ModelDef = read(&model_id, &model.def)?;
    let inputs = m
        .inputs
        .iter()
        .map(|name| {
            let column = model.schema.iter().find(|c| &c.name == name);
            column.map(|c| (name.clone(), c.ty)).ok_or_else(|| format!("`{model_id}` has no input column `{name}`"))
        })
        .collect::<Result<_, String>>()?;
    let reference = match &d.reference.split {
        Some(split) => format!("split:{}.{split}", d.reference.dataset),
        None => format!("dataset:{}", d.reference.dataset),
    };
    let stage = plan
        .nodes
        .iter()
        .filter(|n| n.kind == "serve")
        .find_map(|n| read::<ServeDef>(&n.id, &n.def).ok().filter(|s| s.registered == d.registered))
        .map_or_else(|| "production".to_string(), |s| s.stage);
    Ok(Monitor {
        name: d.name,
        registered: d.registered,
        stage,
        every: Duration::from_millis(d.every_ms.max(1)),
        window: Duration::from_millis(d.window_ms),
        reference,
        inputs,
        classification: m.task == "classification",
        alerts: d.alerts,
    })
}
