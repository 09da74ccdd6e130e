//! Row features recomputed per request. A feature that reads only its entity's own row
//! (`spend_per_ticket = monthly_spend / (support_tickets + 1)`) is evaluated on the values a
//! request sends, with the SQL semantics the features node computed it with (NULL in, NULL
//! out; `x / 0`, `log` of x ≤ 0 and `sqrt` of x < 0 are NULL), so a request that sends new
//! base values never meets a feature computed from the old ones (train/serve skew).

use mlpc_plan::Type;
use mlpc_plan::{BinaryOp, TExpr, UnaryOp};
use serde_json::Value;

/// A view feature the server recomputes, and the entity columns it reads.
#[derive(Clone, Debug)]
pub struct RowFeature {
    pub name: String,
    pub expr: TExpr,
    pub reads: Vec<String>,
}

impl RowFeature {
    /// The feature, when its expression reads only its own row through operations this
    /// module evaluates; temporal functions and anything reaching other tables are served
    /// from the online table as materialized.
    pub fn of(name: &str, expr: &TExpr) -> Option<RowFeature> {
        let mut reads = Vec::new();
        local(expr, &mut reads).then(|| RowFeature { name: name.to_string(), expr: expr.clone(), reads })
    }
}

fn local(e: &TExpr, reads: &mut Vec<String>) -> bool {
    match e {
        TExpr::Column { name, ty } => {
            if !reads.contains(name) {
                reads.push(name.clone());
            }
            !ty.is_temporal()
        }
        TExpr::Literal { ty, .. } => !ty.is_temporal() && *ty != Type::Duration,
        TExpr::Unary { arg, .. } => local(arg, reads),
        TExpr::Binary { lhs, rhs, .. } => local(lhs, reads) && local(rhs, reads),
        TExpr::Between { arg, low, high } => local(arg, reads) && local(low, reads) && local(high, reads),
        TExpr::Call { func, args, .. } => {
            matches!(func.as_str(), "abs" | "log" | "sqrt" | "coalesce" | "lower" | "length")
                && args.iter().all(|a| local(a, reads))
        }
        _ => false,
    }
}

/// A value while evaluating: SQL's NULL, integers kept apart from doubles.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl V {
    fn of(v: &Value) -> V {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(*b),
            Value::Number(n) => n.as_i64().map_or_else(|| V::Float(n.as_f64().unwrap_or(f64::NAN)), V::Int),
            Value::String(s) => V::Text(s.clone()),
            other => V::Text(other.to_string()),
        }
    }
    fn number(&self) -> Option<f64> {
        match self {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }
    fn json(self, ty: Type) -> Value {
        match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(b),
            V::Int(i) if ty == Type::Int => Value::from(i),
            V::Int(i) => Value::from(i as f64),
            V::Float(f) if ty == Type::Int => Value::from(f as i64),
            V::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            V::Text(s) => Value::String(s),
        }
    }
}

impl RowFeature {
    /// The feature's value for one row, its columns read through `column`.
    pub fn eval(&self, column: &dyn Fn(&str) -> Option<Value>) -> Result<Value, String> {
        let ty = match &self.expr {
            TExpr::Column { ty, .. } | TExpr::Literal { ty, .. } | TExpr::Unary { ty, .. } => *ty,
            TExpr::Binary { ty, .. } | TExpr::Call { ty, .. } => *ty,
            _ => Type::Bool,
        };
        Ok(eval(&self.expr, column).map_err(|e| format!("feature `{}`: {e}", self.name))?.json(ty))
    }
}

