//! Where a run's data nodes (sources, checks, features, datasets, splits) execute: DuckDB in
//! this process, or Spark through Spark Connect ([`spark`]). Both print their SQL from the
//! plan's typed IR through a [`Dialect`]; their results land as Parquet artifacts, so what
//! reads them (training, evaluation, the registry, serving) does not know which engine ran.

pub mod spark;

use mlpc_plan::sql::{Dialect, DuckDb};
use std::path::Path;

/// The engine of a run's data nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB in this process.
    #[default]
    DuckDb,
    /// A Spark Connect server (`sc://host:15002`) that reads the same paths as this process
    /// (a shared folder or a local server).
    Spark { remote: String },
}

impl Engine {
    /// The SQL its data nodes are printed in.
    pub(crate) fn sql(&self) -> &'static dyn Sql {
        match self {
            Engine::DuckDb => &Duck,
            Engine::Spark { .. } => &spark::SparkSql,
        }
    }
}

/// How an engine's SQL names things: its dialect and how it reads an artifact.
pub(crate) trait Sql {
    fn d(&self) -> &dyn Dialect;
    /// The rows of a Parquet artifact.
    fn table(&self, path: &Path) -> String;
    /// The rows of a Parquet artifact with `__row`, their 1-based position in the file: an
    /// order fixed by the data, not by how the engine happens to scan it.
    fn numbered(&self, path: &Path) -> String;
}

/// DuckDB's SQL.
pub(crate) struct Duck;

impl Sql for Duck {
    fn d(&self) -> &dyn Dialect {
        &DuckDb
    }
    fn table(&self, path: &Path) -> String {
        format!("read_parquet({})", DuckDb.literal(&path.to_string_lossy()))
    }
    fn numbered(&self, path: &Path) -> String {
        format!(
            "(SELECT file_row_number + 1 AS __row, * EXCLUDE (file_row_number) FROM read_parquet({}, file_row_number = true))",
            DuckDb.literal(&path.to_string_lossy())
        )
    }
}
