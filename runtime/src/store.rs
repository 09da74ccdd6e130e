//! The state folder: a DuckDB tracking store (runs, node executions, parameters,
//! metrics, artifacts, lineage, cache, the model registry, the audit log's anchor) and
//! content-addressed artifacts beside it.
//!
//! DuckDB lets one process hold a database file at a time, so every user of the store
//! holds it only for a moment: open, do, close. [`Store::open`] waits (a bounded time,
//! naming the holder) while another process has it, and a process never opens the same
//! store twice at once (sessions on one file are serialized within the process). Writers
//! checkpoint before they close, so everything committed is in `state.duckdb` itself and
//! never only in its write-ahead log (a checkpoint that fails after a commit is a warning:
//! the change is made, and stays in the write-ahead log until a later checkpoint).

use crate::artifacts::{ArtifactError, ArtifactStore};
use crate::db::{args, Db, DbError, PgTarget};
use crate::file_lock::{self, Held, LockError, Mode};
use crate::remote_artifacts::{self, off_runtime};
use duckdb::{AccessMode, Config, Connection};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

pub struct Store {
    pub dir: PathBuf,
    pub db: Db,
    /// The object store artifacts are also kept in (`--artifacts`), this folder's
    /// `artifacts/` its cache.
    remote: Option<Arc<ArtifactStore>>,
    /// Released after `db` is closed (fields drop in order); none for a Postgres store.
    _lock: Option<Held>,
    _session: Option<Session>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id BIGINT PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
  pipeline VARCHAR, file VARCHAR, plan_hash VARCHAR, mlpc_version VARCHAR, forced BOOLEAN);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid_started BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS boot_id VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS note VARCHAR;
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
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS plan VARCHAR;
CREATE TABLE IF NOT EXISTS stage_moves (
  id BIGINT PRIMARY KEY, name VARCHAR, stage VARCHAR, from_version BIGINT, to_version BIGINT, kind VARCHAR,
  moved_at VARCHAR, moved_by VARCHAR, reason VARCHAR);
CREATE TABLE IF NOT EXISTS approvals (
  name VARCHAR, version BIGINT, stage VARCHAR, approved_by VARCHAR, approved_at VARCHAR, reason VARCHAR);
CREATE TABLE IF NOT EXISTS audit_anchor (id INTEGER PRIMARY KEY, entries BIGINT, head VARCHAR, tail VARCHAR);
";

/// Why the tracking store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no tracking store in `{0}`: run the pipeline with `mlpc run FILE` first, or pass `--state DIR`")]
    Missing(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Held(#[from] LockError),
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: duckdb::Error },
    #[error("cannot set up {path}: {source}")]
    Schema { path: PathBuf, source: duckdb::Error },
    #[error("{0} is already open in this thread: a second session would wait for itself (a bug in mlpc)")]
    OpenInThisThread(PathBuf),
    #[error("{0}")]
    Postgres(DbError),
    #[error("cannot settle the runs a crash left: {0}")]
    Settle(String),
    #[error(transparent)]
    Artifacts(#[from] ArtifactError),
}

/// For callers that report errors as text.
impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
}

impl Store {
    /// Keeps the tracking store of state folder `dir` on a Postgres server, for every
    /// [`Store::open`] of `dir` in this process (`--state postgres://…`); the folder keeps
    /// what stays on this machine: the artifacts and a run's work files.
    pub fn share(dir: &Path, target: PgTarget) {
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        let dir = folder_key(dir);
        shared.retain(|(d, _)| *d != dir);
        shared.push((dir, target));
    }

