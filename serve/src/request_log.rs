//! The request log: inputs and predictions, one row per predicted row, written to
//! `<state>/requests.duckdb` (a file the server owns, so `state.duckdb` stays free for the
//! registry commands) by a background thread in batches. The request path only tries a
//! bounded queue: when it is full the row is dropped and counted, never waited for.
//! Labels sent back (`feedback`) go through the same thread, which also runs the reads of
//! a process that embeds the server ([`RequestLog::read`]): one connection holds the file.

use crate::input::Columns;
use crate::model::Loaded;
use duckdb::types::{TimeUnit, Value as DbValue};
use duckdb::{params, Connection};
use mlpc_train::scorer::Output;
use prometheus_client::metrics::counter::Counter;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Requests the queue holds before it drops.
const CAPACITY: usize = 16_384;
/// Requests written per batch at most.
const BATCH: usize = 1_024;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS requests (
  time TIMESTAMP, model VARCHAR, version BIGINT, request_id VARCHAR, row_number INTEGER,
  inputs VARCHAR, prediction VARCHAR, latency_ms DOUBLE, error VARCHAR, fallback BOOLEAN,
  asked_version BIGINT);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS error VARCHAR;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS fallback BOOLEAN;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS asked_version BIGINT;
CREATE TABLE IF NOT EXISTS feedback (
  time TIMESTAMP, model VARCHAR, request_id VARCHAR, row_number INTEGER, label VARCHAR)";

/// A label sent back for one predicted row.
#[derive(Clone, Debug)]
pub struct Label {
    pub request_id: String,
    /// 1-based, as in `requests`.
    pub row_number: i32,
    pub label: String,
}

/// What the writer appends next.
#[derive(Default)]
struct Batch {
    answered: Vec<Entry>,
    failed: Vec<Failure>,
}

/// A read of the log, run on the writer's connection.
type Job = Box<dyn FnOnce(&Connection) + Send>;

/// A request the server failed (a 5xx, not bad input): one row, no inputs or prediction.
pub struct Failure {
    pub at_micros: i64,
    pub model: String,
    /// The version that failed it last.
    pub version: i64,
    /// The version it was sent to first.
    pub asked: i64,
    pub request_id: String,
    pub error: String,
    pub latency_ms: f64,
}

enum Message {
    Request(Entry),
    Failure(Failure),
    Labels { at_micros: i64, model: String, labels: Vec<Label> },
    Read(Job),
}

/// One answered request.
pub struct Entry {
    pub at_micros: i64,
    pub loaded: Arc<Loaded>,
    pub request_id: String,
    pub inputs: Columns,
    pub outputs: Arc<Vec<(String, Output)>>,
    pub latency_ms: f64,
    /// The version it was sent to first; another answered when that one failed it.
    pub asked: i64,
}

pub struct RequestLog {
    tx: mpsc::Sender<Message>,
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
        let (tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
        let shown = path.display().to_string();
        let handle = std::thread::spawn(move || {
            let mut batch = Batch::default();
            let flush = |batch: &mut Batch| {
                if let Err(e) = write(&conn, batch) {
                    tracing::error!("request log {shown}: {e}");
                }
                batch.answered.clear();
                batch.failed.clear();
            };
            while let Some(mut next) = rx.blocking_recv() {
                loop {
                    match next {
                        Message::Request(e) => batch.answered.push(e),
                        Message::Failure(f) => batch.failed.push(f),
                        Message::Labels { at_micros, model, labels } => {
                            flush(&mut batch);
                            if let Err(e) = add_labels(&conn, at_micros, &model, &labels) {
                                tracing::error!("request log {shown}: {e}");
                            }
                        }
                        Message::Read(job) => {
                            flush(&mut batch);
                            // A read that panics answers nothing (its caller sees an error);
                            // the log goes on.
                            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&conn)));
                        }
                    }
                    if batch.answered.len() + batch.failed.len() >= BATCH {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(m) => next = m,
                        Err(_) => break,
                    }
                }
                flush(&mut batch);
            }
        });
        Ok((RequestLog { tx, dropped }, Writer(handle)))
    }

    /// Queues an entry, or drops and counts it when the writer is behind.
    pub fn log(&self, entry: Entry) {
        if self.tx.try_send(Message::Request(entry)).is_err() {
            self.dropped.inc();
        }
    }

    /// Queues a failed request, or drops and counts it when the writer is behind.
    pub fn fail(&self, failure: Failure) {
        if self.tx.try_send(Message::Failure(failure)).is_err() {
            self.dropped.inc();
        }
    }

    /// Queues labels sent back for `model`'s predictions; an error when the queue is full.
    pub fn add_labels(&self, model: &str, labels: Vec<Label>) -> Result<(), String> {
        let m = Message::Labels { at_micros: crate::app::now_micros(), model: model.into(), labels };
        self.tx.try_send(m).map_err(|_| "the request log is behind: send the labels again shortly".to_string())
    }

    /// Runs `read` on the log's connection once what was queued before is written, and
    /// returns its answer. Blocking: call it off the async runtime's threads.
    pub fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| drop(reply.send(read(conn))));
        self.tx.blocking_send(Message::Read(job)).map_err(|_| "the request log has stopped".to_string())?;
        answer.blocking_recv().map_err(|_| "the request log has stopped".to_string())?
    }
}

fn add_labels(conn: &Connection, at_micros: i64, model: &str, labels: &[Label]) -> duckdb::Result<()> {
    let mut appender = conn.appender("feedback")?;
    for l in labels {
        appender.append_row(params![
            DbValue::Timestamp(TimeUnit::Microsecond, at_micros),
            model,
            l.request_id,
            l.row_number,
            l.label
        ])?;
    }
    appender.flush()
}

fn write(conn: &Connection, batch: &Batch) -> duckdb::Result<()> {
    let mut appender = conn.appender("requests")?;
    for e in &batch.answered {
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
                None::<String>,
                e.asked != e.loaded.version,
                e.asked,
            ])?;
        }
    }
    for f in &batch.failed {
        appender.append_row(params![
            DbValue::Timestamp(TimeUnit::Microsecond, f.at_micros),
            f.model,
            f.version,
            f.request_id,
            1,
            None::<String>,
            None::<String>,
            f.latency_ms,
            f.error,
            false,
            f.asked,
        ])?;
    }
    appender.flush()
}
