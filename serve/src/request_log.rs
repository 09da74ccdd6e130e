//! The request log: inputs and predictions, one row per predicted row, written to
//! `<state>/requests.duckdb` (a file the server owns, so `state.duckdb` stays free for the
//! registry commands) by a background thread in batches. The request path only tries a
//! bounded queue: when it is full the row is dropped and counted, never waited for.

use crate::input::Columns;
use crate::model::Loaded;
use duckdb::types::{TimeUnit, Value as DbValue};
use duckdb::{params, Connection};
use mlpc_train::scorer::Output;
use prometheus_client::metrics::counter::Counter;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Requests the queue holds before it drops.
const CAPACITY: usize = 16_384;
/// Requests written per batch at most.
const BATCH: usize = 1_024;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS requests (
  time TIMESTAMP, model VARCHAR, version BIGINT, request_id VARCHAR, row_number INTEGER,
  inputs VARCHAR, prediction VARCHAR, latency_ms DOUBLE)";

/// One answered request.
pub struct Entry {
    pub at_micros: i64,
    pub loaded: Arc<Loaded>,
    pub request_id: String,
    pub inputs: Columns,
    pub outputs: Arc<Vec<(String, Output)>>,
    pub latency_ms: f64,
}

pub struct RequestLog {
    tx: mpsc::Sender<Entry>,
    dropped: Counter,
}

/// The writer thread; joining it after the last `RequestLog` is gone flushes the queue.
pub struct Writer(std::thread::JoinHandle<()>);

impl Writer {
    pub fn join(self) {
        let _ = self.0.join();
    }
}

impl RequestLog {
    pub fn start(path: &Path, dropped: Counter) -> Result<(RequestLog, Writer), String> {
        let conn =
            Connection::open(path).map_err(|e| format!("cannot open the request log {}: {e}", path.display()))?;
        conn.execute_batch(SCHEMA).map_err(|e| format!("cannot set up the request log {}: {e}", path.display()))?;
        let (tx, mut rx) = mpsc::channel::<Entry>(CAPACITY);
        let shown = path.display().to_string();
        let handle = std::thread::spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                if let Err(e) = write(&conn, &batch) {
                    tracing::error!("request log {shown}: {e}");
                }
                batch.clear();
            }
        });
        Ok((RequestLog { tx, dropped }, Writer(handle)))
    }

    /// Queues an entry, or drops and counts it when the writer is behind.
    pub fn log(&self, entry: Entry) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.inc();
        }
    }
}

fn write(conn: &Connection, batch: &[Entry]) -> duckdb::Result<()> {
    let mut appender = conn.appender("requests")?;
    for e in batch {
        let predictions = e.loaded.predictions(&e.outputs, e.inputs.rows);
        for (i, prediction) in predictions.iter().enumerate() {
            appender.append_row(params![
                DbValue::Timestamp(TimeUnit::Microsecond, e.at_micros),
                e.loaded.name,
                e.loaded.version,
                e.request_id,
                i as i32 + 1,
                e.inputs.record(i).to_string(),
                prediction.to_string(),
                e.latency_ms,
            ])?;
        }
    }
    appender.flush()
}