    /// The Postgres server `dir`'s tracking store is on, if [`Store::share`] put it there.
    pub fn shared(dir: &Path) -> Option<PgTarget> {
        let dir = folder_key(dir);
        SHARED.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(d, _)| *d == dir).map(|(_, t)| t.clone())
    }

    /// Opens (creating) the state folder and its tracking store, then settles what a crash
    /// left behind: runs whose process is gone become `interrupted`, and audit entries a
    /// registry change committed but did not get to write are written.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join("artifacts"))
            .map_err(|source| StoreError::Create { path: dir.to_path_buf(), source })?;
        if let Some(target) = Store::shared(dir) {
            let store = Store::open_postgres(dir, &target)?;
            store.end_gone_runs().map_err(StoreError::Settle)?;
            return Ok(store);
        }
        let db = dir.join("state.duckdb");
        let session = Session::begin(&db)?;
        let (conn, lock) = open_waiting(&db, Mode::Alone, || Ok(Config::default()))?;
        conn.execute_batch(SCHEMA).map_err(|source| StoreError::Schema { path: db.clone(), source })?;
        let remote = remote_artifacts::for_folder(dir, folder_key(dir))?;
        let store =
            Store { dir: dir.to_path_buf(), db: Db::Duck(conn), remote, _lock: Some(lock), _session: Some(session) };
        store.end_gone_runs().map_err(StoreError::Settle)?;
        crate::audit::settle(&store);
        Ok(store)
    }

    /// Opens an existing tracking store to read it. A process that keeps running (`mlpc
    /// serve`) holds it only briefly with this, as every user of the store does.
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        if let Some(target) = Store::shared(dir) {
            return Store::open_postgres(dir, &target);
        }
        let db = dir.join("state.duckdb");
        if !db.exists() {
            return Err(StoreError::Missing(dir.to_path_buf()));
        }
        let session = Session::begin(&db)?;
        let (conn, lock) = open_waiting(&db, Mode::Shared, || Config::default().access_mode(AccessMode::ReadOnly))?;
        let remote = remote_artifacts::for_folder(dir, folder_key(dir))?;
        Ok(Store { dir: dir.to_path_buf(), db: Db::Duck(conn), remote, _lock: Some(lock), _session: Some(session) })
    }

    /// A session on the Postgres store, its schema current (created on a new database).
    fn open_postgres(dir: &Path, target: &PgTarget) -> Result<Store, StoreError> {
        let lease = Lease::mine();
        let who = format!("mlpc {} (process {} on {})", env!("CARGO_PKG_VERSION"), lease.pid, lease.host);
        let db = Db::Postgres(crate::db::PgSession::open(target, &who).map_err(StoreError::Postgres)?);
        crate::migrations::ready(&db, target).map_err(StoreError::Postgres)?;
        let remote = remote_artifacts::for_folder(dir, folder_key(dir))?;
        Ok(Store { dir: dir.to_path_buf(), db, remote, _lock: None, _session: None })
    }

    /// Folds the write-ahead log into `state.duckdb`, so that what was committed does not
    /// live only in `state.duckdb.wal`. Writers call it after each run and registry change.
    /// (Postgres keeps its own log.)
    pub fn checkpoint(&self) -> Result<(), String> {
        match self.db {
            Db::Duck(_) => {
                self.db.batch("CHECKPOINT").map_err(|e| format!("cannot checkpoint the tracking store: {e}"))
            }
            Db::Postgres(_) => Ok(()),
        }
    }

    /// Starts a run: records it as `running` with this process's lease and returns its id.
    /// Refuses while another run of this state folder is in progress (on a shared store:
    /// another run from this machine; runs from other machines go on side by side).
    pub fn begin_run(&self, pipeline: &str, file: &str, plan_hash: &str, forced: bool) -> Result<i64, String> {
        let lease = Lease::mine();
        self.transaction(|db| {
            let busy = db
                .query(
                    "SELECT id, pid, host, CAST(started_at AS VARCHAR) FROM runs
                     WHERE status = 'running' AND (? OR host = ?) ORDER BY id",
                    args![!db.is_postgres(), lease.host],
                    |r| Ok((r.get::<i64>(0)?, r.get::<Option<i64>>(1)?, r.get::<Option<String>>(2)?, r.get::<String>(3)?)),
                )
                .map_err(String::from)?;
            if let Some((id, pid, host, started)) = busy.first() {
                let pid = pid.map_or_else(|| "?".into(), |p| p.to_string());
                let host = host.as_deref().unwrap_or("?");
                return Err(format!(
                    "run {id} is in progress in {} (process {pid} on {host}, started {started}): wait for it to \
                     finish, or stop it; a run whose process is gone is marked `interrupted` the next time the store opens",
                    self.place()
                ));
            }
            let id: i64 =
                db.query_row("SELECT coalesce(max(id), 0) + 1 FROM runs", args![], |r| r.get(0)).map_err(String::from)?;
            db.execute(
                "INSERT INTO runs (id, started_at, finished_at, status, pipeline, file, plan_hash, mlpc_version, forced,
                                   pid, pid_started, boot_id, host)
                 VALUES (?, now(), NULL, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    id,
                    pipeline,
                    file,
                    plan_hash,
                    env!("CARGO_PKG_VERSION"),
                    forced,
                    lease.pid,
                    lease.started,
                    lease.boot,
                    lease.host
                ],
            )
            .map_err(String::from)?;
            Ok(id)
        })
    }

    /// Where the tracking store is, for messages: the state folder, or the Postgres server
    /// (without its password).
    pub fn place(&self) -> String {
        match Store::shared(&self.dir) {
            Some(target) if self.db.is_postgres() => target.to_string(),
            _ => self.dir.display().to_string(),
        }
    }

    /// Ends a run that is still `running` with `status` (and why, when it did not succeed).
    pub fn end_run(&self, id: i64, status: &str, note: Option<&str>) -> Result<(), String> {
        self.db
            .execute(
                "UPDATE runs SET finished_at = now(), status = ?, note = ? WHERE id = ? AND status = 'running'",
                args![status, note, id],
            )
            .map(drop)
            .map_err(String::from)
    }

    /// Marks `interrupted` every `running` run whose process has gone (killed, crashed, the
    /// machine restarted); returns them with the reason.
    pub fn end_gone_runs(&self) -> Result<Vec<(i64, String)>, String> {
        let running: Vec<(i64, Option<Lease>)> = self
            .db
            .query("SELECT id, pid, pid_started, boot_id, host FROM runs WHERE status = 'running'", args![], |r| {
                let lease = match (r.get::<Option<i64>>(1)?, r.get::<Option<String>>(4)?) {
                    (Some(pid), Some(host)) => Some(Lease { pid, started: r.get(2)?, boot: r.get(3)?, host }),
                    _ => None,
                };
                Ok((r.get(0)?, lease))
            })
            .map_err(String::from)?;
        let mut ended = Vec::new();
        for (id, lease) in running {
            let why = match lease {
                Some(lease) => match lease.gone() {
                    Some(why) => why,
                    None => continue,
                },
                // Runs of mlpc before leases held the store for the whole run: that this
                // process could open it means theirs has ended.
                None => "it has no lease (an older mlpc started it) and its process no longer holds the store".into(),
            };
            let note = format!("interrupted: {why}");
            self.end_run(id, "interrupted", Some(&note))?;
            ended.push((id, note));
        }
        Ok(ended)
    }

    /// Runs `work` in one transaction, committed and checkpointed when it returns `Ok`.
    /// Once COMMIT succeeds the change is made, and so is the result `Ok`: a checkpoint
    /// that fails then is a warning on stderr (what was committed stays in the write-ahead
    /// log, which the next open or checkpoint folds in), never an error that would have the
    /// caller report a change as failed, skip its audit entries, and have it made again.
    /// On Postgres, writers take turns: each transaction holds the store's write lock.
    pub fn transaction<T, E: From<String>>(&self, work: impl FnOnce(&Db) -> Result<T, E>) -> Result<T, E> {
        self.begin()?;
        match work(&self.db) {
            Ok(t) => {
                self.commit()?;
                Ok(t)
            }
            Err(e) => {
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Opens a transaction (on Postgres, once this session holds the store's write lock:
    /// a bounded wait, naming the holder when it runs out).
    pub fn begin(&self) -> Result<(), String> {
        self.db.batch("BEGIN TRANSACTION").map_err(String::from)?;
        if self.db.is_postgres() {
            if let Err(e) = self.db.execute("SELECT pg_advisory_xact_lock(?)", args![WRITE_LOCK]) {
                let holders = self.lock_holders();
                let _ = self.db.batch("ROLLBACK");
                return Err(format!(
                    "the Postgres store {} is locked by {holders} ({e}); nothing was changed: try again once it is done",
                    self.place()
                ));
            }
        }
        Ok(())
    }

    /// Who holds the Postgres store's write lock, as their sessions name themselves.
    fn lock_holders(&self) -> String {
        let _ = self.db.batch("ROLLBACK");
        let holders = self.db.query(
            // A bigint key is held as classid (its high half) and objid (its low half), in
            // this database: other databases on the server have write locks of their own.
            "SELECT coalesce(nullif(a.application_name, ''), '?'), coalesce(host(a.client_addr), 'local'),
                    CAST(extract(epoch FROM now() - a.xact_start) AS BIGINT)
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND (CAST(l.classid AS BIGINT) << 32) | CAST(l.objid AS BIGINT) = ?",
            args![WRITE_LOCK],
            |r| Ok(format!("{} from {} for {} s", r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)),
        );
        match holders {
            Ok(h) if !h.is_empty() => h.join(", "),
            Ok(_) => "another session, which has let go since".into(),
            Err(e) => format!("another session (who cannot be read: {e})"),
        }
    }

    /// Commits the open transaction, then checkpoints; a checkpoint that fails after the
    /// commit is a warning (see [`Store::transaction`]).
    pub fn commit(&self) -> Result<(), String> {
        self.db.batch("COMMIT").map_err(String::from)?;
        if let Err(e) = self.checkpoint() {
            eprintln!(
                "warning: the change is made, but {e}: until a later checkpoint it is kept in {}; do not delete \
                 that file",
                self.dir.join("state.duckdb.wal").display()
            );
        }
        Ok(())
    }

    /// The artifact a node had in `role` in run `run_id`, whether it ran or was cached
    /// there (the cache entry its recorded key names).
    pub fn artifact_in_run(&self, run_id: i64, node: &str, role: &str) -> Result<Option<String>, String> {
        let outputs = self
            .db
            .query_opt(
                "SELECT c.outputs FROM node_runs n JOIN cache c ON c.node_id = n.node_id AND c.cache_key = n.cache_key
                 WHERE n.run_id = ? AND n.node_id = ?",
                args![run_id, node],
                |r| r.get::<String>(0),
            )
            .map_err(String::from)?;
        let Some(outputs) = outputs else { return Ok(None) };
        let roles: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&outputs).map_err(|e| format!("the cache entry of `{node}`: {e}"))?;
        Ok(roles.get(role).cloned())
    }

    /// The artifact a node produced in `role` in the latest run that recorded one.
    pub fn latest_artifact(&self, node: &str, role: &str) -> Result<Option<String>, String> {
        self.db
            .query_opt(
                "SELECT sha256 FROM node_artifacts WHERE node_id = ? AND role = ? ORDER BY run_id DESC LIMIT 1",
                args![node, role],
                |r| r.get(0),
            )
            .map_err(String::from)
    }

    /// A local copy of an artifact: its file in this folder, fetched from the artifact
    /// store (`--artifacts`) when missing here — checked against its sha256 before it is
    /// put in place, so a corrupt object is refused, never used.
    pub fn artifact(&self, sha: &str, ext: &str) -> Result<PathBuf, String> {
        let path = self.artifact_path(sha, ext);
        match &self.remote {
            Some(remote) if !path.exists() => off_runtime(|| remote.fetch(sha, ext)).map_err(|e| e.to_string()),
            _ => Ok(path),
        }
    }

    /// Uploads an artifact of this folder to the artifact store (`--artifacts`), unless it
    /// holds it already; false (and nothing done) without one.
    pub fn upload(&self, sha: &str, ext: &str) -> Result<bool, String> {
        let Some(remote) = &self.remote else { return Ok(false) };
        let path = self.artifact_path(sha, ext);
        off_runtime(|| remote.put(&path, sha, ext)).map(|_| true).map_err(|e| e.to_string())
    }

    /// Where an artifact with this content hash lives in this folder.
    pub fn artifact_path(&self, sha: &str, ext: &str) -> PathBuf {
        self.dir.join("artifacts").join(&sha[..2]).join(format!("{sha}.{ext}"))
    }

    /// Moves a finished file into the content-addressed store (atomically, by rename),
    /// records it and uploads it to the artifact store (`--artifacts`); returns its sha256.
    pub fn adopt(&self, tmp: &Path, ext: &str) -> Result<String, String> {
        let sha = file_sha256(tmp)?;
        let dest = self.artifact_path(&sha, ext);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        // Renamed even over a file of the same name (atomically): what is stored is what was
        // just hashed, even where the file there had been altered since it was stored.
        std::fs::rename(tmp, &dest).map_err(|e| format!("cannot store {}: {e}", dest.display()))?;
        let bytes = std::fs::metadata(&dest).map(|m| m.len() as i64).unwrap_or(0);
        self.db
            .execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, now()) ON CONFLICT DO NOTHING",
                args![sha, dest.to_string_lossy(), bytes],
            )
            .map_err(String::from)?;
        self.upload(&sha, ext)?;
        Ok(sha)
    }

    /// A file's sha256, reusing the stored one while its size and mtime are unchanged.
    pub fn file_hash(&self, path: &Path) -> Result<String, String> {
        let (key, bytes, mtime) = stat(path)?;
        let known: Option<String> = self
            .db
            .query_opt(
                "SELECT sha256 FROM file_hashes WHERE path = ? AND bytes = ? AND mtime_ns = ?",
                args![key, bytes, mtime],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        if let Some(sha) = known {
            return Ok(sha);
        }
        let sha = file_sha256(path)?;
        self.record_hash(&key, bytes, mtime, &sha)?;
        Ok(sha)
    }

    /// Records `sha` as the hash of `path` at its present size and mtime, for a file whose
    /// bytes were just hashed (an artifact [`Store::adopt`] renamed into place).
    pub fn remember_hash(&self, path: &Path, sha: &str) -> Result<(), String> {
        let (key, bytes, mtime) = stat(path)?;
        self.record_hash(&key, bytes, mtime, sha)
    }

    fn record_hash(&self, key: &str, bytes: i64, mtime: i64, sha: &str) -> Result<(), String> {
        self.db
            .execute(
                "INSERT INTO file_hashes VALUES (?, ?, ?, ?) ON CONFLICT (path)
                 DO UPDATE SET bytes = excluded.bytes, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256",
                args![key, bytes, mtime, sha],
            )
            .map(|_| ())
            .map_err(|e| format!("cannot record the hash of {key}: {e}"))
    }
}

/// The Postgres store's write lock (`pg_advisory_xact_lock`), taken by every transaction.
const WRITE_LOCK: i64 = 0x6d6c_7063;

/// State folders whose tracking store is on Postgres (see [`Store::share`]).
static SHARED: Mutex<Vec<(PathBuf, PgTarget)>> = Mutex::new(Vec::new());

/// A state folder as [`SHARED`] knows it: absolute where it exists.
fn folder_key(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// A file's path as recorded, size and modification time (ns since the epoch).
fn stat(path: &Path) -> Result<(String, i64, i64), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Ok((path.to_string_lossy().into_owned(), meta.len() as i64, mtime))
}

/// Who runs a run: a process, as the kernel names it on this machine. A pid alone is not
/// enough (pids are reused); with the process's start time and the boot it belongs to it
/// names one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub pid: i64,
    /// The process's start, in clock ticks after boot (`/proc/PID/stat`, field 22).
    pub started: Option<i64>,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot: Option<String>,
    pub host: String,
}

