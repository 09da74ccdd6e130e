//! The registry: each name's versions, stages, history and approvals, the model card, a
//! metric across versions, the audit chain's state; approve, promote and rollback through
//! a confirmation page, for a signed-in admin, by the same registry functions as the CLI.

use crate::auth::{same_origin, signed_in};
use crate::layout::{hash, page, status};
use crate::read::{blocking, store, Failed};
use crate::{chart, Ui};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use mlpc_runtime::registry::{self, STAGES};
use mlpc_runtime::{audit, card, Store};
use serde::Deserialize;
use std::sync::Arc;

/// Versions listed, latest first; and of those, how many show their rules evaluated now.
const VERSIONS_SHOWN: usize = 100;
const RULES_SHOWN: usize = 10;
const MOVES_SHOWN: usize = 100;

pub async fn list(State(ui): State<Arc<Ui>>) -> Result<Markup, Failed> {
    let rows = store(ui.state_dir.clone(), |s| registry::models(s).map_err(String::from)).await?;
    Ok(page(
        "Registry",
        "Registry",
        html! {
            @if rows.is_empty() { p { "Nothing is registered yet." } }
            table {
                thead { tr { th { "name" } th { "latest" } @for s in STAGES { th { (s) } } } }
                tbody { @for m in &rows { tr {
                    td { a href={ "/ui/registry/" (m.name) } { (m.name) } }
                    td.num { (m.latest) }
                    @for s in STAGES { td.num { (m.stages.get(s).map_or("—".into(), i64::to_string)) } }
                } } }
            }
        },
    ))
}

/// The audit chain in one line: intact and agreeing with the store, or what is wrong.
fn audit_state(store: &Store) -> (bool, String) {
    match audit::verify_in(store) {
        Err(b) => (false, format!("damaged at line {}: {}", b.line, b.why)),
        Ok(chain) => match registry::log_problems(store, &chain) {
            Ok(p) if p.is_empty() => (true, format!("intact: {} entries, head {}", chain.entries, chain.head)),
            Ok(p) => (false, format!("{} problem(s): {}", p.len(), p[0])),
            Err(e) => (false, e),
        },
    }
}

