//! Runs a plan's nodes in dependency order — independent nodes concurrently, up to
//! `jobs` at a time — on tokio. A failure stops what depends on it; the rest finishes; a
//! node that panics fails with the panic's message. Ctrl-C lets running nodes finish,
//! starts nothing new, and records the run as cancelled. The run carries a lease (its
//! process), so a run whose process is killed is marked `interrupted` later.

use crate::cache::{key_parts, KeyParts};
use crate::db::args;
use crate::node_io::{Failure, Inputs, Produced};
use crate::nodes;
use crate::store::{Store, StoreError};
use mlpc_plan::{EdgeKind, Node, NodeDef, Plan};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub struct Options {
    /// The pipeline file (recorded with the run).
    pub file: String,
    /// The folder relative paths in the pipeline start from.
    pub base_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Rerun every node, cached or not.
    pub force: bool,
    /// Rerun these nodes even when cached, and everything that reads them (how a monitor's
    /// `then retrain M` reruns what trains M).
    pub rerun: Vec<String>,
    pub jobs: usize,
    /// Run only this node (`--node ID`, the unit a workflow engine schedules): what it reads
    /// must already be in the state, from a run of the same definitions.
    pub only: Option<String>,
    /// Where data nodes run.
    pub engine: crate::Engine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ran,
    Cached,
    Failed,
    /// Not run: something it reads failed or was not run.
    Skipped,
    /// Not run: this version executes no nodes of its kind.
    Unsupported,
    Cancelled,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    pub id: String,
    pub kind: String,
    pub status: Status,
    pub message: String,
    pub millis: u64,
    pub cache_key: String,
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub status: String,
    pub nodes: Vec<NodeReport>,
}

/// Progress, for a terminal or for `--json`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    Started { run_id: i64, nodes: usize },
    NodeStarted { id: &'a str },
    NodeFinished { node: &'a NodeReport },
}

struct Done {
    id: String,
    result: Result<Produced, String>,
    millis: u64,
}

/// How a node is executed: [`nodes::run`], or registration for register nodes. A parameter
/// so that a test can run a plan through the executor with a node that panics.
type NodeFn = fn(&Node, &Inputs) -> Result<Produced, Failure>;

/// Why a run did not start or could not go on (a node's failure is in its report instead).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the plan has no node `{id}`; its nodes: {}", nodes.join(", "))]
    NoSuchNode { id: String, nodes: Vec<String> },
    #[error(
        "`{node}` reads `{input}`, which has no result in this state for its current inputs: \
         run it first (`mlpc run FILE --node {input}`, or the whole pipeline)"
    )]
    InputMissing { node: String, input: String },
    #[error("`{node}` reads `{input}`, whose stored result is unusable ({why}): run it again")]
    InputUnusable { node: String, input: String, why: String },
    #[error("{0}")]
    Stopped(String),
}

/// For callers that report errors as text.
impl From<RunError> for String {
    fn from(e: RunError) -> String {
        e.to_string()
    }
}

pub fn run(plan: &Plan, opts: &Options, on_event: &mut dyn FnMut(&Event)) -> Result<RunReport, RunError> {
    execute(plan, opts, on_event, nodes::run)
}

/// Runs the plan. The store is held only in short sessions — to start the run, to record
/// each node as it settles, to end it — never while nodes run, so registry commands, the
/// server and a server restarting work during a run.
fn execute(
    plan: &Plan,
    opts: &Options,
    on_event: &mut dyn FnMut(&Event),
    run_node: NodeFn,
) -> Result<RunReport, RunError> {
    let dir = &opts.state_dir;
    let pipeline = plan.pipeline.as_ref().map(|p| p.name.clone()).unwrap_or_default();
    let plan_hash = crate::cache::KeyParts {
        definition: plan.nodes.iter().map(|n| n.hash.as_str()).collect::<Vec<_>>().join(","),
        ..Default::default()
    }
    .key();
    let (run_id, parts, driven) = {
        let store = Store::open(dir)?;
        let parts = key_parts(plan, |n| crate::cache::input_hash(&store, n, &opts.base_dir));
        let driven = match &opts.only {
            Some(id) => Some(alone(plan, id, &parts, &store)?),
            None => None,
        };
        (store.begin_run(&pipeline, &opts.file, &plan_hash, opts.force).map_err(RunError::Stopped)?, parts, driven)
    };
    let mut unfinished = Unfinished { dir: dir.clone(), run_id, done: false };
    let run = Run {
        plan: driven.as_ref().unwrap_or(plan),
        whole: plan,
        opts,
        run_id,
        plan_hash: &plan_hash,
        parts: &parts,
        run_node,
    };
    match run.drive(on_event) {
        Ok(report) => {
            unfinished.done = true;
            Ok(report)
        }
        Err(e) => {
            unfinished.end(&e);
            Err(RunError::Stopped(e))
        }
    }
}

