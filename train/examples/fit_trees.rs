//! Times the tree trainers on a binary task and prints the held-out AUC, to compare with
//! scikit-learn on the same rows:
//!
//! `cargo run --release -p mlpc-train --example fit_trees -- DIR ALGORITHM TREES [DEPTH]`
//!
//! `DIR` holds `train_x.bin`, `train_y.bin`, `test_x.bin`, `test_y.bin`: little-endian f32,
//! features row-major with 15 columns, labels 0 or 1 (numpy's `tofile`; see `train/TREES.md`).

use mlpc_train::{train, Column, Device, Frame, InputType, Params, Spec, Values};
use std::time::Instant;

const COLUMNS: usize = 15;

fn read(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn frame(dir: &str, part: &str) -> Frame {
    let x = read(&format!("{dir}/{part}_x.bin"));
    let y = read(&format!("{dir}/{part}_y.bin"));
    let mut columns: Vec<Column> = (0..COLUMNS)
        .map(|j| Column {
            name: format!("x{j}"),
            ty: InputType::Float,
            values: Values::Number(x.iter().skip(j).step_by(COLUMNS).map(|&v| v as f64).collect()),
        })
        .collect();
    columns.push(Column {
        name: "y".into(),
        ty: InputType::Bool,
        values: Values::Number(y.iter().map(|&v| v as f64).collect()),
    });
    Frame { columns }
}

/// Area under the ROC curve (ties count half).
fn auc(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        rank_sum += order[i..j].iter().filter(|&&k| positive[k]).count() as f64 * (i + j + 1) as f64 / 2.0;
        i = j;
    }
    let pos = positive.iter().filter(|&&p| p).count() as f64;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * (positive.len() as f64 - pos))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, algorithm, trees, rest @ ..] = args.as_slice() else {
        panic!("usage: fit_trees DIR gradient_boosting|random_forest TREES [DEPTH]");
    };
    let trees: u64 = trees.parse().expect("TREES is a number");
    let depth: Option<u64> = rest.first().map(|d| d.parse().expect("DEPTH is a number"));
    let params = match algorithm.as_str() {
        "gradient_boosting" => serde_json::json!({
            "trees": trees, "depth": depth.unwrap_or(6), "learning_rate": 0.1, "max_bins": 255,
            "min_leaf": 20, "l2": 0.0, "seed": 42
        }),
        _ => serde_json::json!({
            "trees": trees, "depth": depth.unwrap_or(0), "min_leaf": 1, "max_features": 0.5, "seed": 42
        }),
    };
    let params = Params(serde_json::from_value(params).expect("an object"));
    let (train_rows, test) = (frame(dir, "train"), frame(dir, "test"));
    let inputs: Vec<String> = (0..COLUMNS).map(|j| format!("x{j}")).collect();
    let spec = Spec { algorithm, params: &params, inputs: &inputs, label: "y", device: Device::Cpu };
    let start = Instant::now();
    let model = train(&spec, &train_rows).unwrap_or_else(|e| panic!("{e}"));
    let fit = start.elapsed().as_secs_f64();
    let p = model.predict(&test).expect("predicts");
    let Values::Number(y) = &test.column("y").expect("a label").values else { unreachable!() };
    let scores: Vec<f32> = (0..test.rows()).map(|i| p.row(i)[1]).collect();
    let positive: Vec<bool> = y.iter().map(|&v| v == 1.0).collect();
    println!(
        "mlpc {algorithm} n={} trees={trees}: fit {fit:.2} s, AUC {:.4}",
        train_rows.rows(),
        auc(&scores, &positive)
    );
}
