//! Runs: the list (filtered by status, pipeline and date), and one run's nodes.

use crate::layout::{hash, page, status};
use crate::read::{store, Failed};
use crate::Ui;
use axum::extract::{Path, Query, State};
use maud::{html, Markup};
use mlpc_runtime::history::{self, RunFilter};
use serde::Deserialize;
use std::sync::Arc;

/// How many runs the list shows: the latest.
const SHOWN: usize = 200;

#[derive(Deserialize, Default)]
pub struct Filters {
    status: Option<String>,
    pipeline: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// An empty field filters nothing.
fn given(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub async fn list(State(ui): State<Arc<Ui>>, Query(f): Query<Filters>) -> Result<Markup, Failed> {
    let filter = RunFilter {
        status: given(&f.status),
        pipeline: given(&f.pipeline),
        since: given(&f.since),
        until: given(&f.until),
        limit: Some(SHOWN),
        ..RunFilter::default()
    };
    let rows = store(ui.state_dir.clone(), move |s| history::runs_where(s, &filter)).await?;
    let selected = |v: &str| f.status.as_deref() == Some(v);
    Ok(page(
        "Runs",
        "Runs",
        html! {
            form.filters method="get" action="/ui/runs" {
                label { "Status" select name="status" {
                    option value="" { "any" }
                    @for s in ["succeeded", "failed", "interrupted", "running"] {
                        option value=(s) selected[selected(s)] { (s) }
                    }
                } }
                label { "Pipeline" input type="text" name="pipeline" value=[f.pipeline.as_deref()]; }
                label { "From" input type="date" name="since" value=[f.since.as_deref()]; }
                label { "To" input type="date" name="until" value=[f.until.as_deref()]; }
                button type="submit" { "Filter" }
            }
            form method="get" action="/ui/compare" {
                p.muted { "The latest " (SHOWN) " matching runs. Tick two or more to compare them. "
                    button type="submit" { "Compare selected" } }
                table {
                    thead { tr { th { span.skip { "select" } } th { "run" } th { "started" } th { "status" } th { "pipeline" }
                        th { "ran" } th { "cached" } th { "note" } } }
                    tbody { @for r in rows.iter().rev() { tr {
                        td { input type="checkbox" name="run" value=(r.id) aria-label={ "select run " (r.id) }; }
                        td { a href={ "/ui/runs/" (r.id) } { (r.id) } }
                        td { (r.started_at) }
                        td { (status(&r.status)) }
                        td { (r.pipeline) }
                        td.num { (r.nodes_ran) }
                        td.num { (r.nodes_cached) }
                        td { (r.note.as_deref().unwrap_or("")) }
                    } } }
                }
            }
        },
    ))
}

pub async fn show(State(ui): State<Arc<Ui>>, Path(id): Path<i64>) -> Result<Markup, Failed> {
    let d = store(ui.state_dir.clone(), move |s| history::show(s, id)).await?;
    Ok(page(
        &format!("Run {id}"),
        "Runs",
        html! {
            p { (status(&d.run.status)) " " (d.run.pipeline) " from " code { (d.run.file) } ", started " (d.run.started_at)
                ": " (d.run.nodes_ran) " ran, " (d.run.nodes_cached) " cached"
                @if let Some(n) = &d.run.note { " — " (n) } }
            table {
                thead { tr { th { "node" } th { "kind" } th { "status" } th { "ms" } th { "params" } th { "metrics" }
                    th { "artifacts" } th { "log" } } }
                tbody { @for n in &d.nodes { tr {
                    td { a href={ "/ui/nodes/" (n.id) } { (n.id) } }
                    td { (n.kind) }
                    td { (status(&n.status)) }
                    td.num { (n.millis) }
                    td { @for (k, v) in &n.params { div { (k) " = " code { (v) } } } }
                    td { @for (k, v) in &n.metrics { div { (k) " = " (v) } } }
                    td { @for (k, v) in &n.artifacts { div { (k) " " (hash(v)) } } }
                    td { @if !n.message.is_empty() { details { summary { "log" } pre { (n.message) } } } }
                } } }
            }
        },
    ))
}
