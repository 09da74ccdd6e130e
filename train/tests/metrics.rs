//! Metrics agree with scikit-learn (`fixtures/metrics.json`, written by
//! `fixtures/metrics_sklearn.py`) within 1e-9; edge cases are errors, not NaN or panics;
//! k-fold splits are disjoint, covering, stratified and seeded.

use std::collections::BTreeSet;

use mlpc_train::cv::{self, cross_validate_with};
use mlpc_train::metrics::{by_slice, compute, CLASSIFICATION, REGRESSION};
use mlpc_train::{Column, Frame, InputType, Params, Predictions, Target, Values};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/metrics.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the fixture exists")).expect("the fixture is JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().expect("a number")).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("an array").iter().map(|x| x.as_str().expect("a string").to_string()).collect()
}

/// A case's truth and predictions, as the model and the label column would give them.
fn case(c: &Value) -> (Target, Predictions) {
    let scores: Vec<f32> = floats(&c["scores"]).into_iter().map(|x| x as f32).collect();
    if c.get("classes").is_some() {
        let classes = strings(&c["classes"]);
        let y = floats(&c["y"]).into_iter().map(|x| x as u32).collect();
        let pred = Predictions { labels: strings(&c["labels"]), scores, width: classes.len() };
        (Target::Classes { classes, y }, pred)
    } else {
        (Target::Values(floats(&c["y"])), Predictions { labels: Vec::new(), scores, width: 1 })
    }
}

fn assert_expected(what: &str, metric: &str, ours: &Result<f64, String>, expected: &Value) {
    match (ours, expected.as_f64()) {
        (Ok(v), Some(e)) => assert!((v - e).abs() <= TOL, "{what} {metric}: ours {v}, scikit-learn {e}"),
        (Err(_), None) => {}
        (ours, e) => panic!("{what} {metric}: ours {ours:?}, scikit-learn {e:?}"),
    }
}

