//! f32 matrix products on the CPU through `matrixmultiply`, split over rayon by rows of
//! the result when large enough to pay for it.

use rayon::prelude::*;

/// How a matrix is laid out in its slice: the step between rows and between columns.
#[derive(Clone, Copy, Debug)]
pub struct Strides {
    pub row: usize,
    pub col: usize,
}

impl Strides {
    /// Row-major with `cols` columns.
    pub fn rows(cols: usize) -> Strides {
        Strides { row: cols, col: 1 }
    }
    /// The transpose of a row-major matrix of `cols` columns.
    pub fn transposed(cols: usize) -> Strides {
        Strides { row: 1, col: cols }
    }
}

/// Multiply-adds below which one thread does the whole product.
const PARALLEL_WORK: usize = 1 << 18;

/// `c = a · b`: `a` is `m × k`, `b` is `k × n`, `c` row-major `m × n` (overwritten).
pub fn gemm((m, k, n): (usize, usize, usize), (a, sa): (&[f32], Strides), (b, sb): (&[f32], Strides), c: &mut [f32]) {
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return;
    }
    let extent = |rows: usize, cols: usize, s: Strides| (rows.max(1) - 1) * s.row + (cols.max(1) - 1) * s.col + 1;
    assert!(k == 0 || (a.len() >= extent(m, k, sa) && b.len() >= extent(k, n, sb)), "gemm operands too short");
    let block = |i0: usize, c: &mut [f32]| {
        let rows = c.len() / n;
        // SAFETY: the assert above keeps every element read within `a` and `b`; `c` holds rows × n.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                k,
                n,
                1.0,
                a.as_ptr().add(i0 * sa.row),
                sa.row as isize,
                sa.col as isize,
                b.as_ptr(),
                sb.row as isize,
                sb.col as isize,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        }
    };
    let threads = rayon::current_num_threads();
    if m * k * n < PARALLEL_WORK || threads == 1 || m < 2 {
        return block(0, c);
    }
    let rows = m.div_ceil(threads).max(8);
    c.par_chunks_mut(rows * n).enumerate().for_each(|(i, c)| block(i * rows, c));
}
