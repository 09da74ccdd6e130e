//! One check of a monitor: the window's traffic against the reference, a drift report over
//! the model's inputs (Evidently's default test per column), each alert condition evaluated,
//! and alerts fired on the edge — once when a condition becomes true, `cleared` when it
//! stops — with the state kept in the results file across ticks and restarts.

use crate::program::Monitor;
use crate::window;
use mlpc_monitor::{drift_report, Outcome, Report, Test};
use mlpc_plan::eval::{self, EvalError, Reading};
use mlpc_plan::TExpr;
use mlpc_runtime::frames;
use mlpc_runtime::monitor_results::{self as results, Check};
use mlpc_serve::request_log::Logged;
use mlpc_train::{Frame, Predictions, Target};
use serde::Serialize;
use std::path::Path;

/// What one check found, for the log, `/metrics` and the admin status.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    pub monitor: String,
    pub at_micros: i64,
    pub rows: usize,
    /// `ok`, `not_enough_data` or `error`.
    pub status: String,
    pub message: String,
    pub report: Option<Report>,
    /// Alerts whose condition became true in this check, with their reasons.
    pub fired: Vec<Fired>,
    /// Every alert's condition: true, false, or null when unknown.
    pub conditions: Vec<(String, Option<bool>)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Fired {
    pub monitor: String,
    pub model: String,
    pub alert: String,
    pub reason: String,
    /// `retrain M`, `rollback`, or none.
    pub action: Option<String>,
}

/// Checks `m` once over the window ending now; alerts that become true are returned for
/// their actions (recording them, with the outcome, is the caller's).
pub fn check(state: &Path, log: &window::Log, m: &Monitor, min_rows: usize) -> Found {
    let at_micros = mlpc_serve::clock::now_micros();
    let mut found = Found {
        monitor: m.name.clone(),
        at_micros,
        rows: 0,
        status: "error".into(),
        message: String::new(),
        report: None,
        fired: Vec::new(),
        conditions: Vec::new(),
    };
    if let Err(e) = measure(state, log, m, min_rows, &mut found) {
        found.message = e;
    }
    let report = match &found.report {
        Some(r) => serde_json::to_string(r).unwrap_or_default(),
        None => serde_json::json!({ "message": found.message }).to_string(),
    };
    let check = Check {
        monitor: &m.name,
        model: &m.registered,
        rows: found.rows,
        status: &found.status,
        drift_share: found.report.as_ref().and_then(|r| r.drift_share),
        report,
    };
    if let Err(e) = results::record_check(state, &check) {
        tracing::error!(monitor = %m.name, "cannot record the check: {e}");
    }
    found
}

fn measure(state: &Path, log: &window::Log, m: &Monitor, min_rows: usize, found: &mut Found) -> Result<(), String> {
    let since = found.at_micros - m.window.as_micros() as i64;
    // The window and the reference both follow the version the stage holds.
    let served = window::served(state, m)?;
    let current = window::current(log, &m.registered, served.version, since, &m.inputs)?;
    // Logged rows: each answered request's rows, and one per failed request.
    found.rows = current.inputs.rows() + current.live.errors as usize;
    if found.rows < min_rows {
        found.status = "not_enough_data".into();
        let of = served.version.map_or(String::new(), |v| format!(" version {v}"));
        found.message = format!(
            "{} logged rows of `{}`{of} in the last {:?}; alerts need at least {min_rows}",
            found.rows, m.registered, m.window
        );
        return Ok(());
    }
    let reference = frames::read(&served.reference?, &m.inputs)?;
    let report = drift_report(&reference, &current.inputs, &[], &[], &m.thresholds)?;
    let active = results::active(state, &m.name).map_err(|e| e.to_string())?;
    let mut facts = Measured { m, reference: &reference, current: &current, report: &report, notes: Vec::new() };
    for alert in &m.alerts {
        facts.notes.clear();
        let holds = eval::evaluate(&alert.rule.expr, &mut facts)
            .map_err(|e| format!("alert `{}`: {e}", alert.rule.text))?
            .value;
        let text = &alert.rule.text;
        found.conditions.push((text.clone(), holds));
        let was_active = active.contains(text);
        let reason = format!("{text} ({})", facts.notes.join(", "));
        match holds {
            Some(true) if !was_active => found.fired.push(Fired {
                monitor: m.name.clone(),
                model: m.registered.clone(),
                alert: alert.rule.text.clone(),
                reason,
                action: alert.action.as_ref().map(ToString::to_string),
            }),
            Some(false) if was_active => {
                tracing::info!(monitor = %m.name, alert = %alert.rule.text, "alert cleared: {reason}");
                let cleared = results::Firing {
                    monitor: &m.name,
                    alert: &alert.rule.text,
                    event: "cleared",
                    reason: &reason,
                    action: None,
                    outcome: None,
                };
                results::record_firing(state, &cleared).map_err(|e| e.to_string())?;
            }
            _ => {}
        }
    }
    found.status = "ok".into();
    found.message = match report.drift_share {
        Some(share) => format!("{} of {} columns drift ({:.0}%)", report.drifted(), report.tested(), share * 100.0),
        None => "no column had enough rows for a verdict".into(),
    };
    found.report = Some(report);
    Ok(())
}