/// A run that has started; dropped before it ends (an error, a panic), it is recorded as
/// `failed` with why.
struct Unfinished {
    dir: PathBuf,
    run_id: i64,
    done: bool,
}

impl Unfinished {
    fn end(&mut self, why: &str) {
        self.done = true;
        // Best effort: when the store cannot be written now, the lease ends the run the
        // next time the store opens.
        let _ = Store::open(&self.dir).map_err(String::from).and_then(|s| {
            s.end_run(self.run_id, "failed", Some(why))?;
            s.checkpoint()
        });
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.done {
            self.end("mlpc stopped during the run (a panic: its message is above)");
        }
    }
}

struct Run<'a> {
    /// The nodes this run drives: the whole plan, or one node with what it reads.
    plan: &'a Plan,
    /// The whole plan, recorded with what the run registers.
    whole: &'a Plan,
    opts: &'a Options,
    run_id: i64,
    plan_hash: &'a str,
    parts: &'a BTreeMap<String, KeyParts>,
    run_node: NodeFn,
}

impl Run<'_> {
    fn drive(&self, on_event: &mut dyn FnMut(&Event)) -> Result<RunReport, String> {
        let (plan, opts, run_id) = (self.plan, self.opts, self.run_id);
        let mut parts = self.parts.clone();
        let dir = &opts.state_dir;
        // The work folder is this run's alone (one run at a time): what a crashed run left goes.
        let work = dir.join("tmp");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
        on_event(&Event::Started { run_id, nodes: plan.nodes.len() });

        let time_columns: BTreeMap<String, String> = plan
            .nodes
            .iter()
            .filter(|n| n.kind() == "source")
            .filter_map(|n| n.schema.iter().find(|c| c.time).map(|c| (n.name.clone(), c.name.clone())))
            .collect();
        let forced = forced_nodes(plan, opts);
        let mut artifacts: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
        let mut reports: BTreeMap<String, NodeReport> = BTreeMap::new();
        let mut running: BTreeSet<String> = BTreeSet::new();
        // Nodes rerun because a cached artifact of theirs was missing or changed on disk, and how.
        let mut why_rerun: BTreeMap<String, String> = BTreeMap::new();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.jobs.max(1))
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the executor: {e}"))?;
        let mut cancelled = false;
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            let mut task_nodes: BTreeMap<tokio::task::Id, String> = BTreeMap::new();
            let mut finished: Option<Done> = None;
            let ctrl_c = tokio::signal::ctrl_c();
            tokio::pin!(ctrl_c);
            loop {
                // One short session: record what finished, settle every node whose inputs
                // are settled, start what can run.
                let store = Store::open(dir)?;
                store.begin()?;
                if let Some(done) = finished.take() {
                    running.remove(&done.id);
                    let node = plan
                        .node(&done.id)
                        .ok_or_else(|| format!("a task ran `{}`, which is not in the plan", done.id))?;
                    let key = parts[&done.id].key();
                    let (status, message) = match done
                        .result
                        .and_then(|p| record(&store, run_id, &done.id, &key, &parts[&done.id], p, &mut artifacts))
                    {
                        Ok(message) => match why_rerun.remove(&done.id) {
                            Some(why) => (Status::Ran, format!("reran: {why} — {message}")),
                            None => (Status::Ran, message),
                        },
                        Err(message) => (Status::Failed, message),
                    };
                    let report = NodeReport {
                        id: node.id.clone(),
                        kind: node.kind().into(),
                        status,
                        message,
                        millis: done.millis,
                        cache_key: key,
                    };
                    record_node(&store, run_id, &report)?;
                    on_event(&Event::NodeFinished { node: &report });
                    reports.insert(node.id.clone(), report);
                }
                let mut progress = true;
                while progress {
                    progress = false;
                    for node in &plan.nodes {
                        if reports.contains_key(&node.id) || running.contains(&node.id) {
                            continue;
                        }
                        if !node.inputs.iter().all(|i| reports.contains_key(i)) {
                            continue;
                        }
                        if let NodeDef::Score(_) = node.def {
                            // Keyed on the version at its stage once what it waits for (the
                            // register node that may promote one) has settled. Nothing reads it.
                            let file = crate::cache::input_hash(&store, node, &opts.base_dir);
                            parts.get_mut(&node.id).expect("every node has key parts").file = file;
                        }
                        let key = parts[&node.id].key();
                        let blocked =
                            node.inputs.iter().find(|i| !matches!(reports[*i].status, Status::Ran | Status::Cached));
                        let settled = if cancelled {
                            Some((Status::Cancelled, "the run was cancelled".to_string()))
                        } else if let Some(b) = blocked.filter(|b| reports[*b].status == Status::Unsupported) {
                            Some((Status::Unsupported, format!("not run: waits for `{b}`")))
                        } else if let Some(b) = blocked {
                            Some((Status::Skipped, format!("not run: `{b}` did not complete")))
                        } else if let Some(why) = nodes::runs_elsewhere(node.kind()) {
                            Some((Status::Unsupported, format!("not run: {why}")))
                        } else if let Some(found) = (!forced.contains(node.id.as_str()))
                            .then(|| {
                                cached(&store, &node.id, &key).unwrap_or_else(|why| {
                                    why_rerun.insert(node.id.clone(), why);
                                    None
                                })
                            })
                            .flatten()
                        {
                            let reused = nodes::reuse(node, &found, &opts.base_dir);
                            artifacts.insert(node.id.clone(), found);
                            Some(match reused {
                                Ok(()) => (Status::Cached, "cache hit".to_string()),
                                Err(why) => (Status::Failed, why),
                            })
                        } else {
                            None
                        };
                        match settled {
                            Some((status, message)) => {
                                let report = NodeReport {
                                    id: node.id.clone(),
                                    kind: node.kind().into(),
                                    status,
                                    message,
                                    millis: 0,
                                    cache_key: key,
                                };
                                record_node(&store, run_id, &report)?;
                                on_event(&Event::NodeFinished { node: &report });
                                reports.insert(node.id.clone(), report);
                                progress = true;
                            }
                            None if running.len() < opts.jobs.max(1) => {
                                running.insert(node.id.clone());
                                on_event(&Event::NodeStarted { id: &node.id });
                                let node = node.clone();
                                let inputs_art = artifacts.clone();
                                let input_nodes: BTreeMap<String, Node> = node
                                    .inputs
                                    .iter()
                                    .filter_map(|i| plan.node(i).map(|n| (i.clone(), n.clone())))
                                    .collect();
                                let (base, work, times) = (opts.base_dir.clone(), work.clone(), time_columns.clone());
                                let state = opts.state_dir.clone();
                                let engine = opts.engine.clone();
                                let context = match &node.def {
                                    NodeDef::Register(def) => Some((def.clone(), self.context(&node))),
                                    _ => None,
                                };
                                let run_node = self.run_node;
                                let id = node.id.clone();
                                let task = tasks.spawn_blocking(move || {
                                    let start = std::time::Instant::now();
                                    let inputs = Inputs {
                                        base_dir: &base,
                                        work_dir: &work,
                                        state_dir: &state,
                                        artifacts: &inputs_art,
                                        time_columns: &times,
                                        nodes: &input_nodes,
                                        engine: &engine,
                                    };
                                    let result = match context {
                                        Some((def, ctx)) => crate::registration::register(&node, &def, &inputs, &ctx),
                                        None => run_node(&node, &inputs),
                                    }
                                    .map_err(|f| f.message);
                                    Done { id: node.id.clone(), result, millis: start.elapsed().as_millis() as u64 }
                                });
                                task_nodes.insert(task.id(), id);
                            }
                            None => {}
                        }
                    }
                }
                store.commit()?;
                drop(store);
                if tasks.is_empty() {
                    break;
                }
                let joined = tokio::select! {
                    joined = tasks.join_next_with_id() => joined,
                    _ = &mut ctrl_c, if !cancelled => { cancelled = true; continue; }
                };
                let Some(joined) = joined else { break };
                finished = Some(match joined {
                    Ok((task, done)) => {
                        task_nodes.remove(&task);
                        done
                    }
                    // A node that panicked fails with the panic's message; the run goes on.
                    Err(e) => {
                        let id = task_nodes.remove(&e.id()).unwrap_or_default();
                        Done { id, result: Err(panicked(e)), millis: 0 }
                    }
                });
            }
            Ok::<(), String>(())
        })?;
        let nodes: Vec<NodeReport> = plan.nodes.iter().filter_map(|n| reports.remove(&n.id)).collect();
        let failed = nodes.iter().any(|n| matches!(n.status, Status::Failed | Status::Skipped));
        let status = if cancelled {
            "cancelled"
        } else if failed {
            "failed"
        } else {
            "succeeded"
        };
        let store = Store::open(dir)?;
        store.transaction(|conn| {
            for e in plan.edges.iter().filter(|e| e.kind == EdgeKind::Data) {
                conn.execute("INSERT INTO lineage VALUES (?, ?, ?)", args![run_id, e.from, e.to])
                    .map_err(|e| e.to_string())?;
            }
            store.end_run(run_id, status, None)
        })?;
        drop(store);
        let _ = std::fs::remove_dir_all(&work);
        Ok(RunReport { run_id, status: status.into(), nodes })
    }

    /// What a register node needs from the run: the state folder, the plan's hash, the
    /// data's hashes and its inputs' cache keys.
    fn context(&self, node: &Node) -> crate::registration::RunContext {
        let parts = self.parts;
        crate::registration::RunContext {
            state_dir: self.opts.state_dir.clone(),
            run_id: self.run_id,
            plan_hash: self.plan_hash.to_string(),
            pipeline_file: self.opts.file.clone(),
            base_dir: self.opts.base_dir.clone(),
            // The whole plan's: a register node run alone (`--node`) records the same data.
            data_hashes: self
                .whole
                .nodes
                .iter()
                .filter(|n| n.kind() != "score")
                .filter_map(|n| parts[&n.id].file.clone().map(|f| (n.id.clone(), f)))
                .collect(),
            input_keys: node.inputs.iter().map(|i| (i.clone(), parts[i].key())).collect(),
            plan: self.whole.to_json(),
        }
    }
}

