//! Reads Parquet artifacts into the frames trainers and scorers take, through DuckDB's
//! Arrow interface (one typed pass, no per-value calls).

use crate::sql::{ident, literal};
use duckdb::arrow::array::{Array, Float64Array, StringArray};
use mlpc_plan::Type;
use mlpc_train::{Column, Frame, InputType, Values};
use std::path::Path;

/// How a declared column type enters a model; `None` for types models do not take.
pub fn input_type(ty: Type) -> Option<InputType> {
    match ty {
        Type::Int => Some(InputType::Int),
        Type::Float | Type::Percent | Type::Duration => Some(InputType::Float),
        Type::Bool => Some(InputType::Bool),
        Type::Category | Type::String => Some(InputType::Category),
        _ => None,
    }
}

/// The named columns of a Parquet file, typed as declared.
pub fn read(path: &Path, columns: &[(String, Type)]) -> Result<Frame, String> {
    let typed = columns
        .iter()
        .map(|(name, ty)| {
            let it = input_type(*ty).ok_or_else(|| format!("column `{name}` is a {ty}, which a model cannot take"))?;
            Ok((name.clone(), it))
        })
        .collect::<Result<Vec<_>, String>>()?;
    read_typed(path, &typed)
}

/// The named columns of a Parquet file: numbers as f64 (NaN for null), categories as text.
pub fn read_typed(path: &Path, columns: &[(String, InputType)]) -> Result<Frame, String> {
    let conn = duckdb::Connection::open_in_memory().map_err(|e| format!("cannot start DuckDB: {e}"))?;
    let from = format!("read_parquet({})", literal(&path.to_string_lossy()));
    let mut whole = None;
    for_each_batch(&conn, &from, columns, usize::MAX, |frame| {
        whole = Some(frame);
        Ok(())
    })
    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(whole.unwrap_or_else(|| empty(columns)))
}

/// The named columns of the rows of `from` (a table or a query in parentheses), in order,
/// handed to `each` as frames of `rows` rows (the last one shorter; none when there are no rows).
pub fn for_each_batch(
    conn: &duckdb::Connection,
    from: &str,
    columns: &[(String, InputType)],
    rows: usize,
    mut each: impl FnMut(Frame) -> Result<(), String>,
) -> Result<(), String> {
    let select: Vec<String> = columns
        .iter()
        .map(|(name, it)| {
            let sql_type = if *it == InputType::Category { "VARCHAR" } else { "DOUBLE" };
            format!("CAST({} AS {sql_type})", ident(name))
        })
        .collect();
    let mut stmt = conn.prepare(&format!("SELECT {} FROM {from}", select.join(", "))).map_err(|e| e.to_string())?;
    let mut frame = empty(columns);
    for batch in stmt.query_arrow([]).map_err(|e| e.to_string())? {
        for (j, out) in frame.columns.iter_mut().enumerate() {
            let array = batch.column(j);
            match &mut out.values {
                Values::Number(v) => {
                    let a =
                        array.as_any().downcast_ref::<Float64Array>().ok_or("DuckDB returned a non-DOUBLE column")?;
                    v.extend((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }));
                }
                Values::Category(v) => {
                    let a =
                        array.as_any().downcast_ref::<StringArray>().ok_or("DuckDB returned a non-VARCHAR column")?;
                    v.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
                }
            }
        }
        if frame.rows() >= rows {
            each(std::mem::replace(&mut frame, empty(columns)))?;
        }
    }
    if frame.rows() > 0 {
        each(frame)?;
    }
    Ok(())
}

/// A frame with the named columns and no rows.
fn empty(columns: &[(String, InputType)]) -> Frame {
    let column = |(name, ty): &(String, InputType)| Column {
        name: name.clone(),
        ty: *ty,
        values: if *ty == InputType::Category { Values::Category(Vec::new()) } else { Values::Number(Vec::new()) },
    };
    Frame { columns: columns.iter().map(column).collect() }
}
