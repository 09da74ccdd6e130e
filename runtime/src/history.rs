//! Reading the tracking store: runs, one run's nodes and metrics, two runs compared,
//! and which nodes a new run would execute.

use crate::cache::{key_parts, KeyParts};
use crate::db::args;
use crate::store::Store;
use mlpc_plan::Plan;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub status: String,
    pub pipeline: String,
    pub file: String,
    pub nodes_ran: i64,
    pub nodes_cached: i64,
    /// Why a run that did not succeed ended as it did, when that is known (`interrupted`:
    /// its process was gone).
    pub note: Option<String>,
}

/// Which runs to list; every field narrows the list (the default: all of them).
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub id: Option<i64>,
    pub status: Option<String>,
    pub pipeline: Option<String>,
    /// Runs started on or after this day (`YYYY-MM-DD`).
    pub since: Option<String>,
    /// Runs started before the day after this one (`YYYY-MM-DD`).
    pub until: Option<String>,
    /// The most recent runs only, this many.
    pub limit: Option<usize>,
}

/// Every run, oldest first.
pub fn runs(store: &Store) -> Result<Vec<RunRow>, String> {
    runs_where(store, &RunFilter::default())
}

/// The runs a filter keeps, oldest first (with `limit`, the latest that many).
pub fn runs_where(store: &Store, f: &RunFilter) -> Result<Vec<RunRow>, String> {
    let limit = f.limit.map_or(i64::MAX, |l| l as i64);
    store
        .db
        .query(
            // The node counts in one join and aggregate over the runs kept (a subquery per
            // count read all of node_runs: 3 to 4 times slower at 10,000 runs).
            "SELECT r.id, CAST(r.started_at AS VARCHAR), r.status, r.pipeline, r.file,
                    count(*) FILTER (WHERE n.status = 'ran'), count(*) FILTER (WHERE n.status = 'cached'), r.note
             FROM (SELECT * FROM runs
                   WHERE ($1::BIGINT IS NULL OR id = $1::BIGINT) AND ($2::VARCHAR IS NULL OR status = $2::VARCHAR)
                     AND ($3::VARCHAR IS NULL OR pipeline = $3::VARCHAR)
                     AND ($4::VARCHAR IS NULL OR started_at >= CAST($4::VARCHAR AS DATE))
                     AND ($5::VARCHAR IS NULL OR started_at < CAST($5::VARCHAR AS DATE) + 1)
                   ORDER BY id DESC LIMIT $6::BIGINT) r
             LEFT JOIN node_runs n ON n.run_id = r.id
             GROUP BY r.id, r.started_at, r.status, r.pipeline, r.file, r.note
             ORDER BY r.id",
            args![f.id, f.status, f.pipeline, f.since, f.until, limit],
            |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    status: r.get(2)?,
                    pipeline: r.get(3)?,
                    file: r.get(4)?,
                    nodes_ran: r.get(5)?,
                    nodes_cached: r.get(6)?,
                    note: r.get(7)?,
                })
            },
        )
        .map_err(String::from)
}

/// Each node's latest execution: its status and run.
pub fn last_status(store: &Store) -> Result<BTreeMap<String, (String, i64)>, String> {
    let rows = store
        .db
        .query(
            "SELECT DISTINCT ON (node_id) node_id, status, run_id FROM node_runs ORDER BY node_id, run_id DESC",
            args![],
            |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))),
        )
        .map_err(String::from)?;
    Ok(rows.into_iter().collect())
}

/// One node's executions, latest first, at most `limit`.
#[derive(Debug, Serialize)]
pub struct NodeRun {
    pub run_id: i64,
    pub started_at: Option<String>,
    pub status: String,
    pub millis: i64,
    pub message: String,
}