/// The message of a node task that did not return: what it panicked with.
fn panicked(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a value that is not text".into());
            format!("mlpc panicked while running this node: {what} (a bug in mlpc: please report it)")
        }
        Err(e) => format!("the node's task did not finish: {e}"),
    }
}

/// Records one settled node of the run.
fn record_node(store: &Store, run_id: i64, n: &NodeReport) -> Result<(), String> {
    store
        .db
        .execute(
            "INSERT INTO node_runs VALUES (?, ?, ?, ?, ?, ?, now(), ?, ?)",
            args![
                run_id,
                n.id,
                n.kind,
                status_name(n.status),
                n.cache_key,
                n.status == Status::Cached,
                n.millis as i64,
                n.message
            ],
        )
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The nodes a run executes even when cached: all under `force`, else those named in
/// `rerun` and every node downstream of them along data edges.
/// The part of `plan` that running `id` alone drives: the node, and the nodes it reads as
/// settled inputs (no inputs of their own). Each of those must have a result in the state
/// under its current cache key, or nothing runs.
fn alone(plan: &Plan, id: &str, parts: &BTreeMap<String, KeyParts>, store: &Store) -> Result<Plan, RunError> {
    let Some(node) = plan.node(id) else {
        return Err(RunError::NoSuchNode { id: id.into(), nodes: plan.nodes.iter().map(|n| n.id.clone()).collect() });
    };
    let mut nodes = Vec::new();
    for input in &node.inputs {
        let (node, input) = (id.to_string(), input.clone());
        let Some(n) = plan.node(&input) else {
            return Err(RunError::InputMissing { node, input });
        };
        match cached(store, &input, &parts[&input].key()) {
            Ok(Some(_)) => nodes.push(Node { inputs: Vec::new(), ..n.clone() }),
            Ok(None) => return Err(RunError::InputMissing { node, input }),
            Err(why) => return Err(RunError::InputUnusable { node, input, why }),
        }
    }
    nodes.push(node.clone());
    let edges = plan.edges.iter().filter(|e| e.to == id && e.kind == EdgeKind::Data).cloned().collect();
    Ok(Plan { nodes, edges, ..plan.clone() })
}

fn forced_nodes<'p>(plan: &'p Plan, opts: &Options) -> BTreeSet<&'p str> {
    if opts.force {
        // Alone, a node's inputs are what the state holds: only the node itself reruns.
        let forced = |n: &&Node| opts.only.as_ref().is_none_or(|only| *only == n.id);
        return plan.nodes.iter().filter(forced).map(|n| n.id.as_str()).collect();
    }
    let mut forced: BTreeSet<&str> =
        plan.nodes.iter().filter(|n| opts.rerun.contains(&n.id)).map(|n| n.id.as_str()).collect();
    // Plan order is topological: one pass reaches everything downstream.
    for n in &plan.nodes {
        if n.inputs.iter().any(|i| forced.contains(i.as_str())) {
            forced.insert(n.id.as_str());
        }
    }
    forced
}

pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ran => "ran",
        Status::Cached => "cached",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Unsupported => "unsupported",
        Status::Cancelled => "cancelled",
    }
}

/// The file extension of an artifact in a role: models are ONNX, data is Parquet.
fn extension(role: &str) -> &'static str {
    if role == "model" {
        "onnx"
    } else {
        "parquet"
    }
}

/// The artifacts of a cached execution with this key, when there is one — fetched from the
/// artifact store where this machine lacks them, uploaded where the store lacks them (made
/// before `--artifacts` was given); `Err` says why they cannot be reused (missing, or
/// changed on disk: `cache::verified`).
fn cached(store: &Store, node: &str, key: &str) -> Result<Option<BTreeMap<String, PathBuf>>, String> {
    let Ok(outputs) =
        store.db.query_row("SELECT outputs FROM cache WHERE node_id = ? AND cache_key = ?", args![node, key], |r| {
            r.get::<String>(0)
        })
    else {
        return Ok(None);
    };
    let Ok(outputs) = serde_json::from_str::<BTreeMap<String, String>>(&outputs) else { return Ok(None) };
    let paths = crate::cache::verified(store, outputs.clone(), |role, sha| store.artifact(sha, extension(role)))?;
    for (role, sha) in &outputs {
        store.upload(sha, extension(role))?;
    }
    Ok(Some(paths))
}

