//! What each kind of plan node does, as SQL over Parquet artifacts: run by DuckDB here, or
//! printed in Spark's dialect for [`crate::engine::spark`].

use crate::engine::{Duck, Engine, Sql};
use crate::node_io::{Failure, Inputs, Produced};
use crate::sql::{self, ident, literal, Scope};
use mlpc_plan::sql::Dialect;
use mlpc_plan::{
    CheckDef, Column, DatasetDef, FeatureDef, FeaturesDef, JoinStep, Level, Node, NodeDef, OnFail, SourceDef, SplitDef,
    TExpr,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The SQL a data node reads its inputs with.
impl Inputs<'_> {
    fn data(&self, s: &dyn Sql, node: &str) -> Result<String, String> {
        Ok(s.table(&self.artifact(node, "data")?))
    }
    /// An input's rows with `__row`, their 1-based position in its file.
    fn numbered(&self, s: &dyn Sql, node: &str) -> Result<String, String> {
        Ok(s.numbered(&self.artifact(node, "data")?))
    }
    pub(crate) fn tmp(&self, node: &str, role: &str) -> PathBuf {
        self.tmp_file(node, role, "parquet")
    }
}

/// A Parquet file's rows with `__row`, their 1-based position in the file: an order fixed
/// by the data, not by how DuckDB happens to scan it.
pub(crate) fn numbered(path: &Path) -> String {
    Duck.numbered(path)
}

/// Which row of a feature view completes a row `e` of the view's entity.
pub(crate) enum AsOf {
    /// The row of the same key and time: a dataset's rows are the view's own entity rows.
    Same,
    /// The latest row of the key at or before `e`'s time (point in time), and none older
    /// than `ttl_ms` when given; by key alone when the entity has no time.
    Latest { ttl_ms: Option<u64> },
}

/// The join of a feature view's table `table` (SQL) as `alias` onto the rows `e`, by the
/// entity's `keys` and `time`, and the expressions that read `features` from it. `Latest`
/// is DuckDB's `ASOF LEFT JOIN` (scoring, which runs here); the data nodes join `Same`.
pub(crate) fn view_join(
    table: &str,
    alias: &str,
    keys: &[&str],
    time: Option<&str>,
    how: &AsOf,
    features: &[&str],
    d: &dyn Dialect,
) -> (String, Vec<String>) {
    let ident = |n: &str| d.ident(n);
    let mut on: Vec<String> = keys.iter().map(|k| format!("{alias}.{0} = e.{0}", ident(k))).collect();
    let mut fresh = None;
    let join = match (how, time) {
        (AsOf::Same, Some(t)) => {
            on.push(format!("{alias}.{0} = e.{0}", ident(t)));
            "LEFT JOIN"
        }
        (AsOf::Latest { ttl_ms }, Some(t)) => {
            on.push(format!("e.{0} >= {alias}.{0}", ident(t)));
            fresh = ttl_ms.map(|ms| format!("{alias}.{0} >= e.{0} - {1}", ident(t), d.interval_ms(ms)));
            "ASOF LEFT JOIN"
        }
        (_, None) => "LEFT JOIN",
    };
    let read = |f: &&str| match &fresh {
        Some(cond) => format!("CASE WHEN {cond} THEN {alias}.{0} END AS {0}", ident(f)),
        None => format!("{alias}.{}", ident(f)),
    };
    (format!(" {join} {table} AS {alias} ON {}", on.join(" AND ")), features.iter().map(read).collect())
}

/// A DuckDB connection for one node. One thread: DuckDB's parallel scans, inserts and
/// aggregations give different row groups, row numbers and float sums from run to run, and
/// the same inputs must give byte-identical artifacts (the cache, `runs compare` and the
/// registry's data hashes depend on it). Nodes still run side by side (`--jobs`).
pub(crate) fn db() -> Result<duckdb::Connection, String> {
    let conn = duckdb::Connection::open_in_memory().map_err(|e| format!("cannot start DuckDB: {e}"))?;
    conn.execute_batch("SET threads = 1; SET preserve_insertion_order = true")
        .map_err(|e| format!("cannot set up DuckDB: {e}"))?;
    Ok(conn)
}

fn exec(conn: &duckdb::Connection, sql: &str) -> Result<(), String> {
    conn.execute_batch(sql).map_err(|e| e.to_string())
}

fn count(conn: &duckdb::Connection, sql: &str) -> Result<i64, String> {
    conn.query_row(sql, [], |r| r.get(0)).map_err(|e| e.to_string())
}

/// Rows per Parquet row group, fixed so that the same rows give the same file.
const ROW_GROUP_SIZE: usize = 122_880;

pub(crate) fn copy_to(conn: &duckdb::Connection, select: &str, path: &Path) -> Result<i64, String> {
    exec(
        conn,
        &format!(
            "COPY ({select}) TO {} (FORMAT PARQUET, ROW_GROUP_SIZE {ROW_GROUP_SIZE})",
            literal(&path.to_string_lossy())
        ),
    )?;
    count(conn, &format!("SELECT count(*) FROM read_parquet({})", literal(&path.to_string_lossy())))
}

