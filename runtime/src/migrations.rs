//! The shared (Postgres) store's schema, in numbered migrations. A new database gets every
//! migration when it is first opened; a database at an older version is refused until
//! `mlpc state migrate` brings it up (another team member's older binary may still be
//! using it); one at a newer version than this binary knows is refused: upgrade mlpc.

use crate::db::{args, Db, DbError, PgTarget};

/// Each migration: its version and its statements. Append only; never edit one that shipped.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "
CREATE TABLE runs (
  id BIGINT PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
  pipeline VARCHAR, file VARCHAR, plan_hash VARCHAR, mlpc_version VARCHAR, forced BOOLEAN,
  pid BIGINT, pid_started BIGINT, boot_id VARCHAR, host VARCHAR, note VARCHAR);
CREATE TABLE node_runs (
  run_id BIGINT, node_id VARCHAR, kind VARCHAR, status VARCHAR, cache_key VARCHAR,
  cached BOOLEAN, started_at TIMESTAMP, millis BIGINT, message VARCHAR, seq BIGSERIAL PRIMARY KEY);
CREATE INDEX node_runs_by_run ON node_runs (run_id);
CREATE INDEX node_runs_by_node ON node_runs (node_id, run_id);
CREATE TABLE params (run_id BIGINT, node_id VARCHAR, name VARCHAR, value VARCHAR);
CREATE INDEX params_by_node ON params (node_id, run_id);
CREATE TABLE metrics (run_id BIGINT, node_id VARCHAR, name VARCHAR, value DOUBLE PRECISION);
CREATE INDEX metrics_by_run ON metrics (run_id);
CREATE TABLE artifacts (sha256 VARCHAR PRIMARY KEY, path VARCHAR, bytes BIGINT, created_at TIMESTAMP);
CREATE TABLE node_artifacts (run_id BIGINT, node_id VARCHAR, role VARCHAR, sha256 VARCHAR);
CREATE INDEX node_artifacts_by_node ON node_artifacts (node_id, role, run_id);
CREATE TABLE lineage (run_id BIGINT, from_node VARCHAR, to_node VARCHAR);
CREATE TABLE cache (node_id VARCHAR, cache_key VARCHAR, outputs VARCHAR, metrics VARCHAR, parts VARCHAR,
  created_at TIMESTAMP, PRIMARY KEY (node_id, cache_key));
CREATE TABLE file_hashes (path VARCHAR PRIMARY KEY, bytes BIGINT, mtime_ns BIGINT, sha256 VARCHAR);
CREATE TABLE model_versions (
  name VARCHAR, version BIGINT, registered_at VARCHAR, run_id BIGINT, model_node VARCHAR, artifact_sha256 VARCHAR,
  plan_hash VARCHAR, pipeline_file VARCHAR, data_hashes VARCHAR, params VARCHAR, metrics VARCHAR,
  algorithm VARCHAR, device VARCHAR, rules VARCHAR, git_commit VARCHAR, plan VARCHAR, PRIMARY KEY (name, version));
CREATE TABLE stage_moves (
  id BIGINT PRIMARY KEY, name VARCHAR, stage VARCHAR, from_version BIGINT, to_version BIGINT, kind VARCHAR,
  moved_at VARCHAR, moved_by VARCHAR, reason VARCHAR);
CREATE INDEX stage_moves_by_name ON stage_moves (name, id);
CREATE TABLE approvals (
  name VARCHAR, version BIGINT, stage VARCHAR, approved_by VARCHAR, approved_at VARCHAR, reason VARCHAR,
  UNIQUE (name, version, stage, approved_by));
CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY, entries BIGINT, head VARCHAR, tail VARCHAR);
CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, line VARCHAR NOT NULL);
",
    ),
    (
        2,
        "
CREATE TABLE requests (
  time TIMESTAMP, model VARCHAR, version BIGINT, request_id VARCHAR, row_number INTEGER,
  inputs VARCHAR, prediction VARCHAR, latency_ms DOUBLE PRECISION, error VARCHAR, fallback BOOLEAN,
  asked_version BIGINT, replica VARCHAR);
CREATE INDEX requests_by_time ON requests (time);
CREATE TABLE feedback (time TIMESTAMP, model VARCHAR, request_id VARCHAR, row_number INTEGER, label VARCHAR,
  replica VARCHAR);
CREATE INDEX feedback_by_time ON feedback (time);
",
    ),
    (
        3,
        "
CREATE TABLE monitor_checks (
  checked_at TIMESTAMP, monitor VARCHAR, model VARCHAR, rows BIGINT, status VARCHAR, drift_share DOUBLE PRECISION,
  report VARCHAR);
CREATE INDEX monitor_checks_by_monitor ON monitor_checks (monitor, checked_at);
CREATE TABLE alert_firings (
  changed_at TIMESTAMP, monitor VARCHAR, alert VARCHAR, event VARCHAR, reason VARCHAR, action VARCHAR, outcome VARCHAR);
CREATE INDEX alert_firings_by_monitor ON alert_firings (monitor, changed_at);
CREATE TABLE alert_state (monitor VARCHAR, alert VARCHAR, active BOOLEAN, PRIMARY KEY (monitor, alert));
",
    ),
    (4, "CREATE TABLE canary_state (model VARCHAR PRIMARY KEY, record VARCHAR NOT NULL);"),
];

