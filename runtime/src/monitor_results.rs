//! The monitors' results, `<state>/monitors.duckdb`: each monitor check, each alert
//! firing with its reason and what its action did, which alerts are active (kept across
//! restarts, so an alert fires once per episode). The daemon writes it; the UI reads it.
//! DuckDB lets one process write a file and no other open it meanwhile, so every use opens
//! the file briefly, after waiting for the other mlpc processes' claim on it (`file_lock`).

use crate::file_lock::{self, LockError, Mode};
use duckdb::{params, Connection};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS monitor_checks (
  checked_at TIMESTAMP, monitor VARCHAR, model VARCHAR, rows BIGINT, status VARCHAR, drift_share DOUBLE, report VARCHAR);
CREATE TABLE IF NOT EXISTS alert_firings (
  changed_at TIMESTAMP, monitor VARCHAR, alert VARCHAR, event VARCHAR, reason VARCHAR, action VARCHAR, outcome VARCHAR);
CREATE TABLE IF NOT EXISTS alert_state (monitor VARCHAR, alert VARCHAR, active BOOLEAN, PRIMARY KEY (monitor, alert));
";

/// How long an open waits, in all, for another process to let go of the file.
const LOCK_WAIT: Duration = Duration::from_secs(5);

pub fn path(state: &Path) -> PathBuf {
    state.join("monitors.duckdb")
}

/// Why the results file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{file}: {source}")]
    Db { file: PathBuf, source: duckdb::Error },
}

/// Runs `f` on a connection to the results file, opened for this call only.
fn with<T>(state: &Path, f: impl FnOnce(&Connection) -> duckdb::Result<T>) -> Result<T, ResultsError> {
    let file = path(state);
    let _held = file_lock::claim(&file, Mode::Alone, LOCK_WAIT)?;
    Connection::open(&file)
        .and_then(|conn| conn.execute_batch(SCHEMA).and_then(|()| f(&conn)))
        .map_err(|source| ResultsError::Db { file, source })
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// One check of a monitor.
pub struct Check<'a> {
    pub monitor: &'a str,
    pub model: &'a str,
    pub rows: usize,
    /// `ok`, `not_enough_data` or `error`.
    pub status: &'a str,
    pub drift_share: Option<f64>,
    /// The drift report (or the error) as JSON.
    pub report: String,
}

/// One change of an alert: `fired` (with its action's outcome) or `cleared`.
pub struct Firing<'a> {
    pub monitor: &'a str,
    pub alert: &'a str,
    pub event: &'a str,
    pub reason: &'a str,
    pub action: Option<String>,
    pub outcome: Option<String>,
}

pub fn record_check(state: &Path, c: &Check) -> Result<(), ResultsError> {
    with(state, |conn| {
        conn.execute(
            "INSERT INTO monitor_checks VALUES (make_timestamp(?), ?, ?, ?, ?, ?, ?)",
            params![now_micros(), c.monitor, c.model, c.rows as i64, c.status, c.drift_share, c.report],
        )
        .map(drop)
    })
}

/// Records the firing and the alert's new state in one transaction.
pub fn record_firing(state: &Path, f: &Firing) -> Result<(), ResultsError> {
    with(state, |conn| {
        conn.execute_batch("BEGIN")?;
        conn.execute(
            "INSERT INTO alert_firings VALUES (make_timestamp(?), ?, ?, ?, ?, ?, ?)",
            params![now_micros(), f.monitor, f.alert, f.event, f.reason, f.action, f.outcome],
        )?;
        conn.execute(
            "INSERT OR REPLACE INTO alert_state VALUES (?, ?, ?)",
            params![f.monitor, f.alert, f.event == "fired"],
        )?;
        conn.execute_batch("COMMIT")
    })
}

/// The alerts of `monitor` that are active, by their text.
pub fn active(state: &Path, monitor: &str) -> Result<Vec<String>, ResultsError> {
    with(state, |conn| {
        let mut stmt = conn.prepare("SELECT alert FROM alert_state WHERE monitor = ? AND active")?;
        let rows = stmt.query_map(params![monitor], |r| r.get(0))?;
        rows.collect()
    })
}

/// A recorded check, as read back.
pub struct CheckRow {
    /// UTC, to the second.
    pub at: String,
    pub rows: i64,
    pub status: String,
    pub drift_share: Option<f64>,
    /// The drift report (or the error) as JSON.
    pub report: String,
}

/// A recorded firing or clearing, as read back.
pub struct FiringRow {
    pub at: String,
    pub alert: String,
    pub event: String,
    pub reason: String,
    pub action: Option<String>,
    pub outcome: Option<String>,
}

/// The last `limit` checks of `monitor`, oldest first; none before the file exists.
pub fn checks(state: &Path, monitor: &str, limit: usize) -> Result<Vec<CheckRow>, ResultsError> {
    read(state, |conn| {
        let mut stmt = conn.prepare(
            "SELECT * FROM (SELECT strftime(checked_at, '%Y-%m-%d %H:%M:%S'), rows, status, drift_share, report, checked_at
             FROM monitor_checks WHERE monitor = ? ORDER BY checked_at DESC LIMIT ?) ORDER BY checked_at",
        )?;
        let rows = stmt.query_map(params![monitor, limit as i64], |r| {
            Ok(CheckRow {
                at: r.get(0)?,
                rows: r.get(1)?,
                status: r.get(2)?,
                drift_share: r.get(3)?,
                report: r.get(4)?,
            })
        })?;
        rows.collect()
    })
}

/// The last `limit` firings and clearings of `monitor`'s alerts, newest first.
pub fn firings(state: &Path, monitor: &str, limit: usize) -> Result<Vec<FiringRow>, ResultsError> {
    read(state, |conn| {
        let mut stmt = conn.prepare(
            "SELECT strftime(changed_at, '%Y-%m-%d %H:%M:%S'), alert, event, reason, action, outcome
             FROM alert_firings WHERE monitor = ? ORDER BY changed_at DESC LIMIT ?",
        )?;
        let rows = stmt.query_map(params![monitor, limit as i64], |r| {
            Ok(FiringRow {
                at: r.get(0)?,
                alert: r.get(1)?,
                event: r.get(2)?,
                reason: r.get(3)?,
                action: r.get(4)?,
                outcome: r.get(5)?,
            })
        })?;
        rows.collect()
    })
}

/// `with` for readers: nothing to read, and no file made, before the daemon wrote one.
fn read<T: Default>(state: &Path, f: impl FnOnce(&Connection) -> duckdb::Result<T>) -> Result<T, ResultsError> {
    if path(state).exists() {
        with(state, f)
    } else {
        Ok(T::default())
    }
}
