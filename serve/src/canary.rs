//! Canary rollouts (Argo Rollouts / Flagger semantics): when a serve block's stage gets a
//! new version while another serves, the candidate takes a growing share of requests, step
//! by step. After each interval the gates are read on the candidate's window: too few
//! requests wait; `rollback when` true aborts (all traffic back to stable, the stage moved
//! back in the registry); `promote when` true advances (after the last step the candidate
//! becomes stable); neither holds the step. The state is kept in
//! `<state>/canary/<name>.json` (on a shared store, its `canary_state` table, so every
//! machine of a team reads the same progress), a restart resumes at the recorded step, and
//! every decision goes to the audit log.

use crate::clock::Clock;
use crate::gates::Gate;
use crate::live_metrics::{Live, Window};
use crate::model::Loaded;
use mlpc_plan::CanaryDef;
use mlpc_runtime::audit::{self, Action};
use mlpc_runtime::db::args;
use mlpc_runtime::{registry, Store};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who the registry and the audit log name for canary decisions.
pub const BY: &str = "canary";

/// A serve block's `canary { … }`, as the plan holds it.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// Traffic shares of the candidate, e.g. `[0.1, 0.5, 1.0]`.
    pub steps: Vec<f64>,
    pub interval_ms: u64,
    /// Requests the candidate must answer in a step before any verdict.
    pub min_requests: u64,
    pub promote: Option<Gate>,
    pub rollback: Option<Gate>,
}

impl From<CanaryDef> for Config {
    fn from(c: CanaryDef) -> Config {
        Config {
            steps: c.steps,
            interval_ms: c.interval_ms,
            min_requests: c.min_requests,
            promote: c.promote.map(Into::into),
            rollback: c.rollback.map(Into::into),
        }
    }
}

impl Config {
    /// The serving metrics the gates read.
    pub fn metrics(&self) -> Vec<&str> {
        let mut names = Vec::new();
        for g in self.promote.iter().chain(&self.rollback) {
            for n in g.metrics() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Running,
    /// The candidate passed every step and serves as stable.
    Promoted,
    /// A rollback gate held: the candidate failed.
    RolledBack,
    /// The stage moved elsewhere before the canary finished.
    Superseded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Started,
    /// Fewer requests than `min_requests`: no verdict yet.
    Waiting,
    /// Neither gate held: the step holds.
    Inconclusive,
    Advanced,
    Promoted,
    RolledBack,
    Superseded,
}

impl Outcome {
    /// As the audit log, the status endpoint and `/metrics` name it.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Waiting => "waiting",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Advanced => "advanced",
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled_back",
            Outcome::Superseded => "superseded",
        }
    }
}

/// One decision, with the figures it read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    pub at: String,
    pub step: usize,
    pub outcome: Outcome,
    pub reason: String,
    pub live: Live,
}

/// A canary's state, as persisted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub model: String,
    pub stage: String,
    pub stable: i64,
    pub candidate: i64,
    /// Index into `steps`.
    pub step: usize,
    pub steps: Vec<f64>,
    pub phase: Phase,
    pub started_at: String,
    pub last: Option<Verdict>,
}

impl Record {
    /// A new canary of `candidate` against `stable`, at its first step.
    pub fn new(model: &str, stage: &str, stable: i64, candidate: i64, steps: &[f64]) -> Record {
        Record {
            model: model.into(),
            stage: stage.into(),
            stable,
            candidate,
            step: 0,
            steps: steps.to_vec(),
            phase: Phase::Running,
            started_at: audit::now(),
            last: None,
        }
    }

    /// The candidate's share of requests at the recorded step.
    pub fn weight(&self) -> f64 {
        self.steps.get(self.step).copied().unwrap_or(1.0)
    }
}

/// A canary in this process: both versions loaded, the state, the candidate's window.
pub struct Rollout {
    pub stable: Arc<Loaded>,
    pub candidate: Arc<Loaded>,
    config: Config,
    record: Mutex<Record>,
    /// The candidate's requests in the current step.
    pub window: Window,
    clock: Arc<dyn Clock>,
    due: Mutex<Instant>,
    /// The candidate's share as f64 bits; 0 unless running.
    weight: AtomicU64,
}

