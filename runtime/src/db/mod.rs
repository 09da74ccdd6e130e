//! The tracking store's database: embedded DuckDB (a file in the state folder) or a shared
//! Postgres server. Callers write one SQL text with `?` placeholders and read rows as
//! [`Value`]s; this module binds them for the engine at hand (`$1, $2, …` for Postgres) and
//! converts what each returns, so the store's queries are written once for both.

mod duck;
mod postgres;
mod tls;

pub(crate) use self::postgres::connect;
pub use self::postgres::{PgTarget, Session as PgSession};

use std::fmt;

/// One connection to the tracking store's database.
pub enum Db {
    Duck(duckdb::Connection),
    Postgres(PgSession),
}

/// A value bound to a placeholder or read from a column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

/// What a query or statement failed with.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the query returned no rows")]
    NoRows,
    #[error("{0}")]
    Engine(String),
    #[error("column {index} holds {found:?}, not {wanted}")]
    Type { index: usize, found: Value, wanted: &'static str },
}

impl From<DbError> for String {
    fn from(e: DbError) -> String {
        e.to_string()
    }
}

/// One row read back.
pub struct Row(Vec<Value>);

impl Row {
    /// Column `index`, converted.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, DbError> {
        let value = self.0.get(index).unwrap_or(&Value::Null);
        T::from_value(value).ok_or_else(|| DbError::Type { index, found: value.clone(), wanted: T::NAME })
    }
}

/// A Rust value bound to a placeholder.
pub trait ToValue {
    fn value(&self) -> Value;
}

/// A Rust value read from a column.
pub trait FromValue: Sized {
    const NAME: &'static str;
    fn from_value(value: &Value) -> Option<Self>;
}

/// The arguments of one statement: `args![a, b, …]`.
#[macro_export]
macro_rules! args {
    ($($x:expr),* $(,)?) => { &[$($crate::db::ToValue::value(&$x)),*][..] };
}
pub use args;

impl Db {
    /// Runs a statement; returns the rows it changed.
    pub fn execute(&self, sql: &str, args: &[Value]) -> Result<u64, DbError> {
        match self {
            Db::Duck(conn) => duck::execute(conn, sql, args),
            Db::Postgres(session) => postgres::execute(session, sql, args),
        }
    }

    /// Runs statements without arguments, one after another.
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Duck(conn) => conn.execute_batch(sql).map_err(duck::error),
            Db::Postgres(session) => postgres::batch(session, sql),
        }
    }

    /// Every row of a query, each read by `read`.
    pub fn query<T>(
        &self,
        sql: &str,
        args: &[Value],
        mut read: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        let rows = match self {
            Db::Duck(conn) => duck::query(conn, sql, args)?,
            Db::Postgres(session) => postgres::query(session, sql, args)?,
        };
        rows.iter().map(&mut read).collect()
    }

    /// The first row of a query, read by `read`; [`DbError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        args: &[Value],
        read: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, args, read)?.ok_or(DbError::NoRows)
    }

    /// The first row of a query, read by `read`; `None` when there is none.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        args: &[Value],
        read: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        let rows = match self {
            Db::Duck(conn) => duck::query(conn, sql, args)?,
            Db::Postgres(session) => postgres::query(session, sql, args)?,
        };
        rows.first().map(read).transpose()
    }

    /// Whether this is the shared (Postgres) store.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::value)
    }
}

