//! The served models and what requests share: each name's current version behind an
//! atomic swap, its canary, shadow and fallback versions, online features, counters, and
//! the one path every protocol's prediction takes (route, fill features, check, score,
//! fall back, count, log, mirror).

use crate::batcher::Batching;
use crate::canary::{self, Phase, Record, Rollout};
use crate::clock::now_micros;
use crate::clock::{self, Clock};
use crate::error::ApiError;
use crate::features::{self, Online};
use crate::input::Columns;
use crate::metrics::{Metrics, ModelName, ModelOutcome, ModelVersion};
use crate::model::{LoadError, Loaded};
use crate::request_log::{Entry, Failure, RequestLog};
use crate::shadow::Shadow;
use crate::spec::Spec;
use arc_swap::{ArcSwap, ArcSwapOption};
use mlpc_runtime::{registry, Store};
use mlpc_train::scorer::Output;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What a name serves now.
pub enum Slot {
    Ready(Arc<Loaded>),
    /// Not ready, and why (no version in the stage, a refused artifact, …).
    NotReady(String),
}

/// Triton-style statistics of one name.
#[derive(Default)]
pub struct Stats {
    pub success: AtomicU64,
    pub success_ns: AtomicU64,
    pub fail: AtomicU64,
    pub fail_ns: AtomicU64,
    pub rows: AtomicU64,
    pub last_ms: AtomicU64,
}

pub struct Served {
    pub spec: Spec,
    slot: ArcSwap<Slot>,
    online: ArcSwapOption<Online>,
    pub stats: Stats,
    /// The version that served before the current one, for `fallback = previous`.
    pub previous: ArcSwapOption<Loaded>,
    pub shadow: Arc<Shadow>,
    /// The latest canary, running or finished.
    pub rollout: ArcSwapOption<Rollout>,
    /// Why the version serving is not the stage's (its artifact was refused), when it is not.
    pub degraded: ArcSwapOption<String>,
    /// Why no online table is loaded, when one was refused (its sha256 did not match).
    pub online_refused: ArcSwapOption<String>,
}

impl Served {
    pub fn slot(&self) -> Arc<Slot> {
        self.slot.load_full()
    }

    /// The version serving now, or 503 saying why there is none.
    pub fn ready(&self) -> Result<Arc<Loaded>, ApiError> {
        match &**self.slot.load() {
            Slot::Ready(m) => Ok(m.clone()),
            Slot::NotReady(why) => Err(ApiError::unavailable(format!("`{}` is not ready: {why}", self.spec.name))),
        }
    }

    /// Why the name cannot answer every request, though a version is loaded: its online
    /// table was refused.
    pub fn problem(&self) -> Option<String> {
        match self.online.load().as_ref() {
            Some(_) => None,
            None => self.online_refused.load_full().map(|why| why.to_string()),
        }
    }

    /// A version path segment checked against the version serving now.
    pub fn version(&self, asked: Option<&str>) -> Result<Arc<Loaded>, ApiError> {
        let m = self.ready()?;
        match asked {
            Some(v) if v != m.version.to_string() => Err(ApiError::not_found(format!(
                "version {v} of `{}` is not served; {} serves version {}",
                self.spec.name, self.spec.stage, m.version
            ))),
            _ => Ok(m),
        }
    }
}

type Scored = Arc<Vec<(String, Output)>>;

/// A prediction made.
pub struct Inference {
    pub loaded: Arc<Loaded>,
    pub outputs: Arc<Vec<(String, Output)>>,
    pub rows: usize,
    pub request_id: String,
}

pub struct App {
    pub models: Vec<Arc<Served>>,
    pub metrics: Metrics,
    pub state: PathBuf,
    pub log: Option<RequestLog>,
    /// The most rows one request may hold (`--max-rows`).
    pub max_rows: usize,
    /// How each version's sessions batch requests.
    batching: Batching,
    /// What canary intervals are read on.
    clock: Arc<dyn Clock>,
    started_ms: u64,
    seq: AtomicU64,
}

/// What the registry and the latest run say each name should serve, read in one short
/// visit to the tracking store.
struct Wanted {
    version: Result<Target, String>,
    online: Option<Result<features::Files, String>>,
    /// The shadow stage's version, when the block names one.
    shadow: Option<Result<Target, String>>,
    /// A canary of the stage's version that was running (or failed) before a restart, and
    /// its stable version.
    resume: Option<(Record, Result<Target, String>)>,
    /// With `fallback = previous`: the version the stage held before its last promotion;
    /// None when it held none, or was rolled back (the version rolled back from is no fallback).
    previous: Option<Result<Target, String>>,
    /// That same version whatever the block says: it serves when the stage's own version is
    /// refused at start (a tampered artifact must not turn a restart into an outage).
    before: Option<Result<Target, String>>,
}

