//! The shared engine: a Postgres server, through the `postgres` client. Every session runs
//! in UTC, names itself (`application_name`: the mlpc process and host, shown to whoever
//! waits on one of its locks) and waits for a lock a bounded time.
//!
//! The synchronous client drives its own async runtime, which must not run inside another
//! (the executor and the servers call the store from async tasks): each session's client
//! lives on a thread of its own, which runs the session's statements one at a time.

use super::{numbered, DbError, Row, Value};
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
}

impl PgTarget {
    /// Reads a `postgres://` or `postgresql://` URL.
    pub fn parse(url: &str) -> Result<PgTarget, DbError> {
        let config = Config::from_str(url)
            .map_err(|e| DbError::Engine(format!("`{}` is not a Postgres URL: {e}", redact(url))))?;
        Ok(PgTarget { url: url.to_string(), config })
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
fn connect(target: &PgTarget, who: &str) -> Result<Client, DbError> {
    let mut config = target.config.clone();
    config.application_name(who);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let mut client = config
        .connect(NoTls)
        .map_err(|e| DbError::Engine(format!("cannot connect to the Postgres store {target}: {}", describe(&e))))?;
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
