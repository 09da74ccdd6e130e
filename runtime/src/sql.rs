//! SQL text for DuckDB: quoting, column types, and typed expressions from the plan.
//! Every identifier and literal goes through `ident` / `literal`: a hostile column or
//! file name cannot change the statement.

use mlpc_compiler::plan::TExpr;
use mlpc_compiler::types::Type;

/// A quoted identifier: `"name"`, with `"` doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted string literal: `'text'`, with `'` doubled.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The DuckDB type a column of `ty` is stored as.
pub fn column_type(ty: Type) -> &'static str {
    match ty {
        Type::Int => "BIGINT",
        Type::Float | Type::Percent => "DOUBLE",
        Type::Bool => "BOOLEAN",
        Type::Date => "DATE",
        Type::Timestamp => "TIMESTAMP",
        Type::String | Type::Category | Type::List | Type::Unknown => "VARCHAR",
        Type::Duration => "INTERVAL",
    }
}

/// Whether data DuckDB reports as `found` can stand for a column declared `ty` without
/// losing or inventing values.
pub fn type_fits(ty: Type, found: &str) -> bool {
    let found = found.to_ascii_uppercase();
    let integer =
        ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"]
            .contains(&found.as_str());
    match ty {
        Type::Int => integer,
        Type::Float | Type::Percent => integer || found == "FLOAT" || found == "DOUBLE" || found.starts_with("DECIMAL"),
        Type::Bool => found == "BOOLEAN",
        Type::Date => found == "DATE",
        Type::Timestamp => found.starts_with("TIMESTAMP") || found == "DATE",
        Type::String | Type::Category => found == "VARCHAR" || integer,
        _ => false,
    }
}

/// How names in an expression map to SQL.
pub trait Scope {
    /// A column of the row being computed.
    fn column(&self, name: &str) -> String;
    /// A feature (of this view or another on the same entity).
    fn feature(&self, view: &str, name: &str) -> Result<String, String>;
    /// The SQL of an aggregation over a related table (its column in a joined table).
    fn aggregate(&self, e: &TExpr) -> Result<String, String>;
    /// A parent table's column, looked up along references.
    fn lookup(&self, table: &str, column: &str) -> Result<String, String>;
    /// A column of a related table, inside an aggregation.
    fn related(&self, table: &str, _column: &str) -> Result<String, String> {
        Err(format!("a column of `{table}` is read only inside an aggregation"))
    }
    /// The table a whole-table expectation or aggregation in a check reads.
    fn table(&self) -> Option<String> {
        None
    }
}

/// SQL for a typed expression.
pub fn expr(e: &TExpr, scope: &dyn Scope) -> Result<String, String> {
    Ok(match e {
        TExpr::Column { name, .. } => scope.column(name),
        TExpr::Feature { view, name, .. } => scope.feature(view, name)?,
        TExpr::Lookup { table, column, .. } => scope.lookup(table, column)?,
        TExpr::Related { table, column, .. } => scope.related(table, column)?,
        TExpr::Aggregate { .. } => scope.aggregate(e)?,
        TExpr::Literal { value, ty } => literal_value(value, *ty),
        TExpr::List { items } => {
            let items: Result<Vec<String>, String> = items.iter().map(|i| expr(i, scope)).collect();
            format!("({})", items?.join(", "))
        }
        TExpr::Unary { operator, arg, .. } => match operator.as_str() {
            "not" => format!("(NOT {})", expr(arg, scope)?),
            _ => format!("(- {})", expr(arg, scope)?),
        },
        TExpr::Binary { operator, lhs, rhs, .. } => {
            let op = match operator.as_str() {
                "and" => "AND",
                "or" => "OR",
                "==" => "=",
                "!=" => "<>",
                "/" => return Ok(format!("({} / NULLIF({}, 0))", as_double(&expr(lhs, scope)?), expr(rhs, scope)?)),
                other => other,
            };
            format!("({} {op} {})", expr(lhs, scope)?, expr(rhs, scope)?)
        }
        TExpr::Between { arg, low, high } => {
            format!("({} BETWEEN {} AND {})", expr(arg, scope)?, expr(low, scope)?, expr(high, scope)?)
        }
        TExpr::Call { func, args, .. } => call(func, args, scope)?,
        TExpr::Table { name } => return Err(format!("the table `{name}` is not a value")),
        TExpr::Metric { .. } | TExpr::ServingMetric { .. } | TExpr::DriftTest { .. } | TExpr::Approved => {
            return Err("model and serving metrics are not data expressions".into())
        }
    })
}

fn as_double(sql: &str) -> String {
    format!("CAST({sql} AS DOUBLE)")
}