fn eval(e: &TExpr, column: &dyn Fn(&str) -> Option<Value>) -> Result<V, String> {
    Ok(match e {
        TExpr::Column { name, ty } => match column(name).map(|v| V::of(&v)) {
            // An int column sent as 3.0 is still the integer 3.
            Some(V::Float(f)) if *ty == Type::Int && f.fract() == 0.0 => V::Int(f as i64),
            Some(v) => v,
            None => V::Null,
        },
        TExpr::Literal { value, ty } => match V::of(value) {
            V::Float(f) if *ty == Type::Int => V::Int(f as i64),
            v => v,
        },
        TExpr::Unary { operator, arg, .. } => match (operator, eval(arg, column)?) {
            (_, V::Null) => V::Null,
            (UnaryOp::Not, V::Bool(b)) => V::Bool(!b),
            (UnaryOp::Neg, V::Int(i)) => V::Int(i.checked_neg().ok_or("integer overflow")?),
            (UnaryOp::Neg, V::Float(f)) => V::Float(-f),
            (op, v) => return Err(format!("cannot apply `{}` to {v:?}", op.symbol())),
        },
        TExpr::Binary { operator, lhs, rhs, ty } => binary(*operator, eval(lhs, column)?, eval(rhs, column)?, *ty)?,
        TExpr::Between { arg, low, high } => {
            let x = eval(arg, column)?;
            let (ge, le) =
                (compare(BinaryOp::Ge, &x, &eval(low, column)?)?, compare(BinaryOp::Le, &x, &eval(high, column)?)?);
            logic(BinaryOp::And, ge, le)
        }
        TExpr::Call { func, args, .. } => {
            let a: Vec<V> = args.iter().map(|x| eval(x, column)).collect::<Result<_, _>>()?;
            match (func.as_str(), &a[..]) {
                ("coalesce", [V::Null, b]) => b.clone(),
                ("coalesce", [a, _]) => a.clone(),
                (_, [V::Null, ..]) => V::Null,
                ("abs", [V::Int(i)]) => V::Int(i.checked_abs().ok_or("integer overflow")?),
                ("abs", [V::Float(f)]) => V::Float(f.abs()),
                ("log", [x]) => x.number().filter(|x| *x > 0.0).map_or(V::Null, |x| V::Float(x.ln())),
                ("sqrt", [x]) => x.number().filter(|x| *x >= 0.0).map_or(V::Null, |x| V::Float(x.sqrt())),
                ("lower", [V::Text(s)]) => V::Text(s.to_lowercase()),
                ("length", [V::Text(s)]) => V::Int(s.chars().count() as i64),
                (f, a) => return Err(format!("cannot apply `{f}` to {a:?}")),
            }
        }
        other => return Err(format!("{other:?} is not evaluated per request")),
    })
}

fn binary(op: BinaryOp, a: V, b: V, ty: Type) -> Result<V, String> {
    if matches!(op, BinaryOp::And | BinaryOp::Or) {
        return Ok(logic(op, a, b));
    }
    if !op.is_arithmetic() {
        return compare(op, &a, &b);
    }
    if a == V::Null || b == V::Null {
        return Ok(V::Null);
    }
    if op == BinaryOp::Div {
        let (x, y) = (a.number().ok_or("`/` needs numbers")?, b.number().ok_or("`/` needs numbers")?);
        return Ok(if y == 0.0 { V::Null } else { V::Float(x / y) });
    }
    Ok(match (a, b) {
        (V::Int(x), V::Int(y)) if ty == Type::Int => V::Int(
            match op {
                BinaryOp::Add => x.checked_add(y),
                BinaryOp::Sub => x.checked_sub(y),
                _ => x.checked_mul(y),
            }
            .ok_or("integer overflow")?,
        ),
        (a, b) => {
            let needs = || format!("`{}` needs numbers", op.symbol());
            let (x, y) = (a.number().ok_or_else(needs)?, b.number().ok_or_else(needs)?);
            V::Float(op.arithmetic(x, y).ok_or_else(|| format!("`{}` is not arithmetic", op.symbol()))?)
        }
    })
}

