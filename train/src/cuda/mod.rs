//! The CUDA backend: a device opened through cudarc's dynamically loaded driver, NVRTC
//! and cuBLAS, so the crate builds and runs where CUDA is absent and says why. Kernels
//! are compiled once per opened device; data stays resident while a model trains.

mod kernels;
pub mod logistic;
pub mod mlp;

use crate::Device;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaContext, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig};
use std::sync::Arc;

/// An opened GPU: its stream, cuBLAS handle and compiled kernels.
pub struct Gpu {
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: kernels::Kernels,
}

/// Maps a CUDA failure to a message naming the step that failed.
fn fail<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> String {
    move |e| format!("CUDA {step} failed: {e}")
}

/// Checks that the driver, NVRTC and cuBLAS libraries can be loaded (cudarc panics on
/// first use of a missing one) and opens device 0.
fn context() -> Result<Arc<CudaContext>, String> {
    // SAFETY: each check only tries to dlopen the library by its usual names.
    let present = unsafe {
        [
            ("the CUDA driver (libcuda.so)", cudarc::driver::sys::is_culib_present()),
            ("NVRTC (libnvrtc.so)", cudarc::nvrtc::sys::is_culib_present()),
            ("cuBLAS (libcublas.so)", cudarc::cublas::sys::is_culib_present()),
        ]
    };
    if let Some((what, _)) = present.iter().find(|(_, found)| !found) {
        return Err(format!("{what} cannot be loaded"));
    }
    CudaContext::new(0).map_err(|e| format!("no CUDA device can be opened ({e})"))
}

/// The name of the GPU training would use, or why there is none.
pub fn device_name() -> Result<String, String> {
    context()?.name().map_err(fail("reading the device name"))
}

impl Gpu {
    pub fn open() -> Result<Gpu, String> {
        let ctx = context()?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(fail("creating a cuBLAS handle"))?;
        let kernels = kernels::Kernels::load(&ctx)?;
        Ok(Gpu { stream, blas, kernels })
    }

    /// `C = op(A) · op(B)` in cuBLAS's column-major terms: `C` is `m × n`, the inner
    /// dimension `k`; `ta`/`tb` transpose; `beta` 0 overwrites, 1 accumulates.
    #[allow(clippy::too_many_arguments)]
    fn gemm<A: DevicePtr<f32>, B: DevicePtr<f32>, C: DevicePtrMut<f32>>(
        &self,
        (m, n, k): (usize, usize, usize),
        (a, lda, ta): (&A, usize, bool),
        (b, ldb, tb): (&B, usize, bool),
        c: &mut C,
        ldc: usize,
    ) -> Result<(), String> {
        let op = |t| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
        let cfg = GemmConfig {
            transa: op(ta),
            transb: op(tb),
            m: m as i32,
            n: n as i32,
            k: k as i32,
            alpha: 1.0f32,
            lda: lda as i32,
            ldb: ldb as i32,
            beta: 0.0f32,
            ldc: ldc as i32,
        };
        // SAFETY: callers pass buffers holding the `m × k`, `k × n` and `m × n` matrices
        // their leading dimensions describe.
        unsafe { self.blas.gemm(cfg, a, b, c) }.map_err(fail("cuBLAS sgemm"))
    }
}

/// One thread per element, 256 to a block.
fn grid(n: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (n.div_ceil(256).max(1) as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// The GPU to train `algorithm` on, if any: `Cpu` → none; `Cuda` → the GPU or an error
/// saying why there is none; `Auto` → the GPU when one is usable.
pub fn resolve(device: Device, algorithm: &str) -> Result<Option<Gpu>, String> {
    match device {
        Device::Cpu => Ok(None),
        Device::Auto => Ok(Gpu::open().ok()),
        Device::Cuda => Gpu::open().map(Some).map_err(|e| {
            format!(
                "{algorithm}: device = cuda, but no GPU is usable here: {e}; use device = auto to fall back to the CPU"
            )
        }),
    }
}
