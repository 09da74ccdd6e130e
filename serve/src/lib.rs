//! `mlpc serve`: the registered models of a pipeline's `serve` blocks on ONNX Runtime,
//! behind the Open Inference Protocol v2, MLflow's scoring protocol and plain JSON, with
//! Prometheus metrics, a request log, and stage changes picked up without a restart.

mod app;
mod error;
mod features;
mod input;
mod metrics;
mod mlflow;
mod model;
mod oip;
mod predict;
mod request_log;
mod router;
mod spec;
mod watch;

use app::App;
use mlpc_compiler::plan::Plan;
use request_log::RequestLog;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Options {
    /// The state folder: registry, artifacts, and the request log the server writes.
    pub state_dir: PathBuf,
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
}

/// Serves until SIGTERM or Ctrl-C; `listening` is told the bound address first.
pub fn run(plan: &Plan, opts: &Options, listening: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let specs = spec::specs(plan)?;
    // Where training finds it too: `$MLPC_LIB_DIR`, else the checkout's `.deps/lib`.
    let default_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/lib");
    mlpc_train::scorer::init(&mlpc_train::scorer::library_path(&default_dir))?;
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
        listening(addr);
        let watcher = tokio::spawn(watch::changes(app.clone()));
        let result = axum::serve(listener, router::router(app.clone(), opts.body_limit))
            .with_graceful_shutdown(stop_signal())
            .await
            .map_err(|e| format!("the server failed: {e}"));
        watcher.abort();
        result
    });
    drop(runtime);
    // The last handle on the queue goes with the app; the writer then drains it and stops.
    drop(app);
    writer.join();
    served
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C: finishing the requests in flight"),
        _ = term => tracing::info!("SIGTERM: finishing the requests in flight"),
    }
}
