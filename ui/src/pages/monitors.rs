//! The monitors part of the serving page: each monitor's checks over time (drift share and
//! each column's score, charted), its last check's columns, and the alerts it fired.

use crate::chart;
use crate::layout::status;
use crate::read::blocking;
use crate::Ui;
use axum::extract::State;
use maud::{html, Markup};
use mlpc_plan::NodeDef;
use mlpc_runtime::monitor_results::{self, CheckRow, FiringRow};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// How many of a monitor's latest checks the charts draw.
const CHECKS: usize = 50;
/// How many of its latest alert changes the table lists.
const FIRINGS: usize = 20;

/// One column's verdict in a recorded drift report (`mlpc_monitor::ColumnDrift` as JSON).
#[derive(Deserialize)]
struct Column {
    column: String,
    test: String,
    /// `tested` or `not_enough_data`.
    status: String,
    score: Option<f64>,
    threshold: Option<f64>,
    drifted: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Report {
    #[serde(default)]
    columns: Vec<Column>,
    message: Option<String>,
}

/// What one monitor recorded.
struct Recorded {
    name: String,
    model: String,
    checks: Vec<CheckRow>,
    firings: Vec<FiringRow>,
}

pub async fn live(State(ui): State<Arc<Ui>>) -> Markup {
    section(&ui).await
}

/// Every monitor of the plan with what it recorded; a read failure is one line, not an error page.
pub async fn section(ui: &Ui) -> Markup {
    let monitors: Vec<(String, String)> = (ui.plan)()
        .nodes
        .iter()
        .filter_map(|n| match &n.def {
            NodeDef::Monitor(m) => Some((m.name.clone(), m.registered.clone())),
            _ => None,
        })
        .collect();
    let state = ui.state_dir.clone();
    let recorded = blocking(move || read(state, monitors)).await;
    html! {
        h2 { "Monitors" }
        @match recorded {
            Err(e) => { p.error role="alert" { (e.1) } }
            Ok(r) if r.is_empty() => { p { "The pipeline has no monitor." } }
            Ok(r) => { @for m in &r { (monitor(m)) } }
        }
    }
}

fn read(state: PathBuf, monitors: Vec<(String, String)>) -> Result<Vec<Recorded>, String> {
    let err = |e: monitor_results::ResultsError| e.to_string();
    monitors
        .into_iter()
        .map(|(name, model)| {
            let checks = monitor_results::checks(&state, &name, CHECKS).map_err(err)?;
            let firings = monitor_results::firings(&state, &name, FIRINGS).map_err(err)?;
            Ok(Recorded { name, model, checks, firings })
        })
        .collect()
}

fn monitor(m: &Recorded) -> Markup {
    let reports: Vec<Report> = m.checks.iter().map(|c| serde_json::from_str(&c.report).unwrap_or_default()).collect();
    // Charts label each check by its time of day.
    let label = |c: &CheckRow| c.at.get(11..).unwrap_or(&c.at).to_string();
    let share: Vec<(String, f64)> = m.checks.iter().filter_map(|c| c.drift_share.map(|s| (label(c), s))).collect();
    let last = m.checks.last().zip(reports.last());
    html! {
        section.monitor aria-labelledby={ "monitor-" (m.name) } {
            h3 id={ "monitor-" (m.name) } { (m.name) " " span.muted { "on " a href={ "/ui/registry/" (m.model) } { (m.model) } } }
            @match last {
                None => { p.muted { "No check recorded yet." } }
                Some((check, report)) => {
                    p { "Last check " (check.at) " UTC: " (status(&check.status)) " over " (check.rows) " rows"
                        @if let Some(msg) = &report.message { " — " (msg) } }
                    div.charts {
                        @if !share.is_empty() { (chart::line("drift share", &share)) }
                        @for c in &report.columns {
                            @let points = column_scores(&m.checks, &reports, &c.column, label);
                            @if !points.is_empty() { (chart::line(&format!("{} · {}", c.column, c.test), &points)) }
                        }
                    }
                    @if !report.columns.is_empty() { (columns(&report.columns)) }
                }
            }
            (firings(&m.firings))
        }
    }
}

/// `column`'s score in each check that tested it.
fn column_scores(
    checks: &[CheckRow],
    reports: &[Report],
    column: &str,
    label: impl Fn(&CheckRow) -> String,
) -> Vec<(String, f64)> {
    checks
        .iter()
        .zip(reports)
        .filter_map(|(c, r)| r.columns.iter().find(|x| x.column == column).and_then(|x| x.score).map(|s| (label(c), s)))
        .collect()
}

fn columns(columns: &[Column]) -> Markup {
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    html! {
        table.drift-columns {
            caption { "Columns in the last check" }
            thead { tr { th { "column" } th { "test" } th { "score" } th { "threshold" } th { "drifted" } } }
            tbody { @for c in columns { tr {
                td { (c.column) } td { (c.test) } td.num { (num(c.score)) } td.num { (num(c.threshold)) }
                td { @match c.drifted {
                    Some(true) => { (status("drifted")) }
                    Some(false) => { "no" }
                    None => { span.muted { (c.status.replace('_', " ")) } }
                } }
            } } }
        }
    }
}

fn firings(firings: &[FiringRow]) -> Markup {
    html! {
        @if firings.is_empty() { p.muted { "No alert has fired." } } @else {
            table.alerts {
                caption { "Alerts" }
                thead { tr { th { "time (UTC)" } th { "alert" } th { "event" } th { "action" } th { "outcome" } } }
                tbody { @for f in firings { tr {
                    td { (f.at) } td { (f.alert) br; span.muted { (f.reason) } } td { (status(&f.event)) }
                    td { (f.action.as_deref().unwrap_or("—")) } td { (f.outcome.as_deref().unwrap_or("—")) }
                } } }
            }
        }
    }
}
