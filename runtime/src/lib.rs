//! The mlpc runtime: executes a compiled plan.

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
