//! The state folder: a DuckDB tracking store (runs, node executions, parameters,
//! metrics, artifacts, lineage, cache, the model registry) and content-addressed artifacts
//! beside it.

use duckdb::{params, Connection};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

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
        let conn = Connection::open(&db).map_err(|e| format!("cannot open {}: {e}", db.display()))?;
        conn.execute_batch(SCHEMA).map_err(|e| format!("cannot set up {}: {e}", db.display()))?;
        // The write-ahead log is folded in by the next writer; closing need not wait for it.
        conn.execute_batch("PRAGMA disable_checkpoint_on_shutdown").map_err(|e| e.to_string())?;
        Ok(Store { dir: dir.to_path_buf(), conn })
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
