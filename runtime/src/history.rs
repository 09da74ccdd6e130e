//! Reading the tracking store: runs, one run's nodes and metrics, two runs compared,
//! and which nodes a new run would execute.

use crate::cache::{key_parts, KeyParts};
use crate::store::Store;
use duckdb::params;
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

pub fn runs(store: &Store) -> Result<Vec<RunRow>, String> {
    let mut stmt = store
        .conn
        .prepare(
            "SELECT r.id, CAST(r.started_at AS VARCHAR), r.status, r.pipeline, r.file,
                    count(*) FILTER (WHERE n.status = 'ran'), count(*) FILTER (WHERE n.status = 'cached'), r.note
             FROM runs r LEFT JOIN node_runs n ON n.run_id = r.id
             GROUP BY ALL ORDER BY r.id",
        )
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
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
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
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
}

#[derive(Debug, Serialize)]
pub struct RunDetail {
    pub run: RunRow,
    pub nodes: Vec<NodeRow>,
}

pub fn show(store: &Store, id: i64) -> Result<RunDetail, String> {
    let run = runs(store)?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| format!("no run {id} in {}", store.dir.display()))?;
    let mut stmt = store
        .conn
        .prepare("SELECT node_id, kind, status, millis, message FROM node_runs WHERE run_id = ? ORDER BY rowid")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(params![id], |r| {
            Ok(NodeRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                status: r.get(2)?,
                millis: r.get(3)?,
                message: r.get(4)?,
                metrics: BTreeMap::new(),
                artifacts: BTreeMap::new(),
            })
        })
        .map_err(|e| e.to_string())?;
    let mut nodes: Vec<NodeRow> = rows.collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    for n in &mut nodes {
        // A cached node's numbers and files are those of the execution it reused.
        let key: String = store
            .conn
            .query_row("SELECT cache_key FROM node_runs WHERE run_id = ? AND node_id = ?", params![id, n.id], |r| {
                r.get(0)
            })
            .map_err(|e| e.to_string())?;
        if let Ok((outputs, metrics)) = store.conn.query_row(
            "SELECT outputs, metrics FROM cache WHERE node_id = ? AND cache_key = ?",
            params![n.id, key],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        ) {
            n.artifacts = serde_json::from_str(&outputs).unwrap_or_default();
            n.metrics = serde_json::from_str(&metrics).unwrap_or_default();
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
                .conn
                .query_row("SELECT count(*) FROM cache WHERE node_id = ? AND cache_key = ?", params![n.id, key], |r| {
                    r.get::<_, i64>(0)
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
                .conn
                .query_row(
                    "SELECT parts FROM cache WHERE node_id = ? ORDER BY created_at DESC LIMIT 1",
                    params![n.id],
                    |r| r.get::<_, String>(0),
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