impl ToValue for str {
    fn value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for std::borrow::Cow<'_, str> {
    fn value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for bool {
    fn value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToValue for f64 {
    fn value(&self) -> Value {
        Value::Float(*self)
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => { $(impl ToValue for $t {
        fn value(&self) -> Value {
            Value::Int(*self as i64)
        }
    })* };
}
int_to_value!(i32, i64, u32, u64, usize);

impl<T: FromValue> FromValue for Option<T> {
    const NAME: &'static str = T::NAME;
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A column as it is, whatever it holds.
impl FromValue for Value {
    const NAME: &'static str = "any value";
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

impl FromValue for String {
    const NAME: &'static str = "text";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    const NAME: &'static str = "an integer";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const NAME: &'static str = "a number";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const NAME: &'static str = "a boolean";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// A timestamp (µs since the epoch, UTC) as DuckDB writes one: `2026-12-05 10:00:00.5`.
fn timestamp(micros: i64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp_micros(micros) else { return micros.to_string() };
    let text = at.format("%Y-%m-%d %H:%M:%S").to_string();
    match micros.rem_euclid(1_000_000) {
        0 => text,
        fraction => format!("{text}.{}", format!("{fraction:06}").trim_end_matches('0')),
    }
}

/// `sql` with each `?` placeholder outside quotes numbered `$1, $2, …` (for Postgres).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let (mut n, mut quote) = (0, None);
    for c in sql.chars() {
        match (c, quote) {
            ('\'' | '"', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            ('?', None) => {
                n += 1;
                out.push_str(&format!("${n}"));
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes_only() {
        assert_eq!(numbered("SELECT ? WHERE a = '?' AND b = ?::BIGINT"), "SELECT $1 WHERE a = '?' AND b = $2::BIGINT");
        assert_eq!(numbered("SELECT \"a?\" FROM t WHERE x = ?"), "SELECT \"a?\" FROM t WHERE x = $1");
    }

    #[test]
    fn rows_convert_and_say_what_they_hold_when_they_do_not() {
        let db = Db::Duck(duckdb::Connection::open_in_memory().unwrap());
        db.batch("CREATE TABLE t (i BIGINT, x DOUBLE, s VARCHAR, b BOOLEAN, stamp TIMESTAMP)").unwrap();
        db.execute("INSERT INTO t VALUES (?, ?, ?, ?, TIMESTAMP '2026-12-05 10:00:00.5')", args![7i64, 0.5, "a", true])
            .unwrap();
        db.execute("INSERT INTO t VALUES (?, ?, ?, ?, NULL)", args![None::<i64>, 1.0, None::<String>, false]).unwrap();
        let rows = db
            .query("SELECT i, x, s, b, CAST(stamp AS VARCHAR) FROM t ORDER BY i NULLS LAST", args![], |r| {
                Ok((r.get::<Option<i64>>(0)?, r.get::<f64>(1)?, r.get::<Option<String>>(2)?, r.get::<bool>(3)?))
            })
            .unwrap();
        assert_eq!(rows, vec![(Some(7), 0.5, Some("a".into()), true), (None, 1.0, None, false)]);
        let err = db.query_row("SELECT s FROM t WHERE i = 7", args![], |r| r.get::<i64>(0)).unwrap_err();
        assert_eq!(err.to_string(), "column 0 holds Text(\"a\"), not an integer");
        assert!(matches!(db.query_row("SELECT 1 WHERE false", args![], |r| r.get::<i64>(0)), Err(DbError::NoRows)));
        let at = db.query_row("SELECT stamp FROM t WHERE i = 7", args![], |r| r.get::<String>(0)).unwrap();
        assert_eq!(at, "2026-12-05 10:00:00.5");
    }

    #[test]
    fn a_query_run_again_reads_what_changed_since() {
        // DuckDB's cached statements once returned stale text here: each query is prepared anew.
        let db = Db::Duck(duckdb::Connection::open_in_memory().unwrap());
        db.batch("CREATE TABLE t (name VARCHAR, version BIGINT)").unwrap();
        let names = |db: &Db| {
            db.query("SELECT name, max(version) FROM t GROUP BY name ORDER BY name", args![], |r| {
                Ok((r.get::<String>(0)?, r.get::<i64>(1)?))
            })
            .unwrap()
        };
        assert_eq!(names(&db), vec![]);
        db.execute("INSERT INTO t VALUES (?, ?)", args!["churn-predictor", 1i64]).unwrap();
        assert_eq!(names(&db), vec![("churn-predictor".to_string(), 1)]);
    }
}
