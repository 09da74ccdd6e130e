//! `--format sarif` validates against the SARIF 2.1.0 schema.

mod common;

use common::*;
use mlpc::CheckFormat;

/// The OASIS SARIF 2.1.0 schema, kept in the repository so the test runs on a clean clone.
fn schema() -> serde_json::Value {
    serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).expect("the SARIF schema is JSON")
}

#[test]
fn sarif_output_is_valid_for_every_err_case() {
    let validator = jsonschema::draft7::new(&schema()).expect("schema compiles");
    let files = mlp_files("tests/cases");
    let mut results = 0;
    for f in files.iter().chain(["examples/churn/churn.mlp".to_string()].iter()) {
        let c = compile_file(f);
        let sarif: serde_json::Value = serde_json::from_str(&rendered(&c, CheckFormat::Sarif)).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{f}: {errors:#?}");
        results += sarif["runs"][0]["results"].as_array().unwrap().len();
        let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let mut reported: Vec<&str> =
            sarif["runs"][0]["results"].as_array().unwrap().iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
        reported.sort_unstable();
        reported.dedup();
        assert_eq!(rules.len(), reported.len(), "{f}: one rule per code reported");
        for r in sarif["runs"][0]["results"].as_array().unwrap() {
            let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], r["ruleId"], "{f}: ruleIndex points at the result's rule");
            let code = mlpc_compiler::Code::ALL.iter().find(|c| c.as_str() == rule["id"]).unwrap();
            assert_eq!(rule["help"]["markdown"], code.page(), "{f}: the rule's help is its page");
        }
    }
    assert!(results > 0, "the err cases produced SARIF results");
}

#[test]
fn the_schema_rejects_a_broken_log() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let broken = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]});
    assert!(!validator.is_valid(&broken), "a driver without a name must fail");
}

/// Locations are relative to the repository's root, whichever folder `mlpc` runs in: SARIF
/// through `%SRCROOT%` (whose absolute URI is given once), GitHub annotations by path.
#[test]
fn locations_are_relative_to_the_repository_root() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let dir = repo.path().join("ml pipelines/churn");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.mlp"), "source s = csv(\"s.csv\") {\n  x: nope\n}\n").unwrap();
    let check = |cwd: &std::path::Path, file: &str, format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(["check", file, "--format", format])
            .current_dir(cwd)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    for (cwd, file) in [(dir.clone(), "p.mlp"), (repo.path().to_path_buf(), "ml pipelines/churn/p.mlp")] {
        let sarif: serde_json::Value = serde_json::from_str(&check(&cwd, file, "sarif")).unwrap();
        let run = &sarif["runs"][0];
        let at = &run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(at["uri"], "ml%20pipelines/churn/p.mlp", "{at}");
        assert_eq!(at["uriBaseId"], "%SRCROOT%");
        let root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().unwrap();
        assert!(root.starts_with("file:///") && root.ends_with('/'), "{root}");
        let validator = jsonschema::draft7::new(&schema()).unwrap();
        assert!(validator.is_valid(&sarif));
        let github = check(&cwd, file, "github");
        assert!(github.starts_with("::error file=ml pipelines/churn/p.mlp,line=2,"), "{github}");
    }
}