/// Three-valued `and`/`or`.
fn logic(op: BinaryOp, a: V, b: V) -> V {
    let (x, y) = (if let V::Bool(x) = a { Some(x) } else { None }, if let V::Bool(y) = b { Some(y) } else { None });
    let and = op == BinaryOp::And;
    match (x, y) {
        (Some(x), Some(y)) => V::Bool(if and { x && y } else { x || y }),
        (Some(x), None) | (None, Some(x)) if x != and => V::Bool(x),
        _ => V::Null,
    }
}

fn compare(op: BinaryOp, a: &V, b: &V) -> Result<V, String> {
    let ord = match (a, b) {
        (V::Null, _) | (_, V::Null) => return Ok(V::Null),
        (V::Text(x), V::Text(y)) => x.cmp(y),
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (x, y) => match (x.number(), y.number()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).ok_or("NaN compared")?,
            _ => return Err(format!("cannot compare {a:?} with {b:?}")),
        },
    };
    use std::cmp::Ordering::*;
    Ok(V::Bool(match op {
        BinaryOp::Lt => ord == Less,
        BinaryOp::Le => ord != Greater,
        BinaryOp::Gt => ord == Greater,
        BinaryOp::Ge => ord != Less,
        BinaryOp::Eq => ord == Equal,
        _ => ord != Equal,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpc_runtime::sql::{self, Scope};
    use serde_json::json;

    struct Row;
    impl Scope for Row {
        fn column(&self, name: &str) -> String {
            sql::ident(name)
        }
        fn feature(&self, _: &str, _: &str) -> Result<String, String> {
            Err("no features".into())
        }
        fn aggregate(&self, _: &TExpr) -> Result<String, String> {
            Err("no aggregates".into())
        }
        fn lookup(&self, _: &str, _: &str) -> Result<String, String> {
            Err("no lookups".into())
        }
    }

    fn col(name: &str, ty: Type) -> TExpr {
        TExpr::Column { name: name.into(), ty }
    }
    fn lit(v: Value, ty: Type) -> TExpr {
        TExpr::lit(v, ty)
    }
    fn bin(op: &str, l: TExpr, r: TExpr, ty: Type) -> TExpr {
        let operator: BinaryOp = serde_json::from_value(json!(op)).unwrap();
        TExpr::Binary { operator, lhs: Box::new(l), rhs: Box::new(r), ty }
    }
    fn call(f: &str, args: Vec<TExpr>, ty: Type) -> TExpr {
        TExpr::Call { func: f.into(), args, ty }
    }

    /// Each expression the language can write over a row, evaluated here and by DuckDB on
    /// the SQL the features node runs, over rows with nulls, zeros and negatives.
    #[test]
    fn agrees_with_the_features_sql() {
        let (i, f, b, s) = (Type::Int, Type::Float, Type::Bool, Type::String);
        let exprs = vec![
            (bin("/", col("x", f), bin("+", col("n", i), lit(json!(1.0), i), i), f), f),
            (bin("/", col("n", i), col("m", i), f), f),
            (
                bin(
                    "*",
                    TExpr::Unary { operator: UnaryOp::Neg, arg: Box::new(col("n", i)), ty: i },
                    lit(json!(3), i),
                    i,
                ),
                i,
            ),
            (bin("-", col("n", i), col("x", f), f), f),
            (call("abs", vec![bin("-", col("n", i), col("m", i), i)], i), i),
            (call("abs", vec![col("x", f)], f), f),
            (call("log", vec![col("x", f)], f), f),
            (call("sqrt", vec![bin("-", col("x", f), lit(json!(5.0), f), f)], f), f),
            (call("coalesce", vec![col("x", f), lit(json!(0.0), f)], f), f),
            (call("lower", vec![col("s", s)], s), s),
            (call("length", vec![col("s", s)], i), i),
            (
                bin(
                    "and",
                    bin(">", col("n", i), lit(json!(2), i), b),
                    bin("<", col("x", f), lit(json!(100.0), f), b),
                    b,
                ),
                b,
            ),
            (
                bin(
                    "or",
                    bin("==", col("s", s), lit(json!("Basic"), s), b),
                    bin("!=", col("m", i), lit(json!(0), i), b),
                    b,
                ),
                b,
            ),
            (TExpr::Unary { operator: UnaryOp::Not, arg: Box::new(bin(">=", col("x", f), col("n", i), b)), ty: b }, b),
            (
                TExpr::Between {
                    arg: Box::new(col("x", f)),
                    low: Box::new(lit(json!(0), i)),
                    high: Box::new(col("m", i)),
                },
                b,
            ),
        ];
        let rows: Vec<[Value; 4]> = (0..60)
            .map(|r: i64| {
                let n = if r % 11 == 3 { Value::Null } else { json!((r * 7) % 9 - 4) };
                let m = if r % 13 == 5 { Value::Null } else { json!((r * 5) % 7 - 2) };
                let x = match r % 10 {
                    0 => Value::Null,
                    1 => json!(0.0),
                    _ => json!(((r * 37) % 200) as f64 * 1.37 - 60.0),
                };
                let s =
                    if r % 9 == 4 { Value::Null } else { json!(["Basic", "PREMIUM", "ståndard", ""][r as usize % 4]) };
                [n, m, x, s]
            })
            .collect();
        let sql_value = |v: &Value, ty: &str| match v {
            Value::Null => format!("CAST(NULL AS {ty})"),
            Value::String(t) => format!("CAST({} AS {ty})", sql::literal(t)),
            other => format!("CAST({other} AS {ty})"),
        };
        let values: Vec<String> = rows
            .iter()
            .map(|[n, m, x, s]| {
                format!(
                    "({}, {}, {}, {})",
                    sql_value(n, "BIGINT"),
                    sql_value(m, "BIGINT"),
                    sql_value(x, "DOUBLE"),
                    sql_value(s, "VARCHAR")
                )
            })
            .collect();
        let conn = duckdb::Connection::open_in_memory().unwrap();
        for (e, ty) in &exprs {
            let feature = RowFeature::of("f", e).expect("a row expression");
            let select = format!(
                "SELECT CAST({} AS VARCHAR) FROM (VALUES {}) AS t(n, m, x, s)",
                sql::expr(e, &Row).unwrap(),
                values.join(", ")
            );
            let theirs: Vec<Option<String>> =
                conn.prepare(&select).unwrap().query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
            for (row, sql) in rows.iter().zip(theirs) {
                let column = |name: &str| Some(row[["n", "m", "x", "s"].iter().position(|c| *c == name)?].clone());
                let ours = feature.eval(&column).unwrap();
                let agree = match (&ours, &sql) {
                    (Value::Null, None) => true,
                    (Value::Number(a), Some(t)) if *ty == f => {
                        let (a, t) = (a.as_f64().unwrap(), t.parse::<f64>().unwrap());
                        (a - t).abs() <= 1e-12 * a.abs().max(1.0)
                    }
                    (Value::Number(a), Some(t)) => a.to_string() == *t,
                    (Value::Bool(a), Some(t)) => a.to_string() == *t,
                    (Value::String(a), Some(t)) => a == t,
                    _ => false,
                };
                assert!(agree, "{select}\nrow {row:?}: ours {ours}, DuckDB {sql:?}");
            }
        }
    }

    #[test]
    fn reads_other_tables_and_time_only_from_the_online_table() {
        let agg = TExpr::Aggregate {
            func: "count".into(),
            table: "orders".into(),
            args: vec![],
            join: vec![],
            window_ms: None,
            ty: Type::Int,
        };
        assert!(RowFeature::of("f", &agg).is_none());
        let year = call("year", vec![col("t", Type::Timestamp)], Type::Int);
        assert!(RowFeature::of("f", &year).is_none());
        let ratio = bin("/", col("a", Type::Float), col("b", Type::Int), Type::Float);
        assert_eq!(RowFeature::of("f", &ratio).unwrap().reads, ["a", "b"]);
    }
}