/// The schema version this binary writes.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Why the shared store's schema cannot be used as it is.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the store {target} is at schema version {found}, newer than this mlpc ({mlpc}) knows (up to {latest}): \
         upgrade mlpc to use it"
    )]
    Newer { target: String, found: i64, latest: i64, mlpc: &'static str },
    #[error(
        "the store {target} is at schema version {found}; this mlpc writes version {latest}: run \
         `mlpc state migrate --state {target}` (every mlpc that uses the store must then be this version or newer)"
    )]
    Older { target: String, found: i64, latest: i64 },
    #[error("{0}")]
    Db(#[from] DbError),
}

/// The store's schema version; 0 for a database mlpc never set up.
pub fn version(db: &Db) -> Result<i64, DbError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS mlpc_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMP, mlpc VARCHAR)",
    )?;
    db.query_row("SELECT coalesce(max(version), 0) FROM mlpc_schema", args![], |r| r.get(0))
}

/// Checks the schema before use, setting it up on a database mlpc never used.
pub fn ready(db: &Db, target: &PgTarget) -> Result<(), DbError> {
    let found = version(db)?;
    let latest = latest();
    let refused = match found {
        0 => return migrate(db, target).map(drop).map_err(to_db),
        f if f > latest => {
            MigrationError::Newer { target: target.to_string(), found, latest, mlpc: env!("CARGO_PKG_VERSION") }
        }
        f if f < latest => MigrationError::Older { target: target.to_string(), found, latest },
        _ => return Ok(()),
    };
    Err(DbError::Engine(refused.to_string()))
}

fn to_db(e: MigrationError) -> DbError {
    match e {
        MigrationError::Db(e) => e,
        other => DbError::Engine(other.to_string()),
    }
}

/// Applies the migrations the store lacks, each in its own transaction, while holding the
/// store's migration lock (two mlpc processes never migrate at once); returns those applied.
/// A store at a newer version than this binary knows is refused before anything is done.
pub fn migrate(db: &Db, target: &PgTarget) -> Result<Vec<i64>, MigrationError> {
    let newer = |found| MigrationError::Newer {
        target: target.to_string(),
        found,
        latest: latest(),
        mlpc: env!("CARGO_PKG_VERSION"),
    };
    let found = version(db)?;
    if found > latest() {
        return Err(newer(found));
    }
    let mut applied = Vec::new();
    for (number, statements) in MIGRATIONS {
        db.batch("BEGIN")?;
        let step = (|| {
            db.execute("SELECT pg_advisory_xact_lock(?)", args![MIGRATION_LOCK])?;
            if version(db)? >= *number {
                return Ok(false);
            }
            db.batch(statements)?;
            db.execute("INSERT INTO mlpc_schema VALUES (?, now(), ?)", args![*number, env!("CARGO_PKG_VERSION")])?;
            Ok::<_, DbError>(true)
        })();
        match step {
            Ok(done) => {
                db.batch("COMMIT")?;
                if done {
                    applied.push(*number);
                }
            }
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    // Another mlpc, newer, may have migrated it meanwhile.
    let found = version(db)?;
    if found > latest() {
        return Err(newer(found));
    }
    Ok(applied)
}

/// The advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x6d6c_7064;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fixtures::shared_folder;
    use crate::Store;

    #[test]
    fn a_store_newer_than_this_mlpc_is_refused_and_migrating_a_current_one_does_nothing() {
        let Some((dir, target)) = shared_folder() else { return };
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(version(&store.db).unwrap(), latest(), "a new database is set up");
        store.db.execute("INSERT INTO mlpc_schema VALUES (?, now(), 'a newer mlpc')", args![latest() + 1]).unwrap();
        drop(store);
        let refused = Store::open(dir.path()).err().unwrap().to_string();
        assert!(
            refused.contains(&format!("schema version {}", latest() + 1)) && refused.contains("upgrade mlpc"),
            "{refused}"
        );

        let db = Db::Postgres(crate::db::PgSession::open(&target, "test").unwrap());
        db.execute("DELETE FROM mlpc_schema WHERE version > ?", args![latest()]).unwrap();
        assert_eq!(migrate(&db, &target).unwrap(), Vec::<i64>::new(), "a current store has nothing to apply");
        assert!(Store::open(dir.path()).is_ok());
    }
}
