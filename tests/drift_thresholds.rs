//! `stdlib/drift.mlp` is where drift thresholds live; what it declares is Evidently's
//! defaults (the monitor's reference tests compare with Evidently at these), in the
//! direction each test's score drifts, for every test the monitor computes.

use mlpc_compiler::ast::StdKind;
use mlpc_compiler::stdlib::Stdlib;
use mlpc_monitor::{Test, Thresholds};

#[test]
fn the_stdlib_declares_evidently_thresholds_for_every_test_the_monitor_computes() {
    let declared: Vec<(&str, f64, bool)> = Stdlib::get()
        .entries()
        .filter(|e| e.kind == StdKind::DriftTest)
        .map(|e| (e.name.as_str(), e.threshold.expect("every drift test declares a threshold"), e.drift_when_below))
        .collect();
    let thresholds = Thresholds::declared(declared).expect("names and directions agree with the monitor");
    for test in Test::ALL {
        let evidently = if test.is_p_value() { 0.05 } else { 0.1 };
        assert_eq!(thresholds.of(test), Ok(evidently), "{}", test.name());
    }
}
