//! The monitors' results, `<state>/monitors.duckdb`: each monitor check, each alert
//! firing with its reason and what its action did, which alerts are active (kept across
//! restarts, so an alert fires once per episode). The daemon writes it; the UI reads it.
//! DuckDB lets one process write a file and no other open it meanwhile, so every use opens
//! the file briefly, after waiting for the other mlpc processes' claim on it (`file_lock`).
//! On a shared store the same tables are the store's (migration 3), so every daemon and
//! every UI of a team reads one history and one state of each alert.

use crate::db::{args, Db, DbError};
use crate::file_lock::{self, LockError, Mode};
use crate::store::Store;
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
    #[error("{place}: {why}")]
    Db { place: String, why: String },
}

/// Runs `f` on the results: the shared store's session, or a connection to the results
/// file, opened for this call only.
fn with<T>(state: &Path, f: impl FnOnce(&Db) -> Result<T, DbError>) -> Result<T, ResultsError> {
    if let Some(target) = Store::shared(state) {
        let failed = |why: String| ResultsError::Db { place: target.to_string(), why };
        let store = Store::open(state).map_err(|e| failed(e.to_string()))?;
        return f(&store.db).map_err(|e| failed(e.to_string()));
    }
    let file = path(state);
    let failed = |why: String| ResultsError::Db { place: file.display().to_string(), why };
    let _held = file_lock::claim(&file, Mode::Alone, LOCK_WAIT)?;
    let db = Db::Duck(duckdb::Connection::open(&file).map_err(|e| failed(e.to_string()))?);
    db.batch(SCHEMA).and_then(|()| f(&db)).map_err(|e| failed(e.to_string()))
}

/// A timestamp argument given as microseconds since the epoch, UTC.
fn micros(db: &Db) -> &'static str {
    if db.is_postgres() {
        "?"
    } else {
        "make_timestamp(?)"
    }
}

/// A timestamp as read back: UTC, to the second.
fn second(at: String) -> String {
    at.chars().take(19).collect()
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
    with(state, |db| {
        db.execute(
            &format!("INSERT INTO monitor_checks VALUES ({}, ?, ?, ?, ?, ?, ?)", micros(db)),
            args![now_micros(), c.monitor, c.model, c.rows as i64, c.status, c.drift_share, c.report],
        )
        .map(drop)
    })
}

/// Records the firing and the alert's new state in one transaction.
pub fn record_firing(state: &Path, f: &Firing) -> Result<(), ResultsError> {
    with(state, |db| {
        db.batch("BEGIN")?;
        db.execute(
            &format!("INSERT INTO alert_firings VALUES ({}, ?, ?, ?, ?, ?, ?)", micros(db)),
            args![now_micros(), f.monitor, f.alert, f.event, f.reason, f.action, f.outcome],
        )?;
        db.execute(
            "INSERT INTO alert_state VALUES (?, ?, ?) ON CONFLICT (monitor, alert) DO UPDATE SET active = excluded.active",
            args![f.monitor, f.alert, f.event == "fired"],
        )?;
        db.batch("COMMIT")
    })
}

/// The alerts of `monitor` that are active, by their text.
pub fn active(state: &Path, monitor: &str) -> Result<Vec<String>, ResultsError> {
    with(state, |db| {
        db.query("SELECT alert FROM alert_state WHERE monitor = ? AND active", args![monitor], |r| r.get(0))
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
    read(state, |db| {
        db.query(
            "SELECT * FROM (SELECT CAST(checked_at AS VARCHAR), rows, status, drift_share, report, checked_at
             FROM monitor_checks WHERE monitor = ? ORDER BY checked_at DESC LIMIT ?) AS latest ORDER BY checked_at",
            args![monitor, limit as i64],
            |r| {
                Ok(CheckRow {
                    at: second(r.get(0)?),
                    rows: r.get(1)?,
                    status: r.get(2)?,
                    drift_share: r.get(3)?,
                    report: r.get(4)?,
                })
            },
        )
    })
}

/// The last `limit` firings and clearings of `monitor`'s alerts, newest first.
pub fn firings(state: &Path, monitor: &str, limit: usize) -> Result<Vec<FiringRow>, ResultsError> {
    read(state, |db| {
        db.query(
            "SELECT CAST(changed_at AS VARCHAR), alert, event, reason, action, outcome
             FROM alert_firings WHERE monitor = ? ORDER BY changed_at DESC LIMIT ?",
            args![monitor, limit as i64],
            |r| {
                Ok(FiringRow {
                    at: second(r.get(0)?),
                    alert: r.get(1)?,
                    event: r.get(2)?,
                    reason: r.get(3)?,
                    action: r.get(4)?,
                    outcome: r.get(5)?,
                })
            },
        )
    })
}

/// `with` for readers: nothing to read, and no file made, before the daemon wrote one.
fn read<T: Default>(state: &Path, f: impl FnOnce(&Db) -> Result<T, DbError>) -> Result<T, ResultsError> {
    if Store::shared(state).is_some() || path(state).exists() {
        with(state, f)
    } else {
        Ok(T::default())
    }
}