pub fn run(node: &Node, inputs: &Inputs) -> Result<Produced, Failure> {
    if let (Engine::Spark { remote }, true) = (inputs.engine, is_data(&node.def)) {
        return crate::engine::spark::run(remote, node, inputs);
    }
    match &node.def {
        NodeDef::Source(def) => source(node, def, inputs),
        NodeDef::Check(def) => check(&DuckQueries(db()?), def, inputs),
        NodeDef::Features(def) => features(node, def, inputs, &mut |q, out| copy_to(&db()?, &by_row(q), out)),
        NodeDef::Dataset(def) => dataset(node, def, inputs, &mut |q, out| copy_to(&db()?, &by_row(q), out)),
        NodeDef::Split(def) => split(node, def, inputs, &mut |q, out| copy_to(&db()?, &by_row(q), out)),
        NodeDef::Model(def) => crate::training::model(node, def, inputs),
        NodeDef::Evaluate(def) => crate::training::evaluate(node, def, inputs),
        NodeDef::Score(def) => crate::scoring::node(node, def, inputs),
        other => Err(Failure { message: format!("`{}` nodes are not executed by `mlpc run`", other.kind()) }),
    }
}

pub use mlpc_plan::runs_elsewhere;

/// Whether a node is a data node: one that an [`Engine`] runs.
fn is_data(def: &NodeDef) -> bool {
    matches!(
        def,
        NodeDef::Source(_) | NodeDef::Check(_) | NodeDef::Features(_) | NodeDef::Dataset(_) | NodeDef::Split(_)
    )
}

/// Writes the rows of a query (with `__row`) to a Parquet artifact in `__row` order, and
/// says how many there are: how a data node's result lands, whichever engine computed it.
pub(crate) type Land<'a> = dyn FnMut(&str, &Path) -> Result<i64, String> + 'a;

/// A query's rows without `__row`, in `__row` order (DuckDB).
pub(crate) fn by_row(query: &str) -> String {
    format!("SELECT * EXCLUDE (__row) FROM ({query}) ORDER BY __row")
}

/// What a cached node still does: a score node puts its output file back when it is
/// missing or changed.
pub fn reuse(node: &Node, artifacts: &BTreeMap<String, PathBuf>, base_dir: &Path) -> Result<(), String> {
    match (&node.def, artifacts.get("data")) {
        (NodeDef::Score(def), Some(data)) => crate::scoring::publish(data, &base_dir.join(&def.output)),
        _ => Ok(()),
    }
}

/// What a node reads itself (a source's data, an `onnx(…)` model), relative to the
/// pipeline's folder: its content is part of the node's cache key.
pub enum InputFiles {
    One(PathBuf),
    /// A source's glob (`data/orders/*.parquet`), resolved against the pipeline's folder.
    Glob(PathBuf),
}

pub fn input_files(node: &Node, base_dir: &Path) -> Option<InputFiles> {
    match &node.def {
        NodeDef::Source(def) => {
            let resolved = base_dir.join(&def.path);
            Some(if is_glob(&def.path) { InputFiles::Glob(resolved) } else { InputFiles::One(resolved) })
        }
        NodeDef::Model(def) => crate::training::model_file(def, base_dir).map(InputFiles::One),
        _ => None,
    }
}

