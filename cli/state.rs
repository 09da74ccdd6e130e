//! `mlpc state migrate` and `mlpc state copy`: the Postgres store's schema, and moving a
//! state folder onto it.

use crate::shared_state;
use mlpc::commands::{emit, fail};
use mlpc_runtime::db::{Db, PgSession};
use mlpc_runtime::{migrations, state_copy, Store};
use std::path::Path;

/// Applies the migrations the store lacks; `state` is its folder on this machine, as
/// `--state postgres://…` became.
pub fn migrate(state: &str) -> u8 {
    let Some(target) = Store::shared(Path::new(state)) else {
        return fail(format!(
            "`{state}` is a state folder: its embedded store sets its schema up itself; \
             `mlpc state migrate` takes a Postgres store (--state postgres://…)"
        ));
    };
    let who = format!("mlpc {} (state migrate)", env!("CARGO_PKG_VERSION"));
    let db = match PgSession::open(&target, &who) {
        Ok(session) => Db::Postgres(session),
        Err(e) => return fail(e),
    };
    let before = match migrations::version(&db) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    match migrations::migrate(&db, &target) {
        Ok(applied) if applied.is_empty() => {
            emit(&format!("{target} is at schema version {before}: nothing to apply\n"));
            0
        }
        Ok(applied) => {
            let numbers: Vec<String> = applied.iter().map(i64::to_string).collect();
            emit(&format!(
                "{target}: applied migration{} {} (schema version {before} → {})\n",
                if applied.len() == 1 { "" } else { "s" },
                numbers.join(", "),
                migrations::latest()
            ));
            0
        }
        Err(e) => fail(e),
    }
}

/// Copies state folder `from` onto the Postgres store at `to`.
pub fn copy(from: &str, to: &str, replace: bool) -> u8 {
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return fail(format!("--to takes a Postgres store (postgres://USER@HOST:PORT/DATABASE), not `{to}`"));
    }
    let folder = match shared_state::share(to) {
        Ok(folder) => folder,
        Err(e) => return fail(e),
    };
    let copied = match state_copy::copy(Path::new(from), &folder, replace) {
        Ok(copied) => copied,
        Err(e) => return fail(e),
    };
    let place = Store::shared(&folder).map(|t| t.to_string()).unwrap_or_default();
    let mut out = format!("copied {from} to {place}:\n");
    for (table, rows) in &copied.rows {
        out.push_str(&format!("  {table:<16} {rows}\n"));
    }
    out.push_str(&format!(
        "  artifact files   {} ({})\n",
        copied.artifacts,
        match copied.uploaded {
            true => "uploaded to the artifact store and kept in this machine's folder",
            false => "kept in this machine's folder only: pass --artifacts URL to share them with other machines",
        }
    ));
    if !copied.missing.is_empty() {
        out.push_str(&format!(
            "  not found in {from}/artifacts (recorded, but deleted): {}\n",
            copied.missing.join(", ")
        ));
    }
    emit(&out);
    0
}
