//! Every drift statistic and default test against scipy and Evidently (fixtures/drift_reference.py), to 1e-9.

mod common;

use mlpc_frame::{Column, Frame, InputType, Values};
use mlpc_monitor::{drift_report, Outcome, Test};
use serde_json::Value;

fn frame(ty: &str, values: &[Value]) -> Frame {
    let (ty, values) = match ty {
        "category" => {
            (InputType::Category, Values::Category(values.iter().map(|v| v.as_str().map(str::to_string)).collect()))
        }
        _ => (
            match ty {
                "int" => InputType::Int,
                "bool" => InputType::Bool,
                _ => InputType::Float,
            },
            Values::Number(values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect()),
        ),
    };
    Frame { columns: vec![Column { name: "x".into(), ty, values }] }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

#[test]
fn statistics_match_scipy_and_evidently() {
    let doc: Value = serde_json::from_str(include_str!("fixtures/drift_reference.json")).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let ty = case["type"].as_str().unwrap();
        let reference = frame(ty, case["reference"].as_array().unwrap());
        let current = frame(ty, case["current"].as_array().unwrap());
        let expected = &case["expected"];
        let columns = ["x".to_string()];

        let report = drift_report(&reference, &current, &columns, &[], &common::evidently()).unwrap();
        let col = &report.columns[0];
        assert_eq!(col.test.name(), expected["default"].as_str().unwrap(), "{name}: default test");
        let Outcome::Tested { drifted, .. } = col.outcome else { panic!("{name}: not tested") };
        assert_eq!(drifted, expected["drifted"].as_bool().unwrap(), "{name}: verdict");

        for (test_name, want) in expected["statistics"].as_object().unwrap() {
            let test = Test::from_name(test_name).unwrap();
            let report =
                drift_report(&reference, &current, &columns, &[("x".into(), test)], &common::evidently()).unwrap();
            let Outcome::Tested { statistic, score, .. } = report.columns[0].outcome else { panic!("{name}") };
            let (want_score, want_stat) = match want {
                Value::Object(o) => (o["p_value"].as_f64().unwrap(), o.get("statistic").map(|s| s.as_f64())),
                v => (v.as_f64().unwrap(), None),
            };
            assert!(close(score, want_score), "{name} {test_name}: {score} vs scipy {want_score}");
            match want_stat {
                Some(Some(s)) => assert!(close(statistic, s), "{name} {test_name} statistic: {statistic} vs {s}"),
                Some(None) => assert!(statistic.is_infinite(), "{name} {test_name} statistic: {statistic} vs inf"),
                None => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 90, "only {checked} statistics checked");
}