/// Whether a source path is a glob: DuckDB's wildcards `*`, `**`, `?` and `[…]`.
pub fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The files a glob matches, sorted (DuckDB's own matching: what its readers would read).
pub fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let conn = db()?;
    let mut stmt = conn
        .prepare(&format!("SELECT file FROM glob({}) ORDER BY file", literal(&pattern.to_string_lossy())))
        .map_err(|e| e.to_string())?;
    let files = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    let files: Vec<PathBuf> =
        files.map(|f| f.map(PathBuf::from)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    Ok(files.into_iter().filter(|f| f.is_file()).collect())
}

fn reader(def: &SourceDef, paths: &[PathBuf], conn: &duckdb::Connection) -> Result<String, String> {
    let p = match paths {
        [one] => literal(&one.to_string_lossy()),
        many => format!("[{}]", many.iter().map(|f| literal(&f.to_string_lossy())).collect::<Vec<_>>().join(", ")),
    };
    let text = |k: &str| -> Result<String, String> {
        let v = def.option(k)?;
        v.as_str().map(str::to_string).ok_or_else(|| format!("the reader option `{k}` must be a string, not {v}"))
    };
    Ok(match def.format.as_str() {
        "csv" => {
            let header = def.option("header")?;
            let header = header
                .as_bool()
                .ok_or_else(|| format!("the reader option `header` must be true or false, not {header}"))?;
            format!("read_csv({p}, header = {header}, delim = {}, auto_detect = true)", literal(&text("delimiter")?))
        }
        "parquet" => format!("read_parquet({p})"),
        "duckdb" => {
            if paths.len() != 1 {
                return Err("a `duckdb` source reads one database file, not a glob".into());
            }
            exec(conn, &format!("ATTACH {p} AS src (READ_ONLY)"))?;
            format!("src.main.{}", ident(&text("table")?))
        }
        other => return Err(format!("no reader for `{other}`")),
    })
}

/// The files a source reads, and what messages call them: the file, or the pattern and how
/// many files it matched.
pub(crate) fn source_files(node: &Node, def: &SourceDef, inputs: &Inputs) -> Result<(Vec<PathBuf>, String), Failure> {
    let path = inputs.base_dir.join(&def.path);
    let files = if is_glob(&def.path) {
        let files =
            glob_files(&path).map_err(|e| format!("source `{}`: cannot list `{}`: {e}", node.name, def.path))?;
        if files.is_empty() {
            return Err(Failure {
                message: format!(
                    "source `{}`: no file matches `{}` (in {}; paths are relative to the .mlp file's folder)",
                    node.name,
                    def.path,
                    folder(&path).display()
                ),
            });
        }
        files
    } else if !path.exists() {
        return Err(Failure {
            message: format!(
                "source `{}`: {} does not exist (paths are relative to the .mlp file's folder)",
                node.name,
                path.display()
            ),
        });
    } else if !path.is_file() {
        // A device or a pipe (`/dev/zero`, `/dev/stdin`) would be read without end.
        return Err(Failure {
            message: format!("source `{}`: {} is not a regular file; a source reads files", node.name, path.display()),
        });
    } else {
        vec![path.clone()]
    };
    // What the messages call the data: the file, or the pattern and how many files it matched.
    let shown = match files.len() {
        1 if !is_glob(&def.path) => path.display().to_string(),
        n => format!("`{}` ({n} files)", def.path),
    };
    Ok((files, shown))
}

fn source(node: &Node, def: &SourceDef, inputs: &Inputs) -> Result<Produced, Failure> {
    let path = inputs.base_dir.join(&def.path);
    let (files, shown) = source_files(node, def, inputs)?;
    let cannot_read = |e: &str| format!("source `{}`: cannot read {shown}: {}", node.name, read_error(e));
    let conn = db()?;
    let mut from = reader(def, &files, &conn).map_err(|e| cannot_read(&e))?;
    if def.format == "csv" {
        // Detecting a CSV's dialect and types costs a pass of its own: read it once.
        exec(&conn, &format!("CREATE TEMP TABLE raw AS SELECT * FROM {from}")).map_err(|e| cannot_read(&e))?;
        from = "raw".into();
    }
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM {from}")).map_err(|e| cannot_read(&e.to_string()))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| cannot_read(&e.to_string()))?;
    for row in rows {
        let (name, ty) = row.map_err(|e| e.to_string())?;
        order.push((name.clone(), ty.clone()));
        found.insert(name, ty);
    }
    schema_fits(node, &shown, &found)?;
    let cols: Vec<String> = node
        .schema
        .iter()
        .map(|c| format!("CAST({} AS {}) AS {}", ident(&c.name), sql::column_type(c.ty), ident(&c.name)))
        .collect();
    let out = inputs.tmp(&node.id, "data");
    // A Parquet file that already has exactly the declared columns and types is kept as
    // it is; anything else is re-encoded with the declared types.
    let exact = def.format == "parquet"
        && !is_glob(&def.path)
        && order.len() == node.schema.len()
        && order
            .iter()
            .zip(&node.schema)
            .all(|((n, t), c)| *n == c.name && t.eq_ignore_ascii_case(sql::column_type(c.ty)));
    let rows = if exact {
        std::fs::copy(&path, &out)
            .map_err(|e| format!("source `{}`: cannot copy {}: {e}", node.name, path.display()))?;
        count(&conn, &format!("SELECT count(*) FROM {from}"))?
    } else {
        copy_to(&conn, &format!("SELECT {} FROM {from}", cols.join(", ")), &out)
            .map_err(|e| format!("source `{}`: cannot load {shown}: {}", node.name, read_error(&e)))?
    };
    Ok(source_produced(def, out, rows, files.len()))
}

/// What a source produced: its artifact, rows and (for a glob) files.
pub(crate) fn source_produced(def: &SourceDef, out: PathBuf, rows: i64, files: usize) -> Produced {
    let mut p = Produced { files: vec![("data".into(), out)], ..Default::default() };
    p.metrics.insert("rows".into(), rows as f64);
    if is_glob(&def.path) {
        p.metrics.insert("files".into(), files as f64);
        p.message = format!("{rows} rows from {} ({files} files)", def.path);
    } else {
        p.message = format!("{rows} rows from {}", def.path);
    }
    p
}

/// Whether the data's columns (`found`: name → DuckDB type name) fit the source's declared
/// schema; if not, a failure that names each column that does not.
pub(crate) fn schema_fits(node: &Node, shown: &str, found: &BTreeMap<String, String>) -> Result<(), Failure> {
    let mut problems = Vec::new();
    for col in &node.schema {
        match found.get(&col.name) {
            None => problems.push(format!("  column `{}`: declared {}, not in the data", col.name, col.ty)),
            Some(t) if !sql::type_fits(col.ty, t) => {
                problems.push(format!("  column `{}`: declared {}, found {}", col.name, col.ty, t.to_lowercase()))
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure {
        message: format!(
            "source `{}`: {shown} does not match its declared schema:\n{}\n  {}\n  fix the data, or the column types in the `source` block",
            node.name,
            problems.join("\n"),
            present_columns(found.keys())
        ),
    })
}

/// The folder part of a glob, before its first wildcard.
fn folder(pattern: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in pattern.components() {
        if is_glob(&c.as_os_str().to_string_lossy()) {
            break;
        }
        out.push(c);
    }
    out
}

/// A reader's error without the data it quotes: DuckDB's CSV errors go on to print the
/// offending line ("Original Line: …") and its sniffer's guesses from the file; a source
/// may name a file that is not data (`csv("/etc/passwd")`), whose lines must not reach a
/// terminal or a CI log. Kept: the first line (what went wrong and where), cut before any
/// quoted content and capped.
fn read_error(e: &str) -> String {
    let line = first_line(e);
    let cut = ["Original Line", "\"", "'"].iter().filter_map(|m| line.find(m)).min().unwrap_or(line.len());
    let mut kept: String = line[..cut].trim_end().chars().take(160).collect();
    if kept.len() < line.len() {
        kept.push_str(" … (the file's content is not shown)");
    }
    kept
}

/// The data's columns for a schema mismatch: names that could be declared, listed; any
/// other "name" (the first line of a file that is not CSV with a header) only counted.
fn present_columns<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let (plain, other): (Vec<&String>, Vec<&String>) = names.partition(|n| {
        n.len() <= 64
            && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    let mut text = if plain.is_empty() {
        "the data has no column with a name a `source` block can declare".to_string()
    } else {
        format!("the data has: {}", plain.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
    };
    if !other.is_empty() {
        text.push_str(&format!(
            "\n  and {} column name(s) not shown, which no `source` block can declare: is this a CSV file with a header row?",
            other.len()
        ));
    }
    text
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Names in a check: the checked table's columns; whole-table reads go to `t`.
struct TableScope<'a>(&'a dyn Dialect);

impl Scope for TableScope<'_> {
    fn column(&self, name: &str) -> String {
        self.0.ident(name)
    }
    fn feature(&self, _: &str, name: &str) -> Result<String, String> {
        Err(format!("a check cannot read the feature `{name}`"))
    }
    fn aggregate(&self, _: &TExpr) -> Result<String, String> {
        Err("a check aggregates its own table only".into())
    }
    fn lookup(&self, table: &str, _: &str) -> Result<String, String> {
        Err(format!("a check cannot read `{table}`"))
    }
    fn table(&self) -> Option<String> {
        Some("t".into())
    }
}

/// The queries a check asks of an engine, about the view `t` of the checked table.
pub(crate) trait Queries {
    fn sql(&self) -> &dyn Sql;
    /// Makes `t` the rows of `table` (SQL).
    fn view(&self, table: &str) -> Result<(), String>;
    fn count(&self, query: &str) -> Result<i64, String>;
    /// The first value of a query's first row, as text (`None` for NULL).
    fn text(&self, query: &str) -> Result<Option<String>, String>;
    /// A few rows as `{col: value, …}` text for reports.
    fn examples(&self, select: &str) -> Result<String, String>;
}

struct DuckQueries(duckdb::Connection);

impl Queries for DuckQueries {
    fn sql(&self) -> &dyn Sql {
        &Duck
    }
    fn view(&self, table: &str) -> Result<(), String> {
        exec(&self.0, &format!("CREATE VIEW t AS SELECT * FROM {table}"))
    }
    fn count(&self, query: &str) -> Result<i64, String> {
        count(&self.0, query)
    }
    fn text(&self, query: &str) -> Result<Option<String>, String> {
        self.0.query_row(query, [], |r| r.get(0)).map_err(|e| e.to_string())
    }
    fn examples(&self, select: &str) -> Result<String, String> {
        examples(&self.0, select)
    }
}

pub(crate) fn check(q: &dyn Queries, def: &CheckDef, inputs: &Inputs) -> Result<Produced, Failure> {
    let d = q.sql().d();
    let scope = TableScope(d);
    let text = d.column_type(mlpc_plan::Type::String);
    q.view(&inputs.data(q.sql(), &format!("source:{}", def.source))?)?;
    let mut failed = Vec::new();
    let mut p = Produced::default();
    for (i, e) in def.expectations.iter().enumerate() {
        let pred = mlpc_plan::sql::expr(&e.expr, &scope, d)?;
        let (ok, detail) = if e.level == Level::Table {
            let ok = q.text(&format!("SELECT CAST({pred} AS {text})"))?;
            let detail = match &e.expr {
                TExpr::Binary { lhs, .. } => {
                    let lhs = mlpc_plan::sql::expr(lhs, &scope, d)?;
                    let v = q.text(&format!("SELECT CAST({lhs} AS {text})")).ok().flatten().unwrap_or_default();
                    format!("value {v}")
                }
                TExpr::Call { func, args, .. } if func == "unique" => {
                    let cols: Vec<String> =
                        args.iter().map(|a| mlpc_plan::sql::expr(a, &scope, d)).collect::<Result<_, _>>()?;
                    let keys = cols.join(", ");
                    let dups = q.count(&format!(
                        "SELECT count(*) FROM (SELECT {keys} FROM t GROUP BY {keys} HAVING count(*) > 1) AS x"
                    ))?;
                    let examples = q.examples(&format!(
                        "SELECT {keys}, count(*) AS copies FROM t GROUP BY {keys} HAVING count(*) > 1 LIMIT 3"
                    ))?;
                    format!("{dups} duplicated keys, e.g. {examples}")
                }
                _ => String::new(),
            };
            (ok.as_deref() == Some("true"), detail)
        } else {
            let bad = format!("FROM t WHERE NOT coalesce({pred}, false)");
            let n = q.count(&format!("SELECT count(*) {bad}"))?;
            let ex = if n > 0 { q.examples(&format!("SELECT * {bad} LIMIT 3"))? } else { String::new() };
            (n == 0, if n > 0 { format!("{n} rows fail, e.g. {ex}") } else { String::new() })
        };
        p.metrics.insert(format!("expectation_{i}_passed"), if ok { 1.0 } else { 0.0 });
        if !ok {
            failed.push(format!("  expect {}: {detail}", e.text));
        }
    }
    p.metrics.insert("failed".into(), failed.len() as f64);
    if failed.is_empty() {
        p.message = format!("{} expectations hold", def.expectations.len());
        return Ok(p);
    }
    let report = format!(
        "check `{}`: {} of {} expectations fail:\n{}",
        def.source,
        failed.len(),
        def.expectations.len(),
        failed.join("\n")
    );
    if def.on_fail == OnFail::Warn {
        p.message = format!("warning: {report}");
        Ok(p)
    } else {
        Err(Failure { message: format!("{report}\n  (on_fail = stop: what reads `{}` does not run)", def.source) })
    }
}

/// A few rows as `{col: value, …}` text for reports.
fn examples(conn: &duckdb::Connection, select: &str) -> Result<String, String> {
    let wrapped = format!("SELECT CAST(to_json(x) AS VARCHAR) FROM ({select}) x");
    let mut stmt = conn.prepare(&wrapped).map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    // Rows of the program's own declared data, as evidence; each capped, so that one
    // huge value cannot flood a report.
    let rows: Vec<String> = rows.filter_map(Result::ok).map(|r| cap(&r, EXAMPLE_CHARS)).collect();
    Ok(rows.join(", "))
}

/// How much of one example row a check report shows.
pub(crate) const EXAMPLE_CHARS: usize = 240;

/// `text`, cut to `max` characters with the cut marked.
pub(crate) fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… (cut)")
}

/// Names in a feature view, over the entity `e`, aggregate tables `a_*`, lookups `l_*`
/// and other views `v_*`.
struct ViewScope<'a> {
    d: &'a dyn Dialect,
    view: &'a str,
    features: &'a [FeatureDef],
    aggregates: Vec<(TExpr, String)>,
    lookups: BTreeMap<String, String>,
    views: BTreeMap<String, String>,
}

impl Scope for ViewScope<'_> {
    fn column(&self, name: &str) -> String {
        format!("e.{}", self.d.ident(name))
    }
    fn feature(&self, view: &str, name: &str) -> Result<String, String> {
        if view == self.view {
            let f = self.features.iter().find(|f| f.name == name).ok_or(format!("no feature `{name}`"))?;
            return mlpc_plan::sql::expr(&f.expr, self, self.d)
                .map(|s| format!("CAST({s} AS {})", self.d.column_type(f.ty)));
        }
        let alias = self.views.get(view).ok_or(format!("view `{view}` is not joined"))?;
        Ok(format!("{alias}.{}", self.d.ident(name)))
    }
    fn aggregate(&self, e: &TExpr) -> Result<String, String> {
        let i = self.aggregates.iter().position(|(x, _)| x == e).ok_or("an aggregation was not planned")?;
        Ok(self.aggregates[i].1.clone())
    }
    fn lookup(&self, table: &str, column: &str) -> Result<String, String> {
        let alias = self.lookups.get(table).ok_or(format!("`{table}` is not joined"))?;
        Ok(format!("{alias}.{}", self.d.ident(column)))
    }
}

/// The parts of an expression `pick` selects, outermost first.
fn collect<'e>(e: &'e TExpr, pick: &dyn Fn(&TExpr) -> bool, out: &mut Vec<&'e TExpr>) {
    if pick(e) {
        out.push(e);
    }
    match e {
        TExpr::Call { args, .. } | TExpr::Aggregate { args, .. } => args.iter().for_each(|a| collect(a, pick, out)),
        TExpr::Unary { arg, .. } => collect(arg, pick, out),
        TExpr::Binary { lhs, rhs, .. } => {
            collect(lhs, pick, out);
            collect(rhs, pick, out);
        }
        TExpr::Between { arg, low, high } => {
            collect(arg, pick, out);
            collect(low, pick, out);
            collect(high, pick, out);
        }
        TExpr::List { items } => items.iter().for_each(|i| collect(i, pick, out)),
        _ => {}
    }
}