/// A registered version and where its artifact is.
struct Target {
    version: i64,
    sha: String,
    path: PathBuf,
    /// The stage was rolled back to this version: it takes all traffic at once, no canary.
    rolled_back: bool,
}

impl App {
    pub fn new(specs: Vec<Spec>, state: &Path, batching: Batching, max_rows: usize) -> App {
        let models = specs
            .into_iter()
            .map(|spec| {
                Arc::new(Served {
                    slot: ArcSwap::from_pointee(Slot::NotReady("not loaded yet".into())),
                    online: ArcSwapOption::empty(),
                    stats: Stats::default(),
                    previous: ArcSwapOption::empty(),
                    shadow: Arc::default(),
                    rollout: ArcSwapOption::empty(),
                    degraded: ArcSwapOption::empty(),
                    online_refused: ArcSwapOption::empty(),
                    spec,
                })
            })
            .collect();
        App {
            models,
            metrics: Metrics::new(),
            state: state.to_path_buf(),
            log: None,
            max_rows,
            batching,
            clock: Arc::new(clock::System),
            started_ms: (now_micros() / 1000) as u64,
            seq: AtomicU64::new(0),
        }
    }

    pub fn served(&self, name: &str) -> Result<&Arc<Served>, ApiError> {
        self.models.iter().find(|m| m.spec.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.models.iter().map(|m| m.spec.name.as_str()).collect();
            ApiError::not_found(format!("no model `{name}` is served here; served: {}", names.join(", ")))
        })
    }

    /// A request id: the caller's, else one unique to this server: its start time and
    /// process id (replicas started in the same millisecond log to one shared store, where
    /// labels are joined by id), then a counter.
    pub fn request_id(&self, given: Option<&str>) -> String {
        given.map(String::from).unwrap_or_else(|| {
            format!("{:x}.{:x}-{}", self.started_ms, std::process::id(), self.seq.fetch_add(1, Ordering::Relaxed))
        })
    }

    /// Reads the registry and loads what changed; the versions serving keep serving until a
    /// replacement has loaded and passed its integrity check. Blocking: call off the
    /// request path.
    pub fn reload(&self) -> Result<(), String> {
        let wanted = self.wanted()?;
        for (served, want) in self.models.iter().zip(wanted) {
            match want.resume {
                Some((record, stable)) if !matches!(&*served.slot(), Slot::Ready(_)) => {
                    self.resume(served, want.version, record, stable)
                }
                _ => self.reload_model(served, want.version, want.before),
            }
            if let Some(shadow) = want.shadow {
                self.reload_shadow(served, shadow);
            }
            if served.spec.fallback {
                self.reload_previous(served, want.previous);
            }
            if let Some(files) = want.online {
                self.reload_online(served, files);
            }
        }
        Ok(())
    }

    fn wanted(&self) -> Result<Vec<Wanted>, String> {
        let store = Store::open_read_only(&self.state)?;
        let summaries = registry::models(&store)?;
        let target = |name: &str, version: i64| -> Result<Target, String> {
            let sha = registry::version(&store, name, version)?.artifact_sha256;
            Ok(Target { version, path: store.artifact(&sha, "onnx")?, sha, rolled_back: false })
        };
        let holder = |name: &str, stage: &str| summaries.iter().find(|s| s.name == name)?.stages.get(stage).copied();
        let read = |spec: &Spec, last: Option<&registry::StageMove>| -> Result<Target, String> {
            let Some(summary) = summaries.iter().find(|s| s.name == spec.name) else {
                return Err(format!(
                    "`{}` is not in the registry in {}: `mlpc run` the pipeline so its register block registers a version",
                    spec.name,
                    self.state.display()
                ));
            };
            let Some(&version) = summary.stages.get(&spec.stage) else {
                return Err(format!(
                    "no version of `{}` is in {}: move one there with `mlpc promote {} VERSION --stage {}` or `mlpc approve`",
                    spec.name, spec.stage, spec.name, spec.stage
                ));
            };
            let rolled_back = last.is_some_and(|m| m.kind == "rollback" && m.to == version);
            Ok(Target { rolled_back, ..target(&spec.name, version)? })
        };
        let resume = |spec: &Spec| {
            spec.canary.as_ref()?;
            let record = canary::load(&self.state, &spec.name)
                .filter(|r| matches!(r.phase, Phase::Running | Phase::RolledBack))
                .filter(|r| holder(&spec.name, &spec.stage) == Some(r.candidate))?;
            let stable = target(&spec.name, record.stable);
            Some((record, stable))
        };
        let before = |spec: &Spec, last: Option<&registry::StageMove>| {
            let from = last.filter(|m| m.kind != "rollback")?.from?;
            Some(target(&spec.name, from))
        };
        let shadow = |spec: &Spec| {
            let stage = spec.shadow.as_ref()?;
            Some(
                holder(&spec.name, stage)
                    .ok_or_else(|| format!("no version is in {stage}"))
                    .and_then(|v| target(&spec.name, v)),
            )
        };
        self.models
            .iter()
            .map(|m| {
                let last = registry::last_move(&store, &m.spec.name, &m.spec.stage)?;
                Ok(Wanted {
                    version: read(&m.spec, last.as_ref()),
                    online: m.spec.features.as_ref().map(|f| features::locate(&store, f)),
                    shadow: shadow(&m.spec),
                    resume: resume(&m.spec),
                    previous: before(&m.spec, last.as_ref()).filter(|_| m.spec.fallback),
                    before: before(&m.spec, last.as_ref()),
                })
            })
            .collect()
    }

    /// Loads a version, counting loads and integrity refusals.
    fn load(&self, name: &str, t: &Target) -> Result<Arc<Loaded>, LoadError> {
        let labels = ModelVersion { model: name.into(), version: t.version.to_string() };
        let calls = self.metrics.batch_rows.get_or_create(&labels).clone();
        let loaded = Loaded::load(name, t.version, &t.path, &t.sha, (self.batching, calls)).inspect_err(|e| {
            if let LoadError::Integrity(_) = e {
                self.metrics.integrity_refusals.get_or_create(&ModelName { model: name.into() }).inc();
            }
        })?;
        self.metrics.loads.get_or_create(&labels).inc();
        Ok(Arc::new(loaded))
    }

    fn reload_model(&self, served: &Served, want: Result<Target, String>, before: Option<Result<Target, String>>) {
        let name = &served.spec.name;
        let want = match want {
            Ok(w) => w,
            Err(why) => {
                if let Slot::Ready(m) = &*served.slot() {
                    tracing::warn!(model = %name, version = m.version, "{why}; the version loaded keeps serving");
                } else {
                    tracing::warn!(model = %name, "not ready: {why}");
                    served.slot.store(Arc::new(Slot::NotReady(why)));
                }
                return;
            }
        };
        let current = served.slot();
        let rollout = served.rollout.load_full();
        if let Slot::Ready(m) = &*current {
            if m.version == want.version && m.sha256 == want.sha {
                served.degraded.store(None);
                if let Some(r) = rollout.filter(|r| r.running()) {
                    r.supersede(&self.state, format!("{} moved back to version {}", served.spec.stage, m.version));
                }
                return;
            }
        }
        if let Some(r) = rollout.as_ref().filter(|r| r.candidate.version == want.version) {
            match r.record().phase {
                Phase::Running => return,
                Phase::RolledBack => {
                    return tracing::warn!(model = %name, version = want.version, "version {} failed its canary and is not served, though {} still holds it", want.version, served.spec.stage)
                }
                Phase::Promoted | Phase::Superseded => {}
            }
        }
        let loaded = match self.load(name, &want) {
            Ok(m) => m,
            Err(e) => {
                match &*current {
                    Slot::Ready(old) => {
                        tracing::error!(model = %name, version = want.version, "{e}; version {} keeps serving", old.version)
                    }
                    Slot::NotReady(_) => match (&e, before) {
                        (LoadError::Integrity(_), Some(before)) => self.fall_back(served, &e, before),
                        _ => {
                            tracing::error!(model = %name, version = want.version, "{e}");
                            served.slot.store(Arc::new(Slot::NotReady(e.to_string())));
                        }
                    },
                }
                return;
            }
        };
        served.degraded.store(None);
        if let Some(r) = rollout.filter(|r| r.running()) {
            r.supersede(&self.state, format!("{} moved on to version {}", served.spec.stage, want.version));
        }
        match (&*current, &served.spec.canary) {
            (Slot::Ready(stable), Some(config)) if !want.rolled_back => {
                let (stable, clock) = (stable.clone(), self.clock.clone());
                let r = Rollout::start(&self.state, &served.spec.stage, config.clone(), stable, loaded, None, clock);
                served.rollout.store(Some(Arc::new(r)));
            }
            _ => self.swap(served, loaded),
        }
    }

    /// With nothing serving and the stage's version refused (`refused`): the version the
    /// stage held before serves, saying why on readiness and in the log; if that one cannot
    /// load either, not ready with both reasons.
    fn fall_back(&self, served: &Served, refused: &LoadError, before: Result<Target, String>) {
        let name = &served.spec.name;
        match before.and_then(|t| self.load(name, &t).map_err(|e| e.to_string())) {
            Ok(m) => {
                let why = format!("version {} serves: {refused}", m.version);
                tracing::error!(model = %name, "{why}; fix or replace the artifact, or move the stage to another version");
                self.swap(served, m);
                served.degraded.store(Some(Arc::new(why)));
            }
            Err(e) => {
                tracing::error!(model = %name, "{refused}; the version before it cannot serve either: {e}");
                served.slot.store(Arc::new(Slot::NotReady(format!(
                    "{refused}; the version before it cannot serve either: {e}"
                ))));
            }
        }
    }

    /// Serves `loaded` from now on; the version it replaces becomes the previous one.
    fn swap(&self, served: &Served, loaded: Arc<Loaded>) {
        let current = served.slot();
        let from = match &*current {
            Slot::Ready(old) => {
                served.previous.store(Some(old.clone()));
                format!("version {}", old.version)
            }
            Slot::NotReady(_) => "nothing".into(),
        };
        tracing::info!(model = %served.spec.name, version = loaded.version, stage = %served.spec.stage, "serving version {} (was {from})", loaded.version);
        served.slot.store(Arc::new(Slot::Ready(loaded)));
    }

    /// After a restart in the middle of a canary: the stable version serves again and the
    /// canary goes on at its step (or, when it had failed, the candidate stays out).
    fn resume(&self, served: &Served, want: Result<Target, String>, record: Record, stable: Result<Target, String>) {
        let name = &served.spec.name;
        let stable = match stable.and_then(|t| self.load(name, &t).map_err(|e| e.to_string())) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(model = %name, "cannot load the canary's stable version {}: {e}", record.stable);
                return self.reload_model(served, want, None);
            }
        };
        self.swap(served, stable.clone());
        let (Phase::Running, Ok(want), Some(config)) = (record.phase, want, &served.spec.canary) else {
            return tracing::warn!(model = %name, "version {} failed its canary; version {} serves", record.candidate, record.stable);
        };
        match self.load(name, &want) {
            Ok(candidate) => {
                let (config, clock) = (config.clone(), self.clock.clone());
                let r = Rollout::start(&self.state, &served.spec.stage, config, stable, candidate, Some(record), clock);
                served.rollout.store(Some(Arc::new(r)));
            }
            Err(e) => tracing::error!(model = %name, "the canary's candidate cannot load: {e}"),
        }
    }

    /// Keeps the fallback version the registry names (a swap has usually loaded it already:
    /// the version it replaced).
    fn reload_previous(&self, served: &Served, want: Option<Result<Target, String>>) {
        let name = &served.spec.name;
        let t = match want {
            None => return served.previous.store(None),
            Some(Err(e)) => return tracing::warn!(model = %name, "no fallback version: {e}"),
            Some(Ok(t)) => t,
        };
        if served.previous.load().as_ref().is_some_and(|p| p.version == t.version && p.sha256 == t.sha) {
            return;
        }
        match self.load(name, &t) {
            Ok(m) => {
                tracing::info!(model = %name, version = m.version, "version {} answers when the serving one fails", m.version);
                served.previous.store(Some(m));
            }
            Err(e) => tracing::warn!(model = %name, "no fallback version: {e}"),
        }
    }

    fn reload_shadow(&self, served: &Served, want: Result<Target, String>) {
        let name = &served.spec.name;
        let current = served.shadow.loaded.load_full();
        match want {
            Ok(t) if current.as_ref().is_some_and(|c| c.version == t.version && c.sha256 == t.sha) => {}
            Ok(t) => match self.load(name, &t) {
                Ok(m) => {
                    tracing::info!(model = %name, version = t.version, "shadowing version {}", t.version);
                    served.shadow.reset();
                    served.shadow.loaded.store(Some(m));
                }
                Err(e) => tracing::error!(model = %name, version = t.version, "no shadow: {e}"),
            },
            Err(why) => {
                if current.is_some() {
                    tracing::info!(model = %name, "shadowing stops: {why}");
                }
                served.shadow.loaded.store(None);
            }
        }
    }

    fn reload_online(&self, served: &Served, files: Result<features::Files, String>) {
        let name = &served.spec.name;
        let files = match files {
            Ok(f) => f,
            Err(e) => return tracing::warn!(model = %name, "no online features: {e}"),
        };
        if served.online.load().as_ref().is_some_and(|o| o.shas == files.shas) {
            return;
        }
        let Some(source) = &served.spec.features else { return };
        match Online::load(source, files) {
            Ok(o) => {
                tracing::info!(model = %name, view = %source.view, entities = o.entities(), "online features loaded");
                served.online.store(Some(Arc::new(o)));
                served.online_refused.store(None);
            }
            Err(features::LoadError::Integrity(e)) => {
                self.metrics.integrity_refusals.get_or_create(&ModelName { model: name.clone() }).inc();
                let kept = if served.online.load().is_some() { "; the table loaded before keeps serving" } else { "" };
                tracing::error!(model = %name, view = %source.view, "{e}{kept}");
                served.online_refused.store(Some(Arc::new(e)));
            }
            Err(features::LoadError::Other(e)) => tracing::error!(model = %name, view = %source.view, "{e}"),
        }
    }

    /// Fills online features, checks the columns against a version's inputs and scores
    /// them; a panic while scoring is an error like any other.
    async fn score(
        &self,
        served: &Served,
        loaded: &Loaded,
        mut columns: Columns,
    ) -> Result<(Scored, Columns), ApiError> {
        match (served.online.load().as_ref(), &served.spec.features) {
            (Some(online), _) => {
                let takes_key = loaded.inputs.iter().any(|p| p.name == online.source.key);
                online.fill(&mut columns, takes_key)?;
            }
            (None, Some(source)) if columns.position(&source.key).is_some() => {
                if let Some(why) = served.online_refused.load_full() {
                    return Err(ApiError::unavailable(format!(
                        "`{}` cannot look up `{}`: {why}",
                        served.spec.name, source.key
                    )));
                }
            }
            _ => {}
        }
        let frame = columns.to_frame(&loaded.inputs, &served.spec.ints)?;
        let outputs = loaded
            .score(frame)
            .await
            .map_err(|e| ApiError::internal(format!("scoring failed on version {}: {e}", loaded.version)))?;
        Ok((Arc::new(outputs), columns))
    }

    /// The one prediction path: the version to ask (a canary's candidate for its share of
    /// request ids, else the one serving), a second one when that fails (a canary's stable
    /// version, or with `fallback = previous` the previous one), then count, log and
    /// mirror to the shadow.
    pub async fn infer(&self, served: &Served, columns: Columns, request_id: String) -> Result<Inference, ApiError> {
        let started = Instant::now();
        self.within_rows(columns.rows)?;
        let serving = served.ready()?;
        let rollout = served.rollout.load_full().filter(|r| r.routes(&request_id));
        let (first, backup) = match &rollout {
            Some(r) => (r.candidate.clone(), Some(r.stable.clone())),
            None => (serving, served.previous.load_full().filter(|_| served.spec.fallback)),
        };
        let spare = backup.as_ref().map(|_| columns.clone());
        let attempt = self.score(served, &first, columns).await;
        let first_ms = started.elapsed().as_secs_f64() * 1000.0;
        let first_version = first.version;
        let (loaded, (outputs, columns)) = match (attempt, backup, spare) {
            (Ok(done), ..) => {
                if let Some(r) = &rollout {
                    r.window.record(first_ms, false, false);
                }
                (first, done)
            }
            // A candidate is tried on anything (what it refuses and the stable version takes
            // is its own failure); the serving version only on its own failures.
            (Err(e), Some(backup), Some(spare)) if rollout.is_some() || e.status.is_server_error() => {
                let done = self.score(served, &backup, spare).await.inspect_err(|second| {
                    // A candidate's server error counts against it, whatever the stable version
                    // made of the request; bad input both refuse is the caller's, and not counted.
                    if let Some(r) = rollout.as_ref().filter(|_| e.status.is_server_error()) {
                        r.window.record(first_ms, true, false);
                    }
                    self.log_failure(served, (backup.version, first.version), &request_id, second, started);
                })?;
                if let Some(r) = &rollout {
                    r.window.record(first_ms, true, true);
                }
                let labels = ModelVersion { model: served.spec.name.clone(), version: first.version.to_string() };
                self.metrics.fallbacks.get_or_create(&labels).inc();
                tracing::warn!(model = %served.spec.name, failed = first.version, answered = backup.version, request_id = %request_id, "fallback: {}", e.message);
                (backup, done)
            }
            (Err(e), ..) => {
                if let Some(r) = rollout.filter(|_| e.status.is_server_error()) {
                    r.window.record(first_ms, true, false);
                }
                self.log_failure(served, (first.version, first.version), &request_id, &e, started);
                return Err(e);
            }
        };

        let elapsed = started.elapsed();
        let labels = ModelVersion { model: served.spec.name.clone(), version: loaded.version.to_string() };
        self.metrics.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.metrics.rows.get_or_create(&labels).inc_by(columns.rows as u64);
        served.stats.rows.fetch_add(columns.rows as u64, Ordering::Relaxed);
        served.stats.success_ns.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        let at_micros = now_micros();
        served.stats.last_ms.store((at_micros / 1000) as u64, Ordering::Relaxed);
        let rows = columns.rows;
        served.shadow.mirror(&self.metrics, &loaded, &outputs, &columns);
        if let Some(log) = &self.log {
            log.log(Entry {
                at_micros,
                loaded: loaded.clone(),
                request_id: request_id.clone(),
                inputs: columns,
                outputs: outputs.clone(),
                latency_ms: elapsed.as_secs_f64() * 1000.0,
                asked: first_version,
            });
        }
        Ok(Inference { loaded, outputs, rows, request_id })
    }

    /// 413 past `--max-rows`.
    pub fn within_rows(&self, rows: usize) -> Result<(), ApiError> {
        if rows > self.max_rows {
            return Err(ApiError::too_large(format!(
                "the request has {rows} rows; this server takes at most {} per request (--max-rows): send them in smaller batches",
                self.max_rows
            )));
        }
        Ok(())
    }

    /// Logs a request the server failed (`versions`: the one that failed it last, the one
    /// asked first); bad input (a 4xx) is the caller's and is not logged.
    fn log_failure(&self, served: &Served, versions: (i64, i64), request_id: &str, e: &ApiError, started: Instant) {
        if let (Some(log), true) = (&self.log, e.status.is_server_error()) {
            log.fail(Failure {
                at_micros: now_micros(),
                model: served.spec.name.clone(),
                version: versions.0,
                asked: versions.1,
                request_id: request_id.to_string(),
                error: e.message.clone(),
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        }
    }

    /// Counts a finished request on its model: every request, and the errors.
    pub fn settle<T>(
        &self,
        served: &Served,
        started: Instant,
        result: Result<(T, i64), ApiError>,
    ) -> Result<T, ApiError> {
        // Labelled by the version that answered (a canary's candidate, a fallback), and an
        // error by the version serving.
        let version = match (&result, &**served.slot.load()) {
            (Ok((_, answered)), _) => answered.to_string(),
            (Err(_), Slot::Ready(m)) => m.version.to_string(),
            (Err(_), Slot::NotReady(_)) => "none".into(),
        };
        let labels = ModelVersion { model: served.spec.name.clone(), version };
        self.metrics.requests.get_or_create(&labels).inc();
        match &result {
            Ok(_) => {
                served.stats.success.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.metrics.errors.get_or_create(&labels).inc();
                served.stats.fail.fetch_add(1, Ordering::Relaxed);
                served.stats.fail_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
        }
        result.map(|(answer, _)| answer)
    }

    /// Reads the gates of every canary whose interval has passed and acts on the verdicts.
    /// Blocking (the registry and audit log are written).
    pub fn tick(&self) {
        for served in &self.models {
            let Some(r) = served.rollout.load_full() else { continue };
            let name = ModelName { model: served.spec.name.clone() };
            if let Some(v) = r.evaluate(&self.state) {
                if v.outcome == canary::Outcome::Promoted {
                    self.swap(served, r.candidate.clone());
                }
                let labels = ModelOutcome { model: name.model.clone(), outcome: v.outcome.name().into() };
                self.metrics.canary_decisions.get_or_create(&labels).inc();
            }
            self.metrics.canary_weight.get_or_create(&name).set(r.share());
        }
    }

    /// Whether every served name has a version loaded and nothing it needs was refused.
    pub fn all_ready(&self) -> bool {
        self.models.iter().all(|m| matches!(&**m.slot.load(), Slot::Ready(_)) && m.problem().is_none())
    }
}
