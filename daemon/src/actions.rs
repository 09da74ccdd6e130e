//! What a fired alert does: a log line, its record in the results file, the webhook, and its
//! action — `then retrain M` queues a run that reruns `model:M` and what reads it,
//! `then rollback` moves the served stage back to the version it held before.

use crate::monitor::Fired;
use crate::program::{Action, Monitor};
use crate::runner::{RunRequest, Runs};
use mlpc_runtime::monitor_results::{self as results, Firing};
use mlpc_runtime::{registry, Store};
use std::path::PathBuf;
use std::time::Duration;

/// Where alerts go besides the log and the results file.
pub struct Alerts {
    pub state: PathBuf,
    /// Alerts are POSTed here as JSON (`--webhook` or `MLPC_WEBHOOK`).
    pub webhook: Option<String>,
    pub runs: Runs,
}

impl Alerts {
    /// Logs, acts on, records and posts one alert that became true.
    pub fn fire(&self, f: &Fired, m: &Monitor) {
        tracing::warn!(monitor = %f.monitor, model = %f.model, action = f.action.as_deref().unwrap_or("none"), "alert: {}", f.reason);
        let action = m.alerts.iter().find(|a| a.rule.text == f.alert).and_then(|a| a.action.as_ref());
        let outcome = action.map(|a| match self.act(a, f, m) {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(monitor = %f.monitor, "alert action failed: {e}");
                format!("failed: {e}")
            }
        });
        let firing = Firing {
            monitor: &f.monitor,
            alert: &f.alert,
            event: "fired",
            reason: &f.reason,
            action: f.action.clone(),
            outcome: outcome.clone(),
        };
        if let Err(e) = results::record_firing(&self.state, &firing) {
            tracing::error!(monitor = %f.monitor, "cannot record the alert: {e}");
        }
        if let Some(url) = &self.webhook {
            let body = serde_json::json!({
                "monitor": f.monitor, "model": f.model, "alert": f.alert, "reason": f.reason,
                "action": f.action, "outcome": outcome, "at": mlpc_runtime::audit::now(),
            });
            if let Err(e) = post(url, &body) {
                tracing::error!(monitor = %f.monitor, "webhook {url}: {e}");
            }
        }
    }

    fn act(&self, action: &Action, f: &Fired, m: &Monitor) -> Result<String, String> {
        match action {
            Action::Retrain { model } => {
                let node = format!("model:{model}");
                self.runs.request(RunRequest {
                    reason: format!("monitor {}: {}", f.monitor, f.reason),
                    rerun: vec![node],
                })?;
                Ok(format!("run queued to retrain `{model}`"))
            }
            Action::Rollback => {
                let store = Store::open(&self.state)?;
                let by = format!("monitor {}", f.monitor);
                let moved = registry::rollback(&store, &m.registered, &m.stage, &by, Some(&f.reason))?;
                Ok(format!("{} {} rolled back to version {}", moved.name, moved.stage, moved.to))
            }
        }
    }
}

/// POSTs `body` as JSON; a non-2xx answer is an error.
fn post(url: &str, body: &serde_json::Value) -> Result<(), String> {
    let client =
        reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    let answer = client.post(url).json(body).send().map_err(|e| e.to_string())?;
    match answer.status() {
        s if s.is_success() => Ok(()),
        s => Err(format!("answered {s}")),
    }
}
