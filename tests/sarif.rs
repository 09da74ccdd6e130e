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
        assert_eq!(
            sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len(),
            mlpc_compiler::Code::ALL.len()
        );
    }
    assert!(results > 0, "the err cases produced SARIF results");
}

#[test]
fn the_schema_rejects_a_broken_log() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let broken = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]});
    assert!(!validator.is_valid(&broken), "a driver without a name must fail");
}
