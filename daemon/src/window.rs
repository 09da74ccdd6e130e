//! The two samples a monitor compares: the reference split's rows (its Parquet artifact from
//! the latest run) and the served model's logged requests of the last window, with the
//! labels sent back for them, read through the serve crate's `request_log`, which owns the
//! log's tables.

use crate::program::Monitor;
use duckdb::Connection;
use mlpc_plan::Type;
use mlpc_runtime::{frames, registry, Store};
use mlpc_serve::request_log::{self, Logged};
use mlpc_train::InputType;
use std::path::{Path, PathBuf};

/// The request log: read through the server this process runs, whose writer thread holds
/// the file; with no server running, the file opened read-only. On a shared store
/// (`--state postgres://…`), every serving replica's rows.
pub struct Log {
    pub server: Option<mlpc_serve::Handle>,
    /// The state folder.
    pub state: PathBuf,
}

impl Log {
    /// `read`'s answer on the rows logged since `since_micros` (and maybe earlier ones);
    /// `None` when there is no log yet.
    pub fn read<T: Send + 'static>(
        &self,
        since_micros: i64,
        read: impl FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<Option<T>, String> {
        match &self.server {
            Some(server) => server.read_log(since_micros, read).map(Some),
            None if request_log::shared::on(&self.state) => {
                request_log::shared::read(&self.state, since_micros, read).map(Some)
            }
            None => request_log::read_file(&self.state.join("requests.duckdb"), read).map_err(|e| e.to_string()),
        }
    }
}

/// What a monitor compares against, read from the registry in one go.
pub struct Served {
    /// The version the monitored stage holds; None before one is there.
    pub version: Option<i64>,
    /// The reference rows' Parquet file: the `data` artifact the monitor's reference node
    /// had in the run that registered `version` — the data the served model was trained
    /// against — or, with no version there yet, in the latest run.
    pub reference: Result<PathBuf, String>,
}

pub fn served(state: &Path, m: &Monitor) -> Result<Served, String> {
    let node = &m.reference;
    let store = Store::open_read_only(state)?;
    let summary = registry::models(&store)?.into_iter().find(|s| s.name == m.registered);
    let version = summary.and_then(|s| s.stages.get(&m.stage).copied());
    let sha = match version {
        Some(version) => {
            let run = registry::version(&store, &m.registered, version)?.run_id;
            store.artifact_in_run(run, node, "data")?.ok_or_else(|| {
                format!("run {run}, which registered version {version} of `{}`, has no data of `{node}`", m.registered)
            })
        }
        None => store.latest_artifact(node, "data")?.ok_or_else(|| {
            format!("no data of `{node}` in the store yet: run the pipeline (`mlpc run`, or the daemon with --now)")
        }),
    };
    Ok(Served { version, reference: sha.and_then(|sha| store.artifact(&sha, "parquet")) })
}

/// The requests of `model` logged since `since_micros` (UTC) by `version` (every version
/// when None), and their labels; empty when nothing was logged.
pub fn current(
    log: &Log,
    model: &str,
    version: Option<i64>,
    since_micros: i64,
    inputs: &[(String, Type)],
) -> Result<Logged, String> {
    let typed = typed(inputs)?;
    let (model, owned) = (model.to_string(), typed.clone());
    let read = log.read(since_micros, move |conn| request_log::window(conn, &model, version, since_micros, &owned))?;
    Ok(read.unwrap_or_else(|| Logged::empty(&typed)))
}

/// The inputs as drift tests take them.
fn typed(inputs: &[(String, Type)]) -> Result<Vec<(String, InputType)>, String> {
    inputs
        .iter()
        .map(|(n, t)| {
            let it = frames::input_type(*t)
                .ok_or_else(|| format!("column `{n}` is a {t}, which drift tests cannot take"))?;
            Ok((n.clone(), it))
        })
        .collect()
}
