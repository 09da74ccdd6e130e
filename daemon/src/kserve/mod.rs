//! `mlpc daemon --kserve`: the program's canaries driven on KServe, where the models serve.
//! KServe splits traffic but has no metric gates; this loop is the gates. For each `serve`
//! block with a canary, the exported InferenceService (read through the API server) says
//! which version is the candidate and its share; every interval the candidate's figures are
//! read from Prometheus and judged by the same code as the local canary (`mlpc-serve`'s
//! `canary_judge`): an advance or a rollback is a merge patch of the service's traffic, a
//! promotion makes the candidate the service's only version; every decision is recorded as
//! the local canary records it (state file, audit log), and a rollback moves the stage back
//! in the registry. A decision is recorded only once the API server took its patch.

mod cluster;
mod prometheus;

use crate::Daemon;
use cluster::Cluster;
use mlpc_export::kserve::{self as isvc, Deployed};
use mlpc_plan::{NodeDef, Plan, ServeDef};
use mlpc_runtime::{registry, Store};
use mlpc_serve::{CanaryConfig, Live, Outcome, Phase, Record};
use prometheus::{Labels, Prometheus};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the services and the metrics are.
#[derive(Clone, Debug)]
pub struct Options {
    pub namespace: Option<String>,
    /// The API server's URL; `None`: in-cluster or kubeconfig credentials.
    pub kube_api: Option<String>,
    pub prometheus: String,
    /// `METRIC=PROMQL` overrides of the default queries.
    pub queries: Vec<String>,
}

/// A canary this process has seen: when its next verdict is due, when its step began.
struct Seen {
    candidate: i64,
    due: Instant,
    step_since: Instant,
}

struct Driver {
    state: PathBuf,
    cluster: Cluster,
    prometheus: Prometheus,
    seen: HashMap<String, Seen>,
}

/// Connects to the API server and checks every gate has a query, then drives the canaries
/// on their own thread every tick until the daemon stops.
pub fn start(d: Arc<Daemon>, opts: &Options) -> Result<std::thread::JoinHandle<()>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the gate driver's runtime: {e}"))?;
    let prometheus = Prometheus::new(&opts.prometheus, &opts.queries)?;
    for (serve, config) in canaries(&d.program().plan) {
        prometheus.covers(&config.metrics()).map_err(|e| format!("serve \"{}\": {e}", serve.registered))?;
    }
    let cluster = runtime.block_on(Cluster::connect(opts.kube_api.as_deref(), opts.namespace.as_deref()))?;
    tracing::info!(namespace = %cluster.namespace, prometheus = %opts.prometheus, "driving the canaries of the InferenceServices");
    let mut driver = Driver { state: d.opts.state_dir.clone(), cluster, prometheus, seen: HashMap::new() };
    Ok(std::thread::spawn(move || {
        runtime.block_on(async {
            while !d.stopping() {
                driver.tick(&d.program().plan).await;
                tokio::time::sleep(d.opts.tick).await;
            }
        })
    }))
}

/// The latest canary of each serve block that has one, as recorded.
pub fn records(state: &Path, plan: &Plan) -> Vec<Record> {
    canaries(plan).filter_map(|(serve, _)| mlpc_serve::canary_state(state, &serve.registered)).collect()
}

/// The serve blocks that have a canary, with it.
fn canaries(plan: &Plan) -> impl Iterator<Item = (&ServeDef, CanaryConfig)> {
    plan.nodes.iter().filter_map(|n| match &n.def {
        NodeDef::Serve(s) => s.canary.clone().map(|c| (&**s, CanaryConfig::from(c))),
        _ => None,
    })
}

impl Driver {
    async fn tick(&mut self, plan: &Plan) {
        for (serve, config) in canaries(plan) {
            if let Err(e) = self.prometheus.covers(&config.metrics()) {
                tracing::error!(model = %serve.registered, "{e}");
                continue;
            }
            if let Err(e) = self.drive(serve, &config).await {
                tracing::error!(model = %serve.registered, "{e}; tried again at the next tick");
            }
        }
    }

