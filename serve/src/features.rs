//! The online table of a served feature view, held in memory: the view's latest row per
//! entity (its `online` artifact) joined on the entity key with the latest row of the
//! entity's source, so a request may send only the key. Training read the same artifacts.

use crate::error::ApiError;
use crate::input::Columns;
use crate::spec::FeatureSource;
use mlpc_plan::Type;
use mlpc_runtime::Store;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;

pub struct Online {
    pub source: FeatureSource,
    /// The sha256 of the artifacts it was read from (online, entity data), to notice new ones.
    pub shas: (String, String),
    rows: HashMap<String, Map<String, Value>>,
}

/// The artifacts the latest run produced for a view: the online table and the entity's data.
pub struct Files {
    pub shas: (String, String),
    online: PathBuf,
    entity: PathBuf,
}

/// Why an online table was not loaded.
#[derive(Debug)]
pub enum LoadError {
    /// An artifact's bytes do not hash to the sha256 the store recorded for it.
    Integrity(String),
    Other(String),
}

/// Checks an artifact's bytes against the sha256 the store recorded for it (its name).
fn verify(view: &str, what: &str, path: &std::path::Path, recorded: &str) -> Result<(), LoadError> {
    let actual = sha256_of(path)
        .map_err(|e| LoadError::Other(format!("cannot read the {what} of `{view}` at {}: {e}", path.display())))?;
    if actual != recorded {
        return Err(LoadError::Integrity(format!(
            "the {what} of `{view}` is refused: its artifact {} has sha256 {actual}, but the store recorded {recorded}; run the pipeline again (`mlpc run`) to rebuild it",
            path.display()
        )));
    }
    Ok(())
}

fn sha256_of(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// A key value as the table holds it.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.as_i64().map_or_else(|| n.to_string(), |i| i.to_string())),
        _ => None,
    }
}

fn sql_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Finds the artifacts the latest run produced for this view.
pub fn locate(store: &Store, source: &FeatureSource) -> Result<Files, String> {
    let find = |node: &str, role: &str| {
        store.latest_artifact(node, role)?.ok_or_else(|| {
            format!(
                "`{node}` has no `{role}` artifact in {}: run the pipeline with `mlpc run` first",
                store.dir.display()
            )
        })
    };
    let shas = (find(&source.node, "online")?, find(&source.entity_node, "data")?);
    Ok(Files { online: store.artifact(&shas.0, "parquet")?, entity: store.artifact(&shas.1, "parquet")?, shas })
}

impl Online {
    /// Reads the table from the artifacts, once their bytes match the sha256 the store
    /// recorded for them.
    pub fn load(source: &FeatureSource, files: Files) -> Result<Online, LoadError> {
        let Files { shas, online, entity } = files;
        verify(&source.view, "online table", &online, &shas.0)?;
        verify(&source.view, "entity data behind the online table", &entity, &shas.1)?;
        Self::read(source, shas, &online, &entity).map_err(LoadError::Other)
    }

