//! Trains `logistic_regression` and `mlp` on the CPU and on CUDA from the same seeded
//! synthetic data (binary classification, 500k × 32 unless `GPU_CHECK_ROWS` says) and
//! prints, per algorithm, both fit times, the largest difference of the predicted
//! probabilities on held-out rows against its tolerance, and both AUCs.
//!
//! Exits 0 when every difference is within tolerance, 1 when one is not or training
//! fails, 2 when no GPU is usable here.

use mlpc_train::{gpu, metrics, train, Column, Device, Frame, InputType, Model, Params, Spec, Target, Values};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

const FEATURES: usize = 32;

/// `rows` standard-normal features and a bool label drawn from a logistic model with
/// an interaction and a square, so the mlp has something the linear model misses.
fn synthetic(rows: usize, seed: u64) -> Frame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = vec![vec![0f64; rows]; FEATURES];
    let mut y = vec![0f64; rows];
    for i in 0..rows {
        for col in x.iter_mut() {
            let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            col[i] = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        }
        let linear: f64 = (0..FEATURES).map(|j| ((j % 5) as f64 - 2.0) * 0.3 * x[j][i]).sum();
        let logit = linear + 0.8 * x[0][i] * x[1][i] - 0.5 * x[2][i] * x[2][i] + 0.5;
        y[i] = f64::from(rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()));
    }
    let mut columns: Vec<Column> = x
        .into_iter()
        .enumerate()
        .map(|(j, v)| Column { name: format!("x{j}"), ty: InputType::Float, values: Values::Number(v) })
        .collect();
    columns.push(Column { name: "y".into(), ty: InputType::Bool, values: Values::Number(y) });
    Frame { columns }
}

fn fit(algorithm: &str, params: &Params, frame: &Frame, device: Device) -> Result<(Model, f64), String> {
    let inputs: Vec<String> = (0..FEATURES).map(|j| format!("x{j}")).collect();
    let start = Instant::now();
    let model = train(&Spec { algorithm, params, inputs: &inputs, label: "y", device }, frame)?;
    Ok((model, start.elapsed().as_secs_f64()))
}

/// What must agree between the devices.
#[derive(Clone, Copy)]
enum Parity {
    /// Every predicted probability, within this.
    Probabilities(f32),
    /// The test AUC, within this: after thousands of Adam steps, floating-point sums in a
    /// different order move individual weights, so single probabilities drift apart while
    /// the model's quality does not.
    Auc(f64),
}

/// Trains `algorithm` on both devices; returns whether they agree as `parity` asks.
fn check(
    label: &str,
    algorithm: &str,
    params: serde_json::Value,
    parity: Parity,
    data: &Frame,
    test: &Frame,
) -> Result<bool, String> {
    let params = Params(serde_json::from_value(params).map_err(|e| e.to_string())?);
    let (cpu, cpu_s) = fit(algorithm, &params, data, Device::Cpu)?;
    let (cuda, cuda_s) = fit(algorithm, &params, data, Device::Cuda)?;
    if cuda.device != "cuda" {
        return Err(format!("{algorithm}: device = cuda trained on {}", cuda.device));
    }
    let (p_cpu, p_cuda) = (cpu.predict(test)?, cuda.predict(test)?);
    let diff = p_cpu.scores.iter().zip(&p_cuda.scores).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let truth = Target::from_column(test.column("y").ok_or("the test rows have no label")?)?;
    let (auc_cpu, auc_cuda) = (metrics::compute("auc", &truth, &p_cpu)?, metrics::compute("auc", &truth, &p_cuda)?);
    let (ok, rule) = match parity {
        Parity::Probabilities(tol) => (diff <= tol, format!("max |Δp| ≤ {tol:.0e}")),
        Parity::Auc(tol) => ((auc_cpu - auc_cuda).abs() <= tol, format!("|ΔAUC| ≤ {tol:.0e}")),
    };
    println!(
        "{label:<26} cpu {cpu_s:>7.2} s   cuda {cuda_s:>7.2} s   max |Δp| {diff:.2e}   AUC cpu {auc_cpu:.5} cuda {auc_cuda:.5}   {rule}: {}",
        if ok { "ok" } else { "FAIL" },
    );
    Ok(ok)
}

fn main() -> ExitCode {
    let name = match gpu() {
        Ok(name) => name,
        Err(why) => {
            println!("no GPU: {why}");
            return ExitCode::from(2);
        }
    };
    let rows = std::env::var("GPU_CHECK_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(500_000);
    println!("GPU: {name}; {rows} training rows × {FEATURES} features, {} CPU threads", rayon::current_num_threads());
    let (data, test) = (synthetic(rows, 1), synthetic(100_000, 2));
    // The first 100 Adam steps: the two devices must take the same steps.
    let first_steps = data.take(&(0..25_600.min(rows)).collect::<Vec<_>>());
    let mlp = |epochs: usize| {
        json!({"hidden": [64, 32], "epochs": epochs, "batch_size": 256, "learning_rate": 1e-3,
               "weight_decay": 0.0, "seed": 42})
    };
    let checks = [
        (
            "logistic_regression",
            "logistic_regression",
            json!({"c": 1.0, "max_iter": 100, "tol": 1e-4}),
            Parity::Probabilities(1e-3),
            &data,
        ),
        ("mlp, first 100 steps", "mlp", mlp(1), Parity::Probabilities(1e-3), &first_steps),
        ("mlp, 3 epochs", "mlp", mlp(3), Parity::Auc(1e-3), &data),
    ];
    let mut all_ok = true;
    for (label, algorithm, params, parity, data) in checks {
        match check(label, algorithm, params, parity, data, &test) {
            Ok(ok) => all_ok &= ok,
            Err(e) => {
                println!("{algorithm}: {e}");
                all_ok = false;
            }
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