    /// One service: converge it on its canary's state, and judge the step when due.
    async fn drive(&mut self, serve: &ServeDef, config: &CanaryConfig) -> Result<(), String> {
        let name = isvc::service_name(&serve.registered);
        let obj = self.cluster.get(&name).await.map_err(|e| e.to_string())?;
        let deployed = Deployed::read(&obj).map_err(|e| format!("InferenceService {name}: {e}"))?;
        let Some(candidate) = deployed.candidate else {
            self.seen.remove(&serve.registered);
            return Ok(());
        };
        let mut record = match mlpc_serve::canary_state(&self.state, &serve.registered) {
            Some(r) if r.candidate == candidate && r.stable == deployed.stable => r,
            _ => {
                let mut r = Record::new(&serve.registered, &serve.stage, deployed.stable, candidate, &config.steps);
                // A service applied at a later step (an export after a restart) starts there.
                r.step = config.steps.iter().position(|s| isvc::percent(*s) == deployed.percent).unwrap_or(0);
                r
            }
        };
        let now = Instant::now();
        let interval = Duration::from_millis(config.interval_ms);
        if self.seen.get(&serve.registered).is_none_or(|s| s.candidate != candidate) {
            if record.phase == Phase::Running {
                let reason = mlpc_serve::canary_started(&record);
                mlpc_serve::canary_decide(&self.state, &mut record, Outcome::Started, reason, Live::default());
            }
            self.seen.insert(serve.registered.clone(), Seen { candidate, due: now + interval, step_since: now });
        }
        match record.phase {
            Phase::Running => {}
            // A decision the service has not taken yet (an export applied over it): again.
            Phase::RolledBack if deployed.percent != 0 => {
                tracing::warn!(model = %serve.registered, "version {candidate} failed its canary, yet InferenceService {name} gives it {}%: back to 0", deployed.percent);
                return self.patch(&name, isvc::traffic_patch(&obj, deployed.mode, 0)).await;
            }
            Phase::Promoted => return self.patch(&name, isvc::promotion_patch(&obj, deployed.mode, candidate)).await,
            Phase::RolledBack | Phase::Superseded => return Ok(()),
        }
        let holder = stage_holder(&self.state, serve)?;
        if holder != candidate {
            let why = format!(
                "{} moved to version {holder}: export the service again (`mlpc export kserve`) and apply it",
                serve.stage
            );
            mlpc_serve::canary_decide(&self.state, &mut record, Outcome::Superseded, why, Live::default());
            return Ok(());
        }
        let share = isvc::percent(record.weight());
        if deployed.percent != share {
            tracing::warn!(model = %serve.registered, "InferenceService {name} gives version {candidate} {}%, its canary's step {} says {share}%: patching it", deployed.percent, record.step + 1);
            self.patch(&name, isvc::traffic_patch(&obj, deployed.mode, share)).await?;
        }
        let seen = self.seen.get_mut(&serve.registered).expect("seen above");
        if now < seen.due {
            return Ok(());
        }
        seen.due = now + interval;
        let window = now - seen.step_since;
        let labels = Labels { namespace: &self.cluster.namespace, model: &name, version: candidate };
        let (outcome, reason, live) = match self.prometheus.live(&config.metrics(), &labels, window).await {
            Ok(live) => {
                let (outcome, reason) = mlpc_serve::canary_judge(config, &live, record.step);
                (outcome, reason, live)
            }
            Err(e) => {
                let why = format!("no verdict at step {}, which holds: {e}", record.step + 1);
                (Outcome::Inconclusive, why, Live::default())
            }
        };
        let patch = match outcome {
            Outcome::Advanced => {
                Some(isvc::traffic_patch(&obj, deployed.mode, isvc::percent(record.steps[record.step + 1])))
            }
            Outcome::Promoted => Some(isvc::promotion_patch(&obj, deployed.mode, candidate)),
            Outcome::RolledBack => Some(isvc::traffic_patch(&obj, deployed.mode, 0)),
            Outcome::Started | Outcome::Waiting | Outcome::Inconclusive | Outcome::Superseded => None,
        };
        if let Some(p) = patch {
            if let Err(e) = self.patch(&name, p).await {
                // Judged again at the next tick, on fresh figures.
                if let Some(s) = self.seen.get_mut(&serve.registered) {
                    s.due = now;
                }
                return Err(format!("the canary's verdict `{}` ({reason}) is not applied: {e}", outcome.name()));
            }
        }
        let verdict = mlpc_serve::canary_decide(&self.state, &mut record, outcome, reason, live);
        match outcome {
            Outcome::RolledBack => mlpc_serve::canary_move_stage_back(&self.state, &record, &verdict.reason),
            Outcome::Advanced => {
                if let Some(s) = self.seen.get_mut(&serve.registered) {
                    s.step_since = now;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn patch(&self, name: &str, patch: Result<serde_json::Value, String>) -> Result<(), String> {
        let patch = patch.map_err(|e| format!("InferenceService {name}: {e}"))?;
        self.cluster.patch(name, &patch).await.map_err(|e| e.to_string())
    }
}

/// The version the registry's stage holds now.
fn stage_holder(state: &Path, serve: &ServeDef) -> Result<i64, String> {
    let store = Store::open_read_only(state).map_err(|e| e.to_string())?;
    registry::at_stage(&store, &serve.registered, &serve.stage).map(|v| v.version).map_err(|e| e.to_string())
}
