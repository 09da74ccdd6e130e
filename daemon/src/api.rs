//! The daemon's own HTTP API (`--api-addr`): `/metrics` (the monitors), labels sent back at
//! `POST /v1/models/{name}/feedback`, and the admin API under `/admin` — status, promote,
//! rollback, approve, run — behind a bearer token (`MLPC_ADMIN_TOKEN` or
//! `--admin-token-file`). Without a token the admin API is off: 403. The UI's pages
//! (mlpc-ui) are under `/ui/`, with the same token.

use crate::runner::RunRequest;
use crate::Daemon;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mlpc_runtime::{registry, Store};
use mlpc_serve::request_log;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Shared = State<Arc<Daemon>>;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

pub fn router(daemon: Arc<Daemon>) -> Router {
    let admin = Router::new()
        .route("/status", get(status))
        .route("/promote", post(promote))
        .route("/rollback", post(rollback))
        .route("/approve", post(approve))
        .route("/run", post(run))
        .layer(middleware::from_fn_with_state(daemon.clone(), authorize));
    let pages = mlpc_ui::Ui {
        state_dir: daemon.opts.state_dir.clone(),
        plan: {
            let d = daemon.clone();
            Arc::new(move || d.program().plan.clone())
        },
        admin_token: daemon.opts.admin_token.clone(),
        traffic: Some({
            let d = daemon.clone();
            Arc::new(move |since| d.request_log().read(since, move |c| request_log::traffic(c, since)))
        }),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .nest("/admin", admin)
        .fallback(|| async {
            error(StatusCode::NOT_FOUND, "no such endpoint; see /ui/, /metrics, /admin/status (labels go to the serving port: POST /v1/models/NAME/feedback)")
        })
        .with_state(daemon)
        .merge(mlpc_ui::router(pages))
}

/// Byte-wise comparison whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(d): Shared, headers: HeaderMap, request: Request, next: Next) -> Response {
    let Some(token) = &d.opts.admin_token else {
        return error(
            StatusCode::FORBIDDEN,
            "the admin API is off: start the daemon with MLPC_ADMIN_TOKEN set or --admin-token-file FILE",
        );
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
    match given {
        Some(g) if same(g.trim().as_bytes(), token.as_bytes()) => next.run(request).await,
        Some(_) => unauthorized("the bearer token is wrong"),
        None => unauthorized("send `Authorization: Bearer TOKEN` (the daemon's MLPC_ADMIN_TOKEN)"),
    }
}

/// The credentials of a `Bearer` authorization; the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(credentials)
}

fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    r
}

async fn metrics(State(d): Shared) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], d.metrics.encode())
}

/// Runs blocking registry or DuckDB work off the async threads; errors become 400s.
async fn blocking(f: impl FnOnce() -> Result<Value, String> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn status(State(d): Shared) -> Json<Value> {
    Json(d.status_json())
}

#[derive(Deserialize)]
struct StageChange {
    name: String,
    version: Option<i64>,
    stage: Option<String>,
    by: Option<String>,
    reason: Option<String>,
}

impl StageChange {
    fn version(&self) -> Result<i64, String> {
        self.version.ok_or_else(|| "give the `version` to move the stage to".to_string())
    }
    fn stage(&self) -> &str {
        self.stage.as_deref().unwrap_or("production")
    }
    fn by(&self) -> String {
        format!("admin api: {}", self.by.as_deref().unwrap_or("anonymous"))
    }
}

async fn promote(State(d): Shared, Json(c): Json<StageChange>) -> Response {
    let state = d.opts.state_dir.clone();
    blocking(move || {
        let store = Store::open(&state)?;
        let moved = registry::promote(&store, &c.name, c.version()?, c.stage(), &c.by(), c.reason.as_deref())?;
        Ok(json!({ "moved": moved }))
    })
    .await
}

async fn rollback(State(d): Shared, Json(c): Json<StageChange>) -> Response {
    let state = d.opts.state_dir.clone();
    blocking(move || {
        let store = Store::open(&state)?;
        let moved = registry::rollback(&store, &c.name, c.stage(), &c.by(), c.reason.as_deref())?;
        Ok(json!({ "moved": moved }))
    })
    .await
}

/// Records the approval, then applies the version's promotion rules (as `mlpc approve`).
async fn approve(State(d): Shared, Json(c): Json<StageChange>) -> Response {
    let state = d.opts.state_dir.clone();
    blocking(move || {
        let store = Store::open(&state)?;
        let (recorded, rules) =
            registry::approve_and_apply(&store, &c.name, c.version()?, c.stage(), &c.by(), c.reason.as_deref())?;
        Ok(json!({ "approved": recorded, "rules": rules }))
    })
    .await
}

#[derive(Deserialize, Default)]
struct RunBody {
    #[serde(default)]
    rerun: Vec<String>,
}

async fn run(State(d): Shared, body: Option<Json<RunBody>>) -> Response {
    let rerun = body.map(|Json(b)| b.rerun).unwrap_or_default();
    match d.runs().request(RunRequest { reason: "admin api".into(), rerun: rerun.clone() }) {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "queued": true, "rerun": rerun }))).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(bearer(&format!("{scheme} t0ken")), Some("t0ken"), "{scheme}");
        }
        assert_eq!(bearer("Basic t0ken"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearert0ken"), None);
    }
}