/// The measurements one check's alerts read, noting each value looked up for the reason.
struct Measured<'a> {
    m: &'a Monitor,
    reference: &'a Frame,
    current: &'a Logged,
    report: &'a Report,
    notes: Vec<String>,
}

impl Measured<'_> {
    fn note(&mut self, what: String, value: Option<f64>) -> Option<f64> {
        self.notes.push(match value {
            Some(v) => format!("{what} = {v:.4}"),
            None => format!("{what} unknown"),
        });
        value
    }
}

impl Measured<'_> {
    fn drift(&mut self, column: &str, test: &str) -> Result<Option<f64>, String> {
        let named = Test::from_name(test).ok_or_else(|| format!("no drift test `{test}`"))?;
        let r = drift_report(
            self.reference,
            &self.current.inputs,
            &[column.to_string()],
            &[(column.into(), named)],
            &self.m.thresholds,
        )?;
        let score = r.columns.first().and_then(|c| match c.outcome {
            Outcome::Tested { score, .. } => Some(score),
            Outcome::NotEnoughData { .. } => None,
        });
        Ok(self.note(format!("drift({column}, {test})"), score))
    }

    fn metric(&mut self, name: &str) -> Result<Option<f64>, String> {
        let value = labelled(self.m, self.current)?
            .filter(|(truth, _)| truth.len() >= mlpc_monitor::MIN_ROWS)
            .map(|(truth, pred)| mlpc_train::metrics::compute(name, &truth, &pred))
            .transpose()?;
        Ok(self.note(name.to_string(), value))
    }

    fn serving_metric(&mut self, name: &str) -> Option<f64> {
        let live = &self.current.live;
        let value = if live.request_count == 0 { None } else { live.get(name) };
        self.note(name.to_string(), value)
    }
}

impl eval::Facts for Measured<'_> {
    fn read(&mut self, leaf: &TExpr) -> Result<Reading, EvalError> {
        let value = match leaf {
            TExpr::Call { func, args, .. } if func == "drift" => match &args[..] {
                [TExpr::Column { name, .. }, TExpr::DriftTest { name: test }] => {
                    self.drift(name, test).map_err(EvalError::Missing)?
                }
                _ => return Err(EvalError::NotNumber(leaf.to_string())),
            },
            TExpr::Call { func, .. } if func == "drift_share" => {
                let share = self.report.drift_share;
                self.note("drift_share()".into(), share)
            }
            TExpr::Metric { name, stage: None } => self.metric(name).map_err(EvalError::Missing)?,
            TExpr::ServingMetric { name, .. } => self.serving_metric(name),
            other => {
                return Err(EvalError::NotHere(format!(
                    "`{other}` (a monitor reads drift, metrics and serving metrics)"
                )))
            }
        };
        Ok(value.map_or_else(|| Reading::Unknown("not enough data in the window".into()), Reading::Value))
    }
}

/// The window's predictions that have a label sent back, as a metric's truth and predictions;
/// `None` when no prediction has one.
fn labelled(m: &Monitor, w: &Logged) -> Result<Option<(Target, Predictions)>, String> {
    let labels = &w.labels;
    if labels.is_empty() {
        return Ok(None);
    }
    let by_row: std::collections::HashMap<(&str, i32), &str> =
        labels.iter().map(|(id, row, label)| ((id.as_str(), *row), label.as_str())).collect();
    let mut pairs = Vec::new();
    for (id, row, prediction) in &w.predictions {
        if let Some(label) = by_row.get(&(id.as_str(), *row)) {
            let p: serde_json::Value =
                serde_json::from_str(prediction).map_err(|e| format!("a logged prediction: {e}"))?;
            pairs.push((*label, p));
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    if !m.classification {
        let value = |v: &serde_json::Value| v.get("value").and_then(serde_json::Value::as_f64);
        let truth = pairs.iter().map(|(l, _)| l.parse::<f64>().map_err(|_| format!("label `{l}` is not a number")));
        let truth = truth.collect::<Result<Vec<f64>, _>>()?;
        let scores = pairs.iter().map(|(_, p)| value(p).map(|x| x as f32).ok_or("a logged prediction has no value"));
        let scores = scores.collect::<Result<Vec<f32>, _>>()?;
        return Ok(Some((Target::Values(truth), Predictions { labels: Vec::new(), scores, width: 1 })));
    }
    let probabilities = |p: &serde_json::Value| p.get("probabilities").and_then(|x| x.as_object()).cloned();
    let Some(first) = probabilities(&pairs[0].1) else {
        return Err("logged predictions have no class probabilities".into());
    };
    let mut classes: Vec<String> = first.keys().cloned().collect();
    classes.sort();
    let mut y = Vec::new();
    let mut labels = Vec::new();
    let mut scores = Vec::new();
    for (label, p) in &pairs {
        let class = classes.iter().position(|c| c == label).ok_or_else(|| {
            format!("label `{label}` sent back is not a class of `{}` ({})", m.registered, classes.join(", "))
        })?;
        y.push(class as u32);
        let probs = probabilities(p).ok_or("a logged prediction has no class probabilities")?;
        for c in &classes {
            scores.push(probs.get(c).and_then(serde_json::Value::as_f64).unwrap_or(0.0) as f32);
        }
        labels.push(p.get("label").and_then(|l| l.as_str()).unwrap_or_default().to_string());
    }
    let width = classes.len();
    Ok(Some((Target::Classes { classes, y }, Predictions { labels, scores, width })))
}
