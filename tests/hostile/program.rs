//! Programs and artifacts as attacks: files a `.mlp` should not read, commands, tampered artifacts.
//! Also what must hold for results to be trusted: the same inputs give the same bytes, and
//! a program given by a bare file name or reading a glob of files runs as documented.

use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CHURN: &str = "examples/churn/churn.mlp";

/// Runs the built `mlpc` in `dir` with extra environment variables; (exit code, stdout + stderr).
fn mlpc_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let exe = Path::new(env!("CARGO_BIN_EXE_mlpc"));
    let mut cmd = Command::new(exe);
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("mlpc runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The churn example written to `dir/churn.mlp` with its model block replaced by `model`
/// (the churn data copied beside it unless `dir/data` already exists).
fn churn_with(dir: &Path, model: &str) -> PathBuf {
    if !dir.join("data").exists() {
        super::common::copy_churn_data(dir);
    }
    let text = std::fs::read_to_string(CHURN).unwrap().replace(" then retrain churn_model", "");
    let start = text.find("model churn_model").unwrap();
    let end = start + text[start..].find("\n}\n").unwrap() + 3;
    let file = dir.join("churn.mlp");
    std::fs::write(&file, format!("{}{model}\n{}", &text[..start], &text[end..])).unwrap();
    file
}

const SMALL_MODEL: &str =
    "model churn_model = logistic_regression() {\n  train  = churn_data.train\n  inputs = [total_purchases, monthly_spend, plan]\n}";

/// An ONNX model with the inputs `[total_purchases, monthly_spend, plan]`, trained once.
fn prebuilt_onnx() -> &'static Path {
    static ONNX: OnceLock<PathBuf> = OnceLock::new();
    ONNX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let file = churn_with(&dir, SMALL_MODEL);
        let (code, out) = mlpc_in(&dir, &["run", file.to_str().unwrap(), "--state", "state"], &[]);
        assert_eq!(code, 0, "{out}");
        let onnx = find_artifacts(&dir.join("state")).into_iter().find(|p| p.extension().is_some_and(|e| e == "onnx"));
        onnx.expect("the run stored an ONNX model")
    })
}

/// Every file under `state/artifacts`, sorted.
fn find_artifacts(state: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![state.join("artifacts")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn sha256(path: &Path) -> String {
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The artifact a node produced in `role` in run `run`, as a path in `state`.
fn artifact(dir: &Path, state: &str, run: &str, node: &str, role: &str) -> PathBuf {
    let (code, json) = mlpc_in(dir, &["runs", "show", run, "--state", state, "--json"], &[]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let n = v["nodes"].as_array().unwrap().iter().find(|n| n["id"] == node).unwrap_or_else(|| panic!("{node}: {v}"));
    let sha = n["artifacts"][role].as_str().unwrap_or_else(|| panic!("{node} has no {role}: {n}"));
    let ext = if role == "model" { "onnx" } else { "parquet" };
    dir.join(state).join("artifacts").join(&sha[..2]).join(format!("{sha}.{ext}"))
}

/// The lines of `text` long enough to be recognisable, none of which may appear in `out`.
fn assert_echoes_none(out: &str, text: &str, what: &str) {
    for line in text.lines().map(str::trim).filter(|l| l.len() >= 8) {
        assert!(!out.contains(line), "the output echoes a line of {what} ({line:?}):\n{out}");
    }
}

#[test]
fn imports_read_only_mlp_files_and_echo_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "API_KEY=hunter2-do-not-print\nroot:x:0:0:private gecos:/root:/bin/bash\n";
    std::fs::write(dir.path().join("secret.txt"), secret).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("link.mlp")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("environ.mlp")).unwrap();
    let env = [("MLPC_HOSTILE_SECRET", "s3cr3t-from-the-environment")];
    let cases = [
        ("import \"/proc/self/environ\"\n", "import paths name `.mlp` files"),
        ("import \"secret.txt\"\n", "import paths name `.mlp` files"),
        ("import \"link.mlp\"\n", "not a `.mlp` file"),
        ("import \"environ.mlp\"\n", "not a `.mlp` file"),
    ];
    for (program, why) in cases {
        std::fs::write(dir.path().join("main.mlp"), program).unwrap();
        for format in ["human", "json", "short"] {
            let (code, out) = mlpc_in(dir.path(), &["check", "main.mlp", "--format", format], &env);
            assert_eq!(code, 1, "{program}: {out}");
            assert!(out.contains("E0018"), "{program}: {out}");
            assert!(format != "human" || out.contains(why), "{program}: expected {why:?} in:\n{out}");
            assert!(!out.contains("s3cr3t-from-the-environment"), "{program} echoes the environment:\n{out}");
            assert_echoes_none(&out, secret, "secret.txt");
        }
    }
}

#[test]
fn check_reads_model_files_only_by_their_onnx_name_and_echoes_none() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "API_KEY=hunter2-do-not-print\nroot:x:0:0:private gecos:/root:/bin/bash\n";
    std::fs::write(dir.path().join("secret.txt"), secret).unwrap();
    std::fs::write(dir.path().join("fake.onnx"), secret).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("environ.onnx")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("link.onnx")).unwrap();
    let env = [("MLPC_HOSTILE_SECRET", "s3cr3t-from-the-environment")];
    // (model file, exit code of `mlpc check`, what it says): a name that is not `.onnx`,
    // wherever a link leads, is left for `mlpc run`; a `.onnx` file that is not ONNX is E0023.
    let cases = [
        ("secret.txt", 0, ""),
        ("environ.onnx", 0, ""),
        ("link.onnx", 0, ""),
        ("/proc/self/environ", 0, ""),
        ("fake.onnx", 1, "is not an ONNX model"),
    ];
    for (file, expected, says) in cases {
        let model = format!(
            "model churn_model = onnx(\"{file}\") {{\n  schema = churn_data\n  inputs = [total_purchases, monthly_spend, plan]\n}}"
        );
        let program = churn_with(dir.path(), &model);
        let (code, out) = mlpc_in(dir.path(), &["check", program.to_str().unwrap()], &env);
        assert_eq!(code, expected, "{file}: {out}");
        assert!(out.contains(says), "{file}: expected {says:?} in:\n{out}");
        assert!(!out.contains("s3cr3t-from-the-environment"), "{file} echoes the environment:\n{out}");
        assert_echoes_none(&out, secret, file);
    }
}

