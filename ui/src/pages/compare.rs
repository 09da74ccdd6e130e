//! Two or more runs side by side: only what differs, and each differing metric charted.

use crate::chart;
use crate::layout;
use crate::read::{store, Failed};
use crate::Ui;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use maud::{html, Markup};
use mlpc_runtime::history;
use std::sync::Arc;

/// The `run` parameters, in order: `?run=3&run=5`.
fn runs(query: Option<&str>) -> Result<Vec<i64>, Failed> {
    let ids: Vec<i64> = query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.strip_prefix("run="))
        .map(|v| v.parse().map_err(|_| Failed(StatusCode::BAD_REQUEST, format!("`{v}` is not a run number"))))
        .collect::<Result<_, _>>()?;
    if ids.len() < 2 {
        return Err(Failed(StatusCode::BAD_REQUEST, "pick two or more runs to compare (?run=1&run=2)".into()));
    }
    Ok(ids)
}

pub async fn page(State(ui): State<Arc<Ui>>, RawQuery(q): RawQuery) -> Result<Markup, Failed> {
    let ids = runs(q.as_deref())?;
    let asked = ids.clone();
    let rows = store(ui.state_dir.clone(), move |s| history::compare_many(s, &asked)).await?;
    let metrics: Vec<_> = rows.iter().filter(|r| r.what.starts_with("metric ")).take(8).collect();
    Ok(layout::page(
        &format!("Compare runs {}", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
        "Runs",
        html! {
            @if rows.is_empty() {
                p { "These runs have the same node statuses, parameters, metrics and artifacts." }
            } @else {
                p.muted { (rows.len()) " differences; what is the same in every run is left out." }
                table #differences {
                    thead { tr { th { "node" } th { "what" } @for id in &ids { th { a href={ "/ui/runs/" (id) } { "run " (id) } } } } }
                    tbody { @for r in &rows { tr {
                        td { (r.node) } td { (r.what) }
                        @for v in &r.values { td { @match v { Some(v) => code { (v) }, None => span.muted { "—" } } } }
                    } } }
                }
                @for m in &metrics {
                    @let points: Vec<(String, f64)> = ids.iter().zip(&m.values)
                        .map(|(id, v)| (format!("run {id}"), v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)))
                        .collect();
                    (chart::line(&format!("{} · {}", m.node, m.what), &points))
                }
            }
        },
    ))
}
