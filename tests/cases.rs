//! File-driven cases: every `cases/err/*.mlp` yields exactly the codes its first line
//! lists, with its diagnostics snapshotted (human and JSON); every `cases/ok/*.mlp` and
//! every example checks clean, with its plan snapshotted.

mod common;

use common::*;
use mlpc::CheckFormat;

#[test]
fn err_cases_yield_exactly_their_codes() {
    let files = mlp_files("tests/cases/err");
    assert!(files.len() >= 22, "expected at least one err case per code, found {}", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let c = compile_file(f);
        let (want, got) = (expected_codes(&text), codes(&c));
        if want != got {
            failures.push(format!("{f}: expected {want:?}, got {got:?}\n{}", rendered(&c, CheckFormat::Short)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn err_case_snapshots() {
    insta::glob!("cases/err/*.mlp", |path| {
        let c = compile_file(&repo_relative(path));
        let human = rendered(&c, CheckFormat::Human);
        let json: serde_json::Value = serde_json::from_str(&rendered(&c, CheckFormat::Json)).unwrap();
        insta::assert_snapshot!("human", human);
        insta::assert_json_snapshot!("json", json);
    });
}

#[test]
fn ok_cases_and_examples_check_clean() {
    let mut files = mlp_files("tests/cases/ok");
    files.extend(mlp_files("examples"));
    assert!(!files.is_empty());
    for f in mlpc::commands::roots(&files) {
        let c = compile_file(&f);
        assert!(c.diagnostics.is_empty(), "{f}:\n{}", rendered(&c, CheckFormat::Short));
    }
}

#[test]
fn ok_case_plans() {
    insta::glob!("cases/ok/*.mlp", |path| {
        let c = compile_file(&repo_relative(path));
        insta::assert_snapshot!(c.plan.expect("ok cases compile").to_text());
    });
}

/// A glob's absolute path as the repository-relative path diagnostics show.
fn repo_relative(path: &std::path::Path) -> String {
    let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("cases live in the repository");
    rel.to_string_lossy().trim_start_matches('/').to_string()
}
