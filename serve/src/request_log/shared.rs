//! The request log on a shared store (`--state postgres://…`): every serving replica
//! appends its rows to the store's `requests` and `feedback` tables, a batch per binary
//! COPY, each row marked with the replica that served it. Reads take a window of every
//! replica's rows into an in-memory DuckDB with the tables of the file log, so that the
//! log's reads ([`super::read`]) are written once for both.

use super::{Batch, Label, SCHEMA};
use duckdb::types::{TimeUnit, Value as Duck};
use duckdb::Connection;
use mlpc_runtime::db::{Db, Value};
use mlpc_runtime::Store;
use std::path::{Path, PathBuf};

const REQUEST_COLUMNS: &str =
    "time, model, version, request_id, row_number, inputs, prediction, latency_ms, error, fallback, asked_version";
const FEEDBACK_COLUMNS: &str = "time, model, request_id, row_number, label";

/// A replica's session on the shared store, opened again after one fails.
pub struct Shared {
    state: PathBuf,
    store: Option<Store>,
    /// This replica, as its rows name it: `HOST:PID`.
    replica: String,
}

impl Shared {
    /// The session of the shared store `state` is on; `None` for a state folder of its own.
    pub fn open(state: &Path) -> Result<Option<Shared>, String> {
        if Store::shared(state).is_none() {
            return Ok(None);
        }
        let store = Store::open_read_only(state)?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let replica = format!("{}:{}", host.trim(), std::process::id());
        Ok(Some(Shared { state: state.to_path_buf(), store: Some(store), replica }))
    }

    /// Runs `work` on the session, opening one if the last failed; a failure drops it.
    fn with<T>(&mut self, work: impl FnOnce(&Db, &str) -> Result<T, String>) -> Result<T, String> {
        let store = match self.store.take() {
            Some(store) => store,
            None => Store::open_read_only(&self.state)?,
        };
        let done = work(&store.db, &self.replica)?;
        self.store = Some(store);
        Ok(done)
    }

    /// Appends a batch.
    pub(super) fn write(&mut self, batch: &Batch) -> Result<(), String> {
        let mut rows: Vec<[Value; 11]> = Vec::with_capacity(batch.rows());
        for e in &batch.answered {
            let predictions = e.loaded.predictions(&e.outputs, e.inputs.rows);
            for (i, prediction) in predictions.iter().enumerate() {
                rows.push([
                    Value::Int(e.at_micros),
                    Value::Text(e.loaded.name.clone()),
                    Value::Int(e.loaded.version),
                    Value::Text(e.request_id.clone()),
                    Value::Int(i as i64 + 1),
                    Value::Text(e.inputs.record(i).to_string()),
                    Value::Text(prediction.to_string()),
                    Value::Float(e.latency_ms),
                    Value::Null,
                    Value::Bool(e.asked != e.loaded.version),
                    Value::Int(e.asked),
                ]);
            }
        }
        for f in &batch.failed {
            rows.push([
                Value::Int(f.at_micros),
                Value::Text(f.model.clone()),
                Value::Int(f.version),
                Value::Text(f.request_id.clone()),
                Value::Int(1),
                Value::Null,
                Value::Null,
                Value::Float(f.latency_ms),
                Value::Text(f.error.clone()),
                Value::Bool(false),
                Value::Int(f.asked),
            ]);
        }
        self.with(|db, replica| insert(db, replica, "requests", REQUEST_COLUMNS, rows))
    }

    /// Appends labels sent back for `model`'s rows.
    pub(super) fn add_labels(&mut self, at_micros: i64, model: &str, labels: &[Label]) -> Result<(), String> {
        let rows = labels.iter().map(|l| {
            [
                Value::Int(at_micros),
                Value::Text(model.into()),
                Value::Text(l.request_id.clone()),
                Value::Int(l.row_number.into()),
                Value::Text(l.label.clone()),
            ]
        });
        let rows = rows.collect();
        self.with(|db, replica| insert(db, replica, "feedback", FEEDBACK_COLUMNS, rows))
    }

    /// Every replica's rows logged since `since_micros`, as the file log holds them.
    pub(super) fn window(&mut self, since_micros: i64) -> Result<Connection, String> {
        self.with(|db, _| window(db, since_micros))
    }
}

