//! The pipeline: the plan's DAG, each node coloured by its last status; a node's runs.

use crate::layout::{self, status};
use crate::read::{store, Failed};
use crate::{dag, Ui};
use axum::extract::{Path, State};
use maud::{html, Markup};
use mlpc_runtime::history;
use std::sync::Arc;

pub async fn page(State(ui): State<Arc<Ui>>) -> Result<Markup, Failed> {
    let plan = (ui.plan)();
    // A state folder with no runs yet draws every node as never run.
    let last = store(ui.state_dir.clone(), history::last_status).await.unwrap_or_default();
    let title = plan.pipeline.as_ref().map_or_else(|| "Pipeline".to_string(), |p| format!("Pipeline {}", p.name));
    Ok(layout::page(
        &title,
        "Pipeline",
        html! {
            p.legend.muted {
                (plan.nodes.len()) " nodes, " (plan.edges.len()) " edges. "
                span { "Solid: data. " } span { "Dashed red: triggers (retrain, rollback). " }
                "Colour: each node's last status; select a node for its runs."
            }
            div.dag { (dag::svg(&plan, &last)) }
        },
    ))
}

pub async fn node(State(ui): State<Arc<Ui>>, Path(id): Path<String>) -> Result<Markup, Failed> {
    let plan = (ui.plan)();
    let n = plan.node(&id).ok_or_else(|| format!("the plan has no node `{id}`"))?;
    let kind = n.kind();
    let key = id.clone();
    let rows = store(ui.state_dir.clone(), move |s| history::node_runs(s, &key, 200)).await?;
    Ok(layout::page(
        &id,
        "Pipeline",
        html! {
            p { "Kind " code { (kind) } "; inputs: "
                @for i in &n.inputs { a href={ "/ui/nodes/" (i) } { (i) } " " } }
            h2 { "Runs (latest 200)" }
            table {
                thead { tr { th { "run" } th { "started" } th { "status" } th { "ms" } th { "message" } } }
                tbody { @for r in &rows { tr {
                    td { a href={ "/ui/runs/" (r.run_id) } { (r.run_id) } }
                    td { (r.started_at.as_deref().unwrap_or("—")) }
                    td { (status(&r.status)) }
                    td.num { (r.millis) }
                    td { (r.message) }
                } } }
            }
        },
    ))
}
