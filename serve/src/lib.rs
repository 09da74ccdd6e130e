//! `mlpc serve`: the registered models of a pipeline's `serve` blocks on ONNX Runtime,
//! behind the Open Inference Protocol v2, MLflow's scoring protocol and plain JSON, with
//! Prometheus metrics, a request log, and stage changes picked up without a restart;
//! new versions roll out as canaries, a shadow version sees copies of the traffic, the
//! previous version answers when the serving one fails, and labels come back as feedback.

mod app;
mod batcher;
mod binary;
mod canary;
pub mod clock;
mod error;
mod features;
mod feedback;
mod gates;
mod grpc;
pub mod http;
mod input;
mod live_metrics;
mod metrics;
mod mlflow;
mod model;
mod oip;
mod predict;
mod reply;
pub mod request_log;
mod router;
mod row_features;
mod shadow;
mod spec;
mod status;
mod watch;

use app::App;
use mlpc_plan::Plan;
use request_log::RequestLog;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use batcher::Batching;
pub use canary::{
    decide as canary_decide, judge as canary_judge, load as canary_state, move_stage_back as canary_move_stage_back,
    started as canary_started, Config as CanaryConfig, Outcome, Phase, Record, Verdict, BY as CANARY_BY,
};
pub use gates::Gate;
pub use http::Limits;
pub use live_metrics::{Live, Window as LiveWindow};

/// Request decoding without a server (for the fuzz target, `fuzz/fuzz_targets/decode.rs`):
/// each protocol's body, as bytes, to the frame a model with `inputs` takes, or the error
/// status and message the server would answer.
pub mod decode {
    use crate::error::{json_body, ApiError};
    use crate::input::Columns;
    pub use mlpc_train::scorer::{Port, TensorElementType};
    pub use mlpc_train::Frame;

    fn frame(
        columns: Result<Columns, ApiError>,
        inputs: &[Port],
        ints: &[String],
        max_rows: usize,
    ) -> Result<Frame, (u16, String)> {
        let columns = columns.map_err(|e| (e.status.as_u16(), e.message))?;
        if columns.rows > max_rows {
            return Err((413, format!("the request has {} rows; this server takes at most {max_rows}", columns.rows)));
        }
        columns.to_frame(inputs, ints).map_err(|e| (e.status.as_u16(), e.message))
    }

    fn body(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
        json_body(Ok(axum::body::Bytes::copy_from_slice(bytes)))
    }

    /// An Open Inference Protocol `infer` body.
    pub fn oip(bytes: &[u8], inputs: &[Port], ints: &[String], max_rows: usize) -> Result<Frame, (u16, String)> {
        frame(body(bytes).and_then(|v| crate::oip::tensors(&v, inputs, max_rows)), inputs, ints, max_rows)
    }

    /// An Open Inference Protocol `infer` body in the binary tensor data extension, its
    /// JSON header `header_length` bytes long (`Inference-Header-Content-Length`).
    pub fn oip_binary(
        bytes: &[u8],
        header_length: usize,
        inputs: &[Port],
        ints: &[String],
        max_rows: usize,
    ) -> Result<Frame, (u16, String)> {
        let length = axum::http::HeaderValue::from(header_length);
        let request = crate::binary::request(bytes, &length, max_rows).map_err(ApiError::from);
        frame(request.and_then(|v| crate::oip::tensors(&v, inputs, max_rows)), inputs, ints, max_rows)
    }

    /// An MLflow `/invocations` body.
    pub fn mlflow(bytes: &[u8], inputs: &[Port], ints: &[String], max_rows: usize) -> Result<Frame, (u16, String)> {
        frame(
            body(&crate::mlflow::python_nan_as_null(bytes)).and_then(|v| crate::mlflow::columns(&v)),
            inputs,
            ints,
            max_rows,
        )
    }

    /// A `/v1/models/NAME/predict` body.
    pub fn predict(bytes: &[u8], inputs: &[Port], ints: &[String], max_rows: usize) -> Result<Frame, (u16, String)> {
        frame(body(bytes).and_then(|v| crate::predict::columns(&v)), inputs, ints, max_rows)
    }
}

/// How often the server's own timer looks for canaries whose interval has passed.
const TICK: Duration = Duration::from_millis(250);

