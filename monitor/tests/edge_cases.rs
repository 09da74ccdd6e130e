//! Inputs at the edges: empty windows, constant and all-null columns, new categories, bad requests.

mod common;

use mlpc_frame::{Column, Frame, InputType, Values};
use mlpc_monitor::{drift_report, DriftError, Outcome, Test, MIN_ROWS};

fn numbers(name: &str, ty: InputType, v: Vec<f64>) -> Column {
    Column { name: name.into(), ty, values: Values::Number(v) }
}

fn labels(name: &str, v: &[Option<&str>]) -> Column {
    Column {
        name: name.into(),
        ty: InputType::Category,
        values: Values::Category(v.iter().map(|x| x.map(str::to_string)).collect()),
    }
}

fn spread(n: usize, shift: f64) -> Vec<f64> {
    (0..n).map(|i| (i % 97) as f64 / 7.0 + shift).collect()
}

#[test]
fn empty_current_window_gives_no_verdict() {
    let reference = Frame { columns: vec![numbers("x", InputType::Float, spread(500, 0.0))] };
    let current = Frame { columns: vec![numbers("x", InputType::Float, vec![])] };
    let report = drift_report(&reference, &current, &[], &[], &common::evidently()).unwrap();
    assert_eq!(report.columns[0].outcome, Outcome::NotEnoughData { min_rows: MIN_ROWS });
    assert_eq!((report.drift_share, report.dataset_drift), (None, false));
}

#[test]
fn too_few_current_rows_are_not_drift() {
    let reference = Frame { columns: vec![numbers("x", InputType::Float, spread(500, 0.0))] };
    let current = Frame { columns: vec![numbers("x", InputType::Float, spread(MIN_ROWS - 1, 100.0))] };
    let report = drift_report(&reference, &current, &[], &[], &common::evidently()).unwrap();
    assert!(matches!(report.columns[0].outcome, Outcome::NotEnoughData { .. }));
    assert!(!report.dataset_drift);
}

#[test]
fn all_null_column_gives_no_verdict() {
    let reference = Frame { columns: vec![numbers("x", InputType::Float, vec![f64::NAN; 100])] };
    let current = Frame { columns: vec![numbers("x", InputType::Float, spread(100, 0.0))] };
    let report = drift_report(&reference, &current, &[], &[], &common::evidently()).unwrap();
    assert_eq!(report.columns[0].n_reference, 0);
    assert!(matches!(report.columns[0].outcome, Outcome::NotEnoughData { .. }));
}

#[test]
fn constant_column_is_stable_and_its_change_is_drift() {
    let same = Frame { columns: vec![numbers("x", InputType::Float, vec![3.0; 200])] };
    let report = drift_report(&same, &same, &[], &[], &common::evidently()).unwrap();
    assert_eq!(report.columns[0].test, Test::ZTest);
    assert!(matches!(report.columns[0].outcome, Outcome::Tested { score: 1.0, drifted: false, .. }));
    for test in Test::ALL {
        let report = drift_report(&same, &same, &[], &[("x".into(), test)], &common::evidently()).unwrap();
        let Outcome::Tested { score, drifted, .. } = report.columns[0].outcome else { panic!() };
        assert!(!drifted && score.is_finite(), "{test:?} on a constant column: {score}");
    }
    let moved = Frame { columns: vec![numbers("x", InputType::Float, vec![4.0; 200])] };
    let report = drift_report(&same, &moved, &[], &[("x".into(), Test::Wasserstein)], &common::evidently()).unwrap();
    // std 0 is floored at 0.001: a shift of 1 is 1000 reference deviations.
    assert!(
        matches!(report.columns[0].outcome, Outcome::Tested { score, drifted: true, .. } if (score - 1000.0).abs() < 1e-9)
    );
}

#[test]
fn new_category_in_current_is_drift() {
    let old: Vec<Option<&str>> = (0..300).map(|i| Some(["a", "b", "c"][i % 3])).collect();
    let mut new = old.clone();
    new.extend((0..60).map(|_| Some("d")));
    new.push(None);
    let reference = Frame { columns: vec![labels("plan", &old)] };
    let current = Frame { columns: vec![labels("plan", &new)] };
    let report = drift_report(&reference, &current, &[], &[], &common::evidently()).unwrap();
    let col = &report.columns[0];
    assert_eq!((col.test, col.n_unique, col.n_current), (Test::ChiSquare, 4, 360));
    assert!(matches!(col.outcome, Outcome::Tested { score: 0.0, drifted: true, .. }));
    let psi = drift_report(&reference, &current, &[], &[("plan".into(), Test::Psi)], &common::evidently()).unwrap();
    assert!(matches!(psi.columns[0].outcome, Outcome::Tested { score, .. } if score.is_finite() && score > 0.1));
}

#[test]
fn share_counts_only_tested_columns() {
    let reference = Frame {
        columns: vec![
            numbers("a", InputType::Float, spread(400, 0.0)),
            numbers("b", InputType::Float, spread(400, 0.0)),
            numbers("c", InputType::Float, spread(400, 0.0)),
        ],
    };
    let current = Frame {
        columns: vec![
            numbers("a", InputType::Float, spread(400, 5.0)),
            numbers("b", InputType::Float, spread(400, 0.0)),
            numbers("c", InputType::Float, spread(10, 0.0)),
        ],
    };
    let report = drift_report(&reference, &current, &[], &[], &common::evidently()).unwrap();
    assert_eq!((report.tested(), report.drifted()), (2, 1));
    assert_eq!((report.drift_share, report.dataset_drift), (Some(0.5), true));
}

#[test]
fn bad_requests_are_errors() {
    let reference = Frame { columns: vec![labels("plan", &[Some("a")]), numbers("x", InputType::Float, vec![1.0])] };
    let current = Frame { columns: vec![numbers("plan", InputType::Float, vec![1.0])] };
    let err = |cols: &[&str], o: &[(String, Test)]| {
        let cols: Vec<String> = cols.iter().map(|s| s.to_string()).collect();
        drift_report(&reference, &current, &cols, o, &common::evidently()).unwrap_err()
    };
    assert_eq!(err(&["x"], &[]), DriftError::MissingColumn { column: "x".into(), sample: "current" });
    let differ = err(&["plan"], &[]).to_string();
    assert!(differ.contains("category in the reference data but a float"), "{differ}");
    assert_eq!(err(&["plan"], &[("x".into(), Test::Psi)]), DriftError::NotTested("x".into()));
    let same = Frame { columns: vec![labels("plan", &[Some("a")])] };
    let ks = drift_report(&same, &same, &[], &[("plan".into(), Test::Ks)], &common::evidently()).unwrap_err();
    assert!(ks.to_string().contains("`ks` needs numbers"), "{ks}");
}
