//! `mlpc daemon`: one long-running process that serves the pipeline's `serve` blocks (the
//! serve crate, in-process), runs the pipeline on its cron `schedule`, checks its monitors
//! every `every` and acts on their alerts, reloads the `.mlp` file when it changes (keeping
//! the old program when the new one has errors), and stops on SIGTERM or Ctrl-C. With
//! `--kserve` the models serve on KServe instead, and the daemon drives their canaries there.

mod actions;
mod api;
pub mod kserve;
mod metrics;
mod monitor;
mod program;
mod runner;
mod timers;
mod window;

use mlpc_plan::Plan;
use program::Program;
use runner::{RunRequest, Runs};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

pub struct Options {
    pub file: PathBuf,
    pub state_dir: PathBuf,
    /// Where the models are served (as `mlpc serve --addr`).
    pub serve_addr: SocketAddr,
    /// The serving port's limits (body size, rows, timeouts, connections); the API's
    /// connections have the same.
    pub limits: mlpc_serve::Limits,
    /// How the served versions batch requests.
    pub batching: mlpc_serve::Batching,
    /// Where the daemon's API listens: `/metrics`, feedback, `/admin`.
    pub api_addr: SocketAddr,
    /// The admin API's bearer token; `None` turns the admin API off.
    pub admin_token: Option<String>,
    pub webhook: Option<String>,
    /// Run the pipeline once at start, before serving.
    pub now: bool,
    /// How often the daemon looks for due work and file changes.
    pub tick: Duration,
    /// Logged rows a monitor's window needs before its alerts are evaluated.
    pub min_rows: usize,
    pub jobs: usize,
    /// Serve nothing here: drive the canaries of the exported InferenceServices.
    pub kserve: Option<kserve::Options>,
}

/// Compiles the `.mlp` file; the error is the rendered diagnostics.
pub type Compile = Box<dyn Fn(&Path) -> Compiled + Send + Sync>;

/// What compiling the program gave: its plan or its errors (rendered), and every `.mlp`
/// file it read — the root and its imports, all watched for changes.
pub struct Compiled {
    pub plan: Result<Plan, String>,
    pub files: Vec<PathBuf>,
}

/// What the daemon's threads share.
pub struct Daemon {
    pub opts: Options,
    compile: Compile,
    program: RwLock<Arc<Program>>,
    stop: AtomicBool,
    status: Mutex<Status>,
    metrics: metrics::Metrics,
    runs: Mutex<Option<Runs>>,
    /// The server this process runs, once it listens.
    server: Mutex<Option<Serving>>,
}

/// The embedded server: a handle on it, how to stop it, and what it was started from.
struct Serving {
    handle: mlpc_serve::Handle,
    stop: tokio::sync::watch::Sender<&'static str>,
    thread: std::thread::JoinHandle<()>,
    addr: SocketAddr,
    fingerprint: String,
    /// The plan it was started from, to start again when a new one cannot start.
    plan: Plan,
}

impl Serving {
    /// Stops the server (the requests in flight finish) and waits for it.
    fn stop(self, why: &'static str) {
        let _ = self.stop.send(why);
        let _ = self.thread.join();
    }
}

#[derive(Default)]
struct Status {
    last_run: Option<String>,
    reload: Option<String>,
    checks: BTreeMap<String, monitor::Found>,
}