/// `FROM`-clause text that joins `steps` starting from `first` (already aliased `j0`),
/// and the alias and column where the chain ends.
fn chain(inputs: &Inputs, s: &dyn Sql, steps: &[JoinStep], prefix: &str) -> Result<(String, String), String> {
    let ident = |n: &str| s.d().ident(n);
    let mut from = String::new();
    for (i, step) in steps.iter().enumerate().skip(1) {
        let prev = &steps[i - 1];
        from.push_str(&format!(
            " JOIN {} AS {prefix}{i} ON {prefix}{}.{} = {prefix}{i}.{}",
            inputs.data(s, &format!("source:{}", step.from_table))?,
            i - 1,
            ident(&prev.from_column),
            ident(&prev.to_column)
        ));
    }
    let last = steps.last().ok_or("an empty join path")?;
    Ok((from, format!("{prefix}{}.{}", steps.len() - 1, ident(&last.from_column))))
}

/// A feature view's offline rows, with `__row` (the entity's row), in `s`'s SQL.
pub(crate) fn features_query(node: &Node, def: &FeaturesDef, inputs: &Inputs, s: &dyn Sql) -> Result<String, String> {
    let d = s.d();
    let ident = |n: &str| d.ident(n);
    let entity_cols: Vec<&Column> = node.schema.iter().filter(|c| c.view.is_none()).collect();
    let keys: Vec<&Column> = entity_cols.iter().copied().filter(|c| c.key).collect();
    let time = entity_cols.iter().find(|c| c.time).map(|c| c.name.clone());
    let mut ctes =
        vec![format!("e AS (SELECT * FROM {} AS e0)", inputs.numbered(s, &format!("source:{}", def.entity))?)];
    let mut joins = String::new();
    // Aggregations, one grouped join per related table.
    let mut all: Vec<&TExpr> = Vec::new();
    for f in &def.features {
        collect(&f.expr, &|e| matches!(e, TExpr::Aggregate { .. }), &mut all);
    }
    let mut scope = ViewScope {
        d,
        view: &node.name,
        features: &def.features,
        aggregates: Vec::new(),
        lookups: BTreeMap::new(),
        views: BTreeMap::new(),
    };
    let mut tables: Vec<String> = Vec::new();
    for a in &all {
        if let TExpr::Aggregate { table, .. } = a {
            if !tables.contains(table) {
                tables.push(table.clone());
            }
        }
    }
    for (ti, table) in tables.iter().enumerate() {
        let aggs: Vec<&&TExpr> =
            all.iter().filter(|a| matches!(a, TExpr::Aggregate { table: t, .. } if t == table)).collect();
        let TExpr::Aggregate { join, .. } = aggs[0] else { unreachable!("filtered to aggregates") };
        let (hops, end) = chain(inputs, s, join, &format!("j{ti}_"))?;
        let related_time = inputs.time_columns.get(table).cloned();
        let mut on = format!("r.__ek = e.{}", ident(&join.last().map(|s| s.to_column.clone()).unwrap_or_default()));
        if let (Some(t), Some(rt)) = (&time, &related_time) {
            on.push_str(&format!(" AND r.{} <= e.{}", ident(rt), ident(t)));
        }
        let mut cols = Vec::new();
        for (ai, a) in aggs.iter().enumerate() {
            let TExpr::Aggregate { func, args, window_ms, .. } = a else { continue };
            let rel = RelatedScope(d);
            let compiled: Vec<String> = args
                .iter()
                .map(|x| match x {
                    TExpr::Table { .. } => Ok("r.__ek".to_string()),
                    other => mlpc_plan::sql::expr(other, &rel, d),
                })
                .collect::<Result<_, _>>()?;
            let mut agg = d.aggregate(func, &compiled).ok_or(format!("no SQL for `{func}`"))?;
            if let (Some(w), Some(t), Some(rt)) = (window_ms, &time, &related_time) {
                let filter = format!("FILTER (WHERE r.{} > e.{} - {})", ident(rt), ident(t), d.interval_ms(*w));
                agg = match agg.strip_prefix("coalesce(").and_then(|s| s.strip_suffix(", 0)")) {
                    Some(inner) => format!("coalesce({inner} {filter}, 0)"),
                    None => format!("{agg} {filter}"),
                };
            }
            let name = format!("a{ti}_{ai}");
            cols.push(format!("{agg} AS {name}"));
            scope.aggregates.push(((**a).clone(), format!("a{ti}.{name}")));
        }
        ctes.push(format!(
            "a{ti} AS (SELECT e.__row, {} FROM e LEFT JOIN (SELECT j{ti}_0.*, {end} AS __ek FROM {} AS j{ti}_0{hops}) AS r ON {on} GROUP BY e.__row)",
            cols.join(", "),
            inputs.data(s, &format!("source:{table}"))?
        ));
        joins.push_str(&format!(" LEFT JOIN a{ti} ON a{ti}.__row = e.__row"));
    }
    // Lookups of parent tables along references.
    let mut lookups: Vec<&TExpr> = Vec::new();
    for f in &def.features {
        collect(&f.expr, &|e| matches!(e, TExpr::Lookup { .. }), &mut lookups);
    }
    for (li, l) in lookups.iter().enumerate() {
        let TExpr::Lookup { table, join, .. } = l else { continue };
        if scope.lookups.contains_key(table) {
            continue;
        }
        let mut prev = "e".to_string();
        for (si, step) in join.iter().enumerate() {
            let alias = format!("l{li}_{si}");
            joins.push_str(&format!(
                " LEFT JOIN {} AS {alias} ON {alias}.{} = {prev}.{}",
                inputs.data(s, &format!("source:{}", step.to_table))?,
                ident(&step.to_column),
                ident(&step.from_column)
            ));
            prev = alias;
        }
        scope.lookups.insert(table.clone(), prev);
    }
    // Features of other views on the same entity.
    let mut others: Vec<&TExpr> = Vec::new();
    for f in &def.features {
        collect(&f.expr, &|e| matches!(e, TExpr::Feature { view, .. } if view != &node.name), &mut others);
    }
    for (vi, o) in others.iter().enumerate() {
        let TExpr::Feature { view, .. } = o else { continue };
        if scope.views.contains_key(view) {
            continue;
        }
        let alias = format!("v{vi}");
        let keys: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let table = inputs.data(s, &format!("features:{view}"))?;
        joins.push_str(&view_join(&table, &alias, &keys, time.as_deref(), &AsOf::Same, &[], d).0);
        scope.views.insert(view.clone(), alias);
    }
    let mut select: Vec<String> = entity_cols.iter().map(|c| format!("e.{}", ident(&c.name))).collect();
    for f in &def.features {
        let x = mlpc_plan::sql::expr(&f.expr, &scope, d)?;
        select.push(format!("CAST({x} AS {}) AS {}", d.column_type(f.ty), ident(&f.name)));
    }
    select.push("e.__row AS __row".into());
    Ok(format!("WITH {} SELECT {} FROM e{joins}", ctes.join(", "), select.join(", ")))
}

