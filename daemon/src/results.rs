//! The daemon's own DuckDB file, `<state>/monitors.duckdb`: each monitor check, each alert
//! firing with its reason and what its action did, which alerts are active (kept across
//! restarts, so an alert fires once per episode).
//! DuckDB lets one process write a file and no other open it meanwhile, so every use opens
//! the file briefly, after waiting for the other mlpc processes' claim on it (`file_lock`).

use duckdb::{params, Connection};
use mlpc_runtime::file_lock::{self, Mode};
use mlpc_serve::clock::now_micros;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// Runs `f` on a connection to the results file, opened for this call only.
pub fn with<T>(state: &Path, f: impl FnOnce(&Connection) -> duckdb::Result<T>) -> Result<T, String> {
    let file = path(state);
    let _held = file_lock::claim(&file, Mode::Alone, LOCK_WAIT).map_err(|e| e.to_string())?;
    let conn = Connection::open(&file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    conn.execute_batch(SCHEMA).and_then(|()| f(&conn)).map_err(|e| format!("{}: {e}", file.display()))
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

pub fn record_check(state: &Path, c: &Check) -> Result<(), String> {
    with(state, |conn| {
        conn.execute(
            "INSERT INTO monitor_checks VALUES (make_timestamp(?), ?, ?, ?, ?, ?, ?)",
            params![now_micros(), c.monitor, c.model, c.rows as i64, c.status, c.drift_share, c.report],
        )
        .map(drop)
    })
}

/// Records the firing and the alert's new state in one transaction.
pub fn record_firing(state: &Path, f: &Firing) -> Result<(), String> {
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
pub fn active(state: &Path, monitor: &str) -> Result<Vec<String>, String> {
    with(state, |conn| {
        let mut stmt = conn.prepare("SELECT alert FROM alert_state WHERE monitor = ? AND active")?;
        let rows = stmt.query_map(params![monitor], |r| r.get(0))?;
        rows.collect()
    })
}