pub fn node_runs(store: &Store, node: &str, limit: usize) -> Result<Vec<NodeRun>, String> {
    store
        .db
        .query(
            "SELECT run_id, CAST(started_at AS VARCHAR), status, millis, message FROM node_runs
             WHERE node_id = ? ORDER BY run_id DESC LIMIT ?",
            args![node, limit as i64],
            |r| {
                Ok(NodeRun {
                    run_id: r.get(0)?,
                    started_at: r.get(1)?,
                    status: r.get(2)?,
                    millis: r.get(3)?,
                    message: r.get(4)?,
                })
            },
        )
        .map_err(String::from)
}

#[derive(Debug, Serialize)]
pub struct NodeRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub millis: i64,
    pub message: String,
    pub metrics: BTreeMap<String, f64>,
    pub artifacts: BTreeMap<String, String>,
    /// The parameters of the execution behind this result (on a cache hit, the run reused).
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct RunDetail {
    pub run: RunRow,
    pub nodes: Vec<NodeRow>,
}

/// One run: its nodes in the order they were recorded, each with the artifacts, metrics and
/// parameters of the execution behind its result, in three queries whatever the run's size.
pub fn show(store: &Store, id: i64) -> Result<RunDetail, String> {
    let run = runs_where(store, &RunFilter { id: Some(id), ..RunFilter::default() })?
        .pop()
        .ok_or_else(|| format!("no run {id} in {}", store.place()))?;
    // The order the nodes were recorded in: DuckDB's row ids, the shared store's sequence.
    let order = if store.db.is_postgres() { "n.seq" } else { "n.rowid" };
    // A cached node's numbers and files are those of the execution it reused.
    let mut nodes = store
        .db
        .query(
            &format!(
                "SELECT n.node_id, n.kind, n.status, n.millis, n.message, c.outputs, c.metrics
                 FROM node_runs n LEFT JOIN cache c ON c.node_id = n.node_id AND c.cache_key = n.cache_key
                 WHERE n.run_id = ? ORDER BY {order}"
            ),
            args![id],
            |r| {
                let outputs: Option<String> = r.get(5)?;
                let metrics: Option<String> = r.get(6)?;
                Ok(NodeRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    status: r.get(2)?,
                    millis: r.get(3)?,
                    message: r.get(4)?,
                    metrics: metrics.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
                    artifacts: outputs.and_then(|o| serde_json::from_str(&o).ok()).unwrap_or_default(),
                    params: BTreeMap::new(),
                })
            },
        )
        .map_err(String::from)?;
    // The parameters of the execution each result comes from: this run, or the latest
    // earlier run that executed the node under the same cache key.
    let params: Vec<(String, String, String)> = store
        .db
        .query(
            "WITH mine AS (SELECT node_id, cache_key FROM node_runs WHERE run_id = $1::BIGINT),
                  source AS (SELECT n.node_id, max(n.run_id) AS run_id
                             FROM node_runs n JOIN mine m ON m.node_id = n.node_id AND m.cache_key = n.cache_key
                             WHERE n.status = 'ran' AND n.run_id <= $1::BIGINT GROUP BY n.node_id)
             SELECT p.node_id, p.name, p.value
             FROM params p JOIN source s ON s.node_id = p.node_id AND s.run_id = p.run_id",
            args![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(String::from)?;
    for (node, name, value) in params {
        if let Some(n) = nodes.iter_mut().find(|n| n.id == node) {
            n.params.insert(name, value);
        }
    }
    Ok(RunDetail { run, nodes })
}

#[derive(Debug, Serialize)]
pub struct Difference {
    pub node: String,
    pub what: String,
    pub a: String,
    pub b: String,
}

/// Nodes whose status, artifacts or metrics differ between two runs.
pub fn compare(store: &Store, a: i64, b: i64) -> Result<Vec<Difference>, String> {
    let (ra, rb) = (show(store, a)?, show(store, b)?);
    let mut out = Vec::new();
    for na in &ra.nodes {
        let Some(nb) = rb.nodes.iter().find(|n| n.id == na.id) else {
            out.push(Difference { node: na.id.clone(), what: "node".into(), a: "present".into(), b: "absent".into() });
            continue;
        };
        for (role, sha) in &na.artifacts {
            let other = nb.artifacts.get(role).cloned().unwrap_or_default();
            if &other != sha {
                out.push(Difference {
                    node: na.id.clone(),
                    what: format!("artifact {role}"),
                    a: short(sha),
                    b: short(&other),
                });
            }
        }
        for (m, v) in &na.metrics {
            let other = nb.metrics.get(m);
            if other != Some(v) {
                out.push(Difference {
                    node: na.id.clone(),
                    what: format!("metric {m}"),
                    a: v.to_string(),
                    b: other.map_or("—".into(), f64::to_string),
                });
            }
        }
    }
    Ok(out)
}

/// One thing (a node's status, parameter, metric or artifact) that differs across runs.
#[derive(Debug, Serialize)]
pub struct Varies {
    pub node: String,
    pub what: String,
    /// Its value in each run, in the order asked; `None` where the run has none.
    pub values: Vec<Option<String>>,
}

/// What differs across two or more runs: every node's outcome, parameters, metrics and
/// artifact hashes whose values are not the same in all of them; the rest is left out.
pub fn compare_many(store: &Store, ids: &[i64]) -> Result<Vec<Varies>, String> {
    let runs = ids.iter().map(|&id| show(store, id)).collect::<Result<Vec<_>, _>>()?;
    let mut table: BTreeMap<(String, String), Vec<Option<String>>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for n in &run.nodes {
            let mut put = |what: String, value: String| {
                table.entry((n.id.clone(), what)).or_insert_with(|| vec![None; runs.len()])[i] = Some(value);
            };
            // A cache hit gives what running would: only an outcome is worth comparing.
            put("outcome".into(), if n.status == "cached" { "ran".into() } else { n.status.clone() });
            n.params.iter().for_each(|(k, v)| put(format!("param {k}"), v.clone()));
            n.metrics.iter().for_each(|(k, v)| put(format!("metric {k}"), v.to_string()));
            n.artifacts.iter().for_each(|(k, v)| put(format!("artifact {k}"), v.clone()));
        }
    }
    Ok(table
        .into_iter()
        .filter(|(_, values)| values.iter().any(|v| v != &values[0]))
        .map(|((node, what), values)| Varies { node, what, values })
        .collect())
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

#[derive(Debug, Serialize)]
pub struct Staleness {
    pub node: String,
    pub would_run: bool,
    pub reason: String,
}

/// For each node: would `mlpc run` execute it, and why.
pub fn staleness(store: &Store, plan: &Plan, base_dir: &Path) -> Vec<Staleness> {
    let parts = key_parts(plan, |n| crate::cache::input_hash(store, n, base_dir));
    plan.nodes
        .iter()
        .map(|n| {
            let now = &parts[&n.id];
            let key = now.key();
            let hit: bool = store
                .db
                .query_row("SELECT count(*) FROM cache WHERE node_id = ? AND cache_key = ?", args![n.id, key], |r| {
                    r.get::<i64>(0)
                })
                .map(|c| c > 0)
                .unwrap_or(false);
            if let Some(why) = crate::nodes::runs_elsewhere(n.kind()) {
                return Staleness { node: n.id.clone(), would_run: false, reason: why.into() };
            }
            if hit {
                // As `mlpc run` would find it: artifacts changed on disk are not reused.
                return match crate::cache::entry_unchanged(store, &n.id, &key) {
                    Ok(()) => Staleness { node: n.id.clone(), would_run: false, reason: "cached".into() },
                    Err(why) => Staleness { node: n.id.clone(), would_run: true, reason: why },
                };
            }
            let before: Option<KeyParts> = store
                .db
                .query_row(
                    "SELECT parts FROM cache WHERE node_id = ? ORDER BY created_at DESC LIMIT 1",
                    args![n.id],
                    |r| r.get::<String>(0),
                )
                .ok()
                .and_then(|p| serde_json::from_str(&p).ok());
            let reason = match before {
                Some(b) => now.why_changed(&b),
                None => "never run".into(),
            };
            Staleness { node: n.id.clone(), would_run: true, reason }
        })
        .collect()
}