/// A feature view: its offline rows computed by the engine (`land`), and the online table
/// (the latest row per entity) from them here.
pub(crate) fn features(node: &Node, def: &FeaturesDef, inputs: &Inputs, land: &mut Land) -> Result<Produced, Failure> {
    let query = features_query(node, def, inputs, inputs.engine.sql())?;
    let offline = inputs.tmp(&node.id, "data");
    let rows = land(&query, &offline).map_err(|e| format!("features `{}`: {e}", node.name))?;
    let conn = db()?;
    let keys: Vec<&Column> = node.schema.iter().filter(|c| c.view.is_none() && c.key).collect();
    let time = node.schema.iter().find(|c| c.view.is_none() && c.time).map(|c| c.name.clone());
    let part: Vec<String> = keys.iter().map(|k| ident(&k.name)).collect();
    let unique = part.is_empty()
        || count(
            &conn,
            &format!(
                "SELECT count(*) - count(DISTINCT ({})) FROM read_parquet({})",
                part.join(", "),
                literal(&offline.to_string_lossy())
            ),
        )? == 0;
    if unique {
        // One row per entity already: the online table is the offline one.
        let mut p = Produced {
            files: vec![("data".into(), offline.clone()), ("online".into(), offline)],
            ..Default::default()
        };
        p.metrics.insert("rows".into(), rows as f64);
        p.metrics.insert("entities".into(), rows as f64);
        p.message = format!("{} features for {rows} rows ({rows} entities online)", def.features.len());
        return Ok(p);
    }
    let online = inputs.tmp(&node.id, "online");
    let entities = copy_to(&conn, &latest_rows(&offline, &part, time.as_deref()), &online)?;
    let mut p = Produced { files: vec![("data".into(), offline), ("online".into(), online)], ..Default::default() };
    p.metrics.insert("rows".into(), rows as f64);
    p.metrics.insert("entities".into(), entities as f64);
    p.message = format!("{} features for {rows} rows ({entities} entities online)", def.features.len());
    Ok(p)
}