fn literal_value(value: &serde_json::Value, ty: Type) -> String {
    match (value, ty) {
        (serde_json::Value::Null, _) => "NULL".into(),
        (serde_json::Value::Bool(b), _) => (if *b { "TRUE" } else { "FALSE" }).into(),
        (serde_json::Value::Number(n), Type::Int) => n.as_f64().map_or("NULL".into(), |f| format!("{}", f as i64)),
        (serde_json::Value::Number(n), Type::Duration) => format!("INTERVAL ({}) MILLISECOND", n.as_u64().unwrap_or(0)),
        (serde_json::Value::Number(n), _) => format!("CAST({n} AS DOUBLE)"),
        (serde_json::Value::String(s), _) => literal(s),
        (other, _) => literal(&other.to_string()),
    }
}

/// Row functions and whole-table expectations; aggregations go through the scope.
fn call(func: &str, args: &[TExpr], scope: &dyn Scope) -> Result<String, String> {
    let a: Vec<String> = args.iter().map(|x| expr(x, scope)).collect::<Result<_, _>>()?;
    let arg = |i: usize| a.get(i).cloned().ok_or_else(|| format!("`{func}` is missing an argument"));
    let whole = |inner: String| match scope.table() {
        Some(t) => Ok(format!("(SELECT {inner} FROM {t})")),
        None => Err(format!("`{func}` reads a whole table, which only a check has")),
    };
    Ok(match func {
        "days_between" => format!("date_diff('day', {}, {})", arg(0)?, arg(1)?),
        "abs" => format!("abs({})", arg(0)?),
        "log" => format!("(CASE WHEN {0} > 0 THEN ln({0}) END)", arg(0)?),
        "sqrt" => format!("(CASE WHEN {0} >= 0 THEN sqrt({0}) END)", arg(0)?),
        "coalesce" => format!("coalesce({}, {})", arg(0)?, arg(1)?),
        "lower" => format!("lower({})", arg(0)?),
        "length" => format!("length({})", arg(0)?),
        "year" => format!("year({})", arg(0)?),
        "month" => format!("month({})", arg(0)?),
        "day_of_week" => format!("dayofweek({})", arg(0)?),
        "hour" => format!("hour({})", arg(0)?),
        "not_null" => format!("({})", a.iter().map(|x| format!("{x} IS NOT NULL")).collect::<Vec<_>>().join(" AND ")),
        "accepted_values" => format!("({} IN {})", arg(0)?, arg(1)?),
        "unique" => whole(format!("count(*) = count(DISTINCT ({}))", a.join(", ")))?,
        "row_count" => whole("count(*)".into())?,
        "null_fraction" => {
            whole(format!("coalesce(count(*) FILTER (WHERE {} IS NULL) / NULLIF(count(*), 0), 0)", arg(0)?))?
        }
        other => match aggregate_sql(other, &a) {
            // An aggregation in a check: over the checked table's own rows.
            Some(agg) => whole(agg)?,
            None => return Err(format!("no SQL for `{other}`")),
        },
    })
}

/// The SQL aggregate for an aggregation of the stdlib over already-compiled arguments.
pub fn aggregate_sql(func: &str, args: &[String]) -> Option<String> {
    let x = args.first().cloned().unwrap_or_else(|| "*".into());
    Some(match func {
        "count" => format!("count({x})"),
        "count_distinct" => format!("count(DISTINCT {x})"),
        "sum" => format!("coalesce(sum({x}), 0)"),
        "mean" => format!("avg({x})"),
        "min" => format!("min({x})"),
        "max" => format!("max({x})"),
        "stddev" => format!("stddev_samp({x})"),
        "median" => format!("median({x})"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_defeats_injection() {
        assert_eq!(ident(r#"a"; DROP TABLE x; --"#), r#""a""; DROP TABLE x; --""#);
        assert_eq!(literal("it's'); DROP TABLE x; --"), "'it''s''); DROP TABLE x; --'");
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let name = r#"we"ird'); DROP TABLE t; --"#;
        conn.execute_batch(&format!("CREATE TABLE t ({} INTEGER); INSERT INTO t VALUES (1)", ident(name))).unwrap();
        let got: i64 = conn
            .query_row(&format!("SELECT {} FROM t WHERE {} = 1", ident(name), ident(name)), [], |r| r.get(0))
            .unwrap();
        assert_eq!(got, 1);
        let v: String = conn.query_row(&format!("SELECT {}", literal(name)), [], |r| r.get(0)).unwrap();
        assert_eq!(v, name);
    }

    #[test]
    fn types_fit_as_declared() {
        assert!(type_fits(Type::Float, "BIGINT"));
        assert!(!type_fits(Type::Int, "DOUBLE"));
        assert!(type_fits(Type::Timestamp, "TIMESTAMP WITH TIME ZONE"));
        assert!(!type_fits(Type::Bool, "VARCHAR"));
    }
}