/// `rows` into `table`'s `columns`, each row with `replica` added as the last, in one COPY.
fn insert<const N: usize>(
    db: &Db,
    replica: &str,
    table: &str,
    columns: &str,
    rows: Vec<[Value; N]>,
) -> Result<(), String> {
    let Db::Postgres(session) = db else { return Err("the request log's table is on the shared store".into()) };
    if rows.is_empty() {
        return Ok(());
    }
    let columns: Vec<&str> = columns.split(", ").chain(["replica"]).collect();
    let rows = rows.into_iter().map(|row| row.into_iter().chain([Value::Text(replica.into())]).collect()).collect();
    session.copy_in(table, &columns, rows).map(drop).map_err(|e| e.to_string())
}

/// Every replica's rows logged on the shared store since `since_micros` (and the labels
/// sent back since), in an in-memory DuckDB with the file log's tables.
pub fn window(db: &Db, since_micros: i64) -> Result<Connection, String> {
    let local = |e: duckdb::Error| format!("cannot read the shared request log: {e}");
    let conn = Connection::open_in_memory().map_err(local)?;
    conn.execute_batch(SCHEMA).map_err(local)?;
    let since = "time >= to_timestamp(?::BIGINT / 1000000.0)";
    let micros = "CAST(extract(epoch FROM time) * 1000000 AS BIGINT)";
    let copy = |table: &str, columns: &str| -> Result<(), String> {
        let rest = columns.split_once(", ").map_or("", |(_, rest)| rest);
        let width = columns.split(", ").count();
        let rows = db
            .query(
                &format!("SELECT {micros}, {rest} FROM {table} WHERE {since}"),
                mlpc_runtime::db::args![since_micros],
                |r| (0..width).map(|i| r.get::<Value>(i)).collect::<Result<Vec<_>, _>>(),
            )
            .map_err(|e| format!("cannot read the shared request log: {e}"))?;
        let mut appender = conn.appender(table).map_err(local)?;
        for row in rows {
            let values = row.into_iter().enumerate().map(|(i, v)| duck(i == 0, v));
            appender.append_row(duckdb::appender_params_from_iter(values)).map_err(local)?;
        }
        appender.flush().map_err(local)
    };
    copy("requests", REQUEST_COLUMNS)?;
    copy("feedback", FEEDBACK_COLUMNS)?;
    Ok(conn)
}

/// A value read from Postgres as DuckDB takes it; the first column is µs since the epoch.
fn duck(time: bool, v: Value) -> Duck {
    match v {
        Value::Null => Duck::Null,
        Value::Int(us) if time => Duck::Timestamp(TimeUnit::Microsecond, us),
        Value::Int(i) => Duck::BigInt(i),
        Value::Float(x) => Duck::Double(x),
        Value::Text(s) => Duck::Text(s),
        Value::Bool(b) => Duck::Boolean(b),
    }
}

/// Whether the state folder `state` keeps its store on a shared server.
pub fn on(state: &Path) -> bool {
    Store::shared(state).is_some()
}

/// `read`'s answer on every replica's rows logged since `since_micros` on the shared store
/// `state` is on ([`on`]), read without a server (`mlpc ui`, the daemon while it serves
/// nothing).
pub fn read<T>(
    state: &Path,
    since_micros: i64,
    read: impl FnOnce(&Connection) -> Result<T, String>,
) -> Result<T, String> {
    let store = Store::open_read_only(state)?;
    read(&window(&store.db, since_micros)?)
}

#[cfg(test)]
mod tests {
    use super::super::{write as write_file, Failure};
    use super::*;
    use mlpc_runtime::db::{PgSession, PgTarget};
    use sha2::Digest;
    use std::time::Instant;