/// The online table's query: per entity (`keys`, quoted) its latest row by `time`, and of
/// rows at the same time the last in the offline table; ordered by the keys, so that the
/// file does not depend on how it was computed.
fn latest_rows(offline: &Path, keys: &[String], time: Option<&str>) -> String {
    let from = format!("read_parquet({}, file_row_number = true)", literal(&offline.to_string_lossy()));
    let keys = keys.join(", ");
    let latest = match time {
        Some(t) => format!(
            " QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {} DESC, file_row_number DESC) = 1",
            ident(t)
        ),
        None => String::new(),
    };
    format!("SELECT * EXCLUDE (file_row_number) FROM {from}{latest} ORDER BY {keys}, file_row_number")
}

/// Inside an aggregation: columns of the related rows `r`.
struct RelatedScope<'a>(&'a dyn Dialect);

impl Scope for RelatedScope<'_> {
    fn column(&self, name: &str) -> String {
        format!("r.{}", self.0.ident(name))
    }
    fn feature(&self, _: &str, name: &str) -> Result<String, String> {
        Err(format!("an aggregation cannot read the feature `{name}`"))
    }
    fn aggregate(&self, _: &TExpr) -> Result<String, String> {
        Err("aggregations do not nest".into())
    }
    fn lookup(&self, table: &str, _: &str) -> Result<String, String> {
        Err(format!("an aggregation cannot look up `{table}`"))
    }
    fn related(&self, _: &str, column: &str) -> Result<String, String> {
        Ok(format!("r.{}", self.0.ident(column)))
    }
}