    fn read(
        source: &FeatureSource,
        shas: (String, String),
        online: &std::path::Path,
        entity: &std::path::Path,
    ) -> Result<Online, String> {
        let key = sql_ident(&source.key);
        let latest = match &source.entity_time {
            Some(t) => format!(" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {} DESC) = 1", sql_ident(t)),
            None => String::new(),
        };
        let columns: Vec<(String, Type, &str)> = source
            .view_columns
            .iter()
            .map(|(n, t)| (n.clone(), *t, "o"))
            .chain(source.entity_columns.iter().chain(&source.row_reads).map(|(n, t)| (n.clone(), *t, "e")))
            .collect();
        let select: Vec<String> = columns
            .iter()
            .map(|(n, t, from)| {
                let sql_type = match t {
                    Type::Int => "BIGINT",
                    Type::Bool => "BOOLEAN",
                    Type::Category | Type::String => "VARCHAR",
                    _ => "DOUBLE",
                };
                format!("CAST({from}.{} AS {sql_type})", sql_ident(n))
            })
            .collect();
        let query = format!(
            "WITH e AS (SELECT * FROM read_parquet({}){latest}) SELECT CAST(o.{key} AS VARCHAR){} FROM read_parquet({}) AS o LEFT JOIN e ON e.{key} = o.{key}",
            sql_literal(&entity.to_string_lossy()),
            select.iter().map(|s| format!(", {s}")).collect::<String>(),
            sql_literal(&online.to_string_lossy()),
        );
        let conn = duckdb::Connection::open_in_memory().map_err(|e| format!("cannot start DuckDB: {e}"))?;
        let mut stmt =
            conn.prepare(&query).map_err(|e| format!("cannot read the online table of `{}`: {e}", source.view))?;
        let mut rows = HashMap::new();
        let mut result =
            stmt.query([]).map_err(|e| format!("cannot read the online table of `{}`: {e}", source.view))?;
        while let Some(row) = result.next().map_err(|e| e.to_string())? {
            let Some(k): Option<String> = row.get(0).map_err(|e| e.to_string())? else { continue };
            let mut values = Map::new();
            for (j, (name, ty, _)) in columns.iter().enumerate() {
                let v: Value = match ty {
                    Type::Int => row.get::<_, Option<i64>>(j + 1).map(Value::from),
                    Type::Bool => row.get::<_, Option<bool>>(j + 1).map(Value::from),
                    Type::Category | Type::String => row.get::<_, Option<String>>(j + 1).map(Value::from),
                    _ => row.get::<_, Option<f64>>(j + 1).map(|x| x.map_or(Value::Null, Value::from)),
                }
                .map_err(|e| e.to_string())?;
                values.insert(name.clone(), v);
            }
            rows.insert(k, values);
        }
        Ok(Online { source: source.clone(), shas, rows })
    }

    pub fn entities(&self) -> usize {
        self.rows.len()
    }

    /// Fills the model inputs a request left out: row features recomputed from the values
    /// sent (else the entity's), the rest from the entity's row; values sent win. Drops the
    /// key unless the model takes it. Without the key, only row features whose columns were
    /// all sent are filled.
    pub fn fill(&self, columns: &mut Columns, model_takes_key: bool) -> Result<(), ApiError> {
        let source = &self.source;
        let key = &source.key;
        let Some(k) = columns.position(key) else { return self.recompute(columns, &[]) };
        let mut found = Vec::with_capacity(columns.rows);
        for v in &columns.values[k] {
            let text =
                key_text(v).ok_or_else(|| ApiError::bad(format!("`{key}` must be a number or a string, found {v}")))?;
            let row = self.rows.get(&text).ok_or_else(|| {
                ApiError::not_found(format!("unknown {key} {v}: feature view `{}` has no row for it", source.view))
            })?;
            found.push(row);
        }
        self.recompute(columns, &found)?;
        for (name, _) in source.view_columns.iter().chain(&source.entity_columns) {
            if columns.position(name).is_none() {
                let values = found.iter().map(|r| r.get(name).cloned().unwrap_or(Value::Null)).collect();
                columns.push(name.clone(), values);
            }
        }
        if !model_takes_key {
            let k = columns.position(key).expect("found above");
            columns.names.remove(k);
            columns.values.remove(k);
        }
        Ok(())
    }

    /// Adds each row feature the request left out, computed from the values it sent and
    /// else from the entity's row (`found`, one per request row, or none without a key);
    /// then drops the columns sent only for them (they are not model inputs).
    fn recompute(&self, columns: &mut Columns, found: &[&Map<String, Value>]) -> Result<(), ApiError> {
        for feature in &self.source.row_features {
            let sent = |c: &String| columns.position(c);
            if sent(&feature.name).is_some() || (found.is_empty() && !feature.reads.iter().all(|c| sent(c).is_some())) {
                continue;
            }
            let values = (0..columns.rows)
                .map(|i| {
                    let column = |name: &str| match columns.position(name) {
                        Some(j) => Some(columns.values[j][i].clone()),
                        None => found.get(i).and_then(|r| r.get(name).cloned()),
                    };
                    feature.eval(&column).map_err(|e| ApiError::bad(format!("row {}: {e}", i + 1)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            columns.push(feature.name.clone(), values);
        }
        for (name, _) in &self.source.row_reads {
            if let Some(j) = columns.position(name) {
                columns.names.remove(j);
                columns.values.remove(j);
            }
        }
        Ok(())
    }
}
