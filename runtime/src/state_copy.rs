//! `mlpc state copy`: a state folder's tracking store — runs, node runs, parameters,
//! metrics, lineage, the cache index, the registry and the audit log — put on an empty
//! Postgres store in one transaction, and its artifacts into the target's folder on this
//! machine and the artifact store (`--artifacts`) when there is one.

use crate::db::{args, Db, Value};
use crate::store::Store;
use std::path::Path;

/// The tables copied, in this order, as the Postgres schema has them.
const TABLES: [&str; 14] = [
    "runs",
    "node_runs",
    "params",
    "metrics",
    "artifacts",
    "node_artifacts",
    "lineage",
    "cache",
    "file_hashes",
    "model_versions",
    "stage_moves",
    "approvals",
    "audit_anchor",
    "audit_log",
];

/// Rows put in one statement.
const CHUNK: usize = 200;

/// What was copied: rows per table, then the artifacts.
#[derive(Debug, Default)]
pub struct Copied {
    pub rows: Vec<(&'static str, u64)>,
    /// Artifact files put in the target's folder on this machine.
    pub artifacts: u64,
    /// Those the store records that the source folder lacks.
    pub missing: Vec<String>,
    /// Whether they were uploaded to an artifact store too.
    pub uploaded: bool,
}

/// Copies state folder `from` onto the Postgres store of folder `to` (see [`Store::share`]).
/// A target that holds runs, versions or audit entries is refused unless `replace`, which
/// empties it first (in the same transaction: a failed copy leaves it as it was).
pub fn copy(from: &Path, to: &Path, replace: bool) -> Result<Copied, String> {
    if Store::shared(from).is_some() || !from.join("state.duckdb").exists() {
        return Err(format!("no state folder at `{}`: --from names a folder with a state.duckdb", from.display()));
    }
    // Opened to write: an older folder's schema is brought up, and what a crash left is settled.
    let source = Store::open(from)?;
    let target = Store::open(to)?;
    let place = target.place();
    let mut copied = target.transaction(|db| {
        let held: i64 = db
            .query_row(
                "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM model_versions)
                        + (SELECT count(*) FROM audit_log)",
                args![],
                |r| r.get(0),
            )
            .map_err(String::from)?;
        if held > 0 && !replace {
            return Err(format!(
                "the store {place} is not empty (it holds runs, versions or audit entries): nothing was copied; \
                 copy into a new database, or pass --replace to empty it first"
            ));
        }
        let mut copied = Copied::default();
        for table in TABLES {
            if replace {
                db.execute(&format!("DELETE FROM {table}"), args![]).map_err(String::from)?;
            }
            let rows = match table {
                "audit_log" => crate::audit::copy_log(from, db)?,
                _ => copy_table(&source.db, db, table)?,
            };
            copied.rows.push((table, rows));
        }
        Ok::<_, String>(copied)
    })?;
    copy_artifacts(&source, &target, &mut copied)?;
    Ok(copied)
}

/// The rows of one table, from the embedded store into the same table on Postgres.
fn copy_table(source: &Db, target: &Db, table: &str) -> Result<u64, String> {
    // The target's columns, less those it numbers itself (`node_runs.seq`).
    let columns: Vec<(String, String)> = target
        .query(
            "SELECT column_name, data_type FROM information_schema.columns
             WHERE table_name = ? AND table_schema = current_schema() AND column_default IS NULL
             ORDER BY ordinal_position",
            args![table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(String::from)?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let rows = source
        .query(&format!("SELECT {} FROM {table}", names.join(", ")), args![], |r| {
            (0..names.len()).map(|i| r.get::<Value>(i)).collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("cannot read `{table}` of the state folder: {e}"))?;
    // Timestamps travel as text: cast by the server.
    let one: Vec<&str> = columns
        .iter()
        .map(|(_, ty)| match ty.starts_with("timestamp") {
            true => "CAST(CAST(? AS VARCHAR) AS TIMESTAMP)",
            false => "?",
        })
        .collect();
    let one = format!("({})", one.join(", "));
    for chunk in rows.chunks(CHUNK) {
        let sql =
            format!("INSERT INTO {table} ({}) VALUES {}", names.join(", "), vec![one.as_str(); chunk.len()].join(", "));
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        target.execute(&sql, &values).map_err(|e| format!("cannot copy `{table}`: {e}"))?;
    }
    Ok(rows.len() as u64)
}

/// Every artifact the source records: into the target's folder on this machine, and
/// uploaded to the artifact store when there is one.
fn copy_artifacts(source: &Store, target: &Store, copied: &mut Copied) -> Result<(), String> {
    let recorded: Vec<(String, String)> = source
        .db
        .query("SELECT sha256, path FROM artifacts ORDER BY sha256", args![], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(String::from)?;
    for (sha, path) in recorded {
        let ext = Path::new(&path).extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
        let file = source.artifact_path(&sha, &ext);
        if ext.is_empty() || !file.exists() {
            copied.missing.push(format!("{sha}.{ext}"));
            continue;
        }
        let dest = target.artifact_path(&sha, &ext);
        if !dest.exists() {
            let dir = dest.parent().expect("an artifact is in a folder");
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let tmp = dir.join(format!(".copy-{sha}.{ext}"));
            std::fs::copy(&file, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &dest))
                .map_err(|e| format!("cannot copy {} to {}: {e}", file.display(), dest.display()))?;
        }
        copied.uploaded |= target.upload(&sha, &ext)?;
        copied.artifacts += 1;
    }
    Ok(())
}
