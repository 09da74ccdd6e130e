//! Runs a plan's nodes in dependency order — independent nodes concurrently, up to
//! `jobs` at a time — on tokio. A failure stops what depends on it; the rest finishes.
//! Ctrl-C lets running nodes finish, starts nothing new, and records the run as cancelled.

use crate::cache::{key_parts, KeyParts};
use crate::nodes::{self, Inputs, Produced};
use crate::store::Store;
use duckdb::params;
use mlpc_compiler::plan::{EdgeKind, Plan};
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

pub fn run(plan: &Plan, opts: &Options, on_event: &mut dyn FnMut(&Event)) -> Result<RunReport, String> {
    let store = Store::open(&opts.state_dir)?;
    let work = opts.state_dir.join("tmp");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let parts = key_parts(plan, |n| nodes::input_file(n, &opts.base_dir).and_then(|p| store.file_hash(&p).ok()));
    let run_id = store.next_run_id()?;
    let pipeline = plan.pipeline.as_ref().map(|p| p.name.clone()).unwrap_or_default();
    let plan_hash = crate::cache::KeyParts {
        definition: plan.nodes.iter().map(|n| n.hash.as_str()).collect::<Vec<_>>().join(","),
        ..Default::default()
    }
    .key();
    store
        .conn
        .execute(
            "INSERT INTO runs VALUES (?, now(), NULL, 'running', ?, ?, ?, ?, ?)",
            params![run_id, pipeline, opts.file, plan_hash, env!("CARGO_PKG_VERSION"), opts.force],
        )
        .map_err(|e| e.to_string())?;
    on_event(&Event::Started { run_id, nodes: plan.nodes.len() });

    let time_columns: BTreeMap<String, String> = plan
        .nodes
        .iter()
        .filter(|n| n.kind == "source")
        .filter_map(|n| n.schema.iter().find(|c| c.time).map(|c| (n.name.clone(), c.name.clone())))
        .collect();
    let forced = forced_nodes(plan, opts);
    let mut artifacts: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    let mut reports: BTreeMap<String, NodeReport> = BTreeMap::new();
    let mut running: BTreeSet<String> = BTreeSet::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.jobs.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the executor: {e}"))?;
    let mut cancelled = false;
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            // Settle every node whose inputs are settled; start what can run.
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
                    let key = parts[&node.id].key();
                    let blocked =
                        node.inputs.iter().find(|i| !matches!(reports[*i].status, Status::Ran | Status::Cached));
                    let settled = if cancelled {
                        Some((Status::Cancelled, "the run was cancelled".to_string()))
                    } else if let Some(b) = blocked.filter(|b| reports[*b].status == Status::Unsupported) {
                        Some((Status::Unsupported, format!("not run: waits for `{b}`")))
                    } else if let Some(b) = blocked {
                        Some((Status::Skipped, format!("not run: `{b}` did not complete")))
                    } else if let Some(why) = nodes::runs_elsewhere(node.kind) {
                        Some((Status::Unsupported, format!("not run: {why}")))
                    } else if let Some(found) =
                        (!forced.contains(node.id.as_str())).then(|| cached(&store, &node.id, &key)).flatten()
                    {
                        artifacts.insert(node.id.clone(), found);
                        Some((Status::Cached, "cache hit".to_string()))
                    } else {
                        None
                    };
                    match settled {
                        Some((status, message)) => {
                            let report = NodeReport {
                                id: node.id.clone(),
                                kind: node.kind.into(),
                                status,
                                message,
                                millis: 0,
                                cache_key: key,
                            };
                            on_event(&Event::NodeFinished { node: &report });
                            reports.insert(node.id.clone(), report);
                            progress = true;
                        }
                        None if running.len() < opts.jobs.max(1) => {
                            running.insert(node.id.clone());
                            on_event(&Event::NodeStarted { id: &node.id });
                            let node = node.clone();
                            let inputs_art = artifacts.clone();
                            let input_nodes: BTreeMap<String, mlpc_compiler::plan::Node> = node
                                .inputs
                                .iter()
                                .filter_map(|i| plan.node(i).map(|n| (i.clone(), n.clone())))
                                .collect();
                            let (base, work, times) = (opts.base_dir.clone(), work.clone(), time_columns.clone());
                            let context = match node.kind {
                                "register" => Some(run_context(&store, run_id, &plan_hash, opts, plan, &parts, &node)),
                                _ => None,
                            };
                            tasks.spawn_blocking(move || {
                                let start = std::time::Instant::now();
                                let inputs = Inputs {
                                    base_dir: &base,
                                    work_dir: &work,
                                    artifacts: &inputs_art,
                                    time_columns: &times,
                                    nodes: &input_nodes,
                                };
                                let result = match context {
                                    Some(Ok(ctx)) => crate::registration::register(&node, &inputs, &ctx),
                                    Some(Err(e)) => Err(e.into()),
                                    None => nodes::run(&node, &inputs),
                                }
                                .map_err(|f| f.message);
                                Done { id: node.id.clone(), result, millis: start.elapsed().as_millis() as u64 }
                            });
                        }
                        None => {}
                    }
                }
            }
            if tasks.is_empty() {
                break;
            }
            let done = tokio::select! {
                done = tasks.join_next() => done,
                _ = &mut ctrl_c, if !cancelled => { cancelled = true; continue; }
            };
            let Some(done) = done else { break };
            let done = done.unwrap_or_else(|e| Done {
                id: String::new(),
                result: Err(format!("a node panicked: {e}")),
                millis: 0,
            });
            running.remove(&done.id);
            let node = plan.node(&done.id).expect("finished nodes are in the plan");
            let key = parts[&done.id].key();
            let (status, message) = match done
                .result
                .and_then(|p| record(&store, run_id, &done.id, &key, &parts[&done.id], p, &mut artifacts))
            {
                Ok(message) => (Status::Ran, message),
                Err(message) => (Status::Failed, message),
            };
            let report = NodeReport {
                id: node.id.clone(),
                kind: node.kind.into(),
                status,
                message,
                millis: done.millis,
                cache_key: key,
            };
            on_event(&Event::NodeFinished { node: &report });
            reports.insert(node.id.clone(), report);
        }
    });
    let nodes: Vec<NodeReport> = plan.nodes.iter().filter_map(|n| reports.remove(&n.id)).collect();
    // The run's records commit together: one write to the store, not one per row.
    store.conn.execute_batch("BEGIN TRANSACTION").map_err(|e| e.to_string())?;
    for n in &nodes {
        store
            .conn
            .execute(
                "INSERT INTO node_runs VALUES (?, ?, ?, ?, ?, ?, now(), ?, ?)",
                params![
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
            .map_err(|e| e.to_string())?;
    }
    for e in plan.edges.iter().filter(|e| e.kind == EdgeKind::Data) {
        store
            .conn
            .execute("INSERT INTO lineage VALUES (?, ?, ?)", params![run_id, e.from, e.to])
            .map_err(|e| e.to_string())?;
    }
    let failed = nodes.iter().any(|n| matches!(n.status, Status::Failed | Status::Skipped));
    let status = if cancelled {
        "cancelled"
    } else if failed {
        "failed"
    } else {
        "succeeded"
    };
    store
        .conn
        .execute("UPDATE runs SET finished_at = now(), status = ? WHERE id = ?", params![status, run_id])
        .map_err(|e| e.to_string())?;
    store.conn.execute_batch("COMMIT").map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(RunReport { run_id, status: status.into(), nodes })
}

/// The nodes a run executes even when cached: all under `force`, else those named in
/// `rerun` and every node downstream of them along data edges.
fn forced_nodes<'p>(plan: &'p Plan, opts: &Options) -> BTreeSet<&'p str> {
    if opts.force {
        return plan.nodes.iter().map(|n| n.id.as_str()).collect();
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

/// What a register node needs from the run: a connection to the store, the plan's
/// hash, the data's hashes and its inputs' cache keys.
fn run_context(
    store: &Store,
    run_id: i64,
    plan_hash: &str,
    opts: &Options,
    plan: &Plan,
    parts: &BTreeMap<String, KeyParts>,
    node: &mlpc_compiler::plan::Node,
) -> Result<crate::registration::RunContext, String> {
    let conn = store.conn.try_clone().map_err(|e| format!("cannot open the store again: {e}"))?;
    Ok(crate::registration::RunContext {
        store: Store { dir: store.dir.clone(), conn },
        run_id,
        plan_hash: plan_hash.to_string(),
        pipeline_file: opts.file.clone(),
        base_dir: opts.base_dir.clone(),
        data_hashes: plan.nodes.iter().filter_map(|n| parts[&n.id].file.clone().map(|f| (n.id.clone(), f))).collect(),
        input_keys: node.inputs.iter().map(|i| (i.clone(), parts[i].key())).collect(),
    })
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

/// The artifacts of a cached execution with this key, when all of them are still there.
fn cached(store: &Store, node: &str, key: &str) -> Option<BTreeMap<String, PathBuf>> {
    let outputs: String = store
        .conn
        .query_row("SELECT outputs FROM cache WHERE node_id = ? AND cache_key = ?", params![node, key], |r| r.get(0))
        .ok()?;
    let outputs: BTreeMap<String, String> = serde_json::from_str(&outputs).ok()?;
    let paths: BTreeMap<String, PathBuf> = outputs
        .into_iter()
        .map(|(role, sha)| {
            let path = store.artifact_path(&sha, extension(&role));
            (role, path)
        })
        .collect();
    paths.values().all(|p| p.exists()).then_some(paths)
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
        store
            .conn
            .execute("INSERT INTO node_artifacts VALUES (?, ?, ?, ?)", params![run_id, node, role, sha])
            .map_err(|e| e.to_string())?;
        paths.insert(role.clone(), store.artifact_path(&sha, extension(role)));
        outputs.insert(role.clone(), sha);
    }
    for (name, value) in &p.metrics {
        store
            .conn
            .execute("INSERT INTO metrics VALUES (?, ?, ?, ?)", params![run_id, node, name, value])
            .map_err(|e| e.to_string())?;
    }
    for (name, value) in &p.params {
        store
            .conn
            .execute("INSERT INTO params VALUES (?, ?, ?, ?)", params![run_id, node, name, value])
            .map_err(|e| e.to_string())?;
    }
    store
        .conn
        .execute(
            "INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, now())",
            params![
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
