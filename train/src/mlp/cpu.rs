//! Mini-batch training on the CPU: gather the batch, forward, the output gradient,
//! backward, one Adam step — the same steps, in the same order, as `crate::cuda::mlp`.

use super::gemm::{gemm, Strides};
use super::net::{forward, Adam, Layout};
use super::Labels;
use crate::frame::Matrix;

pub struct Trainer<'a> {
    x: &'a Matrix,
    labels: &'a Labels,
    layout: &'a Layout,
    adam: Adam,
    batch: usize,
    step: u32,
    pub params: Vec<f32>,
    grad: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    xb: Vec<f32>,
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
}

/// The loss gradient of one row's output scores `z`, scaled: softmax cross-entropy
/// against `label`, or half squared error against `target`.
pub fn output_grad(z: &[f32], labels: &Labels, row: usize, scale: f32, dz: &mut [f32]) {
    match labels {
        Labels::Classes(y) => {
            let max = z[1..].iter().fold(z[0], |m, &v| m.max(v));
            let sum = z.iter().fold(0f32, |s, &v| s + (v - max).exp());
            let label = y[row] as usize;
            for (j, d) in dz.iter_mut().enumerate() {
                *d = ((z[j] - max).exp() / sum - if j == label { 1.0 } else { 0.0 }) * scale;
            }
        }
        Labels::Values(t) => dz[0] = (z[0] - t[row]) * scale,
    }
}

impl<'a> Trainer<'a> {
    pub fn new(
        x: &'a Matrix,
        labels: &'a Labels,
        layout: &'a Layout,
        params: Vec<f32>,
        adam: Adam,
        batch: usize,
    ) -> Self {
        let batch = batch.min(x.rows).max(1);
        let widths = &layout.sizes[1..];
        Trainer {
            x,
            labels,
            layout,
            adam,
            batch,
            step: 0,
            grad: vec![0.0; params.len()],
            m: vec![0.0; params.len()],
            v: vec![0.0; params.len()],
            params,
            xb: vec![0.0; batch * x.cols],
            acts: widths.iter().map(|w| vec![0.0; batch * w]).collect(),
            deltas: widths.iter().map(|w| vec![0.0; batch * w]).collect(),
        }
    }

    /// One pass over the rows in `order`, a batch at a time.
    pub fn epoch(&mut self, order: &[u32]) {
        for idx in order.chunks(self.batch) {
            self.batch_step(idx);
        }
    }

    fn batch_step(&mut self, idx: &[u32]) {
        let (rows, d, layers) = (idx.len(), self.x.cols, self.layout.layers());
        for (r, &i) in idx.iter().enumerate() {
            self.xb[r * d..(r + 1) * d].copy_from_slice(self.x.row(i as usize));
        }
        forward(self.layout, &self.params, &self.xb, rows, &mut self.acts);
        let out = self.layout.sizes[layers];
        let scale = 1.0 / rows as f32;
        for (r, &i) in idx.iter().enumerate() {
            let z = &self.acts[layers - 1][r * out..(r + 1) * out];
            output_grad(z, self.labels, i as usize, scale, &mut self.deltas[layers - 1][r * out..(r + 1) * out]);
        }
        for l in (0..layers).rev() {
            let (fan_in, fan_out) = self.layout.shape(l);
            let input = if l == 0 { &self.xb[..] } else { &self.acts[l - 1][..] };
            let (lower, upper) = self.deltas.split_at_mut(l);
            let delta = &upper[0][..rows * fan_out];
            let gw = &mut self.grad[self.layout.w(l)];
            gemm((fan_in, rows, fan_out), (input, Strides::transposed(fan_in)), (delta, Strides::rows(fan_out)), gw);
            let gb = &mut self.grad[self.layout.b(l)];
            gb.fill(0.0);
            for row in delta.chunks_exact(fan_out) {
                gb.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
            }
            if l > 0 {
                let w = &self.params[self.layout.w(l)];
                let below = &mut lower[l - 1][..rows * fan_in];
                gemm(
                    (rows, fan_out, fan_in),
                    (delta, Strides::rows(fan_out)),
                    (w, Strides::transposed(fan_out)),
                    below,
                );
                below.iter_mut().zip(&self.acts[l - 1]).for_each(|(d, &a)| {
                    if a <= 0.0 {
                        *d = 0.0
                    }
                });
            }
        }
        self.step += 1;
        self.adam.step(self.step, self.layout.weights, &mut self.params, &self.grad, &mut self.m, &mut self.v);
    }
}
