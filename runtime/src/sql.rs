//! SQL for DuckDB: the plan's one SQL printer in the DuckDB dialect, and whether data DuckDB
//! reads fits a declared column. Every identifier and literal goes through `ident` /
//! `literal`: a hostile column or file name cannot change the statement.

pub use mlpc_plan::sql::Scope;
use mlpc_plan::sql::{Dialect, DuckDb};
use mlpc_plan::{TExpr, Type};

/// A quoted identifier: `"name"`, with `"` doubled.
pub fn ident(name: &str) -> String {
    DuckDb.ident(name)
}

/// A quoted string literal: `'text'`, with `'` doubled.
pub fn literal(text: &str) -> String {
    DuckDb.literal(text)
}

/// The DuckDB type a column of `ty` is stored as.
pub fn column_type(ty: Type) -> &'static str {
    DuckDb.column_type(ty)
}

/// SQL for a typed expression.
pub fn expr(e: &TExpr, scope: &dyn Scope) -> Result<String, String> {
    mlpc_plan::sql::expr(e, scope, &DuckDb)
}

/// The SQL aggregate for an aggregation of the stdlib over already-compiled arguments.
pub fn aggregate_sql(func: &str, args: &[String]) -> Option<String> {
    DuckDb.aggregate(func, args)
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
