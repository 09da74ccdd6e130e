//! Reading the request log back: one model's logged rows of a window as typed columns, its
//! predictions, the serving metrics of its requests and the labels sent back; each model
//! version's request count and p99 latency; the file opened read-only when no server holds it. The log's
//! tables are defined in this module's parent and read only here.

use crate::live_metrics::{Live, Window as LiveWindow};
use duckdb::{params, AccessMode, Config, Connection};
use mlpc_train::{Column, Frame, InputType, Values};
use std::path::{Path, PathBuf};

/// One model's served traffic in a window.
pub struct Logged {
    /// The inputs of the answered requests' rows.
    pub inputs: Frame,
    /// The serving metrics of the window's requests (answered or failed), as a canary
    /// measures them.
    pub live: Live,
    /// `(request_id, row_number, prediction JSON)` per logged row, to join labels with.
    pub predictions: Vec<(String, i32, String)>,
    /// The labels sent back for the model's rows: `(request_id, row_number, label)`, the
    /// latest per row.
    pub labels: Vec<(String, i32, String)>,
}

impl Logged {
    /// No traffic: the columns with no rows.
    pub fn empty(inputs: &[(String, InputType)]) -> Logged {
        Logged { inputs: empty(inputs), live: Live::default(), predictions: Vec::new(), labels: Vec::new() }
    }
}

/// The requests of `model` logged since `since_micros` (UTC) by `version` (every version
/// when None) — a request counts for the version it was sent to, also when the fallback
/// answered it — with the labels sent back for the model's rows.
pub fn window(
    conn: &Connection,
    model: &str,
    version: Option<i64>,
    since_micros: i64,
    inputs: &[(String, InputType)],
) -> Result<Logged, String> {
    let window =
        "requests WHERE model = ? AND coalesce(coalesce(asked_version, version) = ?, true) AND epoch_us(time) >= ?";
    let answered = format!("{window} AND error IS NULL ORDER BY time, request_id, row_number");
    let read = |e: duckdb::Error| format!("cannot read the request log: {e}");
    let frame = frame(conn, inputs, &answered, params![model, version, since_micros]).map_err(read)?;
    let mut stmt = conn.prepare(&format!("SELECT request_id, row_number, prediction FROM {answered}")).map_err(read)?;
    let predictions = stmt
        .query_map(params![model, version, since_micros], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(Iterator::collect)
        .map_err(read)?;
    let live = LiveWindow::default();
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
    let labels = labels(conn, model).map_err(|e| format!("cannot read the labels: {e}"))?;
    Ok(Logged { inputs: frame, live: live.live(), predictions, labels })
}

/// The logged inputs (a JSON object per row) as typed columns.
fn frame(
    conn: &Connection,
    inputs: &[(String, InputType)],
    from: &str,
    args: impl duckdb::Params,
) -> duckdb::Result<Frame> {
    let mut frame = empty(inputs);
    let select = |name: &str, it: InputType| {
        let key = format!("$.\"{}\"", name.replace('"', "\"\""));
        let text = format!("json_extract_string(inputs, '{}')", key.replace('\'', "''"));
        match it {
            InputType::Category => text,
            InputType::Bool => format!("CASE {text} WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END"),
            _ => format!("TRY_CAST({text} AS DOUBLE)"),
        }
    };
    let columns: Vec<String> = frame.columns.iter().map(|c| select(&c.name, c.ty)).collect();
    let mut stmt = conn.prepare(&format!("SELECT {} FROM {from}", columns.join(", ")))?;
    let mut rows = stmt.query(args)?;
    while let Some(row) = rows.next()? {
        for (j, column) in frame.columns.iter_mut().enumerate() {
            match &mut column.values {
                Values::Number(v) => v.push(row.get::<_, Option<f64>>(j)?.unwrap_or(f64::NAN)),
                Values::Category(v) => v.push(row.get::<_, Option<String>>(j)?),
            }
        }
    }
    Ok(frame)
}

/// Columns with no rows yet.
fn empty(inputs: &[(String, InputType)]) -> Frame {
    let none = |ty: InputType| {
        if ty == InputType::Category {
            Values::Category(Vec::new())
        } else {
            Values::Number(Vec::new())
        }
    };
    Frame {
        columns: inputs.iter().map(|(name, ty)| Column { name: name.clone(), ty: *ty, values: none(*ty) }).collect(),
    }
}

/// `(request_id, row_number, label)` sent back for `model`'s rows, the latest per row.
fn labels(conn: &Connection, model: &str) -> duckdb::Result<Vec<(String, i32, String)>> {
    let mut stmt =
        conn.prepare("SELECT request_id, row_number, arg_max(label, time) FROM feedback WHERE model = ? GROUP BY ALL")?;
    let rows = stmt.query_map(params![model], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// One model version's requests in a window.
#[derive(Clone, Debug)]
pub struct Traffic {
    pub model: String,
    /// The version the requests were sent to.
    pub version: Option<i64>,
    pub requests: i64,
    pub errors: i64,
    /// The 99th percentile of the requests' latencies; `None` with no latency logged.
    pub p99_ms: Option<f64>,
}

/// Each model version's requests logged since `since_micros` (UTC), by model and version.
pub fn traffic(conn: &Connection, since_micros: i64) -> Result<Vec<Traffic>, String> {
    let read = |e: duckdb::Error| format!("cannot read the request log: {e}");
    let mut stmt = conn
        .prepare(
            "SELECT model, v, count(*), count(*) FILTER (failed), quantile_cont(latency, 0.99) FROM (
               SELECT model, coalesce(asked_version, version) AS v, request_id, max(latency_ms) AS latency,
                      bool_or(error IS NOT NULL) AS failed
               FROM requests WHERE epoch_us(time) >= ? GROUP BY ALL)
             GROUP BY model, v ORDER BY model, v",
        )
        .map_err(read)?;
    let rows = stmt
        .query_map(params![since_micros], |r| {
            Ok(Traffic {
                model: r.get(0)?,
                version: r.get(1)?,
                requests: r.get(2)?,
                errors: r.get(3)?,
                p99_ms: r.get(4)?,
            })
        })
        .map_err(read)?;
    rows.collect::<duckdb::Result<_>>().map_err(read)
}

/// Why the request log file could not be read without the server.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be opened: a running server holds it, or it is not a log.
    #[error("cannot read the request log {file}: {source}")]
    Open { file: PathBuf, source: duckdb::Error },
    #[error("{0}")]
    Read(String),
}

/// `read`'s answer on the log file opened read-only; `None` when there is no log yet.
pub fn read_file<T>(file: &Path, read: impl FnOnce(&Connection) -> Result<T, String>) -> Result<Option<T>, FileError> {
    if !file.exists() {
        return Ok(None);
    }
    let open = |source| FileError::Open { file: file.to_path_buf(), source };
    let config = Config::default().access_mode(AccessMode::ReadOnly).map_err(open)?;
    let conn = Connection::open_with_flags(file, config).map_err(open)?;
    read(&conn).map(Some).map_err(FileError::Read)
}
