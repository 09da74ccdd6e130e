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
    let select: Vec<String> = columns
        .iter()
        .map(|(name, it)| {
            let sql_type = if *it == InputType::Category { "VARCHAR" } else { "DOUBLE" };
            format!("CAST({} AS {sql_type})", ident(name))
        })
        .collect();
    let conn = duckdb::Connection::open_in_memory().map_err(|e| format!("cannot start DuckDB: {e}"))?;
    let query = format!("SELECT {} FROM read_parquet({})", select.join(", "), literal(&path.to_string_lossy()));
    let mut stmt = conn.prepare(&query).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut values: Vec<Values> = columns
        .iter()
        .map(|(_, t)| if *t == InputType::Category { Values::Category(Vec::new()) } else { Values::Number(Vec::new()) })
        .collect();
    for batch in stmt.query_arrow([]).map_err(|e| format!("cannot read {}: {e}", path.display()))? {
        for (j, out) in values.iter_mut().enumerate() {
            let array = batch.column(j);
            match out {
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
    }
    let columns = columns.iter().zip(values).map(|((name, ty), values)| Column { name: name.clone(), ty: *ty, values });
    Ok(Frame { columns: columns.collect() })
}
