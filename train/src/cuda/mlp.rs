//! The mlp's training on the GPU: the rows and labels stay resident; each epoch uploads
//! the batch order, and each batch is gathered, run forward and backward with cuBLAS
//! sgemm and the NVRTC kernels, and stepped by Adam — `crate::mlp`'s CPU steps, in order.
//! Row-major host matrices are read by cuBLAS as their column-major transposes.

use super::{fail, grid, Gpu};
use crate::frame::Matrix;
use crate::mlp::{Adam, Labels, Layout};
use cudarc::driver::{CudaSlice, PushKernelArg};

pub struct Trainer<'g> {
    gpu: &'g Gpu,
    layout: Layout,
    adam: Adam,
    rows: usize,
    batch: usize,
    step: u32,
    x: CudaSlice<f32>,
    y: CudaSlice<u32>,
    t: CudaSlice<f32>,
    order: CudaSlice<u32>,
    params: CudaSlice<f32>,
    grad: CudaSlice<f32>,
    m: CudaSlice<f32>,
    v: CudaSlice<f32>,
    xb: CudaSlice<f32>,
    acts: Vec<CudaSlice<f32>>,
    deltas: Vec<CudaSlice<f32>>,
}

impl<'g> Trainer<'g> {
    pub fn new(
        gpu: &'g Gpu,
        x: &Matrix,
        labels: &Labels,
        layout: &Layout,
        init: &[f32],
        adam: Adam,
        batch: usize,
    ) -> Result<Trainer<'g>, String> {
        let s = &gpu.stream;
        let batch = batch.min(x.rows).max(1);
        let upload = fail("uploading the training data");
        let alloc = fail("allocating device memory");
        let zeros = |n: usize| s.alloc_zeros::<f32>(n).map_err(&alloc);
        // The unused one of labels and targets is a single placeholder element.
        let (y, t) = match labels {
            Labels::Classes(y) => (s.clone_htod(y).map_err(&upload)?, zeros(1)?),
            Labels::Values(t) => (s.alloc_zeros::<u32>(1).map_err(&alloc)?, s.clone_htod(t).map_err(&upload)?),
        };
        let widths = &layout.sizes[1..];
        Ok(Trainer {
            gpu,
            layout: layout.clone(),
            adam,
            rows: x.rows,
            batch,
            step: 0,
            x: s.clone_htod(&x.data).map_err(&upload)?,
            y,
            t,
            order: s.alloc_zeros::<u32>(x.rows.max(1)).map_err(&alloc)?,
            params: s.clone_htod(init).map_err(&upload)?,
            grad: zeros(layout.total)?,
            m: zeros(layout.total)?,
            v: zeros(layout.total)?,
            xb: zeros(batch * x.cols)?,
            acts: widths.iter().map(|w| zeros(batch * w)).collect::<Result<_, _>>()?,
            deltas: widths.iter().map(|w| zeros(batch * w)).collect::<Result<_, _>>()?,
        })
    }

    /// One pass over the rows in `order`, a batch at a time.
    pub fn epoch(&mut self, order: &[u32]) -> Result<(), String> {
        self.gpu.stream.memcpy_htod(order, &mut self.order).map_err(fail("uploading the batch order"))?;
        for start in (0..self.rows).step_by(self.batch) {
            self.batch_step(start, self.batch.min(self.rows - start))?;
        }
        Ok(())
    }

    /// The trained parameters, downloaded.
    pub fn params(&self) -> Result<Vec<f32>, String> {
        self.gpu.stream.clone_dtoh(&self.params).map_err(fail("downloading the weights"))
    }

    fn batch_step(&mut self, start: usize, rows: usize) -> Result<(), String> {
        let (gpu, s, k) = (self.gpu, &self.gpu.stream, &self.gpu.kernels);
        let (layers, d) = (self.layout.layers(), self.layout.sizes[0]);
        let idx = self.order.slice(start..start + rows);
        let (rows_i, d_i) = (rows as i32, d as i32);
        let mut launch = s.launch_builder(&k.gather_rows);
        launch.arg(&self.x).arg(&idx).arg(&rows_i).arg(&d_i).arg(&mut self.xb);
        // SAFETY: `idx` holds `rows` row numbers below the row count of `x`; `xb` holds batch × d.
        unsafe { launch.launch(grid(rows * d)) }.map_err(fail("the gather kernel"))?;

        for l in 0..layers {
            let (fan_in, fan_out) = self.layout.shape(l);
            let (before, after) = self.acts.split_at_mut(l);
            let input = if l == 0 { &self.xb } else { &before[l - 1] };
            let w = self.params.slice(self.layout.w(l));
            gpu.gemm((fan_out, rows, fan_in), (&w, fan_out, false), (input, fan_in, false), &mut after[0], fan_out)?;
            let b = self.params.slice(self.layout.b(l));
            let (out_i, relu) = (fan_out as i32, i32::from(l + 1 < layers));
            let mut launch = s.launch_builder(&k.bias_relu);
            launch.arg(&mut after[0]).arg(&b).arg(&rows_i).arg(&out_i).arg(&relu);
            // SAFETY: the activation holds rows × fan_out, the bias fan_out.
            unsafe { launch.launch(grid(rows * fan_out)) }.map_err(fail("the bias kernel"))?;
        }

        let out = self.layout.sizes[layers] as i32;
        let scale = 1.0 / rows as f32;
        let mut launch = s.launch_builder(&k.output_grad);
        launch.arg(&self.acts[layers - 1]).arg(&idx).arg(&self.y).arg(&self.t);
        launch.arg(&rows_i).arg(&out).arg(&scale).arg(&mut self.deltas[layers - 1]);
        // SAFETY: scores and gradient hold rows × out; `idx` indexes the labels or targets present.
        unsafe { launch.launch(grid(rows)) }.map_err(fail("the output gradient kernel"))?;

        for l in (0..layers).rev() {
            let (fan_in, fan_out) = self.layout.shape(l);
            let input = if l == 0 { &self.xb } else { &self.acts[l - 1] };
            let (lower, upper) = self.deltas.split_at_mut(l);
            let delta = &upper[0];
            let mut gw = self.grad.slice_mut(self.layout.w(l));
            gpu.gemm((fan_out, fan_in, rows), (delta, fan_out, false), (input, fan_in, true), &mut gw, fan_out)?;
            let mut gb = self.grad.slice_mut(self.layout.b(l));
            let out_i = fan_out as i32;
            let mut launch = s.launch_builder(&k.column_sums);
            launch.arg(delta).arg(&rows_i).arg(&out_i).arg(&mut gb);
            // SAFETY: `delta` holds rows × fan_out, `gb` fan_out.
            unsafe { launch.launch(grid(fan_out)) }.map_err(fail("the bias gradient kernel"))?;
            if l > 0 {
                let w = self.params.slice(self.layout.w(l));
                let below = &mut lower[l - 1];
                gpu.gemm((fan_in, rows, fan_out), (&w, fan_out, true), (delta, fan_out, false), below, fan_in)?;
                let n = (rows * fan_in) as i32;
                let mut launch = s.launch_builder(&k.relu_backward);
                launch.arg(below).arg(&self.acts[l - 1]).arg(&n);
                // SAFETY: both hold at least rows × fan_in.
                unsafe { launch.launch(grid(rows * fan_in)) }.map_err(fail("the ReLU backward kernel"))?;
            }
        }

        self.step += 1;
        let (bc1, bc2) = Adam::corrections(self.step);
        let (total, weights) = (self.layout.total as i32, self.layout.weights as i32);
        let (lr, wd) = (self.adam.learning_rate, self.adam.weight_decay);
        let mut launch = s.launch_builder(&k.adam);
        launch.arg(&mut self.params).arg(&self.grad).arg(&mut self.m).arg(&mut self.v);
        launch.arg(&total).arg(&weights).arg(&lr).arg(&Adam::BETA1).arg(&Adam::BETA2);
        launch.arg(&bc1).arg(&bc2).arg(&Adam::EPS).arg(&wd);
        // SAFETY: parameters, gradient and moments each hold `total` floats.
        unsafe { launch.launch(grid(self.layout.total)) }.map_err(fail("the Adam kernel"))?;
        Ok(())
    }
}
