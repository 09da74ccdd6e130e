//! Named points where a test may stop this process to `kill -9` it exactly there: with
//! `MLPC_TEST_STOP_AT=NAME`, reaching `NAME` says so on stderr and waits for the kill.
//! Without that variable, nothing happens.

/// Stops here, for good, when `MLPC_TEST_STOP_AT` names this point.
pub fn reached(name: &str) {
    if std::env::var("MLPC_TEST_STOP_AT").is_ok_and(|at| at == name) {
        eprintln!("mlpc: stopped at {name} (MLPC_TEST_STOP_AT)");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