pub struct Options {
    /// The state folder: registry, artifacts, and the request log the server writes.
    pub state_dir: PathBuf,
    pub addr: SocketAddr,
    /// Where the Open Inference Protocol's gRPC service listens, if anywhere (`--grpc-addr`).
    pub grpc_addr: Option<SocketAddr>,
    /// Body size, rows per request, timeouts and connections.
    pub limits: Limits,
    /// How requests are batched; `sessions` zero means one per core.
    pub batching: Batching,
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
    /// before; the file is held by that one connection. On a shared store, `read` gets
    /// every replica's rows logged since `since_micros`. Blocking: call it off async threads.
    pub fn read_log<T: Send + 'static>(
        &self,
        since_micros: i64,
        read: impl FnOnce(&duckdb::Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        self.app()?.log.as_ref().ok_or("no request log is open")?.read(since_micros, read)
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The plan has no `serve` block, or one that cannot be served.
    #[error("{0}")]
    Plan(String),
    #[error("{0}")]
    OnnxRuntime(String),
    /// The registry or the request log could not be read or opened.
    #[error("{0}")]
    State(String),
    #[error("cannot start the server's runtime: {0}")]
    Runtime(std::io::Error),
    /// `flag` names the option that chose the address.
    #[error("cannot listen on {addr}: {source} (is another server there? pick one with {flag})")]
    Listen { addr: SocketAddr, flag: &'static str, source: std::io::Error },
}

/// For callers that report errors as text.
impl From<ServeError> for String {
    fn from(e: ServeError) -> String {
        e.to_string()
    }
}

/// The addresses the server listens on.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub http: SocketAddr,
    pub grpc: Option<SocketAddr>,
}

/// Serves until SIGTERM or Ctrl-C; `listening` is told the bound addresses first.
pub fn run(plan: &Plan, opts: &Options, listening: impl FnOnce(Bound)) -> Result<(), ServeError> {
    serve(plan, opts, |bound, _| listening(bound), async { stop_signal().await.to_string() })
}

/// What the server takes from a plan (its `serve` blocks as read), to tell whether a new
/// plan needs a new server; an error when the plan has no servable block.
pub fn fingerprint(plan: &Plan) -> Result<String, String> {
    Ok(format!("{:?}", spec::specs(plan)?))
}

/// Serves until `stop` resolves (to the reason, logged), finishing the requests in flight
/// on both HTTP and gRPC; `ready` is given the bound addresses and a [`Handle`] on the
/// server first.
pub fn serve(
    plan: &Plan,
    opts: &Options,
    ready: impl FnOnce(Bound, Handle),
    stop: impl std::future::Future<Output = String> + Send + 'static,
) -> Result<(), ServeError> {
    let specs = spec::specs(plan).map_err(ServeError::Plan)?;
    // Where training finds it too: `$MLPC_LIB_DIR`, else the checkout's `.deps/lib`.
    mlpc_runtime::ort_ready().map_err(ServeError::OnnxRuntime)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batching = Batching {
        sessions: if opts.batching.sessions == 0 { cores } else { opts.batching.sessions },
        ..opts.batching
    };
    let limits = fitted(&opts.limits);
    let mut app = App::new(specs, &opts.state_dir, batching, limits.max_rows);
    app.reload().map_err(ServeError::State)?;
    let requests = opts.state_dir.join("requests.duckdb");
    let shared = request_log::Shared::open(&opts.state_dir).map_err(ServeError::State)?;
    let (log, writer) =
        RequestLog::start(&requests, shared, app.metrics.log_dropped.clone()).map_err(ServeError::State)?;
    app.log = Some(log);
    let app = Arc::new(app);
    let runtime = tokio::runtime::Runtime::new().map_err(ServeError::Runtime)?;
    let served = runtime.block_on(async {
        let (listener, http) = bind(opts.addr, "--addr").await?;
        let grpc = match opts.grpc_addr {
            Some(addr) => Some(bind(addr, "--grpc-addr").await?),
            None => None,
        };
        ready(Bound { http, grpc: grpc.as_ref().map(|(_, a)| *a) }, Handle(Arc::downgrade(&app)));
        let watcher = tokio::spawn(watch::changes(app.clone()));
        let ticker = tokio::spawn(ticks(app.clone()));
        let routes = router::router(app.clone(), limits.max_body);
        // One stop for both servers: HTTP's awaits it, and tells gRPC's.
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let stop = async move {
            tracing::info!("{}: finishing the requests in flight", stop.await);
            let _ = stopping.send(true);
        };
        let grpc = async {
            if let Some((listener, _)) = grpc {
                let stop = async move { drop(stopped.wait_for(|s| *s).await) };
                grpc::serve(listener, app.clone(), limits.max_body, stop).await;
            }
        };
        let http =
            http::serve(listener, routes, limits.clone(), app.metrics.connections.clone(), reply::error_shape, stop);
        tokio::join!(http, grpc);
        watcher.abort();
        ticker.abort();
        Ok(())
    });
    drop(runtime);
    // The last handle on the queue goes with the app; the writer then drains it and stops.
    drop(app);
    writer.join();
    served
}

/// A listener on `addr` (which `flag` chose), and the address it is bound to.
async fn bind(addr: SocketAddr, flag: &'static str) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    let listen = |source| ServeError::Listen { addr, flag, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    Ok((listener, bound))
}

/// The limits with `max_connections` lowered, if need be, to fit the open-file limit.
pub fn fitted(limits: &Limits) -> Limits {
    let files = http::open_file_limit();
    let cap = http::connection_cap(limits.max_connections, files);
    if cap < limits.max_connections {
        tracing::warn!(
            "--max-connections {} lowered to {cap}: the open-file limit (ulimit -n) is {}, and the server keeps some for its own files",
            limits.max_connections,
            files.unwrap_or_default()
        );
    }
    Limits { max_connections: cap, ..limits.clone() }
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
