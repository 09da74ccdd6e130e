//! The network's shape and parameters: layer widths, one flat parameter vector (every
//! layer's weights first — the part weight decay applies to — then every bias), seeded
//! initialisation, the Adam constants, and the forward pass shared by training and
//! prediction.

use super::gemm::{gemm, Strides};
use rand::Rng;
use std::ops::Range;

/// Layer widths, input first, and where each layer sits in the flat parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub sizes: Vec<usize>,
    /// Weight count: weights occupy `0..weights`, biases follow.
    pub weights: usize,
    pub total: usize,
}

impl Layout {
    pub fn new(sizes: Vec<usize>) -> Layout {
        let weights = sizes.windows(2).map(|w| w[0] * w[1]).sum();
        let total = weights + sizes[1..].iter().sum::<usize>();
        Layout { sizes, weights, total }
    }
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }
    /// Layer `l`'s `(inputs, outputs)`.
    pub fn shape(&self, l: usize) -> (usize, usize) {
        (self.sizes[l], self.sizes[l + 1])
    }
    /// Layer `l`'s weights, row-major `inputs × outputs`.
    pub fn w(&self, l: usize) -> Range<usize> {
        let start = self.sizes[..l + 1].windows(2).map(|w| w[0] * w[1]).sum();
        start..start + self.sizes[l] * self.sizes[l + 1]
    }
    pub fn b(&self, l: usize) -> Range<usize> {
        let start = self.weights + self.sizes[1..l + 1].iter().sum::<usize>();
        start..start + self.sizes[l + 1]
    }
    /// He-uniform weights for ReLU layers, Glorot-uniform for the output layer, zero
    /// biases, drawn layer by layer from `rng`.
    pub fn init(&self, rng: &mut impl Rng) -> Vec<f32> {
        let mut params = vec![0f32; self.total];
        for l in 0..self.layers() {
            let (fan_in, fan_out) = self.shape(l);
            let bound = if l + 1 < self.layers() { 6.0 / fan_in as f64 } else { 6.0 / (fan_in + fan_out) as f64 };
            let bound = bound.sqrt() as f32;
            params[self.w(l)].iter_mut().for_each(|w| *w = (rng.random::<f32>() * 2.0 - 1.0) * bound);
        }
        params
    }
}

/// Adam with L2 weight decay added to the weights' gradients (as PyTorch's `Adam`
/// `weight_decay`; biases are not decayed).
#[derive(Clone, Copy, Debug)]
pub struct Adam {
    pub learning_rate: f32,
    pub weight_decay: f32,
}

impl Adam {
    pub const BETA1: f32 = 0.9;
    pub const BETA2: f32 = 0.999;
    pub const EPS: f32 = 1e-8;
    /// The bias corrections `1 - β^t` of step `t` (from 1).
    pub fn corrections(step: u32) -> (f32, f32) {
        let t = step as i32;
        ((1.0 - (Adam::BETA1 as f64).powi(t)) as f32, (1.0 - (Adam::BETA2 as f64).powi(t)) as f32)
    }
    /// One step over the flat parameters, exactly as the CUDA `adam` kernel computes it.
    pub fn step(&self, step: u32, weights: usize, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (bc1, bc2) = Adam::corrections(step);
        let (b1, b2) = (Adam::BETA1, Adam::BETA2);
        for e in 0..p.len() {
            let gi = if e < weights { g[e] + self.weight_decay * p[e] } else { g[e] };
            let mi = b1 * m[e] + (1.0 - b1) * gi;
            let vi = b2 * v[e] + (1.0 - b2) * gi * gi;
            m[e] = mi;
            v[e] = vi;
            p[e] -= self.learning_rate * (mi / bc1) / ((vi / bc2).sqrt() + Adam::EPS);
        }
    }
}

/// The forward pass of `rows` rows of `input`: `acts[l]` receives layer `l`'s output
/// (ReLU for hidden layers, raw scores for the last).
pub fn forward(layout: &Layout, params: &[f32], input: &[f32], rows: usize, acts: &mut [Vec<f32>]) {
    for l in 0..layout.layers() {
        let (fan_in, fan_out) = layout.shape(l);
        let (before, after) = acts.split_at_mut(l);
        let a = if l == 0 { input } else { &before[l - 1][..] };
        let z = &mut after[0][..rows * fan_out];
        let w = &params[layout.w(l)];
        gemm((rows, fan_in, fan_out), (a, Strides::rows(fan_in)), (w, Strides::rows(fan_out)), z);
        let b = &params[layout.b(l)];
        let relu = l + 1 < layout.layers();
        for row in z.chunks_exact_mut(fan_out) {
            for (v, &b) in row.iter_mut().zip(b) {
                let s = *v + b;
                *v = if relu && s <= 0.0 { 0.0 } else { s };
            }
        }
    }
}
