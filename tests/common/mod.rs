//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod faulty;
pub mod load;

use mlpc::disk::Disk;
use mlpc::render::{self, Located};
use mlpc::CheckFormat;
use mlpc_compiler::{compile, Compilation};

/// Compiles a file from disk, as `mlpc check` does.
pub fn compile_file(path: &str) -> Compilation {
    compile(path, &Disk)
}

/// The diagnostic codes of a compilation, sorted.
pub fn codes(c: &Compilation) -> Vec<String> {
    let mut v: Vec<String> = c.diagnostics.iter().map(|d| d.code.as_str().to_string()).collect();
    v.sort();
    v
}

/// Renders a compilation's diagnostics in one format, without colour.
pub fn rendered(c: &Compilation, format: CheckFormat) -> String {
    let located: Vec<Located> = c.diagnostics.iter().map(|d| Located { diag: d, sources: &c.sources }).collect();
    render::render(format, &located, 1, false)
}

/// The `.mlp` files under a folder, recursively, sorted.
pub fn mlp_files(dir: &str) -> Vec<String> {
    mlpc::disk::collect(&[dir.to_string()]).expect("folder readable")
}

/// The codes a case expects, from its first line: `// expect: E0001 E0002`.
pub fn expected_codes(text: &str) -> Vec<String> {
    let first = text.lines().next().unwrap_or("");
    let list = first
        .strip_prefix("// expect:")
        .unwrap_or_else(|| panic!("case must start with `// expect:`, found {first:?}"));
    let mut v: Vec<String> = list.split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// Runs the built `mlpc` binary; returns (exit code, stdout, stderr).
pub fn mlpc(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("mlpc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `probe` every 50 ms until it gives a value. At the deadline, `within` from now, it
/// fails naming what was awaited and the last state `probe` reported.
pub fn eventually<T>(what: &str, within: std::time::Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if std::time::Instant::now() >= deadline => {
                panic!("{what}: not within {within:?}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// A process a test started (a server, the daemon): `stop` sends SIGTERM and waits for its
/// exit status; dropping it kills it, so a failing test leaves nothing running.
pub struct Running(pub std::process::Child);

impl Running {
    /// SIGTERM, then the exit status (-1 when it has not exited within `within`).
    pub fn stop(&mut self, within: std::time::Duration) -> i32 {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        -1
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Copies the churn example's data into `dir/data`, as `examples/churn/churn.mlp` reads it.
/// The churn example for the serving tests: `algorithm` as its learner, no cross-validation,
/// canary steps of one second and five requests (no canary block unless `canary`), promoted
/// when p99 < 5s and rolled back when p99 > `rollback_p99`.
pub fn serving_churn(algorithm: &str, canary: bool, rollback_p99: &str) -> String {
    let mut text = std::fs::read_to_string("examples/churn/churn.mlp")
        .unwrap()
        .replace("gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)", algorithm)
        .replace("  cv     = 5\n", "")
        .replace("interval = 30m", "interval = 1s\n    min_requests = 5")
        .replace("promote  when p99_latency < 50ms", "promote  when p99_latency < 5s")
        .replace("p99_latency > 200ms", &format!("p99_latency > {rollback_p99}"));
    if !canary {
        let (a, b) = (text.find("  canary {").unwrap(), text.find("  shadow").unwrap());
        text.replace_range(a..b, "");
    }
    text
}

/// Runs `mlpc-runtime ARGS --state STATE`, asserting that it succeeds; its stdout.
pub fn runtime_ok(state: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
        .args(args)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "mlpc {args:?}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

pub fn copy_churn_data(dir: &std::path::Path) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for f in ["customers.csv", "orders.parquet"] {
        std::fs::copy(std::path::Path::new("examples/churn/data").join(f), data.join(f)).unwrap();
    }
}

/// A new database on the test server, named for the test; `None` (the test says so) without one.
pub fn postgres_database(test: &str) -> Option<String> {
    let Ok(server) = std::env::var("MLPC_TEST_POSTGRES") else {
        assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_POSTGRES is not set");
        eprintln!("not run: no Postgres (start scripts/services/postgres)");
        return None;
    };
    let name = format!("{test}_{}", std::process::id());
    let made =
        std::process::Command::new("psql").args([&server, "-qc", &format!("CREATE DATABASE {name}")]).status().unwrap();
    assert!(made.success());
    Some(format!("{}/{name}", server.rsplit_once('/').unwrap().0))
}