#[test]
fn a_csv_source_over_a_file_that_is_not_data_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let passwd =
        "root:x:0:0:root-private-gecos:/root:/bin/bash\ndaemon:x:1:1:daemon-private:/usr/sbin:/usr/sbin/nologin\n";
    std::fs::write(dir.path().join("passwd"), passwd).unwrap();
    // Rows whose field count changes half way: a parse error, not a schema mismatch.
    let ragged = "a,b\n1,2\n3,4\nprivate-field-one,private-field-two,private-field-three\n";
    std::fs::write(dir.path().join("ragged.csv"), ragged).unwrap();
    let mut files = vec![("passwd".to_string(), passwd.to_string()), ("ragged.csv".into(), ragged.into())];
    if let Ok(real) = std::fs::read_to_string("/etc/passwd") {
        files.push(("/etc/passwd".into(), real));
    }
    // A device is no data file either, and would be read (and hashed) without end.
    files.push(("/dev/zero".into(), String::new()));
    for (path, text) in &files {
        let program = format!(
            "source s = csv(\"{path}\") {{\n  user: string key\n}}\n\ncheck s {{\n  expect row_count() >= 1\n}}\n"
        );
        std::fs::write(dir.path().join("leak.mlp"), program).unwrap();
        let (code, out) = mlpc_in(dir.path(), &["run", "leak.mlp", "--state", "state"], &[]);
        assert_ne!(code, 0, "{path}: {out}");
        assert!(out.contains("source `s`"), "{path}: the error names the source:\n{out}");
        assert_echoes_none(&out, text, path);
    }
}

#[test]
fn a_command_sees_a_scrubbed_environment_plus_the_variables_it_names() {
    let onnx = prebuilt_onnx();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(onnx, dir.path().join("prebuilt.onnx")).unwrap();
    let file = churn_with(
        dir.path(),
        "model churn_model = command(\"env > seen.env && test -s {train} && cp prebuilt.onnx {model}\", env = [\"MLPC_HOSTILE_NAMED\"]) {\n  train  = churn_data.train\n  inputs = [total_purchases, monthly_spend, plan]\n}",
    );
    let env = [
        ("MLPC_ADMIN_TOKEN", "admin-token-must-not-leak"),
        ("MLPC_HOSTILE_UNNAMED", "unnamed-value"),
        ("MLPC_HOSTILE_NAMED", "named-value"),
    ];
    let (code, out) = mlpc_in(dir.path(), &["run", file.to_str().unwrap(), "--state", "state"], &env);
    assert_eq!(code, 0, "{out}");
    let seen = std::fs::read_to_string(dir.path().join("seen.env")).unwrap();
    assert!(!seen.contains("admin-token-must-not-leak"), "the admin token reached the command:\n{seen}");
    assert!(!seen.contains("MLPC_HOSTILE_UNNAMED"), "an unnamed variable reached the command:\n{seen}");
    assert!(seen.lines().any(|l| l == "MLPC_HOSTILE_NAMED=named-value"), "the named variable is missing:\n{seen}");
    assert!(seen.lines().any(|l| l.starts_with("PATH=")), "PATH is kept:\n{seen}");

    // Naming the admin token is refused by the compiler.
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replace("MLPC_HOSTILE_NAMED", "MLPC_ADMIN_TOKEN"))
        .unwrap();
    let (code, out) = mlpc_in(dir.path(), &["check", "churn.mlp"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("E0019") && out.contains("MLPC_ADMIN_TOKEN"), "{out}");
}

