//! `mlpc serve`: the registered models of a pipeline's `serve` blocks on ONNX Runtime,
//! behind the Open Inference Protocol v2, MLflow's scoring protocol and plain JSON, with
//! Prometheus metrics, a request log, and stage changes picked up without a restart;
//! new versions roll out as canaries, a shadow version sees copies of the traffic, the
//! previous version answers when the serving one fails, and labels come back as feedback.

mod app;
mod canary;
pub mod condition;
mod error;
mod features;
mod feedback;
mod gates;
mod input;
mod live_metrics;
mod metrics;
mod mlflow;
mod model;
mod oip;
mod predict;
mod request_log;
mod router;
mod row_features;
mod shadow;
mod spec;
mod status;
mod watch;

use app::App;
use mlpc_compiler::plan::Plan;
use request_log::RequestLog;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use canary::{Outcome, Phase, Record, Verdict};
pub use live_metrics::{Live, Window as LiveWindow};

/// How often the server's own timer looks for canaries whose interval has passed.
const TICK: Duration = Duration::from_millis(250);

pub struct Options {
    /// The state folder: registry, artifacts, and the request log the server writes.
    pub state_dir: PathBuf,
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
}

/// The running server, for a process that embeds it (`mlpc daemon`). It does not keep
/// the server alive: once the server has stopped, every call says so.
#[derive(Clone)]
pub struct Handle(Weak<App>);

impl Handle {
    fn app(&self) -> Result<Arc<App>, String> {
        self.0.upgrade().ok_or_else(|| "the server has stopped".to_string())
    }

    /// Each served model's latest canary (running or finished), with its last verdict.
    pub fn canaries(&self) -> Result<Vec<Record>, String> {
        Ok(self.app()?.models.iter().filter_map(|m| m.rollout.load_full()).map(|r| r.record()).collect())
    }

    /// Runs `read` on the request log's connection (`<state>/requests.duckdb`: tables
    /// `requests` and `feedback`), on the thread that writes it, after what was queued
    /// before; the file is held by that one connection. Blocking: call it off async threads.
    pub fn read_log<T: Send + 'static>(
        &self,
        read: impl FnOnce(&duckdb::Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        self.app()?.log.as_ref().ok_or("no request log is open")?.read(read)
    }
}

/// Serves until SIGTERM or Ctrl-C; `listening` is told the bound address first.
pub fn run(plan: &Plan, opts: &Options, listening: impl FnOnce(SocketAddr)) -> Result<(), String> {
    serve(plan, opts, |addr, _| listening(addr), async { stop_signal().await.to_string() })
}

/// What the server takes from a plan (its `serve` blocks as read), to tell whether a new
/// plan needs a new server; an error when the plan has no servable block.
pub fn fingerprint(plan: &Plan) -> Result<String, String> {
    Ok(format!("{:?}", spec::specs(plan)?))
}

/// Serves until `stop` resolves (to the reason, logged), finishing the requests in flight;
/// `ready` is given the bound address and a [`Handle`] on the server first.
pub fn serve(
    plan: &Plan,
    opts: &Options,
    ready: impl FnOnce(SocketAddr, Handle),
    stop: impl std::future::Future<Output = String> + Send + 'static,
) -> Result<(), String> {
    let specs = spec::specs(plan)?;
    // Where training finds it too: `$MLPC_LIB_DIR`, else the checkout's `.deps/lib`.
    mlpc_runtime::ort_ready()?;
    let pool = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut app = App::new(specs, &opts.state_dir, pool);
    app.reload()?;
    let requests = opts.state_dir.join("requests.duckdb");
    let (log, writer) = RequestLog::start(&requests, app.metrics.log_dropped.clone())?;
    app.log = Some(log);
    let app = Arc::new(app);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|e| {
            format!("cannot listen on {}: {e} (is another server there? pick one with --addr)", opts.addr)
        })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        ready(addr, Handle(Arc::downgrade(&app)));
        let watcher = tokio::spawn(watch::changes(app.clone()));
        let ticker = tokio::spawn(ticks(app.clone()));
        let result = axum::serve(listener, router::router(app.clone(), opts.body_limit))
            .with_graceful_shutdown(async { tracing::info!("{}: finishing the requests in flight", stop.await) })
            .await
            .map_err(|e| format!("the server failed: {e}"));
        watcher.abort();
        ticker.abort();
        result
    });
    drop(runtime);
    // The last handle on the queue goes with the app; the writer then drains it and stops.
    drop(app);
    writer.join();
    served
}

/// Drives the canaries: runs until aborted.
async fn ticks(app: Arc<App>) {
    let mut every = tokio::time::interval(TICK);
    loop {
        every.tick().await;
        let app = app.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || app.tick()).await {
            tracing::error!("canary tick stopped: {e}");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C, saying which (the daemon shares it).
pub async fn stop_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => drop(s.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => "Ctrl-C",
        _ = term => "SIGTERM",
    }
}
