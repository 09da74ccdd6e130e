//! Serving and monitors: each served model's canary (step, weights, last gate verdict),
//! refreshed live with htmx, and the monitors' checks and alerts (`pages::monitors`).

use crate::layout::{self, status};
use crate::pages::monitors;
use crate::read::Failed;
use crate::Ui;
use axum::extract::State;
use maud::{html, Markup};
use mlpc_plan::NodeDef;
use std::sync::Arc;

pub async fn page(State(ui): State<Arc<Ui>>) -> Result<Markup, Failed> {
    Ok(layout::page(
        "Serving and monitors",
        "Serving",
        html! {
            div hx-get="/ui/serving/live" hx-trigger="every 2s" aria-live="polite" { (canaries(&ui)) }
            div hx-get="/ui/serving/monitors" hx-trigger="every 10s" { (monitors::section(&ui).await) }
        },
    ))
}

pub async fn live(State(ui): State<Arc<Ui>>) -> Markup {
    canaries(&ui)
}

/// The canary of each model the plan serves, from its persisted state.
fn canaries(ui: &Ui) -> Markup {
    let plan = (ui.plan)();
    let served: Vec<String> = plan
        .nodes
        .iter()
        .filter_map(|n| match &n.def {
            NodeDef::Serve(s) => Some(s.registered.clone()),
            _ => None,
        })
        .collect();
    html! {
        h2 { "Canaries" }
        @if served.is_empty() { p { "The pipeline serves no model." } }
        table #canaries {
            thead { tr { th { "model" } th { "stage" } th { "stable" } th { "candidate" } th { "step" } th { "candidate weight" }
                th { "phase" } th { "last verdict" } } }
            tbody { @for m in &served { tr {
                td { a href={ "/ui/registry/" (m) } { (m) } }
                @match mlpc_serve::canary_state(&ui.state_dir, m) {
                    Some(r) => {
                        td { (r.stage) } td.num { (r.stable) } td.num { (r.candidate) }
                        td.num { (r.step + 1) " of " (r.steps.len()) }
                        td.num { (format!("{:.0}%", r.weight() * 100.0)) }
                        td { (format!("{:?}", r.phase).to_lowercase()) }
                        td { @if let Some(v) = &r.last { (status(&format!("{:?}", v.outcome).to_lowercase())) " " (v.reason) } }
                    }
                    None => { td colspan="7" .muted { "no canary has run" } }
                }
            } } }
        }
    }
}