#[test]
fn a_command_model_runs_when_the_program_is_given_by_a_bare_file_name() {
    let onnx = prebuilt_onnx();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(onnx, dir.path().join("prebuilt.onnx")).unwrap();
    churn_with(
        dir.path(),
        "model churn_model = command(\"test -s {train} && cp prebuilt.onnx {model}\") {\n  train  = churn_data.train\n  inputs = [total_purchases, monthly_spend, plan]\n}",
    );
    let (code, out) = mlpc_in(dir.path(), &["run", "churn.mlp"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("trained by `test`"), "{out}");
    assert!(dir.path().join(".mlp/state.duckdb").exists(), "the state folder is beside the program");
}

#[test]
fn a_tampered_artifact_is_a_cache_miss_that_says_why_and_the_rerun_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    churn_with(dir.path(), SMALL_MODEL);
    let d = dir.path();
    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    let features = artifact(d, "state", "1", "features:customer_features", "data");
    let split = artifact(d, "state", "1", "split:churn_data.train", "data");
    for path in [&features, &split] {
        let mut bytes = std::fs::read(path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    }
    let (code, out) = mlpc_in(d, &["plan", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    for node in ["features:customer_features", "split:churn_data.train"] {
        let line = out.lines().find(|l| l.contains(node)).unwrap_or_default();
        assert!(line.contains("would run") && line.contains("changed on disk"), "plan --state: {line:?}\n{out}");
    }
    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    for node in ["features:customer_features", "split:churn_data.train"] {
        let line = out.lines().find(|l| l.contains(node) && !l.contains("started")).unwrap_or_default();
        assert!(line.trim_start().starts_with("ran"), "{node} reran:\n{out}");
        assert!(line.contains("changed on disk"), "{node} says why it reran: {line:?}\n{out}");
    }
    for node in ["source:customers", "dataset:churn_data", "model:churn_model"] {
        let line = out.lines().find(|l| l.contains(node) && l.contains("cached")).unwrap_or_default();
        assert!(!line.is_empty(), "{node} stays cached:\n{out}");
    }
    for path in [&features, &split] {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(sha256(path), name, "{} is restored", path.display());
    }
    // Restored, the artifacts are cache hits again.
    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 ran, 10 cached"), "{out}");
}

/// Runs `file` in `dir` into two fresh state folders and asserts every artifact is byte-identical.
fn assert_reproducible(dir: &Path, file: &str) {
    let mut sets = Vec::new();
    for state in ["state-a", "state-b"] {
        let (code, out) = mlpc_in(dir, &["run", file, "--state", state], &[]);
        assert_eq!(code, 0, "{out}");
        let shas: Vec<String> = find_artifacts(&dir.join(state))
            .iter()
            .map(|p| {
                let sha = sha256(p);
                assert_eq!(p.file_stem().unwrap().to_string_lossy(), sha, "named by its content");
                sha
            })
            .collect();
        sets.push(shas);
    }
    assert!(!sets[0].is_empty());
    assert_eq!(sets[0], sets[1], "two runs of {file} on the same inputs stored different artifacts");
}

#[test]
fn the_same_inputs_give_byte_identical_artifacts() {
    // The churn example as it is, and at 200k customers (with a quicker model), where DuckDB
    // reads, aggregates and writes on several threads.
    let dir = tempfile::tempdir().unwrap();
    super::common::copy_churn_data(dir.path());
    std::fs::copy(CHURN, dir.path().join("churn.mlp")).unwrap();
    assert_reproducible(dir.path(), "churn.mlp");

    let big = tempfile::tempdir().unwrap();
    let data = big.path().join("data");
    let (code, out) =
        mlpc_in(big.path(), &["example-data", "churn", "--customers", "200000", "--out", data.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}");
    churn_with(big.path(), SMALL_MODEL);
    assert_reproducible(big.path(), "churn.mlp");
}

#[test]
fn a_parquet_glob_reads_every_match_and_a_new_match_reruns_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = churn_with(d, SMALL_MODEL);
    let parts = d.join("data/orders");
    std::fs::create_dir_all(&parts).unwrap();
    std::fs::copy(d.join("data/orders.parquet"), parts.join("2024-01.parquet")).unwrap();
    std::fs::copy(d.join("data/orders.parquet"), parts.join("2024-02.parquet")).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("parquet(\"data/orders.parquet\")", "parquet(\"data/orders/*.parquet\")"))
        .unwrap();

    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("19288 rows from data/orders/*.parquet (2 files)"), "{out}");

    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 ran, 10 cached"), "an unchanged set of files is a cache hit: {out}");

    std::fs::copy(d.join("data/orders.parquet"), parts.join("2024-03.parquet")).unwrap();
    let (code, out) = mlpc_in(d, &["plan", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    let line = out.lines().find(|l| l.contains("source:orders")).unwrap_or_default();
    assert!(line.contains("would run") && line.contains("its data file changed"), "{out}");
    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("28932 rows from data/orders/*.parquet (3 files)"), "a new file reruns the source: {out}");

    // A pattern that matches nothing says so, naming it.
    std::fs::write(&file, text.replace("parquet(\"data/orders.parquet\")", "parquet(\"data/none/*.parquet\")"))
        .unwrap();
    let (code, out) = mlpc_in(d, &["run", "churn.mlp", "--state", "state"], &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("no file matches `data/none/*.parquet`"), "{out}");
}
