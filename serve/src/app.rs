//! The served models and what requests share: each name's current version behind an
//! atomic swap, its online features, counters, and the one path every protocol's
//! prediction takes (fill features, check, score, count, log).

use crate::error::ApiError;
use crate::features::{self, Online};
use crate::input::Columns;
use crate::metrics::{Metrics, ModelName, ModelVersion};
use crate::model::{LoadError, Loaded};
use crate::request_log::{Entry, RequestLog};
use crate::spec::Spec;
use arc_swap::{ArcSwap, ArcSwapOption};
use mlpc_runtime::{registry, Store};
use mlpc_train::scorer::Output;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
    pool: usize,
    started_ms: u64,
    seq: AtomicU64,
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// What the registry and the latest run say each name should serve, read in one short
/// visit to the tracking store.
struct Wanted {
    version: Result<(i64, String, PathBuf), String>,
    online: Option<Result<features::Files, String>>,
}

impl App {
    pub fn new(specs: Vec<Spec>, state: &Path, pool: usize) -> App {
        let models = specs
            .into_iter()
            .map(|spec| {
                Arc::new(Served {
                    slot: ArcSwap::from_pointee(Slot::NotReady("not loaded yet".into())),
                    online: ArcSwapOption::empty(),
                    stats: Stats::default(),
                    spec,
                })
            })
            .collect();
        App {
            models,
            metrics: Metrics::new(),
            state: state.to_path_buf(),
            log: None,
            pool,
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

    /// A request id: the caller's, else one unique to this server.
    pub fn request_id(&self, given: Option<&str>) -> String {
        given
            .map(String::from)
            .unwrap_or_else(|| format!("{:x}-{}", self.started_ms, self.seq.fetch_add(1, Ordering::Relaxed)))
    }

    /// Reads the registry and loads what changed; the versions serving keep serving until a
    /// replacement has loaded and passed its integrity check. Blocking: call off the
    /// request path.
    pub fn reload(&self) -> Result<(), String> {
        let wanted = self.wanted()?;
        for (served, want) in self.models.iter().zip(wanted) {
            self.reload_model(served, want.version);
            if let Some(files) = want.online {
                self.reload_online(served, files);
            }
        }
        Ok(())
    }

    fn wanted(&self) -> Result<Vec<Wanted>, String> {
        let store = Store::open_read_only(&self.state)?;
        let summaries = registry::models(&store)?;
        let read = |spec: &Spec| -> Result<(i64, String, PathBuf), String> {
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
            let sha = registry::version(&store, &spec.name, version)?.artifact_sha256;
            let path = store.artifact_path(&sha, "onnx");
            Ok((version, sha, path))
        };
        Ok(self
            .models
            .iter()
            .map(|m| Wanted {
                version: read(&m.spec),
                online: m.spec.features.as_ref().map(|f| features::locate(&store, f)),
            })
            .collect())
    }

    fn reload_model(&self, served: &Served, want: Result<(i64, String, PathBuf), String>) {
        let name = &served.spec.name;
        let (version, sha, path) = match want {
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
        if matches!(&*current, Slot::Ready(m) if m.version == version && m.sha256 == sha) {
            return;
        }
        match Loaded::load(name, version, &path, &sha, self.pool) {
            Ok(m) => {
                let labels = ModelVersion { model: name.clone(), version: version.to_string() };
                self.metrics.loads.get_or_create(&labels).inc();
                let from = match &*current {
                    Slot::Ready(old) => format!("version {}", old.version),
                    Slot::NotReady(_) => "nothing".into(),
                };
                tracing::info!(model = %name, version, stage = %served.spec.stage, "serving version {version} (was {from})");
                served.slot.store(Arc::new(Slot::Ready(Arc::new(m))));
            }
            Err(e) => {
                if let LoadError::Integrity(_) = e {
                    self.metrics.integrity_refusals.get_or_create(&ModelName { model: name.clone() }).inc();
                }
                match &*current {
                    Slot::Ready(old) => {
                        tracing::error!(model = %name, version, "{e}; version {} keeps serving", old.version)
                    }
                    Slot::NotReady(_) => {
                        tracing::error!(model = %name, version, "{e}");
                        served.slot.store(Arc::new(Slot::NotReady(e.to_string())));
                    }
                }
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
            }
            Err(e) => tracing::error!(model = %name, view = %source.view, "{e}"),
        }
    }

    /// The one prediction path: fill online features, check the columns against the
    /// model's inputs, score, count and log.
    pub fn infer(&self, served: &Served, mut columns: Columns, request_id: String) -> Result<Inference, ApiError> {
        let started = Instant::now();
        let loaded = served.ready()?;
        if let Some(online) = served.online.load().as_ref() {
            let takes_key = loaded.inputs.iter().any(|p| p.name == online.source.key);
            online.fill(&mut columns, takes_key)?;
        }
        let frame = columns.to_frame(&loaded.inputs)?;
        let outputs = loaded.score(&frame).map_err(|e| ApiError::internal(format!("scoring failed: {e}")))?;
        let outputs = Arc::new(outputs);
        let elapsed = started.elapsed();
        let labels = ModelVersion { model: served.spec.name.clone(), version: loaded.version.to_string() };
        self.metrics.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.metrics.rows.get_or_create(&labels).inc_by(columns.rows as u64);
        served.stats.rows.fetch_add(columns.rows as u64, Ordering::Relaxed);
        served.stats.success_ns.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        let at_micros = now_micros();
        served.stats.last_ms.store((at_micros / 1000) as u64, Ordering::Relaxed);
        let rows = columns.rows;
        if let Some(log) = &self.log {
            log.log(Entry {
                at_micros,
                loaded: loaded.clone(),
                request_id: request_id.clone(),
                inputs: columns,
                outputs: outputs.clone(),
                latency_ms: elapsed.as_secs_f64() * 1000.0,
            });
        }
        Ok(Inference { loaded, outputs, rows, request_id })
    }

    /// Counts a finished request on its model: every request, and the errors.
    pub fn settle<T>(&self, served: &Served, started: Instant, result: Result<T, ApiError>) -> Result<T, ApiError> {
        let version = match &**served.slot.load() {
            Slot::Ready(m) => m.version.to_string(),
            Slot::NotReady(_) => "none".into(),
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
        result
    }

    /// Whether every served name has a version loaded.
    pub fn all_ready(&self) -> bool {
        self.models.iter().all(|m| matches!(&**m.slot.load(), Slot::Ready(_)))
    }
}
