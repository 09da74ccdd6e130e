//! Data nodes on Spark, through Spark Connect (the Apache `apache-spark-connect` client).
//! Each node opens its own session (its temporary views are its own), prints its SQL in
//! Spark's dialect from the same code as DuckDB's ([`crate::nodes`]), and has Spark write
//! the result as Parquet into the run's work folder, which this process then lands as the
//! node's artifact in row order. Spark therefore reads and writes the same paths as this
//! process: a local server, or a cluster with the state folder on shared storage.

use super::Sql;
use crate::node_io::{Failure, Inputs, Produced};
use crate::nodes::{self, Queries};
use duckdb::arrow::array::Array;
use duckdb::arrow::util::display::array_value_to_string;
use mlpc_plan::sql::{Dialect, Spark};
use mlpc_plan::{Node, NodeDef, SourceDef};
use spark_connect::SparkSession;
use std::collections::BTreeMap;
use std::path::Path;

/// Spark's SQL: artifacts read by path; `__row` from Parquet's own row index.
pub(crate) struct SparkSql;

impl Sql for SparkSql {
    fn d(&self) -> &dyn Dialect {
        &Spark
    }
    fn table(&self, path: &Path) -> String {
        format!("parquet.{}", Spark.ident(&path.to_string_lossy()))
    }
    fn numbered(&self, path: &Path) -> String {
        format!("(SELECT _metadata.row_index + 1 AS __row, * FROM {})", self.table(path))
    }
}

/// A session on the server at `remote`, with the settings the shared SQL assumes:
/// timestamps without time zone, read and printed in UTC.
fn session(remote: &str) -> Result<SparkSession, String> {
    let spark = SparkSession::builder()
        .remote(remote)
        .get_or_create()
        .map_err(|e| format!("cannot reach Spark Connect at {remote}: {e}"))?;
    for (key, value) in [("spark.sql.timestampType", "TIMESTAMP_NTZ"), ("spark.sql.session.timeZone", "UTC")] {
        spark.conf().set(key, value).map_err(|e| format!("cannot set {key} on Spark: {e}"))?;
    }
    Ok(spark)
}

/// The first line of a Spark error: its class and message, without the JVM's stack.
fn brief(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.split("JVM stacktrace").next().unwrap_or(line).trim().to_string()
}

/// The rows of a query, as Arrow batches.
fn rows(spark: &SparkSession, query: &str) -> Result<Vec<duckdb::arrow::record_batch::RecordBatch>, String> {
    let df = spark.sql(query).map_err(brief)?;
    df.collect_record_batches().map_err(brief)
}

/// The first value of a query's first row, as text (`None` for NULL or no row).
fn first(spark: &SparkSession, query: &str) -> Result<Option<String>, String> {
    let batches = rows(spark, query)?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { return Ok(None) };
    let col = b.column(0);
    if col.is_null(0) {
        return Ok(None);
    }
    array_value_to_string(col, 0).map(Some).map_err(|e| e.to_string())
}

