//! What the daemon takes from a compiled plan: the pipeline's cron schedule and each
//! `monitor` block with its alerts, the monitored model's inputs and its reference data.

use mlpc_monitor::Thresholds;
pub use mlpc_plan::AlertAction as Action;
use mlpc_plan::{AlertDef, MonitorDef, NodeDef, Plan, Task, Type};
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
    pub alerts: Vec<AlertDef>,
    /// The drift tests' thresholds, as the stdlib declared them when the plan was compiled.
    pub thresholds: Thresholds,
}

impl Program {
    pub fn new(plan: Plan) -> Result<Program, String> {
        let schedule = match plan.pipeline.as_ref().and_then(|p| p.schedule.as_deref()) {
            Some(s) => Some(croner::Cron::new(s).parse().map_err(|e| format!("schedule `{s}`: {e}"))?),
            None => None,
        };
        let monitors: Result<Vec<_>, _> = plan
            .nodes
            .iter()
            .filter_map(|n| match &n.def {
                NodeDef::Monitor(d) => Some(monitor(&plan, d)),
                _ => None,
            })
            .collect();
        Ok(Program { schedule, monitors: monitors?, plan })
    }
}

fn monitor(plan: &Plan, d: &MonitorDef) -> Result<Monitor, String> {
    let (model, m) = plan.model(&d.model).map_err(|e| format!("monitor `{}`: {e}", d.name))?;
    let model_id = &model.id;
    let inputs = m
        .inputs
        .iter()
        .map(|name| {
            let column = model.schema.iter().find(|c| &c.name == name);
            column.map(|c| (name.clone(), c.ty)).ok_or_else(|| format!("`{model_id}` has no input column `{name}`"))
        })
        .collect::<Result<_, String>>()?;
    let stage = plan
        .nodes
        .iter()
        .find_map(|n| match &n.def {
            NodeDef::Serve(s) if s.registered == d.registered => Some(s.stage.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "production".to_string());
    Ok(Monitor {
        name: d.name.clone(),
        registered: d.registered.clone(),
        stage,
        every: Duration::from_millis(d.every_ms.max(1)),
        window: Duration::from_millis(d.window_ms),
        reference: d.reference.node_id(),
        inputs,
        classification: m.task == Some(Task::Classification),
        alerts: d.alerts.clone(),
        thresholds: Thresholds::declared(
            d.drift_tests.iter().map(|t| (t.name.as_str(), t.threshold, t.drift_when_below)),
        )
        .map_err(|e| format!("monitor `{}`: {e}", d.name))?,
    })
}
