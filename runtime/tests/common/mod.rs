//! The real services the integration tests may use, started by `scripts/services/*`.

use std::io::Write;

/// The S3 bucket URL to test against (`MLPC_TEST_S3`, set by `eval "$(scripts/services/s3
/// start)"`). Without it the test says on stderr that it was not run — or fails, where
/// `MLPC_REQUIRE_SERVICES=1` (as `scripts/test` sets) says it must run.
pub fn s3_url(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("MLPC_TEST_S3") {
        return Some(url.trim_end_matches('/').to_string());
    }
    let how = "start the S3 service first: eval \"$(scripts/services/s3 start)\"";
    if std::env::var("MLPC_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{test}: MLPC_REQUIRE_SERVICES=1 but MLPC_TEST_S3 is not set; {how}");
    }
    // Straight to stderr, past the test harness's capture, so that it shows in every run.
    let _ = writeln!(std::io::stderr(), "NOT RUN: {test} against S3: MLPC_TEST_S3 is not set; {how}");
    None
}

/// A name no earlier run used, for a prefix of its own in a shared bucket.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}
