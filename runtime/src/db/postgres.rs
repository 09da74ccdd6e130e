//! The shared engine: a Postgres server, through the `postgres` client. Every session runs
//! in UTC, names itself (`application_name`: the mlpc process and host, shown to whoever
//! waits on one of its locks) and waits for a lock a bounded time.
//!
//! The synchronous client drives its own async runtime, which must not run inside another
//! (the executor and the servers call the store from async tasks): each session's client
//! lives on a thread of its own, which runs the session's statements one at a time.

use super::tls::Tls;
use super::{numbered, DbError, Row, Value};
use ::postgres::binary_copy::BinaryCopyInWriter;
use ::postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use ::postgres::{Client, Config, NoTls};
use bytes::BytesMut;
use std::fmt;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// One session: its client on its own thread, ended when this is dropped.
pub struct Session {
    jobs: mpsc::Sender<Job>,
}

impl Session {
    /// Connects on a new thread, which then serves the session.
    pub fn open(target: &PgTarget, who: &str) -> Result<Session, DbError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        let (target, who) = (target.clone(), who.to_string());
        std::thread::Builder::new()
            .name("mlpc-postgres".into())
            .spawn(move || {
                let mut client = match connect(&target, &who) {
                    Ok(c) => {
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                for job in inbox {
                    job(&mut client);
                }
            })
            .map_err(|e| DbError::Engine(format!("cannot start a Postgres session: {e}")))?;
        connected.recv().map_err(|_| DbError::Engine("the Postgres session ended".into()))??;
        Ok(Session { jobs })
    }

    /// Appends `rows` (values in the order of `columns`) to `table` with one binary
    /// `COPY … FROM STDIN`, the cheapest way in for many rows; returns how many. An integer
    /// goes into a timestamp column as µs since the Unix epoch (UTC).
    pub fn copy_in(&self, table: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> Result<u64, DbError> {
        let list = columns.join(", ");
        let (probe, copy) = (
            format!("SELECT {list} FROM {table} LIMIT 0"),
            format!("COPY {table} ({list}) FROM STDIN (FORMAT binary)"),
        );
        self.run(move |client| {
            let types: Vec<Type> =
                client.prepare(&probe).map_err(error)?.columns().iter().map(|c| c.type_().clone()).collect();
            let mut writer = BinaryCopyInWriter::new(client.copy_in(&copy).map_err(error)?, &types);
            for row in &rows {
                writer.write(&refs(row)).map_err(error)?;
            }
            writer.finish().map_err(error)
        })
    }

    /// Runs `work` on the session's client and returns what it returns.
    pub fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (done, result) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |client| {
                let _ = done.send(work(client));
            }))
            .map_err(|_| DbError::Engine("the Postgres session ended".into()))?;
        result.recv().map_err(|_| DbError::Engine("the Postgres session ended during a statement".into()))?
    }
}

/// How long a statement waits for a lock another session holds before it fails.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// A Postgres URL (`postgres://user:password@host:port/db?sslmode=…`); shown without its
/// password.
#[derive(Clone)]
pub struct PgTarget {
    url: String,
    config: Config,
    tls: Tls,
}

impl PgTarget {
    /// Reads a `postgres://` or `postgresql://` URL.
    pub fn parse(url: &str) -> Result<PgTarget, DbError> {
        let refused = |e: String| DbError::Engine(format!("`{}` is not a Postgres URL: {e}", redact(url)));
        let (rest, tls) = Tls::take(url).map_err(refused)?;
        let mut config = Config::from_str(&rest).map_err(|e| refused(e.to_string()))?;
        config.ssl_mode(tls.client_mode());
        Ok(PgTarget { url: url.to_string(), config, tls })
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgTarget({self})")
    }
}

/// The URL with its password (and any `password=` option) replaced by `***`.
fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme) = out.find("://") {
        let rest = scheme + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            if let Some(colon) = out[rest..rest + at].find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    if let Some(i) = out.find("password=") {
        let end = out[i..].find('&').map_or(out.len(), |j| i + j);
        out.replace_range(i + "password=".len()..end, "***");
    }
    out
}

/// Opens a client on the server (on the calling thread, which must not run an async runtime).
pub(crate) fn connect(target: &PgTarget, who: &str) -> Result<Client, DbError> {
    let mut config = target.config.clone();
    config.application_name(who);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let cannot = |why: String| DbError::Engine(format!("cannot connect to the Postgres store {target}: {why}"));
    let connected = match target.tls.connector().map_err(cannot)? {
        Some(tls) => config.connect(tls),
        None => config.connect(NoTls),
    };
    let mut client = connected.map_err(|e| {
        let mut why = describe(&e);
        if let Some(hint) = target.tls.hint().filter(|_| why.contains("certificate")) {
            why.push_str(&format!(" ({hint})"));
        }
        cannot(why)
    })?;
    client
        .batch_execute(&format!("SET TIME ZONE 'UTC'; SET lock_timeout = '{}ms'", LOCK_WAIT.as_millis()))
        .map_err(error)?;
    Ok(client)
}

pub fn execute(session: &Session, sql: &str, args: &[Value]) -> Result<u64, DbError> {
    let (sql, args) = (numbered(sql), args.to_vec());
    session.run(move |client| client.execute(sql.as_str(), &refs(&args)).map_err(error))
}

pub fn query(session: &Session, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
    let (sql, args) = (numbered(sql), args.to_vec());
    session.run(move |client| {
        let rows = client.query(sql.as_str(), &refs(&args)).map_err(error)?;
        rows.iter().map(row).collect()
    })
}

pub fn batch(session: &Session, sql: &str) -> Result<(), DbError> {
    let sql = sql.to_string();
    session.run(move |client| client.batch_execute(&sql).map_err(error))
}