/// Markdown to HTML; raw HTML in the card is shown as text.
fn markdown(text: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

#[derive(Deserialize)]
pub struct Shown {
    metric: Option<String>,
    version: Option<i64>,
}

pub async fn show(
    State(ui): State<Arc<Ui>>,
    Path(name): Path<String>,
    Query(q): Query<Shown>,
    headers: HeaderMap,
) -> Result<Markup, Failed> {
    let key = name.clone();
    let (model, rules, audit, card) = store(ui.state_dir.clone(), move |s| {
        let model = registry::show(s, &key)?;
        let shown: Vec<i64> = model.versions.iter().rev().take(RULES_SHOWN).map(|v| v.version).collect();
        let rules = registry::rules_now_listed(&model, &shown);
        let card = card::card_of(s, &model, q.version).map(|c| markdown(&c));
        Ok((model, rules, audit_state(s), card))
    })
    .await?;
    let admin = signed_in(&ui, &headers);
    let metric = q.metric.or_else(|| model.versions.last().and_then(|v| v.metrics.keys().next().cloned()));
    let points: Vec<(String, f64)> = match &metric {
        Some(m) => {
            model.versions.iter().filter_map(|v| Some((format!("v{}", v.version), *v.metrics.get(m)?))).collect()
        }
        None => Vec::new(),
    };
    let names: std::collections::BTreeSet<&String> = model.versions.iter().flat_map(|v| v.metrics.keys()).collect();
    let confirm = |action: &str, version: i64, stage: &str| {
        format!("/ui/registry/{name}/confirm?action={action}&version={version}&stage={stage}")
    };
    Ok(page(
        &name,
        "Registry",
        html! {
            p { @for s in STAGES { (s) ": " strong { (model.stages.get(s).map_or("—".into(), |v| format!("version {v}"))) } " · " } }
            p #audit { "Audit chain: " (status(if audit.0 { "ok" } else { "error" })) " " (audit.1) }
            @if !admin { p.muted { a href={ "/ui/login?next=/ui/registry/" (name) } { "Sign in" } " with the admin token to approve, promote or roll back." } }
            h2 { "Versions" }
            table #versions {
                thead { tr { th { "version" } th { "registered" } th { "run" } th { "artifact" } th { "stages" } th { "metrics" }
                    th { "approvals" } th { "promotion rules now" } th { "actions" } } }
                tbody { @for v in model.versions.iter().rev().take(VERSIONS_SHOWN) { tr {
                    td.num { a href={ "?version=" (v.version) } { (v.version) } }
                    td { (v.registered_at) }
                    td { a href={ "/ui/runs/" (v.run_id) } { (v.run_id) } }
                    td { (hash(&v.artifact_sha256)) }
                    td { (v.stages.join(", ")) }
                    td {
                        @for (k, x) in v.metrics.iter().filter(|(k, _)| !k.contains(':')) { div { (k) " = " (format!("{x:.4}")) } }
                        @let slices: Vec<_> = v.metrics.iter().filter(|(k, _)| k.contains(':')).collect();
                        @if !slices.is_empty() { details { summary { (slices.len()) " slice metrics" }
                            @for (k, x) in slices { div { (k) " = " (format!("{x:.4}")) } } } }
                    }
                    td { @for a in &v.approvals { div { (a.stage) " by " (a.by) } } }
                    td { @if let Some((_, rs)) = rules.iter().find(|(n, _)| *n == v.version) {
                        @for r in rs { div { (status(if r.held { "holds" } else { "no" })) " " (r.stage) ": " code { (r.rule) }
                            @if !r.reason.is_empty() { " — " span.muted { (r.reason) } } } }
                    } }
                    td { @for s in ["staging", "production"] {
                            a href=(confirm("approve", v.version, s)) { "Approve for " (s) } br;
                            a href=(confirm("promote", v.version, s)) { "Promote to " (s) } br;
                    } }
                } } }
            }
            p { @for s in ["staging", "production"] { @if model.stages.contains_key(s) {
                a href={ "/ui/registry/" (name) "/confirm?action=rollback&stage=" (s) } { "Roll back " (s) } " " } } }
            h2 { "A metric across versions" }
            form.filters method="get" {
                label { "Metric" select name="metric" { @for m in &names { option selected[metric.as_ref() == Some(*m)] { (m) } } } }
                button type="submit" { "Show" }
            }
            @if let Some(m) = &metric { (chart::line(m, &points)) }
            h2 { "Stage history" }
            @if model.history.len() > MOVES_SHOWN {
                p.muted { "The latest " (MOVES_SHOWN) " of " (model.history.len()) " moves; " code { "mlpc models show " (name) } " lists them all." }
            }
            table { thead { tr { th { "at" } th { "stage" } th { "kind" } th { "from" } th { "to" } th { "by" } th { "reason" } } }
                tbody { @for h in model.history.iter().rev().take(MOVES_SHOWN) { tr {
                    td { (h.at) } td { (h.stage) } td { (h.kind) } td { (h.from.map_or("—".into(), |v| v.to_string())) }
                    td { (h.to) } td { (h.by) } td { (h.reason.as_deref().unwrap_or("")) }
                } } } }
            h2 { "Model card" }
            @match &card { Ok(c) => div.card { (PreEscaped(c)) }, Err(e) => p.error { (e) } }
        },
    ))
}

#[derive(Deserialize, Clone)]
pub struct Action {
    action: String,
    version: Option<i64>,
    stage: String,
    #[serde(default)]
    by: String,
    reason: Option<String>,
}

impl Action {
    fn words(&self, name: &str) -> String {
        match (self.action.as_str(), self.version) {
            ("approve", Some(v)) => format!("Approve {name} version {v} for {}", self.stage),
            ("promote", Some(v)) => format!("Promote {name} version {v} to {}", self.stage),
            ("rollback", _) => format!("Roll back {} of {name} to the version it held before", self.stage),
            _ => format!("`{}` (approve and promote need a version)", self.action),
        }
    }
}

