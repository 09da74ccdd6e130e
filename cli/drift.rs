//! `mlpc drift REFERENCE.parquet CURRENT.parquet`: Evidently's default drift test per column, read through
//! DuckDB; exit 0 without dataset drift, 1 with it, 2 on a usage or IO error.

use mlpc::commands::{emit, fail};
use mlpc_compiler::ast::StdKind;
use mlpc_compiler::stdlib::Stdlib;
use mlpc_monitor::{drift_report, ColumnDrift, Outcome, Report, Test, Thresholds};
use mlpc_runtime::frames;
use mlpc_train::InputType;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Serialize)]
struct Output<'a> {
    reference: &'a str,
    current: &'a str,
    /// Columns left out because their type is not numbers, bools or text.
    skipped: Vec<String>,
    /// Time to compute the statistics, reading excluded.
    compute_ms: f64,
    #[serde(flatten)]
    report: Report,
}

pub fn drift(reference: &str, current: &str, columns: &[String], tests: &[String], json: bool) -> u8 {
    let (report, skipped, compute_ms) = match compute(reference, current, columns, tests) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let code = u8::from(report.dataset_drift);
    if json {
        let out = Output { reference, current, skipped, compute_ms, report };
        emit(&format!("{}\n", serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("\"{e}\""))));
    } else {
        emit(&table(&report, &skipped, compute_ms));
    }
    code
}

/// The report, the columns left out, and the milliseconds the statistics took.
fn compute(
    reference: &str,
    current: &str,
    columns: &[String],
    tests: &[String],
) -> Result<(Report, Vec<String>, f64), String> {
    let overrides = tests.iter().map(|t| parse_override(t)).collect::<Result<Vec<_>, _>>()?;
    let conn = duckdb::Connection::open_in_memory().map_err(|e| format!("cannot start DuckDB: {e}"))?;
    let (skipped, typed) = choose(&schema(&conn, reference)?, columns);
    let typed = typed?;
    let (ref_frame, cur_frame) =
        (frames::read_typed(Path::new(reference), &typed)?, frames::read_typed(Path::new(current), &typed)?);
    let names: Vec<String> = typed.into_iter().map(|(n, _)| n).collect();
    let start = Instant::now();
    let report = drift_report(&ref_frame, &cur_frame, &names, &overrides, &thresholds()?)?;
    Ok((report, skipped, start.elapsed().as_secs_f64() * 1000.0))
}

/// The drift tests' thresholds, as `stdlib/drift.mlp` declares them.
fn thresholds() -> Result<Thresholds, String> {
    let tests = Stdlib::get().entries().filter(|e| e.kind == StdKind::DriftTest);
    let declared: Vec<(&str, f64, bool)> = tests
        .map(|e| {
            Ok((e.name.as_str(), e.threshold.ok_or(format!("`{}` declares no threshold", e.name))?, e.drift_when_below))
        })
        .collect::<Result<_, String>>()?;
    Ok(Thresholds::declared(declared)?)
}

/// `COLUMN=TEST`, e.g. `monthly_spend=psi`.
fn parse_override(text: &str) -> Result<(String, Test), String> {
    let (column, name) = text.split_once('=').ok_or_else(|| format!("`--test {text}`: expected COLUMN=TEST"))?;
    let names = || Test::ALL.map(Test::name).join(", ");
    let test = Test::from_name(name).ok_or_else(|| format!("unknown drift test `{name}`; known: {}", names()))?;
    Ok((column.to_string(), test))
}

/// Each column's name and DuckDB type in a Parquet file.
fn schema(conn: &duckdb::Connection, path: &str) -> Result<Vec<(String, String)>, String> {
    let query = format!("DESCRIBE SELECT * FROM read_parquet({})", literal(path));
    let mut stmt = conn.prepare(&query).map_err(|e| format!("cannot read {path}: {e}"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    rows.collect::<Result<_, _>>().map_err(|e| format!("cannot read {path}: {e}"))
}

/// How a DuckDB type enters a drift test; `None` for types drift tests do not take (dates, lists, …).
fn input_type(duckdb_type: &str) -> Option<InputType> {
    let t = duckdb_type.to_ascii_uppercase();
    match t.as_str() {
        "BOOLEAN" => Some(InputType::Bool),
        "VARCHAR" => Some(InputType::Category),
        "FLOAT" | "DOUBLE" => Some(InputType::Float),
        _ if t.starts_with("DECIMAL") => Some(InputType::Float),
        _ if t.ends_with("INT") || t == "HUGEINT" || t == "UHUGEINT" => Some(InputType::Int),
        _ => None,
    }
}

/// The columns to test, typed, and those left out: the named ones, or every testable column of the reference.
#[allow(clippy::type_complexity)]
fn choose(schema: &[(String, String)], named: &[String]) -> (Vec<String>, Result<Vec<(String, InputType)>, String>) {
    if named.is_empty() {
        let (ok, skipped): (Vec<_>, Vec<_>) = schema.iter().partition(|(_, t)| input_type(t).is_some());
        let skipped = skipped.iter().map(|(n, t)| format!("{n} ({t})")).collect();
        return (skipped, Ok(ok.iter().filter_map(|(n, t)| Some((n.clone(), input_type(t)?))).collect()));
    }
    let typed = named
        .iter()
        .map(|n| {
            let (_, t) =
                schema.iter().find(|(c, _)| c == n).ok_or_else(|| format!("no column `{n}` in the reference"))?;
            let ty = input_type(t)
                .ok_or_else(|| format!("column `{n}` is a {t}; drift tests take numbers, bools and text"))?;
            Ok((n.clone(), ty))
        })
        .collect();
    (Vec::new(), typed)
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn table(report: &Report, skipped: &[String], compute_ms: f64) -> String {
    let mut out = format!(
        "{:<24} {:<15} {:>9} {:>9} {:>7} {:>12} {:>12} {:>9} {:>9}  verdict\n",
        "column", "test", "reference", "current", "unique", "statistic", "score", "threshold", "effect"
    );
    for c in &report.columns {
        out.push_str(&row(c));
    }
    let share = match report.drift_share {
        Some(s) => format!(
            "drift share: {}/{} columns ({:.1}%); dataset drift at ≥ {:.0}%: {}",
            report.drifted(),
            report.tested(),
            s * 100.0,
            report.dataset_drift_share * 100.0,
            if report.dataset_drift { "yes" } else { "no" }
        ),
        None => "drift share: no column has enough data to test".to_string(),
    };
    out.push_str(&format!("{share}\ncomputed in {compute_ms:.1} ms\n"));
    if !skipped.is_empty() {
        out.push_str(&format!("skipped (not numbers, bools or text): {}\n", skipped.join(", ")));
    }
    out
}

fn row(c: &ColumnDrift) -> String {
    let head =
        format!("{:<24} {:<15} {:>9} {:>9} {:>7}", c.column, c.test.name(), c.n_reference, c.n_current, c.n_unique);
    match c.outcome {
        Outcome::Tested { statistic, score, threshold, effect_size, drifted } => format!(
            "{head} {:>12} {:>12} {:>9} {:>9}  {}\n",
            num(statistic),
            num(score),
            num(threshold),
            num(effect_size),
            if drifted { "DRIFT" } else { "ok" }
        ),
        Outcome::NotEnoughData { min_rows } => format!("{head}  not enough data (fewer than {min_rows} rows)\n"),
    }
}

fn num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e6) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}
