//! Typed expressions printed as SQL, in the dialect of the engine that runs them. The
//! printer is one; what differs between engines (quoting, types, function names) is behind
//! [`Dialect`]. Every identifier and literal goes through the dialect's `ident` / `literal`:
//! a hostile column or file name cannot change the statement.

use crate::expr::{BinaryOp, TExpr, UnaryOp};
use crate::types::Type;

/// What differs between SQL engines.
pub trait Dialect {
    /// A quoted identifier.
    fn ident(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
    /// A quoted string literal.
    fn literal(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }
    /// The type a column of `ty` is stored as.
    fn column_type(&self, ty: Type) -> &'static str;
    /// A duration literal of `ms` milliseconds.
    fn interval_ms(&self, ms: u64) -> String;
    /// A row function of the stdlib over compiled arguments; `None` when it has no SQL here.
    fn function(&self, func: &str, args: &[String]) -> Option<String>;
    /// An aggregation of the stdlib over compiled arguments; `None` when it has no SQL here.
    fn aggregate(&self, func: &str, args: &[String]) -> Option<String>;
    /// The 32 leading bits of the MD5 of `text` (a string expression), as a BIGINT.
    fn md5_prefix(&self, text: &str) -> String;
    /// The epoch in microseconds of a TIMESTAMP expression.
    fn epoch_us(&self, ts: &str) -> String;
    /// A string expression of `value` (of type `ty`).
    fn to_text(&self, value: &str, ty: Type) -> String {
        match ty {
            Type::Timestamp => format!("CAST({} AS {})", self.epoch_us(value), self.column_type(Type::String)),
            _ => format!("CAST({value} AS {})", self.column_type(Type::String)),
        }
    }
}

/// A row's position in [0, 1) from its `values` (expressions and their types) and `seed`:
/// the first 32 bits of the MD5 of their text joined by `|`, modulo 10⁶. The same rows give
/// the same positions on every engine (an engine's own `hash()` differs between engines
/// and versions), so a split keeps the same rows wherever it runs. Timestamps enter as
/// epoch microseconds, whose text is the same everywhere.
pub fn bucket(values: &[(String, Type)], seed: i64, d: &dyn Dialect) -> String {
    let mut parts = vec![d.literal(&seed.to_string())];
    parts.extend(values.iter().map(|(v, ty)| d.to_text(v, *ty)));
    format!("(({} % 1000000) / 1000000.0)", d.md5_prefix(&format!("concat_ws('|', {})", parts.join(", "))))
}

/// DuckDB, the engine of `mlpc run` on one machine.
pub struct DuckDb;

impl Dialect for DuckDb {
    fn column_type(&self, ty: Type) -> &'static str {
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
    fn interval_ms(&self, ms: u64) -> String {
        format!("INTERVAL ({ms}) MILLISECOND")
    }
    fn function(&self, func: &str, a: &[String]) -> Option<String> {
        let arg = |i: usize| a.get(i).cloned();
        Some(match func {
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
            _ => return None,
        })
    }
    fn aggregate(&self, func: &str, args: &[String]) -> Option<String> {
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
    fn md5_prefix(&self, text: &str) -> String {
        format!("CAST(('0x' || substr(md5({text}), 1, 8)) AS BIGINT)")
    }
    fn epoch_us(&self, ts: &str) -> String {
        format!("epoch_us({ts})")
    }
}

/// Spark SQL (Spark 4, ANSI mode, `spark.sql.timestampType = TIMESTAMP_NTZ`): the engine of
/// `mlpc run --engine spark`. Its string literals take backslash escapes; identifiers are
/// quoted with backticks.
pub struct Spark;

impl Dialect for Spark {
    fn ident(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }
    fn literal(&self, text: &str) -> String {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
    }
    fn column_type(&self, ty: Type) -> &'static str {
        match ty {
            Type::Int => "BIGINT",
            Type::Float | Type::Percent => "DOUBLE",
            Type::Bool => "BOOLEAN",
            Type::Date => "DATE",
            Type::Timestamp => "TIMESTAMP",
            Type::String | Type::Category | Type::List | Type::Unknown => "STRING",
            Type::Duration => "INTERVAL DAY TO SECOND",
        }
    }
    fn interval_ms(&self, ms: u64) -> String {
        format!("INTERVAL {ms} MILLISECONDS")
    }
    fn function(&self, func: &str, a: &[String]) -> Option<String> {
        let arg = |i: usize| a.get(i).cloned();
        Some(match func {
            // DuckDB's date_diff('day', a, b): day boundaries from a to b.
            "days_between" => format!("datediff(CAST({} AS DATE), CAST({} AS DATE))", arg(1)?, arg(0)?),
            // DuckDB's dayofweek counts from Sunday = 0, Spark's from Sunday = 1.
            "day_of_week" => format!("(dayofweek({}) - 1)", arg(0)?),
            other => return DuckDb.function(other, a),
        })
    }
    fn aggregate(&self, func: &str, args: &[String]) -> Option<String> {
        DuckDb.aggregate(func, args)
    }
    fn md5_prefix(&self, text: &str) -> String {
        format!("CAST(conv(substr(md5({text}), 1, 8), 16, 10) AS BIGINT)")
    }
    fn epoch_us(&self, ts: &str) -> String {
        format!("unix_micros(CAST({ts} AS TIMESTAMP_LTZ))")
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
pub fn expr(e: &TExpr, scope: &dyn Scope, d: &dyn Dialect) -> Result<String, String> {
    Ok(match e {
        TExpr::Column { name, .. } => scope.column(name),
        TExpr::Feature { view, name, .. } => scope.feature(view, name)?,
        TExpr::Lookup { table, column, .. } => scope.lookup(table, column)?,
        TExpr::Related { table, column, .. } => scope.related(table, column)?,
        TExpr::Aggregate { .. } => scope.aggregate(e)?,
        TExpr::Literal { value, ty } => literal_value(value, *ty, d),
        TExpr::List { items } => {
            let items: Result<Vec<String>, String> = items.iter().map(|i| expr(i, scope, d)).collect();
            format!("({})", items?.join(", "))
        }
        TExpr::Unary { operator: UnaryOp::Not, arg, .. } => format!("(NOT {})", expr(arg, scope, d)?),
        TExpr::Unary { operator: UnaryOp::Neg, arg, .. } => format!("(- {})", expr(arg, scope, d)?),
        TExpr::Binary { operator: BinaryOp::Div, lhs, rhs, .. } => {
            format!("(CAST({} AS DOUBLE) / NULLIF({}, 0))", expr(lhs, scope, d)?, expr(rhs, scope, d)?)
        }
        TExpr::Binary { operator, lhs, rhs, .. } => {
            let op = match operator {
                BinaryOp::And => "AND",
                BinaryOp::Or => "OR",
                BinaryOp::Eq => "=",
                BinaryOp::Ne => "<>",
                other => other.symbol(),
            };
            format!("({} {op} {})", expr(lhs, scope, d)?, expr(rhs, scope, d)?)
        }
        TExpr::Between { arg, low, high } => {
            format!("({} BETWEEN {} AND {})", expr(arg, scope, d)?, expr(low, scope, d)?, expr(high, scope, d)?)
        }
        TExpr::Call { func, args, .. } => call(func, args, scope, d)?,
        TExpr::Table { name } => return Err(format!("the table `{name}` is not a value")),
        TExpr::Metric { .. } | TExpr::ServingMetric { .. } | TExpr::DriftTest { .. } | TExpr::Approved => {
            return Err("model and serving metrics are not data expressions".into())
        }
    })
}

fn literal_value(value: &serde_json::Value, ty: Type, d: &dyn Dialect) -> String {
    match (value, ty) {
        (serde_json::Value::Null, _) => "NULL".into(),
        (serde_json::Value::Bool(b), _) => (if *b { "TRUE" } else { "FALSE" }).into(),
        (serde_json::Value::Number(n), Type::Int) => n.as_f64().map_or("NULL".into(), |f| format!("{}", f as i64)),
        (serde_json::Value::Number(n), Type::Duration) => d.interval_ms(n.as_u64().unwrap_or(0)),
        (serde_json::Value::Number(n), _) => format!("CAST({n} AS DOUBLE)"),
        (serde_json::Value::String(s), _) => d.literal(s),
        (other, _) => d.literal(&other.to_string()),
    }
}

/// Row functions and whole-table expectations; aggregations over related tables go
/// through the scope.
fn call(func: &str, args: &[TExpr], scope: &dyn Scope, d: &dyn Dialect) -> Result<String, String> {
    let a: Vec<String> = args.iter().map(|x| expr(x, scope, d)).collect::<Result<_, _>>()?;
    let arg = |i: usize| a.get(i).cloned().ok_or_else(|| format!("`{func}` is missing an argument"));
    let whole = |inner: String| match scope.table() {
        Some(t) => Ok(format!("(SELECT {inner} FROM {t})")),
        None => Err(format!("`{func}` reads a whole table, which only a check has")),
    };
    Ok(match func {
        "not_null" => format!("({})", a.iter().map(|x| format!("{x} IS NOT NULL")).collect::<Vec<_>>().join(" AND ")),
        "accepted_values" => format!("({} IN {})", arg(0)?, arg(1)?),
        "unique" => whole(format!("count(*) = count(DISTINCT ({}))", a.join(", ")))?,
        "row_count" => whole("count(*)".into())?,
        "null_fraction" => {
            whole(format!("coalesce(count(*) FILTER (WHERE {} IS NULL) / NULLIF(count(*), 0), 0)", arg(0)?))?
        }
        other => match (d.function(other, &a), d.aggregate(other, &a)) {
            (Some(sql), _) => sql,
            // An aggregation in a check: over the checked table's own rows.
            (None, Some(agg)) => whole(agg)?,
            (None, None) => return Err(format!("no SQL for `{other}` with {} argument(s)", a.len())),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Rows;
    impl Scope for Rows {
        fn column(&self, name: &str) -> String {
            DuckDb.ident(name)
        }
        fn feature(&self, _: &str, name: &str) -> Result<String, String> {
            Err(format!("no feature `{name}`"))
        }
        fn aggregate(&self, _: &TExpr) -> Result<String, String> {
            Err("no aggregation".into())
        }
        fn lookup(&self, table: &str, _: &str) -> Result<String, String> {
            Err(format!("no `{table}`"))
        }
    }

    #[test]
    fn spark_quotes_with_backticks_and_backslashes() {
        assert_eq!(Spark.ident("a`b"), "`a``b`");
        assert_eq!(Spark.literal(r"it's \'; --"), r"'it\'s \\\'; --'");
        assert_eq!(Spark.function("day_of_week", &["d".into()]).unwrap(), "(dayofweek(d) - 1)");
        assert_eq!(Spark.function("lower", &["s".into()]).unwrap(), "lower(s)");
        let b = bucket(&[("k".into(), Type::Int), ("t".into(), Type::Timestamp)], 7, &Spark);
        assert_eq!(
            b,
            "((CAST(conv(substr(md5(concat_ws('|', '7', CAST(k AS STRING), CAST(unix_micros(CAST(t AS TIMESTAMP_LTZ)) AS STRING))), 1, 8), 16, 10) AS BIGINT) % 1000000) / 1000000.0)"
        );
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(DuckDb.ident(r#"a"; DROP TABLE x; --"#), r#""a""; DROP TABLE x; --""#);
        assert_eq!(DuckDb.literal("it's'); DROP TABLE x; --"), "'it''s''); DROP TABLE x; --'");
    }

    #[test]
    fn operators_and_functions() {
        let e: TExpr = serde_json::from_value(json!({"op": "binary", "operator": "/", "type": "float",
            "lhs": {"op": "column", "name": "spend", "type": "float"},
            "rhs": {"op": "call", "func": "log", "type": "float", "args": [{"op": "column", "name": "n", "type": "int"}]}}))
        .unwrap();
        assert_eq!(
            expr(&e, &Rows, &DuckDb).unwrap(),
            r#"(CAST("spend" AS DOUBLE) / NULLIF((CASE WHEN "n" > 0 THEN ln("n") END), 0))"#
        );
        assert_eq!(
            expr(&e, &Rows, &Spark).unwrap(),
            r#"(CAST("spend" AS DOUBLE) / NULLIF((CASE WHEN "n" > 0 THEN ln("n") END), 0))"#
        );
        let rows: TExpr =
            serde_json::from_value(json!({"op": "call", "func": "row_count", "type": "int", "args": []})).unwrap();
        assert!(expr(&rows, &Rows, &DuckDb).unwrap_err().contains("only a check"));
    }
}
