//! The state folder: a DuckDB tracking store (runs, node executions, parameters,
//! metrics, artifacts, lineage, cache, the model registry) and content-addressed artifacts
//! beside it.

use duckdb::{params, AccessMode, Config, Connection};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Store {
    pub dir: PathBuf,
    pub conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id BIGINT PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
  pipeline VARCHAR, file VARCHAR, plan_hash VARCHAR, mlpc_version VARCHAR, forced BOOLEAN);
CREATE TABLE IF NOT EXISTS node_runs (
  run_id BIGINT, node_id VARCHAR, kind VARCHAR, status VARCHAR, cache_key VARCHAR,
  cached BOOLEAN, started_at TIMESTAMP, millis BIGINT, message VARCHAR);
CREATE TABLE IF NOT EXISTS params (run_id BIGINT, node_id VARCHAR, name VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS metrics (run_id BIGINT, node_id VARCHAR, name VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS artifacts (sha256 VARCHAR PRIMARY KEY, path VARCHAR, bytes BIGINT, created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS node_artifacts (run_id BIGINT, node_id VARCHAR, role VARCHAR, sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS lineage (run_id BIGINT, from_node VARCHAR, to_node VARCHAR);
CREATE TABLE IF NOT EXISTS cache (node_id VARCHAR, cache_key VARCHAR, outputs VARCHAR, metrics VARCHAR, parts VARCHAR, created_at TIMESTAMP, PRIMARY KEY (node_id, cache_key));
CREATE TABLE IF NOT EXISTS file_hashes (path VARCHAR PRIMARY KEY, bytes BIGINT, mtime_ns BIGINT, sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS model_versions (
  name VARCHAR, version BIGINT, registered_at VARCHAR, run_id BIGINT, model_node VARCHAR, artifact_sha256 VARCHAR,
  plan_hash VARCHAR, pipeline_file VARCHAR, data_hashes VARCHAR, params VARCHAR, metrics VARCHAR,
  algorithm VARCHAR, device VARCHAR, rules VARCHAR, git_commit VARCHAR, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS stage_moves (
  id BIGINT PRIMARY KEY, name VARCHAR, stage VARCHAR, from_version BIGINT, to_version BIGINT, kind VARCHAR,
  moved_at VARCHAR, moved_by VARCHAR, reason VARCHAR);
CREATE TABLE IF NOT EXISTS approvals (
  name VARCHAR, version BIGINT, stage VARCHAR, approved_by VARCHAR, approved_at VARCHAR, reason VARCHAR);
";

impl Store {
    /// Opens (creating) the state folder and its tracking store.
    pub fn open(dir: &Path) -> Result<Store, String> {
        std::fs::create_dir_all(dir.join("artifacts")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let db = dir.join("state.duckdb");
        let conn = open_waiting(&db, || Ok(Config::default()))?;
        conn.execute_batch(SCHEMA).map_err(|e| format!("cannot set up {}: {e}", db.display()))?;
        // The write-ahead log is folded in by the next writer; closing need not wait for it.
        conn.execute_batch("PRAGMA disable_checkpoint_on_shutdown").map_err(|e| e.to_string())?;
        Ok(Store { dir: dir.to_path_buf(), conn })
    }

    /// Opens an existing tracking store to read it, for a process that keeps running
    /// (`mlpc serve`): it must hold the file only briefly, since DuckDB lets one process
    /// write a file and no other process open it meanwhile.
    pub fn open_read_only(dir: &Path) -> Result<Store, String> {
        let db = dir.join("state.duckdb");
        if !db.exists() {
            return Err(format!(
                "no tracking store in `{}`: run the pipeline with `mlpc run FILE` first, or pass `--state DIR`",
                dir.display()
            ));
        }
        let conn = open_waiting(&db, || Config::default().access_mode(AccessMode::ReadOnly))?;
        Ok(Store { dir: dir.to_path_buf(), conn })
    }

    /// The artifact a node had in `role` in run `run_id`, whether it ran or was cached
    /// there (the cache entry its recorded key names).
    pub fn artifact_in_run(&self, run_id: i64, node: &str, role: &str) -> Result<Option<String>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.outputs FROM node_runs n JOIN cache c ON c.node_id = n.node_id AND c.cache_key = n.cache_key
                 WHERE n.run_id = ? AND n.node_id = ?",
            )
            .map_err(|e| e.to_string())?;
        let outputs: Vec<String> = stmt
            .query_map(params![run_id, node], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| e.to_string())?;
        let Some(outputs) = outputs.first() else { return Ok(None) };
        let roles: std::collections::BTreeMap<String, String> =
            serde_json::from_str(outputs).map_err(|e| format!("the cache entry of `{node}`: {e}"))?;
        Ok(roles.get(role).cloned())
    }

    /// The artifact a node produced in `role` in the latest run that recorded one.
    pub fn latest_artifact(&self, node: &str, role: &str) -> Result<Option<String>, String> {
        self.conn
            .query_row(
                "SELECT arg_max(sha256, run_id) FROM node_artifacts WHERE node_id = ? AND role = ?",
                params![node, role],
                |r| r.get(0),
            )
            .map_err(|e| e.to_string())
    }

    /// Where an artifact with this content hash lives.
    pub fn artifact_path(&self, sha: &str, ext: &str) -> PathBuf {
        self.dir.join("artifacts").join(&sha[..2]).join(format!("{sha}.{ext}"))
    }

    /// Moves a finished file into the content-addressed store (atomically, by rename)
    /// and records it; returns its sha256.
    pub fn adopt(&self, tmp: &Path, ext: &str) -> Result<String, String> {
        let sha = file_sha256(tmp)?;
        let dest = self.artifact_path(&sha, ext);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        if dest.exists() {
            let _ = std::fs::remove_file(tmp);
        } else {
            std::fs::rename(tmp, &dest).map_err(|e| format!("cannot store {}: {e}", dest.display()))?;
        }
        let bytes = std::fs::metadata(&dest).map(|m| m.len() as i64).unwrap_or(0);
        self.conn
            .execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, now()) ON CONFLICT DO NOTHING",
                params![sha, dest.to_string_lossy(), bytes],
            )
            .map_err(|e| e.to_string())?;
        Ok(sha)
    }

    /// A file's sha256, reusing the stored one while its size and mtime are unchanged.
    pub fn file_hash(&self, path: &Path) -> Result<String, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        let key = path.to_string_lossy().to_string();
        let known: Option<String> = self
            .conn
            .query_row(
                "SELECT sha256 FROM file_hashes WHERE path = ? AND bytes = ? AND mtime_ns = ?",
                params![key, meta.len() as i64, mtime],
                |r| r.get(0),
            )
            .ok();
        if let Some(sha) = known {
            return Ok(sha);
        }
        let sha = file_sha256(path)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
                params![key, meta.len() as i64, mtime, sha],
            )
            .map_err(|e| e.to_string())?;
        Ok(sha)
    }

    pub fn next_run_id(&self) -> Result<i64, String> {
        self.conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM runs", [], |r| r.get(0)).map_err(|e| e.to_string())
    }
}

/// How long opening the store waits, in all, while another process holds its lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens a DuckDB file, retrying while another process holds its lock (a registry command
/// beside a running server, or the server's brief reads beside a command).
fn open_waiting(db: &Path, config: impl Fn() -> duckdb::Result<Config>) -> Result<Connection, String> {
    let started = std::time::Instant::now();
    loop {
        let opened = config().and_then(|c| Connection::open_with_flags(db, c));
        match opened {
            Ok(conn) => return Ok(conn),
            Err(e) if e.to_string().contains("lock") && started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("cannot open {}: {e}", db.display())),
        }
    }
}

pub fn file_sha256(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}
