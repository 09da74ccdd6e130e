//! The NVRTC kernels: the logistic loss residual, and the mlp's batch gather,
//! bias + ReLU, output gradient, ReLU backward, bias gradient and Adam step. They mirror
//! the CPU code operation for operation (compiled without FMA contraction), so the two
//! paths differ only in the summation order of the matrix products.

use super::fail;
use cudarc::driver::{CudaContext, CudaFunction};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};
use std::sync::Arc;

const SOURCE: &str = r#"
// z: row-major n x k scores, replaced by d(log-loss)/dz; *loss accumulates the log-loss.
// k == 1: sigmoid of one score (labels 0/1); k > 1: softmax over k scores.
extern "C" __global__ void logistic_residual(float* z, const unsigned int* y, int n, int k, double* loss) {
    __shared__ double part[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    double l = 0.0;
    if (i < n) {
        float* zi = z + (size_t)i * k;
        unsigned int t = y[i];
        if (k == 1) {
            double v = zi[0];
            l = (v > 0.0 ? v + log1p(exp(-v)) : log1p(exp(v))) - (double)t * v;
            zi[0] = (float)(1.0 / (1.0 + exp(-v)) - (double)t);
        } else {
            double m = zi[0], s = 0.0;
            for (int j = 1; j < k; j++) m = fmax(m, (double)zi[j]);
            for (int j = 0; j < k; j++) s += exp((double)zi[j] - m);
            l = m + log(s) - (double)zi[t];
            for (int j = 0; j < k; j++) zi[j] = (float)(exp((double)zi[j] - m) / s - (j == (int)t ? 1.0 : 0.0));
        }
    }
    part[threadIdx.x] = l;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(loss, part[0]);
}

// out[r, :] = x[idx[r], :] for the batch's rows.
extern "C" __global__ void gather_rows(const float* x, const unsigned int* idx, int rows, int cols, float* out) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < (size_t)rows * cols) out[e] = x[(size_t)idx[e / cols] * cols + e % cols];
}

// z[r, c] += b[c], then ReLU when relu != 0.
extern "C" __global__ void bias_relu(float* z, const float* b, int rows, int cols, int relu) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < (size_t)rows * cols) {
        float v = z[e] + b[e % cols];
        z[e] = (relu && v <= 0.0f) ? 0.0f : v;
    }
}

// The loss gradient of the batch's output scores, scaled by 1/rows: softmax
// cross-entropy (k > 1, labels y) or half squared error (k == 1, targets t).
extern "C" __global__ void output_grad(const float* z, const unsigned int* idx, const unsigned int* y,
                                       const float* t, int rows, int k, float scale, float* dz) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* zr = z + (size_t)r * k;
    float* dr = dz + (size_t)r * k;
    if (k == 1) {
        dr[0] = (zr[0] - t[idx[r]]) * scale;
        return;
    }
    float m = zr[0];
    for (int j = 1; j < k; j++) m = fmaxf(m, zr[j]);
    float s = 0.0f;
    for (int j = 0; j < k; j++) s += expf(zr[j] - m);
    unsigned int label = y[idx[r]];
    for (int j = 0; j < k; j++) dr[j] = (expf(zr[j] - m) / s - (j == (int)label ? 1.0f : 0.0f)) * scale;
}

// da *= (a > 0): the gradient through ReLU, given its output a.
extern "C" __global__ void relu_backward(float* da, const float* a, int n) {
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e < n && a[e] <= 0.0f) da[e] = 0.0f;
}

// out[c] = sum over rows of m[r, c], in row order.
extern "C" __global__ void column_sums(const float* m, int rows, int cols, float* out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += m[(size_t)r * cols + c];
    out[c] = s;
}

// One Adam step over n parameters; the first n_decay (the weights) get L2 decay wd.
extern "C" __global__ void adam(float* p, const float* g, float* m, float* v, int n, int n_decay, float lr,
                                float b1, float b2, float bc1, float bc2, float eps, float wd) {
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    float gi = e < n_decay ? g[e] + wd * p[e] : g[e];
    float mi = b1 * m[e] + (1.0f - b1) * gi;
    float vi = b2 * v[e] + (1.0f - b2) * gi * gi;
    m[e] = mi;
    v[e] = vi;
    p[e] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
}
"#;

pub struct Kernels {
    pub logistic_residual: CudaFunction,
    pub gather_rows: CudaFunction,
    pub bias_relu: CudaFunction,
    pub output_grad: CudaFunction,
    pub relu_backward: CudaFunction,
    pub column_sums: CudaFunction,
    pub adam: CudaFunction,
}

impl Kernels {
    /// Compiles the kernels for the device's architecture and loads them.
    pub fn load(ctx: &Arc<CudaContext>) -> Result<Kernels, String> {
        let (major, minor) = ctx.compute_capability().map_err(fail("reading the compute capability"))?;
        let opts = CompileOptions {
            fmad: Some(false),
            options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
            ..Default::default()
        };
        let ptx = compile_ptx_with_opts(SOURCE, opts).map_err(fail("NVRTC compilation"))?;
        let module = ctx.load_module(ptx).map_err(fail("loading the kernels"))?;
        let f = |name: &str| module.load_function(name).map_err(fail("loading a kernel"));
        Ok(Kernels {
            logistic_residual: f("logistic_residual")?,
            gather_rows: f("gather_rows")?,
            bias_relu: f("bias_relu")?,
            output_grad: f("output_grad")?,
            relu_backward: f("relu_backward")?,
            column_sums: f("column_sums")?,
            adam: f("adam")?,
        })
    }
}
