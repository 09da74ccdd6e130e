//! The multi-layer perceptron: f32, ReLU hidden layers, trained by Adam on shuffled
//! mini-batches with softmax cross-entropy (classification, two outputs for binary) or
//! half squared error on the standardised target (regression). The host draws the
//! initial weights and every epoch's batch order from `seed`, so the CPU and CUDA paths
//! train the same network step for step.

mod cpu;
mod gemm;
mod net;

pub use net::{Adam, Layout};

use crate::frame::{Matrix, Target};
use crate::linear::{bounded, softmax};
use crate::model::Learned;
use crate::onnx::{attr, Graph};
use crate::{cuda, Device, Fitted, Params};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// What the network learns from, per training row.
pub enum Labels {
    /// Class indexes.
    Classes(Vec<u32>),
    /// The standardised target.
    Values(Vec<f32>),
}

/// How the last layer's scores become outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Head {
    Softmax,
    /// A value, un-standardised: `score · std + mean`.
    Value {
        mean: f32,
        std: f32,
    },
}

/// A trained network.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub layout: Layout,
    pub params: Vec<f32>,
    pub head: Head,
}

/// Rows per parallel task when predicting.
const PREDICT_CHUNK: usize = 1024;

impl Learned for Mlp {
    fn predict(&self, x: &Matrix) -> Vec<f32> {
        let out = *self.layout.sizes.last().unwrap_or(&1);
        let mut scores = vec![0f32; x.rows * out];
        scores.par_chunks_mut(PREDICT_CHUNK * out).enumerate().for_each(|(c, scores)| {
            let rows = scores.len() / out;
            let input = &x.data[c * PREDICT_CHUNK * x.cols..(c * PREDICT_CHUNK + rows) * x.cols];
            let mut acts: Vec<Vec<f32>> = self.layout.sizes[1..].iter().map(|w| vec![0.0; rows * w]).collect();
            net::forward(&self.layout, &self.params, input, rows, &mut acts);
            let z = acts.last().map_or(&[][..], |z| &z[..]);
            match self.head {
                Head::Softmax => z.chunks_exact(out).zip(scores.chunks_exact_mut(out)).for_each(|(z, o)| softmax(z, o)),
                Head::Value { mean, std } => scores.iter_mut().zip(z).for_each(|(o, &z)| *o = z * std + mean),
            }
        });
        scores
    }

    fn export(&self, g: &mut Graph, features: &str) -> String {
        let mut h = features.to_string();
        for l in 0..self.layout.layers() {
            let (fan_in, fan_out) = self.layout.shape(l);
            let w = g.const_f32(&[fan_in as i64, fan_out as i64], self.params[self.layout.w(l)].to_vec());
            let b = g.const_f32(&[fan_out as i64], self.params[self.layout.b(l)].to_vec());
            h = g.node("Gemm", "", &[&h, &w, &b], vec![]);
            if l + 1 < self.layout.layers() {
                h = g.node("Relu", "", &[&h], vec![]);
            }
        }
        match self.head {
            Head::Softmax => g.node("Softmax", "", &[&h], vec![attr::int("axis", 1)]),
            Head::Value { mean, std } => {
                let std = g.const_f32(&[1], vec![std]);
                let mean = g.const_f32(&[1], vec![mean]);
                let scaled = g.node("Mul", "", &[&h, &std], vec![]);
                g.node("Add", "", &[&scaled, &mean], vec![])
            }
        }
    }
}

/// The training settings read from the parameters.
struct Settings {
    hidden: Vec<usize>,
    epochs: usize,
    batch: usize,
    adam: Adam,
    seed: u64,
}

fn settings(params: &Params) -> Result<Settings, String> {
    let hidden = params.counts("hidden")?;
    if hidden.contains(&0) {
        return Err(format!("parameter `hidden` lists layer widths, each at least 1, not {hidden:?}"));
    }
    let at_least_one = |name: &str| match params.count(name)? {
        0 => Err(format!("parameter `{name}` must be at least 1")),
        n => Ok(n),
    };
    Ok(Settings {
        hidden,
        epochs: at_least_one("epochs")?,
        batch: at_least_one("batch_size")?,
        adam: Adam {
            learning_rate: bounded(params, "learning_rate", 0.0, true)? as f32,
            weight_decay: bounded(params, "weight_decay", 0.0, false)? as f32,
        },
        seed: params.seed()?,
    })
}

/// Shuffles `order` in place (Fisher–Yates) from `rng`.
fn shuffle(order: &mut [u32], rng: &mut impl Rng) {
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
}

/// Fits an mlp (parameters `hidden`, `epochs`, `batch_size`, `learning_rate`,
/// `weight_decay`, `seed`) on the CPU or the GPU.
pub fn fit_mlp(x: &Matrix, target: &Target, params: &Params, device: Device) -> Result<Fitted, String> {
    let s = settings(params)?;
    let (labels, outputs, head) = match target {
        Target::Classes { classes, y } if classes.len() >= 2 => {
            (Labels::Classes(y.clone()), classes.len(), Head::Softmax)
        }
        Target::Classes { classes, .. } => {
            return Err(format!("mlp needs at least two classes, the label has {}", classes.len()))
        }
        Target::Values(y) => {
            let n = y.len().max(1) as f64;
            let mean = y.iter().sum::<f64>() / n;
            let std = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
            let std = if std > 0.0 && std.is_finite() { std } else { 1.0 };
            let t = y.iter().map(|v| ((v - mean) / std) as f32).collect();
            (Labels::Values(t), 1, Head::Value { mean: mean as f32, std: std as f32 })
        }
    };
    let mut sizes = vec![x.cols];
    sizes.extend(&s.hidden);
    sizes.push(outputs);
    let layout = Layout::new(sizes);
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    let init = layout.init(&mut rng);
    let mut order: Vec<u32> = (0..x.rows as u32).collect();
    let gpu = cuda::resolve(device, "mlp")?;
    let params = match &gpu {
        Some(gpu) => {
            let mut t = cuda::mlp::Trainer::new(gpu, x, &labels, &layout, &init, s.adam, s.batch)?;
            for _ in 0..s.epochs {
                shuffle(&mut order, &mut rng);
                t.epoch(&order)?;
            }
            t.params()?
        }
        None => {
            let mut t = cpu::Trainer::new(x, &labels, &layout, init, s.adam, s.batch);
            for _ in 0..s.epochs {
                shuffle(&mut order, &mut rng);
                t.epoch(&order);
            }
            t.params
        }
    };
    if params.iter().any(|p| !p.is_finite()) {
        return Err("mlp diverged (non-finite weights): lower `learning_rate`".into());
    }
    let learner = Mlp { layout, params, head };
    Ok(Fitted { learner: Box::new(learner), device: if gpu.is_some() { "cuda" } else { "cpu" } })
}
