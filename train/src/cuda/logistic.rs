//! Logistic regression's data term on the GPU: the rows (with a ones column for the
//! bias) and labels are uploaded once; each evaluation uploads the weights, computes the
//! scores with one sgemm, the log-loss and its residual with a kernel, and the gradient
//! with a second sgemm, then downloads the `k × (d + 1)` gradient and the loss.

use super::{fail, grid, Gpu};
use crate::frame::Matrix;
use cudarc::driver::{CudaSlice, PushKernelArg};

pub struct DataTerm<'g> {
    gpu: &'g Gpu,
    rows: usize,
    /// `d + 1`: the features and the ones column.
    width: usize,
    k: usize,
    x: CudaSlice<f32>,
    y: CudaSlice<u32>,
    scores: CudaSlice<f32>,
    theta: CudaSlice<f32>,
    grad: CudaSlice<f32>,
    loss: CudaSlice<f64>,
}

impl<'g> DataTerm<'g> {
    /// Uploads `x` and `y` for `k` score vectors (1 for two classes).
    pub fn new(gpu: &'g Gpu, x: &Matrix, y: &[u32], k: usize) -> Result<DataTerm<'g>, String> {
        let width = x.cols + 1;
        let mut host = Vec::with_capacity(x.rows * width);
        for i in 0..x.rows {
            host.extend_from_slice(x.row(i));
            host.push(1.0);
        }
        let s = &gpu.stream;
        let upload = fail("uploading the training data");
        Ok(DataTerm {
            gpu,
            rows: x.rows,
            width,
            k,
            x: s.clone_htod(&host).map_err(&upload)?,
            y: s.clone_htod(y).map_err(&upload)?,
            scores: s.alloc_zeros(x.rows * k).map_err(fail("allocating device memory"))?,
            theta: s.alloc_zeros(k * width).map_err(fail("allocating device memory"))?,
            grad: s.alloc_zeros(k * width).map_err(fail("allocating device memory"))?,
            loss: s.alloc_zeros(1).map_err(fail("allocating device memory"))?,
        })
    }

    /// `Σ log-loss` and its gradient at `theta` (`k` rows of weights then bias).
    pub fn eval(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>), String> {
        let (gpu, s) = (self.gpu, &self.gpu.stream);
        let host: Vec<f32> = theta.iter().map(|&v| v as f32).collect();
        s.memcpy_htod(&host, &mut self.theta).map_err(fail("uploading the weights"))?;
        // Scores, column-major k × rows: thetaᵀ · xᵀ-as-stored.
        gpu.gemm(
            (self.k, self.rows, self.width),
            (&self.theta, self.width, true),
            (&self.x, self.width, false),
            &mut self.scores,
            self.k,
        )?;
        s.memset_zeros(&mut self.loss).map_err(fail("clearing the loss"))?;
        let (n, k) = (self.rows as i32, self.k as i32);
        let mut launch = s.launch_builder(&gpu.kernels.logistic_residual);
        launch.arg(&mut self.scores).arg(&self.y).arg(&n).arg(&k).arg(&mut self.loss);
        // SAFETY: `scores` holds rows × k floats, `y` rows labels below k (or 0/1), `loss` one double.
        unsafe { launch.launch(grid(self.rows)) }.map_err(fail("the logistic kernel"))?;
        // Gradient, column-major width × k: x-as-stored · residualᵀ.
        gpu.gemm(
            (self.width, self.k, self.rows),
            (&self.x, self.width, false),
            (&self.scores, self.k, true),
            &mut self.grad,
            self.width,
        )?;
        let grad = s.clone_dtoh(&self.grad).map_err(fail("downloading the gradient"))?;
        let loss = s.clone_dtoh(&self.loss).map_err(fail("downloading the loss"))?;
        Ok((loss[0], grad.into_iter().map(f64::from).collect()))
    }
}