/// Stores what a node produced: artifacts, metrics, params and the cache entry.
fn record(
    store: &Store,
    run_id: i64,
    node: &str,
    key: &str,
    parts: &KeyParts,
    p: Produced,
    artifacts: &mut BTreeMap<String, BTreeMap<String, PathBuf>>,
) -> Result<String, String> {
    let mut outputs = BTreeMap::new();
    let mut paths = BTreeMap::new();
    let mut adopted: BTreeMap<&PathBuf, String> = BTreeMap::new();
    for (role, tmp) in &p.files {
        let sha = match adopted.get(tmp) {
            Some(sha) => sha.clone(),
            None => store.adopt(tmp, extension(role))?,
        };
        adopted.insert(tmp, sha.clone());
        store.remember_hash(&store.artifact_path(&sha, extension(role)), &sha)?;
        store
            .db
            .execute("INSERT INTO node_artifacts VALUES (?, ?, ?, ?)", args![run_id, node, role, sha])
            .map_err(|e| e.to_string())?;
        paths.insert(role.clone(), store.artifact_path(&sha, extension(role)));
        outputs.insert(role.clone(), sha);
    }
    for (name, value) in &p.metrics {
        store
            .db
            .execute("INSERT INTO metrics VALUES (?, ?, ?, ?)", args![run_id, node, name, value])
            .map_err(|e| e.to_string())?;
    }
    for (name, value) in &p.params {
        store
            .db
            .execute("INSERT INTO params VALUES (?, ?, ?, ?)", args![run_id, node, name, value])
            .map_err(|e| e.to_string())?;
    }
    store
        .db.execute(
            "INSERT INTO cache VALUES (?, ?, ?, ?, ?, now()) ON CONFLICT (node_id, cache_key) DO UPDATE
             SET outputs = excluded.outputs, metrics = excluded.metrics, parts = excluded.parts, created_at = excluded.created_at",
            args![
                node,
                key,
                serde_json::to_string(&outputs).expect("outputs serialize"),
                serde_json::to_string(&p.metrics).expect("metrics serialize"),
                serde_json::to_string(parts).expect("parts serialize")
            ],
        )
        .map_err(|e| e.to_string())?;
    artifacts.insert(node.to_string(), paths);
    Ok(p.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fixtures::{churn_plan, CHURN};

    /// The churn example's plan, a fresh state folder and options to run it with `jobs`.
    pub(super) fn churn(jobs: usize) -> (Plan, tempfile::TempDir, Options) {
        let plan = churn_plan();
        let state = tempfile::tempdir().unwrap();
        let opts = Options {
            file: CHURN.into(),
            base_dir: std::path::Path::new(CHURN).parent().unwrap().to_path_buf(),
            state_dir: state.path().to_path_buf(),
            force: false,
            rerun: Vec::new(),
            jobs,
            only: None,
            engine: crate::Engine::DuckDb,
        };
        (plan, state, opts)
    }

    /// Runs nodes as the runtime does, except that reading `orders` panics.
    fn orders_panics(node: &Node, inputs: &Inputs) -> Result<Produced, Failure> {
        if node.id == "source:orders" {
            panic!("index out of bounds in {}", node.id);
        }
        nodes::run(node, inputs)
    }

    #[test]
    fn a_node_that_panics_fails_with_its_message_and_the_run_fails() {
        let (plan, state, opts) = churn(2);
        let report = execute(&plan, &opts, &mut |_| {}, orders_panics).expect("the run ends");
        assert_eq!(report.status, "failed");
        let orders = report.nodes.iter().find(|n| n.id == "source:orders").unwrap();
        assert_eq!(orders.status, Status::Failed);
        assert!(
            orders.message.contains("panicked") && orders.message.contains("index out of bounds in source:orders"),
            "{}",
            orders.message
        );
        let features = report.nodes.iter().find(|n| n.id == "features:customer_features").unwrap();
        assert_eq!(features.status, Status::Skipped, "what reads it does not run");
        let customers = report.nodes.iter().find(|n| n.id == "source:customers").unwrap();
        assert_eq!(customers.status, Status::Ran, "the rest of the run goes on");

        let store = Store::open(state.path()).unwrap();
        let runs = crate::history::runs(&store).unwrap();
        assert_eq!((runs.len(), runs[0].status.as_str()), (1, "failed"));
        let shown = crate::history::show(&store, report.run_id).unwrap();
        let recorded = shown.nodes.iter().find(|n| n.id == "source:orders").unwrap();
        assert!(recorded.message.contains("index out of bounds"), "{}", recorded.message);
    }
}

#[cfg(test)]
mod stopping {
    use super::tests::churn;
    use super::*;

    #[test]
    fn a_run_whose_executor_panics_ends_failed_not_running() {
        let (plan, state, opts) = churn(1);
        // The caller's progress callback panics (a closed terminal, say) once a node has run.
        let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut on_event = |e: &Event| {
                if matches!(e, Event::NodeFinished { .. }) {
                    panic!("the terminal went away");
                }
            };
            execute(&plan, &opts, &mut on_event, nodes::run)
        }));
        assert!(stopped.is_err());
        let store = Store::open(state.path()).unwrap();
        let runs = crate::history::runs(&store).unwrap();
        assert_eq!(runs[0].status, "failed");
        assert!(
            runs[0].note.as_deref().unwrap_or_default().contains("mlpc stopped during the run"),
            "{:?}",
            runs[0].note
        );
    }
}