#[test]
fn every_metric_matches_scikit_learn() {
    let f = fixture();
    let mut checked = 0;
    for c in f["cases"].as_array().expect("cases") {
        let name = c["name"].as_str().expect("a name");
        let (truth, pred) = case(c);
        for (metric, expected) in c["expected"].as_object().expect("expected values") {
            assert_expected(name, metric, &compute(metric, &truth, &pred), expected);
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * CLASSIFICATION.len() + 3 * REGRESSION.len());
}

#[test]
fn slices_match_scikit_learn_and_keep_undefined_metrics_to_their_slice() {
    let f = fixture();
    let s = &f["slices"];
    let c = f["cases"].as_array().expect("cases").iter().find(|c| c["name"] == s["case"]);
    let (truth, pred) = case(c.expect("the sliced case"));
    let slice: Vec<Option<String>> =
        s["slice"].as_array().expect("slice values").iter().map(|v| v.as_str().map(String::from)).collect();
    let names: Vec<String> = CLASSIFICATION.iter().map(|m| m.to_string()).collect();
    let ours = by_slice(&names, &truth, &pred, &slice).expect("inputs line up");
    let expected = s["expected"].as_array().expect("expected slices");
    assert_eq!(ours.len(), expected.len());
    for (o, e) in ours.iter().zip(expected) {
        assert_eq!(o.slice.as_deref(), e["slice"].as_str());
        assert_eq!(o.rows as u64, e["rows"].as_u64().expect("a row count"));
        let what = format!("slice {:?}", o.slice);
        for (metric, value) in &o.metrics {
            assert_expected(&what, metric, value, &e["expected"][metric]);
        }
    }
    let one_class = ours.iter().find(|o| o.slice.as_deref() == Some("one_class")).expect("the one-class slice");
    let auc = &one_class.metrics.iter().find(|(m, _)| m == "auc").expect("auc").1;
    assert!(auc.as_ref().is_err_and(|e| e.contains("`true` is absent")), "{auc:?}");
    assert!(by_slice(&names, &truth, &pred, &slice[1..]).is_err(), "a slice column of another length");
}

fn binary(y: &[u32], p1: &[f32]) -> (Target, Predictions) {
    let classes = vec!["false".to_string(), "true".to_string()];
    let labels = p1.iter().map(|&p| classes[usize::from(p > 0.5)].clone()).collect();
    let scores = p1.iter().flat_map(|&p| [1.0 - p, p]).collect();
    (Target::Classes { classes, y: y.to_vec() }, Predictions { labels, scores, width: 2 })
}

fn all(truth: &Target, pred: &Predictions) -> Vec<Result<f64, String>> {
    let names = if matches!(truth, Target::Classes { .. }) { CLASSIFICATION } else { REGRESSION };
    names.iter().map(|m| compute(m, truth, pred)).collect()
}

#[test]
fn perfect_and_inverted_predictions() {
    let y = [0, 1, 1, 0, 1];
    let (truth, pred) = binary(&y, &[0.0, 1.0, 1.0, 0.0, 1.0]);
    let perfect: Vec<f64> = all(&truth, &pred).into_iter().map(|v| v.expect("defined")).collect();
    // log_loss of certain, right predictions: −ln(1 − ε) with ε = f32::EPSILON.
    assert_eq!(perfect[..5], [1.0; 5]);
    assert!((perfect[5] - -(1.0 - f64::from(f32::EPSILON)).ln()).abs() < 1e-15);

    let (truth, pred) = binary(&y, &[1.0, 0.0, 0.0, 1.0, 0.0]);
    let inverted: Vec<f64> = all(&truth, &pred).into_iter().map(|v| v.expect("defined")).collect();
    assert_eq!(inverted[..5], [0.0; 5]);
    assert!((inverted[5] - -f64::from(f32::EPSILON).ln()).abs() < 1e-12);

    let v = Target::Values(vec![1.0, 2.0, 4.0]);
    let pred = Predictions { labels: Vec::new(), scores: vec![1.0, 2.0, 4.0], width: 1 };
    assert_eq!(all(&v, &pred), [Ok(0.0), Ok(0.0), Ok(1.0)]);
}

#[test]
fn one_class_truth() {
    let (truth, pred) = binary(&[1, 1, 1], &[0.9, 0.2, 0.7]);
    assert_eq!(compute("recall", &truth, &pred), Ok(2.0 / 3.0));
    assert_eq!(compute("precision", &truth, &pred), Ok(1.0));
    let auc = compute("auc", &truth, &pred).expect_err("ROC AUC needs both classes");
    assert!(auc.contains("`false` is absent"), "{auc}");
    // No positive row and none predicted: recall, precision and f1 are 0, not NaN.
    let (truth, pred) = binary(&[0, 0], &[0.1, 0.2]);
    for m in ["precision", "recall", "f1"] {
        assert_eq!(compute(m, &truth, &pred), Ok(0.0), "{m}");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let (truth, pred) = binary(&[], &[]);
    for (m, v) in CLASSIFICATION.iter().zip(all(&truth, &pred)) {
        assert!(v.is_err_and(|e| e.contains("no rows")), "{m} of no rows");
    }
    let (truth, pred) = binary(&[0, 1], &[0.3, f32::NAN]);
    assert!(compute("auc", &truth, &pred).is_err_and(|e| e.contains("row 2 is NaN")));
    assert!(compute("log_loss", &truth, &pred).is_err_and(|e| e.contains("row 2 is NaN")));
    let (truth, pred) = binary(&[0, 1], &[0.3, 1.5]);
    assert!(compute("log_loss", &truth, &pred).is_err_and(|e| e.contains("not in [0, 1]")));
    let (truth, mut pred) = binary(&[0, 1], &[0.3, 0.6]);
    pred.labels[0] = "maybe".into();
    assert!(compute("accuracy", &truth, &pred).is_err_and(|e| e.contains("`maybe` is not a class")));
    pred.scores.pop();
    assert!(compute("auc", &truth, &pred).is_err_and(|e| e.contains("do not fit")));

    assert!(compute("rmse", &truth, &pred).is_err_and(|e| e.contains("does not apply to classification")));
    let values = Target::Values(vec![1.0]);
    let one = Predictions { labels: Vec::new(), scores: vec![f32::NAN], width: 1 };
    assert!(compute("auc", &values, &one).is_err_and(|e| e.contains("does not apply to regression")));
    assert!(compute("rmse", &values, &one).is_err_and(|e| e.contains("is NaN")));
    assert!(compute("r2", &values, &Predictions { scores: vec![1.0], ..one }).is_err_and(|e| e.contains("two rows")));
    assert!(compute("mse", &values, &binary(&[], &[]).1).is_err_and(|e| e.contains("no metric `mse`")));
}

#[test]
fn tied_scores_count_half() {
    // One positive and one negative at the same score: the pair ranks neither way.
    let (truth, pred) = binary(&[0, 1, 0, 1], &[0.5, 0.5, 0.1, 0.9]);
    assert_eq!(compute("auc", &truth, &pred), Ok((1.0 + 1.0 + 1.0 + 0.5) / 4.0));
    // -0.0 and 0.0 tie too.
    let classes = vec!["false".to_string(), "true".to_string()];
    let truth = Target::Classes { classes: classes.clone(), y: vec![0, 1] };
    let pred = Predictions { labels: vec![classes[0].clone(); 2], scores: vec![0.0, 0.0, 0.0, -0.0], width: 2 };
    assert_eq!(compute("auc", &truth, &pred), Ok(0.5));
}

fn ids(n: usize) -> Frame {
    Frame {
        columns: vec![Column {
            name: "id".into(),
            ty: InputType::Float,
            values: Values::Number((0..n).map(|i| i as f64).collect()),
        }],
    }
}

fn id_list(f: &Frame) -> Vec<usize> {
    match &f.columns[0].values {
        Values::Number(v) => v.iter().map(|&x| x as usize).collect(),
        Values::Category(_) => unreachable!("ids are numbers"),
    }
}

/// The held-out ids of each fold, checking that each fold trains on exactly the other rows.
fn held_out(n: usize, k: usize, seed: u64, classes: Option<&[u32]>) -> Vec<Vec<usize>> {
    let scores = cross_validate_with(&ids(n), k, seed, classes, |train, held| {
        let (train, held) = (id_list(train), id_list(held));
        let mut both: Vec<usize> = train.iter().chain(&held).copied().collect();
        both.sort_unstable();
        assert_eq!(both, (0..n).collect::<Vec<_>>(), "a fold's training and held-out rows partition the data");
        Ok(held.iter().map(|&i| i as f64).collect())
    })
    .expect("folds");
    scores.into_iter().map(|f| f.into_iter().map(|x| x as usize).collect()).collect()
}

#[test]
fn folds_are_disjoint_covering_and_balanced() {
    for (n, k) in [(10, 2), (103, 5), (7, 7), (1000, 10)] {
        let folds = held_out(n, k, 7, None);
        assert_eq!(folds.len(), k);
        let all: BTreeSet<usize> = folds.iter().flatten().copied().collect();
        assert_eq!(all.len(), n, "disjoint");
        assert_eq!(all, (0..n).collect(), "covering");
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
    }
    let folds = held_out(1000, 10, 7, None);
    assert_ne!(folds[0], (0..100).collect::<Vec<_>>(), "shuffled");
}

#[test]
fn stratified_folds_keep_class_proportions() {
    // 90 / 30 / 6 rows of three classes, interleaved.
    let classes: Vec<u32> = (0..126)
        .map(|i| {
            if i % 21 == 0 {
                2
            } else if i % 4 == 0 {
                1
            } else {
                0
            }
        })
        .collect();
    let total: Vec<usize> = (0..3).map(|c| classes.iter().filter(|&&x| x == c).count()).collect();
    let k = 3;
    for seed in 0..5 {
        for fold in held_out(classes.len(), k, seed, Some(&classes)) {
            for (c, total) in total.iter().enumerate() {
                let count = fold.iter().filter(|&&i| classes[i] == c as u32).count();
                assert!(count.abs_diff(total / k) <= 1, "class {c}: {count} of {total} in a fold");
            }
        }
    }
}

#[test]
fn folds_are_seeded() {
    let classes: Vec<u32> = (0..50).map(|i| i % 3).collect();
    assert_eq!(held_out(50, 4, 42, Some(&classes)), held_out(50, 4, 42, Some(&classes)));
    assert_eq!(held_out(50, 4, 42, None), held_out(50, 4, 42, None));
    assert_ne!(held_out(50, 4, 42, None), held_out(50, 4, 43, None));
}

#[test]
fn fold_counts_and_errors() {
    let frame = ids(5);
    let ok = |_: &Frame, _: &Frame| Ok(vec![]);
    for k in [0, 1, 6] {
        assert!(cross_validate_with(&frame, k, 0, None, ok).is_err(), "k = {k}");
    }
    assert!(cross_validate_with(&frame, 2, 0, Some(&[0, 1]), ok).is_err_and(|e| e.contains("stratify")));
    let fail = |_: &Frame, held: &Frame| if held.rows() == 2 { Err("boom".to_string()) } else { Ok(vec![]) };
    assert_eq!(cross_validate_with(&frame, 2, 0, None, fail), Err("fold 2 of 2: boom".into()));
    assert_eq!(cv::folds(5, 2, 0, None).map(|f| f.concat().len()), Ok(5));
}

#[test]
fn cross_validate_checks_before_training() {
    let mut frame = ids(6);
    frame.columns.push(Column { name: "y".into(), ty: InputType::Bool, values: Values::Number([0.0, 1.0].repeat(3)) });
    let params = Params::default();
    let inputs = ["id".to_string()];
    let spec = mlpc_train::Spec {
        algorithm: "no_such_algorithm",
        params: &params,
        inputs: &inputs,
        label: "y",
        device: mlpc_train::Device::Cpu,
    };
    let run = |k, metrics: &[&str]| {
        let metrics: Vec<String> = metrics.iter().map(|m| m.to_string()).collect();
        cv::cross_validate(&spec, &frame, k, &metrics, 0)
    };
    assert!(run(3, &["rmse"]).is_err_and(|e| e.contains("does not apply to classification")));
    assert!(run(3, &[]).is_err_and(|e| e.contains("no metrics")));
    assert!(run(1, &["auc"]).is_err_and(|e| e.contains("k ≥ 2")));
    assert_eq!(run(3, &["auc"]), Err("fold 1 of 3: no built-in algorithm `no_such_algorithm`".into()));
}
