//! `mlpc ui`: the lifecycle in a browser. Server-rendered pages (maud) over the state
//! folder — the pipeline's DAG, runs and their comparison, the registry with its approve,
//! promote and rollback actions, canaries and monitors — read through the runtime's own
//! query functions. Mounted under `/ui` by `mlpc ui` and by the daemon on its API port.

mod assets;
mod auth;
mod chart;
mod dag;
mod layout;
mod pages;
mod read;

use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use mlpc_plan::Plan;
use mlpc_serve::request_log::Traffic;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The plan the pages draw: fixed for `mlpc ui`, the reloaded one in the daemon.
pub type PlanSource = Arc<dyn Fn() -> Plan + Send + Sync>;

/// Each model version's requests since a time (µs since the epoch, UTC), read through the
/// server that holds the request log; `Ok(None)` before there is a log.
pub type TrafficSource = Arc<dyn Fn(i64) -> Result<Option<Vec<Traffic>>, String> + Send + Sync>;

/// What the pages read and who may change the registry.
#[derive(Clone)]
pub struct Ui {
    pub state_dir: PathBuf,
    pub plan: PlanSource,
    /// The admin token that unlocks approve, promote and rollback; `None`: read-only.
    pub admin_token: Option<String>,
    /// The daemon's reader of its server's request log; `None`: the file, opened read-only.
    pub traffic: Option<TrafficSource>,
}

/// The pages, under `/ui/` (and `/` redirecting there).
pub fn router(ui: Ui) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::pipeline::page))
        .route("/ui/nodes/{id}", get(pages::pipeline::node))
        .route("/ui/runs", get(pages::runs::list))
        .route("/ui/runs/{id}", get(pages::runs::show))
        .route("/ui/compare", get(pages::compare::page))
        .route("/ui/registry", get(pages::registry::list))
        .route("/ui/registry/{name}", get(pages::registry::show))
        .route("/ui/registry/{name}/confirm", get(pages::registry::confirm))
        .route("/ui/registry/{name}/act", post(pages::registry::act))
        .route("/ui/serving", get(pages::serving::page))
        .route("/ui/serving/live", get(pages::serving::live))
        .route("/ui/serving/monitors", get(pages::monitors::live))
        .route("/ui/login", get(auth::login_form).post(auth::login))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/assets/{file}", get(assets::serve))
        .with_state(Arc::new(ui))
}

/// Serves the pages on `addr` until Ctrl-C or SIGTERM; `bound` is told the address.
pub fn run(addr: SocketAddr, ui: Ui, bound: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        bound(listener.local_addr().map_err(|e| e.to_string())?);
        axum::serve(listener, router(ui)).with_graceful_shutdown(stopped()).await.map_err(|e| e.to_string())
    })
}

async fn stopped() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