/// Has Spark write a query's rows (with `__row`, or the source's `__file`/`__mid`) as
/// Parquet into a folder beside `out`, then lands them in `out` in that order.
fn land(spark: &SparkSession, query: &str, order: &str, out: &Path) -> Result<i64, String> {
    let dir = out.with_extension("spark");
    let df = spark.sql(query).map_err(brief)?;
    df.write().mode("overwrite").parquet(&dir.to_string_lossy()).map_err(brief)?;
    let conn = nodes::db()?;
    let parts = crate::sql::literal(&dir.join("*.parquet").to_string_lossy());
    let rows =
        nodes::copy_to(&conn, &format!("SELECT * EXCLUDE ({order}) FROM read_parquet({parts}) ORDER BY {order}"), out);
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

pub fn run(remote: &str, node: &Node, inputs: &Inputs) -> Result<Produced, Failure> {
    let spark = session(remote)?;
    let mut land_rows = |query: &str, out: &Path| land(&spark, query, "__row", out);
    let result = match &node.def {
        NodeDef::Source(def) => source(&spark, node, def, inputs),
        NodeDef::Check(def) => nodes::check(&SparkQueries(&spark), def, inputs),
        NodeDef::Features(def) => nodes::features(node, def, inputs, &mut land_rows),
        NodeDef::Dataset(def) => nodes::dataset(node, def, inputs, &mut land_rows),
        NodeDef::Split(def) => nodes::split(node, def, inputs, &mut land_rows),
        other => Err(Failure { message: format!("`{}` nodes do not run on Spark", other.kind()) }),
    };
    let _ = spark.stop();
    result
}

/// A Spark type name as the DuckDB name [`crate::sql::type_fits`] judges.
fn duck_type(spark: &str) -> String {
    let t = spark.to_ascii_lowercase();
    match t.as_str() {
        "tinyint" | "byte" => "TINYINT".into(),
        "smallint" | "short" => "SMALLINT".into(),
        "int" | "integer" => "INTEGER".into(),
        "bigint" | "long" => "BIGINT".into(),
        "float" | "real" => "FLOAT".into(),
        "double" => "DOUBLE".into(),
        "boolean" => "BOOLEAN".into(),
        "date" => "DATE".into(),
        "timestamp" | "timestamp_ntz" | "timestamp_ltz" => "TIMESTAMP".into(),
        "string" => "VARCHAR".into(),
        t if t.starts_with("decimal") => t.to_ascii_uppercase(),
        t if t.starts_with("varchar") || t.starts_with("char") => "VARCHAR".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// A source read by Spark: its files' columns checked against the declared schema (each
/// column that does not fit named), then cast to the declared types, in the files' order.
fn source(spark: &SparkSession, node: &Node, def: &SourceDef, inputs: &Inputs) -> Result<Produced, Failure> {
    let (files, shown) = nodes::source_files(node, def, inputs)?;
    let cannot_read = |e: &str| format!("source `{}`: cannot read {shown} on Spark: {e}", node.name);
    let paths: Vec<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
    let text = |k: &str| -> Result<String, String> {
        let v = def.option(k)?;
        v.as_str().map(str::to_string).ok_or_else(|| format!("the reader option `{k}` must be a string, not {v}"))
    };
    let options = match def.format.as_str() {
        "csv" => {
            let header = def.option("header")?;
            let header = header
                .as_bool()
                .ok_or_else(|| format!("the reader option `header` must be true or false, not {header}"))?;
            format!(
                "header {}, inferSchema 'true', sep {}, ",
                Spark.literal(&header.to_string()),
                Spark.literal(&text("delimiter")?)
            )
        }
        "parquet" => String::new(),
        other => return Err(Failure { message: format!("source `{}`: Spark reads no `{other}` sources", node.name) }),
    };
    // A view per file the glob matched (the files DuckDB would read, in its order), their
    // rows one after another by position, as DuckDB reads a list of files.
    for (i, path) in paths.iter().enumerate() {
        let view = format!(
            "CREATE OR REPLACE TEMPORARY VIEW raw_{i} USING {} OPTIONS ({options}path {})",
            def.format,
            Spark.literal(path)
        );
        rows(spark, &view).map_err(|e| cannot_read(&e))?;
    }
    let union = |extra: &dyn Fn(usize) -> String| {
        (0..paths.len()).map(|i| format!("SELECT *{} FROM raw_{i}", extra(i))).collect::<Vec<_>>().join(" UNION ALL ")
    };
    rows(spark, &format!("CREATE OR REPLACE TEMPORARY VIEW raw AS {}", union(&|_| String::new())))
        .map_err(|e| cannot_read(&e))?;
    let mut found = BTreeMap::new();
    for b in rows(spark, "DESCRIBE raw").map_err(|e| cannot_read(&e))? {
        for i in 0..b.num_rows() {
            let name = array_value_to_string(b.column(0), i).map_err(|e| e.to_string())?;
            let ty = array_value_to_string(b.column(1), i).map_err(|e| e.to_string())?;
            found.insert(name, duck_type(&ty));
        }
    }
    nodes::schema_fits(node, &shown, &found)?;
    let cols: Vec<String> = node
        .schema
        .iter()
        .map(|c| format!("CAST({0} AS {1}) AS {0}", Spark.ident(&c.name), Spark.column_type(c.ty)))
        .collect();
    let query = format!(
        "SELECT {}, __file, monotonically_increasing_id() AS __mid FROM ({}) AS u",
        cols.join(", "),
        union(&|i| format!(", {i} AS __file"))
    );
    let out = inputs.tmp(&node.id, "data");
    let rows = land(spark, &query, "__file, __mid", &out)
        .map_err(|e| format!("source `{}`: cannot load {shown} on Spark: {e}", node.name))?;
    Ok(nodes::source_produced(def, out, rows, files.len()))
}

/// A check's queries, on Spark.
struct SparkQueries<'a>(&'a SparkSession);

impl Queries for SparkQueries<'_> {
    fn sql(&self) -> &dyn Sql {
        &SparkSql
    }
    fn view(&self, table: &str) -> Result<(), String> {
        rows(self.0, &format!("CREATE OR REPLACE TEMPORARY VIEW t AS SELECT * FROM {table}")).map(|_| ())
    }
    fn count(&self, query: &str) -> Result<i64, String> {
        Ok(first(self.0, query)?.and_then(|n| n.parse().ok()).unwrap_or(0))
    }
    fn text(&self, query: &str) -> Result<Option<String>, String> {
        first(self.0, query)
    }
    fn examples(&self, select: &str) -> Result<String, String> {
        let mut out = Vec::new();
        for b in rows(self.0, &format!("SELECT to_json(struct(*)) FROM ({select}) AS x"))? {
            for i in 0..b.num_rows() {
                let row = array_value_to_string(b.column(0), i).map_err(|e| e.to_string())?;
                out.push(nodes::cap(&row, nodes::EXAMPLE_CHARS));
            }
        }
        Ok(out.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_types_are_judged_as_duckdb_types() {
        assert_eq!(duck_type("int"), "INTEGER");
        assert_eq!(duck_type("timestamp_ntz"), "TIMESTAMP");
        assert_eq!(duck_type("decimal(10,2)"), "DECIMAL(10,2)");
        assert!(crate::sql::type_fits(mlpc_plan::Type::Float, &duck_type("bigint")));
        assert!(!crate::sql::type_fits(mlpc_plan::Type::Int, &duck_type("string")));
    }

    #[test]
    fn artifacts_are_read_by_quoted_path() {
        assert_eq!(SparkSql.table(Path::new("/s/a`b.parquet")), "parquet.`/s/a``b.parquet`");
        assert!(SparkSql.numbered(Path::new("/x.parquet")).contains("_metadata.row_index + 1 AS __row"));
    }
}
