//! Pipeline runs, one at a time on their own thread (the tracking store has one writer):
//! the cron schedule, `--now`, the admin API and `then retrain` all queue a request here.

use crate::Daemon;
use std::sync::mpsc;
use std::sync::Arc;

/// Why to run, and which nodes to rerun even when cached (with what reads them).
#[derive(Debug)]
pub struct RunRequest {
    pub reason: String,
    pub rerun: Vec<String>,
}

/// Where run requests go.
#[derive(Clone)]
pub struct Runs(mpsc::Sender<RunRequest>);

impl Runs {
    /// A queue that takes nothing: run requests after shutdown began.
    pub fn closed() -> Runs {
        Runs(mpsc::channel().0)
    }

    pub fn request(&self, r: RunRequest) -> Result<(), String> {
        self.0.send(r).map_err(|_| "the daemon is shutting down: no new run".to_string())
    }
}

/// The run thread; it ends when the last `Runs` is dropped and the queue is empty.
pub fn start(daemon: Arc<Daemon>) -> (Runs, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<RunRequest>();
    let handle = std::thread::spawn(move || {
        while let Ok(request) = rx.recv() {
            if daemon.stopping() {
                tracing::info!("shutting down: skipping the run for {}", request.reason);
                continue;
            }
            run(&daemon, request);
        }
    });
    (Runs(tx), handle)
}

/// Runs the current program now, on this thread.
pub fn run(daemon: &Daemon, request: RunRequest) {
    let program = daemon.program();
    let opts = mlpc_runtime::Options {
        file: daemon.opts.file.to_string_lossy().to_string(),
        base_dir: daemon.opts.file.parent().map_or_else(|| ".".into(), std::path::Path::to_path_buf),
        state_dir: daemon.opts.state_dir.clone(),
        force: false,
        rerun: request.rerun.clone(),
        jobs: daemon.opts.jobs,
        only: None,
        engine: mlpc_runtime::Engine::DuckDb,
    };
    tracing::info!(rerun = ?request.rerun, "run started: {}", request.reason);
    let line = match mlpc_runtime::run(&program.plan, &opts, &mut |_| {}) {
        Ok(report) => {
            let count = |s| report.nodes.iter().filter(|n| n.status == s).count();
            let ran: Vec<&str> =
                report.nodes.iter().filter(|n| n.status == mlpc_runtime::Status::Ran).map(|n| n.id.as_str()).collect();
            for n in report.nodes.iter().filter(|n| n.status == mlpc_runtime::Status::Failed) {
                tracing::error!(node = %n.id, "{}", n.message);
            }
            let line = format!(
                "run {} {}: {} ran, {} cached, {} failed ({})",
                report.run_id,
                report.status,
                ran.len(),
                count(mlpc_runtime::Status::Cached),
                count(mlpc_runtime::Status::Failed),
                request.reason
            );
            tracing::info!(ran = ?ran, "{line}");
            line
        }
        Err(e) => {
            tracing::error!("run failed ({}): {e}", request.reason);
            format!("run failed ({}): {e}", request.reason)
        }
    };
    daemon.set_last_run(line);
}
