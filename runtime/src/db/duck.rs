//! The embedded engine: DuckDB, through its own placeholders.

use super::{DbError, Row, Value};
use duckdb::types::{ToSqlOutput, Value as Duck, ValueRef};
use duckdb::{params_from_iter, Connection, ToSql};

pub fn execute(conn: &Connection, sql: &str, args: &[Value]) -> Result<u64, DbError> {
    let mut stmt = conn.prepare(sql).map_err(error)?;
    stmt.execute(params_from_iter(args)).map(|n| n as u64).map_err(error)
}

pub fn query(conn: &Connection, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
    let mut stmt = conn.prepare(sql).map_err(error)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(error)?;
    let columns = rows.as_ref().map_or(0, |s| s.column_count());
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error)? {
        let values = (0..columns).map(|i| row.get_ref(i).map(value)).collect::<Result<_, _>>().map_err(error)?;
        out.push(Row(values));
    }
    Ok(out)
}

pub fn error(e: duckdb::Error) -> DbError {
    DbError::Engine(e.to_string())
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Boolean(b) => Value::Bool(b),
        ValueRef::TinyInt(i) => Value::Int(i.into()),
        ValueRef::SmallInt(i) => Value::Int(i.into()),
        ValueRef::Int(i) => Value::Int(i.into()),
        ValueRef::BigInt(i) => Value::Int(i),
        ValueRef::HugeInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        ValueRef::UTinyInt(i) => Value::Int(i.into()),
        ValueRef::USmallInt(i) => Value::Int(i.into()),
        ValueRef::UInt(i) => Value::Int(i.into()),
        ValueRef::UBigInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        ValueRef::Float(x) => Value::Float(x.into()),
        ValueRef::Double(x) => Value::Float(x),
        ValueRef::Timestamp(unit, t) => Value::Text(super::timestamp(unit.to_micros(t))),
        ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        other => Value::Text(format!("{other:?}")),
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(Duck::Null),
            Value::Int(i) => ToSqlOutput::Owned(Duck::BigInt(*i)),
            Value::Float(x) => ToSqlOutput::Owned(Duck::Double(*x)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bool(b) => ToSqlOutput::Owned(Duck::Boolean(*b)),
        })
    }
}