    /// A new database on the test server, and a state folder whose store is on it.
    fn shared_state() -> Option<(tempfile::TempDir, PgTarget)> {
        let Ok(server) = std::env::var("MLPC_TEST_POSTGRES") else {
            assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_POSTGRES is not set");
            eprintln!("not run: no Postgres (start scripts/services/postgres)");
            return None;
        };
        let admin = Db::Postgres(PgSession::open(&PgTarget::parse(&server).unwrap(), "mlpc tests").unwrap());
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("request_log_{}_{n}", std::process::id());
        admin.batch(&format!("CREATE DATABASE {name}")).unwrap();
        let target = PgTarget::parse(&format!("{}/{name}", server.rsplit_once('/').unwrap().0)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        Store::share(dir.path(), target.clone());
        Some((dir, target))
    }

    /// `n` failed requests whose error is as long as a churn request's inputs.
    fn batch(n: usize, at_micros: i64, ids: &str) -> Batch {
        let inputs = r#"{"customer_id":17,"plan":"pro","region":"eu","monthly_spend":81.5,"support_tickets":2,"tenure_months":14,"total_purchases":9,"avg_order_value":42.1,"spend_90d":130.2,"days_since_last_purchase":12,"spend_per_ticket":27.2}"#;
        let failed = (0..n)
            .map(|i| Failure {
                at_micros: at_micros + i as i64,
                model: "churn-predictor".into(),
                version: 1,
                asked: 1,
                request_id: format!("{ids}{i}"),
                error: inputs.into(),
                latency_ms: 1.5,
            })
            .collect();
        Batch { answered: Vec::new(), failed }
    }

    #[test]
    fn replicas_rows_and_labels_are_read_back_as_one_window() {
        let Some((dir, _)) = shared_state() else { return };
        let mut first = Shared::open(dir.path()).unwrap().unwrap();
        let mut second = Shared::open(dir.path()).unwrap().unwrap();
        second.replica = "other:1".into();
        first.write(&batch(3, 1_000_000, "a")).unwrap();
        second.write(&batch(2, 5_000_000, "b")).unwrap();
        let label = Label { request_id: "a1".into(), row_number: 1, label: "true".into() };
        second.add_labels(6_000_000, "churn-predictor", &[label]).unwrap();

        let conn = first.window(1_000_001).unwrap();
        let rows: Vec<(i64, String)> = conn
            .prepare("SELECT epoch_us(time), request_id FROM requests ORDER BY time")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<duckdb::Result<_>>()
            .unwrap();
        let expected = [(1_000_001, "a1"), (1_000_002, "a2"), (5_000_000, "b0"), (5_000_001, "b1")];
        assert_eq!(rows, expected.map(|(t, r)| (t, r.to_string())), "the window's rows, of both replicas");
        let inputs = [("plan".to_string(), mlpc_train::InputType::Category)];
        let live = super::super::window(&conn, "churn-predictor", Some(1), 0, &inputs).unwrap();
        assert_eq!((live.live.request_count, live.live.errors), (4, 4));
        assert_eq!(live.labels, vec![("a1".to_string(), 1, "true".to_string())], "a label sent to the other replica");
    }

    /// The write cost of a logged row each way, printed (`--ignored --nocapture`; S3 from
    /// `MLPC_TEST_S3`): a Postgres table in batched INSERTs, the server's own DuckDB file,
    /// and a Parquet segment per batch uploaded to the artifact store.
    #[test]
    #[ignore = "a measurement: run it with --ignored --nocapture"]
    fn the_cost_of_a_logged_row_each_way() {
        let Some((dir, _)) = shared_state() else { return };
        let (batches, size) = (20, 1_024);
        let per_row = |took: std::time::Duration| took.as_secs_f64() * 1e6 / (batches * size) as f64;
        let now = crate::clock::now_micros();
        let made: Vec<Batch> = (0..batches).map(|b| batch(size, now + b as i64 * 10_000, "r")).collect();
        let mut shared = Shared::open(dir.path()).unwrap().unwrap();
        let asked = Instant::now();
        made.iter().for_each(|b| shared.write(b).unwrap());
        eprintln!("postgres table: {:.1} µs a row, in batches of {size}", per_row(asked.elapsed()));

        let file = Connection::open(dir.path().join("requests.duckdb")).unwrap();
        file.execute_batch(SCHEMA).unwrap();
        let asked = Instant::now();
        made.iter().for_each(|b| write_file(&file, b).unwrap());
        eprintln!("duckdb file: {:.1} µs a row", per_row(asked.elapsed()));

        let Ok(bucket) = std::env::var("MLPC_TEST_S3") else { return eprintln!("no S3: no Parquet figure") };
        let store = mlpc_runtime::ArtifactStore::from_url(&bucket, &dir.path().join("cache")).unwrap();
        let segment = Connection::open_in_memory().unwrap();
        segment.execute_batch(SCHEMA).unwrap();
        let asked = Instant::now();
        for (b, made) in made.iter().enumerate() {
            segment.execute_batch("DELETE FROM requests").unwrap();
            write_file(&segment, made).unwrap();
            let path = dir.path().join(format!("segment-{b}.parquet"));
            segment
                .execute_batch(&format!("COPY requests TO '{}' (FORMAT parquet, COMPRESSION zstd)", path.display()))
                .unwrap();
            let sha = sha2::Sha256::digest(std::fs::read(&path).unwrap());
            let sha: String = sha.iter().map(|b| format!("{b:02x}")).collect();
            assert!(store.put(&path, &sha, "parquet").unwrap());
        }
        eprintln!("parquet segments on S3: {:.1} µs a row, in segments of {size}", per_row(asked.elapsed()));
    }
}