impl Daemon {
    fn program(&self) -> Arc<Program> {
        self.program.read().map_or_else(|p| p.into_inner().clone(), |p| p.clone())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_last_run(&self, line: String) {
        self.status().last_run = Some(line);
    }

    fn server(&self) -> std::sync::MutexGuard<'_, Option<Serving>> {
        self.server.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The request log, read through the server running now (or the file, with none).
    fn request_log(&self) -> window::Log {
        window::Log { server: self.server().as_ref().map(|s| s.handle.clone()), state: self.opts.state_dir.clone() }
    }

    /// Where run requests go; a closed queue once shutting down.
    fn runs(&self) -> Runs {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.clone().unwrap_or_else(Runs::closed)
    }

    fn status_json(&self) -> serde_json::Value {
        let program = self.program();
        let server = self.server().as_ref().map(|s| s.handle.clone());
        // On KServe, the gate driver's records (the same as the local server keeps).
        let canaries = match server {
            Some(h) => h.canaries().unwrap_or_default(),
            None => kserve::records(&self.opts.state_dir, &program.plan),
        };
        let s = self.status();
        serde_json::json!({
            "file": self.opts.file,
            "pipeline": program.plan.pipeline.as_ref().map(|p| &p.name),
            "schedule": program.plan.pipeline.as_ref().and_then(|p| p.schedule.as_ref()),
            "last_run": s.last_run,
            "last_reload": s.reload,
            "canaries": canaries,
            "monitors": program.monitors.iter().map(|m| serde_json::json!({
                "name": m.name, "model": m.registered, "every_ms": m.every.as_millis() as u64,
                "window_ms": m.window.as_millis() as u64, "last_check": s.checks.get(&m.name),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Runs until SIGTERM or Ctrl-C. `listening` is told what listens where.
pub fn run(opts: Options, compile: Compile, listening: impl Fn(&str, SocketAddr)) -> Result<(), String> {
    let compiled = compile(&opts.file);
    let watched = watch(compiled.files);
    let program = Program::new(compiled.plan?)?;
    if opts.admin_token.is_none() {
        tracing::warn!("the admin API is off: set MLPC_ADMIN_TOKEN or pass --admin-token-file to turn it on");
    }
    let daemon = Arc::new(Daemon {
        opts,
        compile,
        program: RwLock::new(Arc::new(program)),
        stop: AtomicBool::new(false),
        status: Mutex::default(),
        metrics: metrics::Metrics::new(),
        runs: Mutex::new(None),
        server: Mutex::new(None),
    });
    let (runs, run_thread) = runner::start(daemon.clone());
    if daemon.opts.now {
        // Before serving, so that the server finds the registry this run fills.
        runner::run(&daemon, RunRequest { reason: "--now".into(), rerun: Vec::new() });
    }
    *daemon.runs.lock().unwrap_or_else(|p| p.into_inner()) = Some(runs);
    // A fresh state folder gets its (empty) tracking store now, so the server starts and
    // serves each model once the first run registers and promotes it.
    drop(mlpc_runtime::Store::open(&daemon.opts.state_dir)?);
    let driver = match daemon.opts.kserve.clone() {
        Some(k) => Some(kserve::start(daemon.clone(), &k)?),
        None => {
            match start_serving(&daemon, daemon.program().plan.clone(), daemon.opts.serve_addr) {
                Ok(s) => {
                    listening("serving", s.addr);
                    *daemon.server() = Some(s);
                }
                Err(e) => tracing::error!("not serving: {e}; monitors and the schedule still run"),
            }
            None
        }
    };
    let ticker = {
        let d = daemon.clone();
        std::thread::spawn(move || tick_loop(&d, watched))
    };
    let served = serve_api(&daemon, &listening);
    daemon.stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    if let Some(driver) = driver {
        let _ = driver.join();
    }
    // The last queue handles go; the run thread finishes the run in progress, then ends.
    daemon.runs.lock().unwrap_or_else(|p| p.into_inner()).take();
    let _ = run_thread.join();
    if let Some(s) = daemon.server().take() {
        s.stop("the daemon stops");
    }
    tracing::info!("stopped");
    served
}

/// The serve crate's server for `plan` on its own thread, once it listens.
fn start_serving(d: &Daemon, plan: Plan, addr: SocketAddr) -> Result<Serving, String> {
    let fingerprint = mlpc_serve::fingerprint(&plan)?;
    let kept = plan.clone();
    let opts = mlpc_serve::Options {
        state_dir: d.opts.state_dir.clone(),
        addr,
        grpc_addr: None,
        limits: d.opts.limits.clone(),
        batching: d.opts.batching,
    };
    let (stop, mut stopping) = tokio::sync::watch::channel("");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let told = tx.clone();
        // Resolves when told to stop, or when the daemon lets go of the sender.
        let stopped = async move {
            let _ = stopping.changed().await;
            let why = *stopping.borrow();
            why.to_string()
        };
        if let Err(e) = mlpc_serve::serve(&plan, &opts, move |bound, h| drop(told.send(Ok((bound.http, h)))), stopped) {
            let _ = tx.send(Err(e.to_string()));
        }
    });
    match rx.recv() {
        Ok(Ok((addr, handle))) => Ok(Serving { handle, stop, thread, addr, fingerprint, plan: kept }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err("the server's thread ended before it listened".into()),
    }
}

/// After a reload: when what the server takes from the plan changed (a `serve` block, the
/// features or inputs it fills), a new server takes over on the same address; when it
/// cannot start, the old plan is served again. Monitors, which read through the server,
/// run on this same thread, so none reads meanwhile.
fn reserve_if_changed(d: &Daemon, plan: &Plan) {
    let fingerprint = mlpc_serve::fingerprint(plan);
    let running = d.server().take();
    if let (Some(s), Ok(f)) = (&running, &fingerprint) {
        if s.fingerprint == *f {
            *d.server() = running;
            return;
        }
    }
    let addr = running.as_ref().map_or(d.opts.serve_addr, |s| s.addr);
    let old = running.map(|s| {
        let plan = s.plan.clone();
        s.stop("the serve blocks changed");
        plan
    });
    let started = match start_serving(d, plan.clone(), addr) {
        Ok(s) => {
            tracing::info!("serving the changed serve blocks on http://{}", s.addr);
            Some(s)
        }
        Err(e) => {
            tracing::error!("cannot serve the changed plan: {e}");
            old.and_then(|p| {
                start_serving(d, p, addr)
                    .inspect(|_| tracing::warn!("serving the previous serve blocks again"))
                    .inspect_err(|e| tracing::error!("not serving: {e}"))
                    .ok()
            })
        }
    };
    *d.server() = started;
}

/// The daemon's API until a stop signal.
fn serve_api(d: &Arc<Daemon>, listening: &impl Fn(&str, SocketAddr)) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the daemon's runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(d.opts.api_addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e} (pick another with --api-addr)", d.opts.api_addr))?;
        listening("api", listener.local_addr().map_err(|e| e.to_string())?);
        // The API needs few connections: the rest of the open-file limit is the serving port's.
        let fitted = mlpc_serve::fitted(&d.opts.limits);
        let limits = mlpc_serve::Limits { max_connections: fitted.max_connections.min(256), ..fitted };
        let stop = async { tracing::info!("{}: stopping", mlpc_serve::stop_signal().await) };
        let counters = mlpc_serve::http::Counters::default();
        mlpc_serve::http::serve(
            listener,
            api::router(d.clone()),
            limits,
            counters,
            mlpc_serve::http::plain_error,
            stop,
        )
        .await;
        Ok(())
    })
}

/// When each kind of work is next due: a change of the file, and the timed work.
struct Due {
    /// Each file of the program, as last compiled, with when it was modified.
    files: Vec<(PathBuf, Option<SystemTime>)>,
    timers: timers::Timers,
}

impl Due {
    fn new(files: Vec<(PathBuf, Option<SystemTime>)>, p: &Program) -> Due {
        let monitors = p.monitors.iter().map(|m| (m.name.as_str(), m.every));
        let clock = Arc::new(mlpc_serve::clock::System);
        Due { files, timers: timers::Timers::new(clock, p.schedule.as_ref(), monitors) }
    }
}

/// Each file with when it was last modified.
fn watch(files: Vec<PathBuf>) -> Vec<(PathBuf, Option<SystemTime>)> {
    files
        .into_iter()
        .map(|f| {
            let at = modified(&f);
            (f, at)
        })
        .collect()
}

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

fn tick_loop(d: &Arc<Daemon>, watched: Vec<(PathBuf, Option<SystemTime>)>) {
    let mut due = Due::new(watched, &d.program());
    while !d.stopping() {
        reload_if_changed(d, &mut due);
        let program = d.program();
        if due.timers.schedule_fires(program.schedule.as_ref()) {
            if let Err(e) = d.runs().request(RunRequest { reason: "schedule".into(), rerun: Vec::new() }) {
                tracing::warn!("{e}");
            }
        }
        for m in &program.monitors {
            if due.timers.monitor_due(&m.name, m.every) {
                check_monitor(d, m);
            }
        }
        std::thread::sleep(d.opts.tick);
    }
}

fn check_monitor(d: &Daemon, m: &program::Monitor) {
    let found = monitor::check(&d.opts.state_dir, &d.request_log(), m, d.opts.min_rows);
    match found.status.as_str() {
        "error" => tracing::error!(monitor = %m.name, "{}", found.message),
        _ => tracing::info!(monitor = %m.name, rows = found.rows, status = %found.status, "{}", found.message),
    }
    let alerts = actions::Alerts { state: d.opts.state_dir.clone(), webhook: d.opts.webhook.clone(), runs: d.runs() };
    for f in &found.fired {
        alerts.fire(f, m);
    }
    d.metrics.observe(&found);
    d.status().checks.insert(m.name.clone(), found);
}

/// Recompiles when a file of the program (the root or an import) changed; on errors the
/// running program stays.
fn reload_if_changed(d: &Daemon, due: &mut Due) {
    if due.files.iter().all(|(f, at)| modified(f) == *at) {
        return;
    }
    let compiled = (d.compile)(&d.opts.file);
    due.files = watch(compiled.files);
    let line = match compiled.plan.and_then(Program::new) {
        Ok(p) => {
            let p = Arc::new(p);
            *due = Due::new(std::mem::take(&mut due.files), &p);
            *d.program.write().unwrap_or_else(|e| e.into_inner()) = p.clone();
            tracing::info!("reloaded {}", d.opts.file.display());
            if d.opts.kserve.is_none() {
                reserve_if_changed(d, &p.plan);
            }
            "reloaded".to_string()
        }
        Err(e) => {
            tracing::error!("{} has errors; keeping the running program:\n{e}", d.opts.file.display());
            format!("kept the running program: {e}")
        }
    };
    d.status().reload = Some(line);
}