/// Where a model's canary state is kept.
pub fn path(state: &Path, model: &str) -> PathBuf {
    let safe: String =
        model.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    state.join("canary").join(format!("{safe}.json"))
}

/// The persisted state of a model's last canary, if any.
pub fn load(state: &Path, model: &str) -> Option<Record> {
    let text = match Store::shared(state) {
        Some(_) => Store::open_read_only(state)
            .map_err(|e| e.to_string())
            .and_then(|store| {
                let sql = "SELECT record FROM canary_state WHERE model = ?";
                store.db.query_opt(sql, args![model], |r| r.get::<String>(0)).map_err(|e| e.to_string())
            })
            .map_err(|e| tracing::warn!(model, "cannot read the canary state: {e}"))
            .ok()??,
        None => std::fs::read_to_string(path(state, model)).ok()?,
    };
    serde_json::from_str(&text).map_err(|e| tracing::warn!(model, "ignoring unreadable canary state: {e}")).ok()
}

/// Writes the state atomically: on a shared store one row replaced in a transaction, else a
/// temporary file renamed over the old one.
fn save(state: &Path, r: &Record) -> Result<(), String> {
    if Store::shared(state).is_some() {
        let text = serde_json::to_string(r).map_err(|e| e.to_string())?;
        let store = Store::open(state).map_err(|e| e.to_string())?;
        return store.transaction(|db| {
            db.execute(
                "INSERT INTO canary_state VALUES (?, ?) ON CONFLICT (model) DO UPDATE SET record = excluded.record",
                args![r.model, text],
            )
            .map(drop)
            .map_err(|e| format!("cannot write the canary state: {e}"))
        });
    }
    let file = path(state, &r.model);
    let dir = file.parent().unwrap_or(state);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = file.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// Appends a decision to the audit log, holding the tracking store meanwhile: registry
/// writers hold it while they append, so the chain never forks.
fn audit(state: &Path, r: &Record, v: &Verdict) -> Result<(), String> {
    let store = Store::open(state)?;
    let action = Action {
        action: format!("canary-{}", v.outcome.name()),
        at: audit::now(),
        name: r.model.clone(),
        version: Some(r.candidate),
        stage: Some(r.stage.clone()),
        by: BY.into(),
        reason: Some(v.reason.clone()),
    };
    audit::append(&store, &[action]).map(drop)
}

/// A share of requests from a request id: the same id always lands on the same side.
fn bucket(request_id: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in request_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finalizer: ids that differ in one character spread over the range.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Rollout {
    /// Starts a canary of `candidate` against `stable`, or resumes `resumed` at its step;
    /// its intervals are read on `clock`.
    pub fn start(
        state: &Path,
        stage: &str,
        config: Config,
        stable: Arc<Loaded>,
        candidate: Arc<Loaded>,
        resumed: Option<Record>,
        clock: Arc<dyn Clock>,
    ) -> Rollout {
        let record = resumed
            .unwrap_or_else(|| Record::new(&candidate.name, stage, stable.version, candidate.version, &config.steps));
        let r = Rollout {
            weight: AtomicU64::new(0),
            due: Mutex::new(clock.now() + Duration::from_millis(config.interval_ms)),
            clock,
            stable,
            candidate,
            config,
            record: Mutex::new(record),
            window: Window::default(),
        };
        let reason = started(&r.record());
        r.decide(state, Outcome::Started, reason);
        r
    }

    pub fn record(&self) -> Record {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn running(&self) -> bool {
        self.record().phase == Phase::Running
    }

    /// The candidate's share of requests now: 0 unless running.
    pub fn share(&self) -> f64 {
        f64::from_bits(self.weight.load(Ordering::Relaxed))
    }

    /// Whether this request goes to the candidate.
    pub fn routes(&self, request_id: &str) -> bool {
        let w = self.share();
        w > 0.0 && bucket(request_id) < w
    }

    /// Records a decision: state, weight, file, audit log, log line.
    fn decide(&self, state: &Path, outcome: Outcome, reason: String) -> Verdict {
        let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
        let verdict = decide(state, &mut r, outcome, reason, self.window.live());
        if matches!(outcome, Outcome::Advanced | Outcome::Promoted | Outcome::RolledBack) {
            self.window.reset();
        }
        let routed = if r.phase == Phase::Running { r.weight() } else { 0.0 };
        self.weight.store(routed.to_bits(), Ordering::Relaxed);
        verdict
    }

    /// Ends a running canary because the stage moved elsewhere.
    pub fn supersede(&self, state: &Path, why: String) {
        if self.record().phase == Phase::Running {
            self.decide(state, Outcome::Superseded, why);
        }
    }

    /// Reads the gates when an interval has passed; None when not due or not running.
    pub fn evaluate(&self, state: &Path) -> Option<Verdict> {
        {
            let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
            let now = self.clock.now();
            if self.record().phase != Phase::Running || now < *due {
                return None;
            }
            *due = now + Duration::from_millis(self.config.interval_ms);
        }
        let live = self.window.live();
        let step = self.record().step;
        let (outcome, reason) = judge(&self.config, &live, step);
        let verdict = self.decide(state, outcome, reason);
        if outcome == Outcome::RolledBack {
            move_stage_back(state, &self.record(), &verdict.reason);
        }
        Some(verdict)
    }
}

/// Why a canary starts: a new one, or one resumed at its recorded step.
pub fn started(r: &Record) -> String {
    match r.last {
        Some(_) => format!("resumed at step {} after a restart", r.step + 1),
        None => format!("canary of version {} against version {}", r.candidate, r.stable),
    }
}

/// Records a decision on a canary's state — by the local canary and by `mlpc daemon
/// --kserve` alike: the step or phase moves, the state file is written, the log line, and
/// the audit log (a hold repeated every interval is written once; a rollback is recorded by
/// the registry's own move of the stage).
pub fn decide(state: &Path, r: &mut Record, outcome: Outcome, reason: String, live: Live) -> Verdict {
    let verdict = Verdict { at: audit::now(), step: r.step, outcome, reason, live };
    match outcome {
        Outcome::Advanced => r.step += 1,
        Outcome::Promoted => r.phase = Phase::Promoted,
        Outcome::RolledBack => r.phase = Phase::RolledBack,
        Outcome::Superseded => r.phase = Phase::Superseded,
        Outcome::Started | Outcome::Waiting | Outcome::Inconclusive => {}
    }
    let repeated = r.last.as_ref().is_some_and(|l| l.outcome == outcome && l.step == verdict.step)
        && matches!(outcome, Outcome::Waiting | Outcome::Inconclusive);
    r.last = Some(verdict.clone());
    tracing::info!(model = %r.model, candidate = r.candidate, step = r.step + 1, "canary {outcome:?}: {}", verdict.reason);
    if let Err(e) = save(state, r) {
        tracing::error!(model = %r.model, "{e}");
    }
    if !repeated && outcome != Outcome::RolledBack {
        if let Err(e) = audit(state, r, &verdict) {
            tracing::error!(model = %r.model, "canary decision not in the audit log: {e}");
        }
    }
    verdict
}

/// The verdict on a step's figures: too few requests wait, `rollback when` rolls back,
/// `promote when` (or, without one, a rollback gate that did not hold) advances or, at the
/// last step, promotes; otherwise the step holds. With the reason, figures included.
pub fn judge(config: &Config, live: &Live, step: usize) -> (Outcome, String) {
    if live.request_count < config.min_requests {
        return (
            Outcome::Waiting,
            format!(
                "{} of the {} requests a verdict needs so far in step {}",
                live.request_count,
                config.min_requests,
                step + 1
            ),
        );
    }
    let read = |g: &Option<Gate>| match g {
        Some(g) => g.holds(live).map(Some),
        None => Ok(None),
    };
    let (rollback, promote) = match (read(&config.rollback), read(&config.promote)) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(e), _) | (_, Err(e)) => return (Outcome::Inconclusive, e),
    };
    let gate_text = |g: &Option<Gate>| g.as_ref().map(|g| (g.text.clone(), g.measured(live))).unwrap_or_default();
    if rollback == Some(true) {
        let (text, measured) = gate_text(&config.rollback);
        return (Outcome::RolledBack, format!("rollback gate `{text}` held at step {}: {measured}", step + 1));
    }
    if promote == Some(false) {
        let (text, measured) = gate_text(&config.promote);
        return (Outcome::Inconclusive, format!("promote gate `{text}` does not hold yet: {measured}"));
    }
    let why = match &config.promote {
        Some(g) => format!("promote gate `{}` held: {}", g.text, g.measured(live)),
        None => format!("rollback gate did not hold over {} requests", live.request_count),
    };
    let last = step + 1 >= config.steps.len();
    (if last { Outcome::Promoted } else { Outcome::Advanced }, format!("step {}: {why}", step + 1))
}

/// After a rollback verdict: the stage goes back to the stable version in the registry.
pub fn move_stage_back(state: &Path, r: &Record, reason: &str) {
    let moved = Store::open(state).map_err(String::from).and_then(|store| {
        let back = registry::rollback(&store, &r.model, &r.stage, BY, Some(reason))?;
        if back.to != r.stable {
            registry::promote(&store, &r.model, r.stable, &r.stage, BY, Some(reason))?;
        }
        Ok(())
    });
    if let Err(e) = moved {
        tracing::error!(model = %r.model, "the canary rolled back, but the registry's {} could not be moved back to version {}: {e}; version {} keeps serving", r.stage, r.stable, r.stable);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Manual;
    use serde_json::json;
    use std::time::SystemTime;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn on_a_shared_store_another_machine_reads_the_recorded_progress() {
        let Ok(server) = std::env::var("MLPC_TEST_POSTGRES") else {
            assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_POSTGRES is not set");
            eprintln!("not run: no Postgres (start scripts/services/postgres)");
            return;
        };
        use mlpc_runtime::db::{Db, PgSession, PgTarget};
        let admin = Db::Postgres(PgSession::open(&PgTarget::parse(&server).unwrap(), "canary test").unwrap());
        let name = format!("canary_{}", std::process::id());
        admin.batch(&format!("CREATE DATABASE {name}")).unwrap();
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        let target = PgTarget::parse(&format!("{base}/{name}")).unwrap();
        let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        Store::share(here.path(), target.clone());
        Store::share(there.path(), target);
        assert!(load(there.path(), "m").is_none(), "nothing recorded yet");
        let mut r = Record::new("m", "production", 1, 2, &[10.0, 50.0, 100.0]);
        save(here.path(), &r).unwrap();
        r.step = 1;
        save(here.path(), &r).unwrap();
        let read = load(there.path(), "m").expect("the other machine reads it");
        assert_eq!(serde_json::to_value(&read).unwrap(), serde_json::to_value(&r).unwrap());
        assert!(!path(here.path(), "m").exists(), "no file of its own");
    }

    /// `metric op value` as the plan types a gate's comparison.
    fn compare(metric: &str, op: &str, value: f64) -> serde_json::Value {
        json!({"op": "binary", "operator": op, "type": "bool",
            "lhs": {"op": "serving_metric", "name": metric, "type": "float"},
            "rhs": {"op": "literal", "value": value, "type": "float"}})
    }

    /// The serving tests' canary: steps of 10%, 50%, 100% a second apart, verdicts on 5
    /// requests, promoted when p99 < 5s, rolled back on errors over 2% or p99 over 100ms.
    fn config() -> Config {
        serde_json::from_value(json!({
            "steps": [0.1, 0.5, 1.0], "interval_ms": 1000, "min_requests": 5,
            "promote": {"text": "p99_latency < 5s", "expr": compare("p99_latency", "<", 5000.0)},
            "rollback": {"text": "error_rate > 2% or p99_latency > 100ms", "expr": {
                "op": "binary", "operator": "or", "type": "bool",
                "lhs": compare("error_rate", ">", 0.02), "rhs": compare("p99_latency", ">", 100.0)}},
        }))
        .unwrap()
    }

    fn start(state: &Path, clock: &Arc<Manual>, resumed: Option<Record>) -> Rollout {
        let (stable, candidate) = (Loaded::unscored("m", 1), Loaded::unscored("m", 2));
        Rollout::start(state, "production", config(), Arc::new(stable), Arc::new(candidate), resumed, clock.clone())
    }

    /// `n` requests of the candidate, each taking `ms` and failing or not.
    fn requests(r: &Rollout, n: usize, ms: f64, failed: bool) {
        (0..n).for_each(|_| r.window.record(ms, failed, false));
    }

    /// The verdict one interval on.
    fn next(r: &Rollout, state: &Path, clock: &Manual) -> Outcome {
        clock.advance(SECOND);
        r.evaluate(state).expect("a verdict once the interval has passed").outcome
    }

    #[test]
    fn a_healthy_candidate_advances_once_per_interval_and_is_promoted_after_the_last_step() {
        let state = tempfile::tempdir().unwrap();
        let clock = Arc::new(Manual::at(SystemTime::UNIX_EPOCH));
        let r = start(state.path(), &clock, None);
        assert_eq!(r.share(), 0.1);
        clock.advance(SECOND - Duration::from_millis(1));
        assert!(r.evaluate(state.path()).is_none(), "no verdict before the interval has passed");
        requests(&r, 4, 3.0, false);
        assert_eq!(next(&r, state.path(), &clock), Outcome::Waiting, "4 of 5 requests");
        requests(&r, 1, 3.0, false);
        assert!(r.evaluate(state.path()).is_none(), "the next interval starts at the verdict");
        assert_eq!(next(&r, state.path(), &clock), Outcome::Advanced);
        assert_eq!((r.record().step, r.share(), r.window.live().request_count), (1, 0.5, 0));
        requests(&r, 5, 3.0, false);
        assert_eq!(next(&r, state.path(), &clock), Outcome::Advanced);
        assert_eq!(r.share(), 1.0);
        requests(&r, 5, 3.0, false);
        assert_eq!(next(&r, state.path(), &clock), Outcome::Promoted);
        assert_eq!((r.record().phase, r.share()), (Phase::Promoted, 0.0));
        clock.advance(SECOND);
        assert!(r.evaluate(state.path()).is_none(), "a finished canary decides nothing");
        let audit = std::fs::read_to_string(state.path().join("audit.log")).unwrap();
        let actions: Vec<String> = audit
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].as_str().unwrap().into())
            .collect();
        let expected = ["canary-started", "canary-waiting", "canary-advanced", "canary-advanced", "canary-promoted"];
        assert_eq!(actions, expected);
    }

    #[test]
    fn a_failing_or_slow_candidate_is_rolled_back_at_its_first_verdict() {
        for (ms, failed, measured) in [(3.0, true, "error_rate = 100.00%"), (150.0, false, "p99_latency = 150.00ms")] {
            let state = tempfile::tempdir().unwrap();
            let clock = Arc::new(Manual::at(SystemTime::UNIX_EPOCH));
            let r = start(state.path(), &clock, None);
            requests(&r, 5, ms, failed);
            assert_eq!(next(&r, state.path(), &clock), Outcome::RolledBack, "{measured}");
            let reason = r.record().last.unwrap().reason;
            let gate = "rollback gate `error_rate > 2% or p99_latency > 100ms` held at step 1: ";
            assert!(reason.starts_with(gate) && reason.contains(measured), "{reason}");
            assert_eq!((r.record().phase, r.share()), (Phase::RolledBack, 0.0));
        }
    }

    #[test]
    fn a_restart_resumes_at_the_recorded_step() {
        let state = tempfile::tempdir().unwrap();
        let clock = Arc::new(Manual::at(SystemTime::UNIX_EPOCH));
        let r = start(state.path(), &clock, None);
        requests(&r, 5, 3.0, false);
        assert_eq!(next(&r, state.path(), &clock), Outcome::Advanced);
        drop(r);
        let recorded = load(state.path(), "m").expect("the state is kept");
        assert_eq!((recorded.phase, recorded.step), (Phase::Running, 1));
        let r = start(state.path(), &clock, Some(recorded));
        assert_eq!((r.record().step, r.share()), (1, 0.5));
        assert_eq!(r.record().last.unwrap().reason, "resumed at step 2 after a restart");
        requests(&r, 5, 3.0, false);
        assert_eq!(next(&r, state.path(), &clock), Outcome::Advanced);
        assert_eq!(r.share(), 1.0);
    }
}
