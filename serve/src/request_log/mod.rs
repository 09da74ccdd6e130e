//! The request log: inputs and predictions, one row per predicted row, written to
//! `<state>/requests.duckdb` (a file the server owns, so `state.duckdb` stays free for the
//! registry commands) by a background thread in batches. The request path only tries a
//! bounded queue: when it is full the row is dropped and counted, never waited for.
//! Labels sent back (`feedback`) go through the same thread, which also runs the reads of
//! a process that embeds the server ([`RequestLog::read`]): one connection holds the file.
//! On a shared store (`--state postgres://…`) the rows go to the store's tables instead,
//! where every replica's are read together ([`shared`]).

mod read;
pub mod shared;

pub use read::{read_file, traffic, window, FileError, Logged, Traffic};
pub use shared::Shared;

use crate::http::Burst;
use crate::input::Columns;
use crate::model::Loaded;
use duckdb::types::{TimeUnit, Value as DbValue};
use duckdb::{params, Connection};
use mlpc_train::scorer::Output;
use prometheus_client::metrics::counter::Counter;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Requests the queue holds before it drops.
const CAPACITY: usize = 16_384;
/// Requests written per batch at most.
const BATCH: usize = 1_024;
/// Rows the queue holds at most (a request of many rows weighs as many); past it, rows drop.
const QUEUED_ROWS: usize = 131_072;

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
type Job = Box<dyn FnOnce(Result<&Connection, String>) + Send>;

/// Where the writer puts rows: the server's own file, or the shared store.
enum Sink {
    File(Connection),
    Shared(Shared),
}

impl Sink {
    fn write(&mut self, batch: &Batch) -> Result<(), String> {
        match self {
            Sink::File(conn) => write(conn, batch).map_err(|e| e.to_string()),
            Sink::Shared(shared) => shared.write(batch),
        }
    }

    fn add_labels(&mut self, at_micros: i64, model: &str, labels: &[Label]) -> Result<(), String> {
        match self {
            Sink::File(conn) => add_labels(conn, at_micros, model, labels).map_err(|e| e.to_string()),
            Sink::Shared(shared) => shared.add_labels(at_micros, model, labels),
        }
    }

    /// Runs `job` on the file, or on every replica's rows since `since_micros`.
    fn read(&mut self, since_micros: i64, job: Job) {
        match self {
            Sink::File(conn) => job(Ok(conn)),
            Sink::Shared(shared) => match shared.window(since_micros) {
                Ok(conn) => job(Ok(&conn)),
                Err(e) => job(Err(e)),
            },
        }
    }
}

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
    Read { since_micros: i64, job: Job },
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
    /// Rows queued and not yet written (or lost).
    queued: Arc<AtomicUsize>,
}

impl Batch {
    fn rows(&self) -> usize {
        self.answered.iter().map(|e| e.inputs.rows).sum::<usize>() + self.failed.len()
    }
}

/// The writer thread; joining it after the last `RequestLog` is gone flushes the queue.
pub struct Writer(std::thread::JoinHandle<()>);

impl Writer {
    pub fn join(self) {
        let _ = self.0.join();
    }
}

