//! Serving and monitors: each served model's canary (step, weights, last gate verdict, each
//! gate's value and whether it passes) and its request rate and p99 (`pages::traffic`),
//! refreshed live with htmx, and the monitors' checks and alerts (`pages::monitors`).

use crate::layout::{self, status};
use crate::pages::{monitors, traffic};
use crate::read::Failed;
use crate::Ui;
use axum::extract::State;
use maud::{html, Markup};
use mlpc_plan::{CanaryDef, NodeDef, ServeDef};
use mlpc_serve::{Gate, Live, Phase, Record};
use std::sync::Arc;

pub async fn page(State(ui): State<Arc<Ui>>) -> Result<Markup, Failed> {
    Ok(layout::page(
        "Serving and monitors",
        "Serving",
        html! {
            div hx-get="/ui/serving/live" hx-trigger="every 2s" aria-live="polite" { (live(State(ui.clone())).await) }
            div hx-get="/ui/serving/monitors" hx-trigger="every 10s" { (monitors::section(&ui).await) }
        },
    ))
}

pub async fn live(State(ui): State<Arc<Ui>>) -> Markup {
    html! { (canaries(&ui)) (traffic::section(&ui).await) }
}

/// The canary of each model the plan serves, from its persisted state.
fn canaries(ui: &Ui) -> Markup {
    let plan = (ui.plan)();
    let served: Vec<(&ServeDef, Option<Record>)> = plan
        .nodes
        .iter()
        .filter_map(|n| match &n.def {
            NodeDef::Serve(s) => Some((&**s, mlpc_serve::canary_state(&ui.state_dir, &s.registered))),
            _ => None,
        })
        .collect();
    html! {
        h2 { "Canaries" }
        @if served.is_empty() { p { "The pipeline serves no model." } }
        table #canaries {
            thead { tr { th { "model" } th { "stage" } th { "stable" } th { "candidate" } th { "step" } th { "candidate weight" }
                th { "phase" } th { "last verdict" } } }
            tbody { @for (s, record) in &served { tr {
                td { a href={ "/ui/registry/" (s.registered) } { (s.registered) } }
                @match record {
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
        @for (s, record) in &served {
            @if let (Some(def), Some(r)) = (&s.canary, record) {
                @if r.phase == Phase::Running { (gates(&s.registered, def, r)) }
            }
        }
    }
}

/// A running canary's gates on the figures of its last decision: each one's value and
/// whether it lets the candidate go on (a promote gate that holds, a rollback gate that does not).
fn gates(model: &str, def: &CanaryDef, r: &Record) -> Markup {
    let live = r.last.as_ref().map_or_else(Live::default, |v| v.live.clone());
    let gates = [("promote", &def.promote, true), ("rollback", &def.rollback, false)];
    html! {
        table.gates {
            caption { "Gates of " (model) "'s canary" @if let Some(v) = &r.last { ", as of " (v.at) } }
            thead { tr { th { "gate" } th { "when" } th { "value" } th { "candidate" } } }
            tbody { @for (kind, rule, passes_when) in gates { @if let Some(rule) = rule {
                @let gate = Gate::from(rule.clone());
                tr {
                    td { (kind) } td { code { (gate.text) } }
                    td { (gate.measured(&live)) " (" (live.request_count) " requests)" }
                    td { @match gate.holds(&live) {
                        Ok(holds) if holds == passes_when => { (status("passes")) }
                        Ok(_) => { (status("fails")) }
                        Err(e) => { span.muted { (e) } }
                    } }
                }
            } } }
        }
    }
}
