//! The two samples a monitor compares: the reference split's rows (its Parquet artifact from
//! the latest run) and the served model's logged requests of the last window (the serve
//! crate's `<state>/requests.duckdb`: one row per predicted row, `inputs` a JSON object),
//! with the labels sent back for them.

use crate::program::Monitor;
use duckdb::{params, AccessMode, Config, Connection};
use mlpc_plan::Type;
use mlpc_runtime::{frames, registry, Store};
use mlpc_train::{Column, Frame, InputType, Values};
use std::path::{Path, PathBuf};

/// The served traffic of one window.
pub struct Window {
    /// The inputs of the answered requests' rows.
    pub inputs: Frame,
    /// The serving metrics of the window's requests (answered or failed), as a canary
    /// measures them.
    pub live: mlpc_serve::Live,
    /// `(request_id, row_number, prediction JSON)` per logged row, to join labels with.
    pub predictions: Vec<(String, i32, String)>,
    /// The labels sent back for the model's rows: `(request_id, row_number, label)`, the
    /// latest per row.
    pub labels: Vec<(String, i32, String)>,
}

/// The request log: read through the server this process runs, whose writer thread holds
/// the file; with no server running, the file opened read-only.
pub struct Log {
    pub server: Option<mlpc_serve::Handle>,
    pub file: PathBuf,
}

impl Log {
    /// `read`'s answer on the log; `None` when there is no log yet.
    fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<Option<T>, String> {
        if let Some(server) = &self.server {
            return server.read_log(read).map(Some);
        }
        if !self.file.exists() {
            return Ok(None);
        }
        let config = Config::default().access_mode(AccessMode::ReadOnly).map_err(|e| e.to_string())?;
        let conn = Connection::open_with_flags(&self.file, config)
            .map_err(|e| format!("cannot read the request log {}: {e}", self.file.display()))?;
        read(&conn).map(Some)
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    Ok(Served { version, reference: sha.map(|sha| store.artifact_path(&sha, "parquet")) })
}

/// The requests of `model` logged since `since_micros` (UTC) by `version` (every version
/// when None), and their labels; empty when nothing was logged.
pub fn current(
    log: &Log,
    model: &str,
    version: Option<i64>,
    since_micros: i64,
    inputs: &[(String, Type)],
) -> Result<Window, String> {
    let (model, owned) = (model.to_string(), inputs.to_vec());
    let read = log.read(move |conn| {
        let mut w = logged(conn, &model, version, since_micros, &owned)?;
        w.labels = labels(conn, &model)?;
        Ok(w)
    })?;
    match read {
        Some(w) => Ok(w),
        None => Ok(Window {
            inputs: empty(inputs)?,
            live: mlpc_serve::Live::default(),
            predictions: Vec::new(),
            labels: Vec::new(),
        }),
    }
}

fn logged(
    conn: &Connection,
    model: &str,
    version: Option<i64>,
    since_micros: i64,
    inputs: &[(String, Type)],
) -> Result<Window, String> {
    let select = |name: &str, it: InputType| {
        let text = format!("json_extract_string(inputs, '$.{}')", quoted(name).replace('\'', "''"));
        match it {
            InputType::Category => text,
            InputType::Bool => format!("CASE {text} WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END"),
            _ => format!("TRY_CAST({text} AS DOUBLE)"),
        }
    };
    // A request counts for the version it was sent to, also when the fallback answered it.
    let window =
        "requests WHERE model = ? AND coalesce(coalesce(asked_version, version) = ?, true) AND epoch_us(time) >= ?";
    let answered = format!("{window} AND error IS NULL ORDER BY time, request_id, row_number");
    let frame = frame(conn, inputs, select, &answered, &[&model, &version, &since_micros])?;
    let read = |e: duckdb::Error| format!("cannot read the request log: {e}");
    let mut stmt = conn.prepare(&format!("SELECT request_id, row_number, prediction FROM {answered}")).map_err(read)?;
    let predictions = stmt
        .query_map(params![model, version, since_micros], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(Iterator::collect)
        .map_err(read)?;
    let live = mlpc_serve::LiveWindow::default();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT max(latency_ms), bool_or(error IS NOT NULL), bool_or(coalesce(fallback, false)) FROM {window}
             GROUP BY request_id ORDER BY min(time)"
        ))
        .map_err(read)?;
    let mut rows = stmt.query(params![model, version, since_micros]).map_err(read)?;
    while let Some(r) = rows.next().map_err(read)? {
        live.record(r.get(0).map_err(read)?, r.get(1).map_err(read)?, r.get(2).map_err(read)?);
    }
    Ok(Window { inputs: frame, live: live.live(), predictions, labels: Vec::new() })
}

/// The inputs as drift tests take them.
fn typed(inputs: &[(String, Type)]) -> Result<Vec<(&str, InputType)>, String> {
    inputs
        .iter()
        .map(|(n, t)| {
            let it = frames::input_type(*t)
                .ok_or_else(|| format!("column `{n}` is a {t}, which drift tests cannot take"))?;
            Ok((n.as_str(), it))
        })
        .collect()
}

/// Columns with no rows yet.
fn empty(inputs: &[(String, Type)]) -> Result<Frame, String> {
    let columns = typed(inputs)?.into_iter().map(|(name, ty)| Column { name: name.to_string(), ty, values: none(ty) });
    Ok(Frame { columns: columns.collect() })
}

fn none(ty: InputType) -> Values {
    if ty == InputType::Category {
        Values::Category(Vec::new())
    } else {
        Values::Number(Vec::new())
    }
}

/// Reads the typed columns `select` writes for each input from `from`.
fn frame(
    conn: &Connection,
    inputs: &[(String, Type)],
    select: impl Fn(&str, InputType) -> String,
    from: &str,
    args: &[&dyn duckdb::ToSql],
) -> Result<Frame, String> {
    let mut frame = empty(inputs)?;
    let columns: Vec<String> = frame.columns.iter().map(|c| select(&c.name, c.ty)).collect();
    let sql = format!("SELECT {} FROM {from}", columns.join(", "));
    let mut stmt = conn.prepare(&sql).map_err(|e| format!("cannot read the monitored data: {e}"))?;
    let mut rows = stmt.query(args).map_err(|e| format!("cannot read the monitored data: {e}"))?;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        for (j, column) in frame.columns.iter_mut().enumerate() {
            match &mut column.values {
                Values::Number(v) => {
                    v.push(row.get::<_, Option<f64>>(j).map_err(|e| e.to_string())?.unwrap_or(f64::NAN))
                }
                Values::Category(v) => v.push(row.get::<_, Option<String>>(j).map_err(|e| e.to_string())?),
            }
        }
    }
    Ok(frame)
}

/// The labels sent back for `model`'s rows through the server's feedback endpoint
/// (the `feedback` table): `(request_id, row_number, label)`, the latest per row.
fn labels(conn: &Connection, model: &str) -> Result<Vec<(String, i32, String)>, String> {
    let mut stmt = conn
        .prepare("SELECT request_id, row_number, arg_max(label, time) FROM feedback WHERE model = ? GROUP BY ALL")
        .map_err(|e| format!("cannot read the labels: {e}"))?;
    let rows = stmt
        .query_map(params![model], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the labels: {e}"));
    rows
}
