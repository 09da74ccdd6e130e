//! The mlpc runtime: executes a compiled plan — sources, checks, features, datasets and
//! splits on DuckDB or Spark — with caching and run tracking in a state folder.

pub mod artifacts;
pub mod audit;
mod cache;
pub mod card;
pub mod db;
pub mod engine;
mod executor;
pub mod file_lock;
pub mod frames;
pub mod history;
pub mod migrations;
pub mod monitor_results;
mod node_io;
mod nodes;
mod registration;
pub mod registry;
pub mod remote_artifacts;
pub mod scoring;
pub mod sql;
pub mod state_copy;
mod stop_point;
mod store;
mod training;

pub use artifacts::{ArtifactError, ArtifactStore};
pub use engine::Engine;
pub use executor::{run, status_name, Event, NodeReport, Options, RunError, RunReport, Status};
pub use store::{Store, StoreError};
pub use training::ort_ready;

/// The DuckDB library version this build links.
pub fn duckdb_version() -> Result<String, duckdb::Error> {
    let conn = duckdb::Connection::open_in_memory()?;
    conn.query_row("SELECT version()", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_duckdb() {
        assert_eq!(super::duckdb_version().unwrap(), "v1.5.6");
    }
}