impl Lease {
    /// This process's lease.
    pub fn mine() -> Lease {
        let pid = i64::from(std::process::id());
        Lease { pid, started: process_start(pid), boot: boot_id(), host: host() }
    }

    /// Why the process that holds this lease is gone; None while it runs, or when that
    /// cannot be told from here (another host, no `/proc`).
    pub fn gone(&self) -> Option<String> {
        if self.host != host() || process_start(i64::from(std::process::id())).is_none() {
            return None;
        }
        if let (Some(then), Some(now)) = (&self.boot, boot_id()) {
            if *then != now {
                return Some(format!("the machine restarted after process {} started it", self.pid));
            }
        }
        match process_start(self.pid) {
            None => Some(format!("its process {} has exited", self.pid)),
            Some(start) if Some(start) != self.started => {
                Some(format!("its process {} has exited (that pid now names another process)", self.pid))
            }
            Some(_) => None,
        }
    }
}

/// When a process started, in clock ticks after boot; None when there is no such process.
fn process_start(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses; fields resume after the last `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// The store files this process has open, each with the thread that opened it.
static OPEN: Mutex<Vec<(PathBuf, ThreadId)>> = Mutex::new(Vec::new());
static CLOSED: Condvar = Condvar::new();

/// This process's one session on a store file. DuckDB's file lock keeps other processes
/// out; two connections to one file within a process would not see each other, so a
/// second session waits for the first to close.
struct Session {
    db: PathBuf,
}

impl Session {
    fn begin(db: &Path) -> Result<Session, StoreError> {
        let db = match (db.parent().and_then(|p| std::fs::canonicalize(p).ok()), db.file_name()) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => db.to_path_buf(),
        };
        let me = std::thread::current().id();
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match open.iter().find(|(p, _)| *p == db) {
                None => break,
                Some((_, thread)) if *thread == me => return Err(StoreError::OpenInThisThread(db)),
                Some(_) => open = CLOSED.wait(open).unwrap_or_else(|p| p.into_inner()),
            }
        }
        open.push((db.clone(), me));
        Ok(Session { db })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|(p, _)| *p != self.db);
        CLOSED.notify_all();
    }
}

/// How long opening the store waits, in all, while another process holds it. Every mlpc
/// command holds it for moments only, so reaching this means the holder is stuck.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Opens a DuckDB file once no other mlpc process holds it (see [`file_lock`]); the claim
/// is kept with the connection.
fn open_waiting(
    db: &Path,
    mode: Mode,
    config: impl Fn() -> duckdb::Result<Config>,
) -> Result<(Connection, Held), StoreError> {
    let held = file_lock::claim(db, mode, LOCK_WAIT)?;
    let conn = config()
        .and_then(|c| Connection::open_with_flags(db, c))
        .map_err(|source| StoreError::Open { path: db.to_path_buf(), source })?;
    Ok((conn, held))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_that_fails_after_commit_does_not_fail_the_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Another connection's open write transaction (a catalog change) makes CHECKPOINT fail.
        let Db::Duck(conn) = &store.db else { unreachable!("a state folder's store is DuckDB") };
        let other = conn.try_clone().unwrap();
        other.execute_batch("BEGIN TRANSACTION; CREATE TABLE blocker (i INTEGER)").unwrap();
        assert!(store.checkpoint().is_err(), "the checkpoint fails here");
        let made = store.transaction(|db| {
            db.execute("INSERT INTO params VALUES (1, 'n', 'p', 'v')", args![]).map_err(String::from)?;
            Ok::<_, String>(7)
        });
        assert_eq!(made, Ok(7), "committed, so it is made");
        other.execute_batch("ROLLBACK").unwrap();
        let count: i64 = store.db.query_row("SELECT count(*) FROM params", args![], |r| r.get(0)).unwrap();
        assert_eq!(count, 1);

        // A registry change's audit entries are written too.
        let other = conn.try_clone().unwrap();
        other.execute_batch("BEGIN TRANSACTION; CREATE TABLE blocker (i INTEGER)").unwrap();
        let action = crate::audit::Action {
            action: "register".into(),
            at: crate::audit::now(),
            name: "a".into(),
            version: Some(1),
            stage: None,
            by: "test".into(),
            reason: None,
        };
        let records = crate::audit::append(&store, &[action]).expect("the change is made");
        other.execute_batch("ROLLBACK").unwrap();
        assert_eq!(crate::audit::read(dir.path()).unwrap(), records);
        assert_eq!(crate::audit::verify(dir.path()).unwrap().entries, 1);
    }

    #[test]
    fn a_lease_names_one_process_not_a_reused_pid() {
        let me = Lease::mine();
        assert!(me.started.is_some(), "this process's start time is in /proc");
        assert_eq!(me.gone(), None, "this process runs");
        let reused = Lease { started: me.started.map(|s| s + 1), ..me.clone() };
        assert!(reused.gone().unwrap().contains("another process"), "{:?}", reused.gone());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        let started = process_start(pid);
        child.wait().unwrap();
        let exited = Lease { pid, started, ..me.clone() };
        assert!(exited.gone().unwrap().contains("has exited"), "{:?}", exited.gone());
        let elsewhere = Lease { host: format!("{}-elsewhere", me.host), pid, ..me.clone() };
        assert_eq!(elsewhere.gone(), None, "a run on another host cannot be checked from here");
        let rebooted = Lease { boot: Some("another boot".into()), ..me };
        assert!(rebooted.gone().unwrap().contains("restarted"));
    }

    #[test]
    fn a_gone_run_is_interrupted_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let id = Store::open(dir.path()).unwrap().begin_run("p", "f.mlp", "h", false).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store.begin_run("p", "f.mlp", "h", false).unwrap_err();
        assert!(err.contains(&format!("run {id} is in progress")), "{err}");
        store.db.execute("UPDATE runs SET pid_started = pid_started + 1 WHERE id = ?", args![id]).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let (status, note): (String, String) = store
            .db
            .query_row("SELECT status, note FROM runs WHERE id = ?", args![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(status, "interrupted");
        assert!(note.contains("another process"), "{note}");
        assert_eq!(store.begin_run("p", "f.mlp", "h", false).unwrap(), id + 1);
    }

    #[test]
    fn sessions_on_one_store_take_turns_within_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::OpenInThisThread(_))));
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            let s = Store::open(&path).unwrap();
            tx.send(()).unwrap();
            drop(s);
        });
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "the second session waits");
        drop(first);
        rx.recv_timeout(Duration::from_secs(10)).expect("and opens once the first closes");
        other.join().unwrap();
    }

    #[test]
    fn a_wait_for_the_postgres_write_lock_is_bounded_and_names_the_holder() {
        let Some((dir, target)) = crate::registry::fixtures::shared_folder() else { return };
        let store = Store::open(dir.path()).unwrap();
        // Another writer, on another host, holds the lock in an open transaction.
        let holder = Db::Postgres(crate::db::PgSession::open(&target, "mlpc 9.9 (process 42 on build-7)").unwrap());
        holder.batch("BEGIN").unwrap();
        holder.execute("SELECT pg_advisory_xact_lock(?)", args![WRITE_LOCK]).unwrap();
        // This session waits 300 ms, not the 30 s every session waits.
        store.db.batch("SET lock_timeout = '300ms'").unwrap();
        let asked = std::time::Instant::now();
        let err = store.begin_run("p", "f.mlp", "h", false).unwrap_err();
        assert!(asked.elapsed() < Duration::from_secs(5), "waited {:?}", asked.elapsed());
        eprintln!("{err}");
        assert!(
            err.starts_with(&format!(
                "the Postgres store {target} is locked by mlpc 9.9 (process 42 on build-7) from "
            )),
            "{err}"
        );
        assert!(
            err.contains("lock timeout") && err.ends_with("nothing was changed: try again once it is done"),
            "{err}"
        );
        holder.batch("COMMIT").unwrap();
        store.db.batch("RESET lock_timeout").unwrap();
        assert_eq!(store.begin_run("p", "f.mlp", "h", false).unwrap(), 1, "once the holder is done");
    }
}