impl RequestLog {
    /// Starts the writer: into the file `path`, or, with `shared`, into the shared store.
    pub fn start(path: &Path, shared: Option<Shared>, dropped: Counter) -> Result<(RequestLog, Writer), String> {
        let (mut sink, shown) = match shared {
            Some(shared) => (Sink::Shared(shared), "on the shared store".to_string()),
            None => {
                let conn = Connection::open(path)
                    .map_err(|e| format!("cannot open the request log {}: {e}", path.display()))?;
                conn.execute_batch(SCHEMA)
                    .map_err(|e| format!("cannot set up the request log {}: {e}", path.display()))?;
                (Sink::File(conn), path.display().to_string())
            }
        };
        let (tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
        let queued = Arc::new(AtomicUsize::new(0));
        let (lost, left) = (dropped.clone(), queued.clone());
        let handle = std::thread::spawn(move || {
            let mut batch = Batch::default();
            // A full disk fails every batch: logged once per burst, every row counted.
            let mut burst = Burst::new(Duration::from_secs(60));
            let mut flush = |sink: &mut Sink, batch: &mut Batch| {
                let rows = batch.rows();
                if rows > 0 {
                    if let Err(e) = sink.write(batch) {
                        lost.inc_by(rows as u64);
                        if let Some(quiet) = burst.note() {
                            let before = if quiet > 0 {
                                format!(" ({quiet} failed writes since the last report)")
                            } else {
                                String::new()
                            };
                            tracing::error!(
                                "request log {shown}: {e}; {rows} rows lost{before}, counted in mlpc_serve_request_log_dropped_total (is the disk full, or the store down?)"
                            );
                        }
                    }
                    left.fetch_sub(rows, Ordering::Relaxed);
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
                            flush(&mut sink, &mut batch);
                            if let Err(e) = sink.add_labels(at_micros, &model, &labels) {
                                tracing::error!("request log {shown}: {e}");
                            }
                        }
                        Message::Read { since_micros, job } => {
                            flush(&mut sink, &mut batch);
                            // A read that panics answers nothing (its caller sees an error);
                            // the log goes on.
                            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| sink.read(since_micros, job)));
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
                flush(&mut sink, &mut batch);
            }
        });
        Ok((RequestLog { tx, dropped, queued }, Writer(handle)))
    }

    /// Queues `rows` rows, or drops and counts them when the writer is behind.
    fn queue(&self, rows: usize, message: Message) {
        let before = self.queued.fetch_add(rows, Ordering::Relaxed);
        if before + rows > QUEUED_ROWS || self.tx.try_send(message).is_err() {
            self.queued.fetch_sub(rows, Ordering::Relaxed);
            self.dropped.inc_by(rows as u64);
        }
    }

    /// Queues an entry (a row per predicted row), or drops and counts its rows when the
    /// writer is behind.
    pub fn log(&self, entry: Entry) {
        let rows = entry.inputs.rows;
        self.queue(rows, Message::Request(entry));
    }

    /// Queues a failed request (one row), or drops and counts it when the writer is behind.
    pub fn fail(&self, failure: Failure) {
        self.queue(1, Message::Failure(failure));
    }

    /// Queues labels sent back for `model`'s predictions; an error when the queue is full.
    pub fn add_labels(&self, model: &str, labels: Vec<Label>) -> Result<(), String> {
        let m = Message::Labels { at_micros: crate::clock::now_micros(), model: model.into(), labels };
        self.tx.try_send(m).map_err(|_| "the request log is behind: send the labels again shortly".to_string())
    }

    /// Runs `read` on the log's connection once what was queued before is written, and
    /// returns its answer; on a shared store, on every replica's rows logged since
    /// `since_micros`. Blocking: call it off the async runtime's threads.
    pub fn read<T: Send + 'static>(
        &self,
        since_micros: i64,
        read: impl FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| drop(reply.send(conn.and_then(read))));
        let message = Message::Read { since_micros, job };
        self.tx.blocking_send(message).map_err(|_| "the request log has stopped".to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(i: usize) -> Failure {
        Failure {
            at_micros: 0,
            model: "m".into(),
            version: 1,
            asked: 1,
            request_id: format!("r{i}"),
            error: "boom".into(),
            latency_ms: 1.0,
        }
    }

    #[test]
    fn rows_the_writer_fails_to_write_are_counted() {
        let dir = std::env::temp_dir().join(format!("mlpc-request-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("requests.duckdb");
        let dropped = Counter::default();
        let (log, writer) = RequestLog::start(&path, None, dropped.clone()).unwrap();
        log.fail(failure(0));
        log.read(0, |_| Ok(())).unwrap();
        assert_eq!(dropped.get(), 0, "a row written is not lost");
        // Writing now fails, as on a full disk: every row is counted.
        log.read(0, |c| c.execute_batch("DROP TABLE requests").map_err(|e| e.to_string())).unwrap();
        for i in 1..=895 {
            log.fail(failure(i));
        }
        log.read(0, |_| Ok(())).unwrap();
        assert_eq!(dropped.get(), 895);
        drop(log);
        writer.join();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