fn refs(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

fn row(r: &::postgres::Row) -> Result<Row, DbError> {
    let read = |e: ::postgres::Error| DbError::Engine(e.to_string());
    let mut values = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let v = match *column.type_() {
            Type::INT2 => r.try_get::<_, Option<i16>>(i).map_err(read)?.map(|v| Value::Int(v.into())),
            Type::INT4 => r.try_get::<_, Option<i32>>(i).map_err(read)?.map(|v| Value::Int(v.into())),
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(read)?.map(Value::Int),
            Type::FLOAT4 => r.try_get::<_, Option<f32>>(i).map_err(read)?.map(|v| Value::Float(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).map_err(read)?.map(Value::Float),
            Type::BOOL => r.try_get::<_, Option<bool>>(i).map_err(read)?.map(Value::Bool),
            Type::TIMESTAMP => r
                .try_get::<_, Option<chrono::NaiveDateTime>>(i)
                .map_err(read)?
                .map(|t| Value::Text(super::timestamp(t.and_utc().timestamp_micros()))),
            Type::TIMESTAMPTZ => r
                .try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
                .map_err(read)?
                .map(|t| Value::Text(super::timestamp(t.timestamp_micros()))),
            _ => r.try_get::<_, Option<String>>(i).map_err(read)?.map(Value::Text),
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

pub fn error(e: ::postgres::Error) -> DbError {
    DbError::Engine(describe(&e))
}

/// The server's message (with its detail and hint) or the client's, with its cause.
fn describe(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = db.message().to_string();
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; {hint}"));
        }
        return text;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(us), &Type::TIMESTAMP | &Type::TIMESTAMPTZ) => {
                let at = chrono::DateTime::from_timestamp_micros(*us).ok_or("a timestamp out of range")?;
                match *ty {
                    Type::TIMESTAMP => at.naive_utc().to_sql(ty, out),
                    _ => at.to_sql(ty, out),
                }
            }
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().to_sql(ty, out),
            (Value::Int(i), _) => i.to_sql(ty, out),
            (Value::Float(x), &Type::FLOAT4) => (*x as f32).to_sql(ty, out),
            (Value::Float(x), _) => x.to_sql(ty, out),
            (Value::Text(s), _) => s.as_str().to_sql(ty, out),
            (Value::Bool(b), _) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test server's URL and its CA's certificate (`scripts/services/postgres`).
    fn server() -> Option<(String, String)> {
        match (std::env::var("MLPC_TEST_POSTGRES"), std::env::var("MLPC_TEST_POSTGRES_CA")) {
            (Ok(url), Ok(ca)) => Some((url, ca)),
            _ => {
                assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_POSTGRES(_CA) is not set");
                eprintln!("not run: no Postgres (start scripts/services/postgres)");
                None
            }
        }
    }

    /// Whether the session is encrypted, as the server sees it.
    fn encrypted(url: &str) -> Result<bool, DbError> {
        let mut client = connect(&PgTarget::parse(url)?, "tls test")?;
        let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).map_err(error)?;
        Ok(row.get(0))
    }

    #[test]
    fn sslmode_decides_encryption_and_a_certificate_from_another_ca_is_refused() {
        let Some((url, ca)) = server() else { return };
        let with = |options: &str| format!("{url}?{options}");
        assert!(!encrypted(&with("sslmode=disable")).unwrap());
        assert!(encrypted(&url).unwrap(), "prefer (the default) uses the server's TLS");
        assert!(encrypted(&with("sslmode=require")).unwrap());
        assert!(encrypted(&with(&format!("sslmode=verify-full&sslrootcert={ca}"))).unwrap());

        // Reached under a name the certificate does not hold: verify-ca passes, verify-full not.
        let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap();
        let renamed = format!("postgres://mlpc@db.invalid:{port}/postgres?hostaddr=127.0.0.1&sslrootcert={ca}");
        assert!(encrypted(&format!("{renamed}&sslmode=verify-ca")).unwrap());
        let err = encrypted(&format!("{renamed}&sslmode=verify-full")).unwrap_err().to_string();
        assert!(err.contains("certificate") && err.contains("name the host it was reached at"), "{err}");

        // Another CA's certificate.
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other-ca.crt");
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another CA"])
            .arg("-keyout")
            .arg(dir.path().join("other-ca.key"))
            .arg("-out")
            .arg(&other)
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let wrong = with(&format!("sslmode=verify-full&sslrootcert={}", other.display()));
        let err = encrypted(&wrong).unwrap_err().to_string();
        assert!(err.starts_with("cannot connect to the Postgres store"), "{err}");
        assert!(err.contains("UnknownIssuer"), "{err}");
        assert!(err.contains(&format!("must be signed by a CA in {}", other.display())), "{err}");
        eprintln!("a certificate from another CA: {err}");
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(redact("postgres://mlpc:s3cret@db:5432/ml"), "postgres://mlpc:***@db:5432/ml");
        assert_eq!(
            redact("postgres://db/ml?user=a&password=s3cret&sslmode=require"),
            "postgres://db/ml?user=a&password=***&sslmode=require"
        );
        assert_eq!(redact("postgres://mlpc@db/ml"), "postgres://mlpc@db/ml");
        let target = PgTarget::parse("postgresql://mlpc:s3cret@127.0.0.1:1/ml").unwrap();
        assert!(!format!("{target} {target:?}").contains("s3cret"));
        let err = connect(&target, "test").err().unwrap().to_string();
        assert!(err.contains("cannot connect to the Postgres store postgresql://mlpc:***@127.0.0.1:1/ml"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