pub async fn confirm(
    State(ui): State<Arc<Ui>>,
    Path(name): Path<String>,
    Query(a): Query<Action>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    if !signed_in(&ui, &headers) {
        let back = format!("/ui/registry/{name}");
        return Ok(Redirect::to(&format!("/ui/login?next={back}")).into_response());
    }
    let (key, version) = (name.clone(), a.version);
    let rules = match version {
        Some(v) => store(ui.state_dir.clone(), move |s| registry::rules_now(s, &key, v).map_err(String::from)).await?,
        None => Vec::new(),
    };
    Ok(page(
        "Confirm",
        "Registry",
        html! {
            p { strong { (a.words(&name)) "?" } " It is recorded in the audit log." }
            @if !rules.is_empty() {
                p { "This version's promotion rules, as the registry stands:" }
                ul { @for r in &rules { li { (status(if r.held { "holds" } else { "no" })) " " (r.stage) ": " code { (r.rule) }
                    @if !r.reason.is_empty() { " — " (r.reason) } } } }
            }
            form method="post" action={ "/ui/registry/" (name) "/act" } {
                input type="hidden" name="action" value=(a.action);
                @if let Some(v) = a.version { input type="hidden" name="version" value=(v); }
                input type="hidden" name="stage" value=(a.stage);
                label { "Your name (recorded)" input type="text" name="by" required; }
                " "
                label { "Reason" input type="text" name="reason"; }
                " "
                button.primary type="submit" { "Confirm" }
                " "
                a href={ "/ui/registry/" (name) } { "Cancel" }
            }
        },
    )
    .into_response())
}

pub async fn act(
    State(ui): State<Arc<Ui>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(a): Form<Action>,
) -> Result<Response, Failed> {
    if let Err(refused) = same_origin(&headers) {
        return Ok(*refused);
    }
    if !signed_in(&ui, &headers) {
        return Err(Failed(StatusCode::UNAUTHORIZED, "sign in with the admin token first".into()));
    }
    if a.by.trim().is_empty() {
        return Err(Failed(StatusCode::BAD_REQUEST, "say who you are: the name is recorded in the audit log".into()));
    }
    let (dir, key, act) = (ui.state_dir.clone(), name.clone(), a.clone());
    let said = blocking(move || {
        let store = Store::open(&dir)?;
        let by = format!("ui: {}", act.by.trim());
        let reason = act.reason.as_deref().filter(|r| !r.trim().is_empty());
        let version = || act.version.ok_or_else(|| "give the version".to_string());
        Ok(match act.action.as_str() {
            "approve" => {
                let (recorded, rules) = registry::approve_and_apply(&store, &key, version()?, &act.stage, &by, reason)?;
                let moved: Vec<String> =
                    rules.iter().filter(|r| r.moved).map(|r| format!("moved to {}", r.stage)).collect();
                format!(
                    "{}; {}",
                    if recorded { "approved" } else { "already approved" },
                    if moved.is_empty() { "no stage moved".into() } else { moved.join(", ") }
                )
            }
            "promote" => match registry::promote(&store, &key, version()?, &act.stage, &by, reason)? {
                Some(m) => {
                    format!("moved {} from {} to {}", m.stage, m.from.map_or("—".into(), |v| v.to_string()), m.to)
                }
                None => "already there".into(),
            },
            "rollback" => {
                let m = registry::rollback(&store, &key, &act.stage, &by, reason)?;
                format!("rolled back {} to {}", m.stage, m.to)
            }
            other => return Err(format!("unknown action `{other}`")),
        })
    })
    .await?;
    Ok(page(
        "Done",
        "Registry",
        html! {
            p.said role="status" { (a.words(&name)) ": " (said) }
            a href={ "/ui/registry/" (name) } { "Back to " (name) }
        },
    )
    .into_response())
}