/// A dataset: the base table's rows completed with its views' features.
pub(crate) fn dataset(node: &Node, def: &DatasetDef, inputs: &Inputs, land: &mut Land) -> Result<Produced, Failure> {
    let s = inputs.engine.sql();
    let d = s.d();
    let base_cols: Vec<&Column> = node.schema.iter().filter(|c| c.view.is_none()).collect();
    let keys: Vec<&Column> = base_cols.iter().copied().filter(|c| c.key).collect();
    let time = base_cols.iter().find(|c| c.time);
    let mut select: Vec<String> = base_cols.iter().map(|c| format!("e.{}", d.ident(&c.name))).collect();
    let mut joins = String::new();
    let keys: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    for (i, v) in def.views.iter().enumerate() {
        let features: Vec<&str> =
            node.schema.iter().filter(|c| c.view.as_deref() == Some(v)).map(|c| c.name.as_str()).collect();
        let table = inputs.data(s, &format!("features:{v}"))?;
        let (join, read) =
            view_join(&table, &format!("v{i}"), &keys, time.map(|t| t.name.as_str()), &AsOf::Same, &features, d);
        joins.push_str(&join);
        select.extend(read);
    }
    select.push("e.__row AS __row".into());
    let query = format!(
        "SELECT {} FROM {} AS e{joins}",
        select.join(", "),
        inputs.numbered(s, &format!("source:{}", def.base))?
    );
    let out = inputs.tmp(&node.id, "data");
    let rows = land(&query, &out).map_err(|e| format!("dataset `{}`: {e}", node.name))?;
    let mut p = Produced { files: vec![("data".into(), out)], ..Default::default() };
    p.metrics.insert("rows".into(), rows as f64);
    p.message = format!("{rows} rows, {} columns", node.schema.len());
    Ok(p)
}

/// One part of a dataset's split: by time, or by a portable hash of each row's keys and
/// time (the same rows on every engine; see [`mlpc_plan::sql::bucket`]).
pub(crate) fn split(node: &Node, def: &SplitDef, inputs: &Inputs, land: &mut Land) -> Result<Produced, Failure> {
    let s = inputs.engine.sql();
    let d = s.d();
    let mut low = 0.0;
    let mut high = 0.0;
    for (name, share) in &def.parts {
        if name == &def.part {
            high = low + share;
            break;
        }
        low += share;
    }
    let last = def.parts.last().is_some_and(|(n, _)| n == &def.part);
    let own = |c: &&Column| c.view.is_none();
    let mut hashed: Vec<(String, mlpc_plan::Type)> =
        node.schema.iter().filter(own).filter(|c| c.key).map(|c| (d.ident(&c.name), c.ty)).collect();
    let time = node.schema.iter().filter(own).find(|c| c.time);
    let position = match (def.method.as_str(), time) {
        ("time", Some(t)) => format!("percent_rank() OVER (ORDER BY {}, __row)", d.ident(&t.name)),
        _ => {
            if let Some(t) = time {
                hashed.push((d.ident(&t.name), t.ty));
            }
            if hashed.is_empty() {
                hashed.push(("__row".into(), mlpc_plan::Type::Int));
            }
            let seed = def.seed.ok_or_else(|| format!("split `{}`: the plan gives no seed", node.name))?;
            mlpc_plan::sql::bucket(&hashed, seed, d)
        }
    };
    let dataset = inputs.artifact(&format!("dataset:{}", def.dataset), "data")?;
    let cols: Vec<String> = columns(&dataset)?.iter().map(|c| d.ident(c)).collect();
    let upper = if last { "<= 1.0".to_string() } else { format!("< {high}") };
    let query = format!(
        "SELECT {}, __row FROM (SELECT *, {position} AS __pos FROM {} AS x) AS y WHERE __pos >= {low} AND __pos {upper}",
        cols.join(", "),
        s.numbered(&dataset)
    );
    let out = inputs.tmp(&node.id, "data");
    let rows = land(&query, &out).map_err(|e| format!("split `{}`: {e}", node.name))?;
    let mut p = Produced { files: vec![("data".into(), out)], ..Default::default() };
    p.metrics.insert("rows".into(), rows as f64);
    p.params.insert("method".into(), def.method.clone());
    p.message = format!("{rows} rows ({}%)", ((high - low) * 100.0).round());
    Ok(p)
}

/// The column names of a Parquet artifact, in order.
fn columns(path: &Path) -> Result<Vec<String>, String> {
    let conn = db()?;
    let mut stmt = conn
        .prepare(&format!("DESCRIBE SELECT * FROM read_parquet({})", literal(&path.to_string_lossy())))
        .map_err(|e| e.to_string())?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    names.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_never_quote_the_file() {
        let duckdb = "Invalid Input Error: CSV Error on Line: 4\nOriginal Line: root:x:0:0:secret\nExpected 2 columns";
        assert_eq!(read_error(duckdb), "Invalid Input Error: CSV Error on Line: 4");
        let quoted = "Conversion Error: Could not convert string 'root:x:0:0:secret' to INT64";
        let kept = read_error(quoted);
        assert!(!kept.contains("secret") && kept.contains("not shown"), "{kept}");
        let long = "x".repeat(500);
        assert!(read_error(&long).chars().count() < 220);
    }

    #[test]
    fn only_declarable_column_names_are_listed() {
        let names = ["customer_id".to_string(), "root:x:0:0:root:/root:/bin/bash".to_string()];
        let text = present_columns(names.iter());
        assert!(text.contains("customer_id") && !text.contains("root:x"), "{text}");
        assert!(text.contains("1 column name(s) not shown"), "{text}");
        let none = present_columns(["a b: c".to_string()].iter());
        assert!(none.starts_with("the data has no column"), "{none}");
    }

    #[test]
    fn globs_list_sorted_files_and_name_their_folder() {
        assert!(is_glob("data/*.parquet") && is_glob("d/202?.csv") && is_glob("d/[ab].csv") && !is_glob("d/x.csv"));
        assert_eq!(folder(Path::new("base/data/**/x*.parquet")), PathBuf::from("base/data"));
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.parquet", "a.parquet", "c.csv"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.parquet")).unwrap();
        let files = glob_files(&dir.path().join("*.parquet")).unwrap();
        assert_eq!(files, vec![dir.path().join("a.parquet"), dir.path().join("b.parquet")]);
        assert!(glob_files(&dir.path().join("none/*.parquet")).unwrap().is_empty());
    }

    #[test]
    fn the_online_table_is_the_latest_row_per_entity_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let offline = dir.path().join("offline.parquet");
        let conn = db().unwrap();
        let rows = "VALUES (2, 1, 'old'), (1, 5, 'a'), (2, 3, 'first'), (2, 3, 'last'), (1, 2, 'b')";
        exec(
            &conn,
            &format!(
                "COPY (SELECT * FROM ({rows}) t(k, ts, v)) TO {} (FORMAT PARQUET)",
                literal(&offline.to_string_lossy())
            ),
        )
        .unwrap();
        let sql = latest_rows(&offline, &[ident("k")], Some("ts"));
        let got = examples(&conn, &sql).unwrap();
        assert_eq!(got, r#"{"k":1,"ts":5,"v":"a"}, {"k":2,"ts":3,"v":"last"}"#);
    }

    #[test]
    fn examples_are_capped() {
        assert_eq!(cap("short", 10), "short");
        assert_eq!(cap(&"é".repeat(12), 10), format!("{}… (cut)", "é".repeat(10)));
    }
}
