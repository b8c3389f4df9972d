//! The one GEMM entry point of the crate: every layer's forward and backward, and the
//! `gemm_ceiling` bench, go through here, so the ceiling measures the kernel the layers use.
//!
//! Backend: the `gemm` crate, called on strided slices (no temporaries, except one reused
//! per-thread buffer for the transposed route below). On this project's reference machine it
//! ran 96–108 GFLOP/s single-threaded against matrixmultiply's 80–95.

use super::Real;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Human-readable name of the backend, recorded in machine.json.
pub const GEMM_BACKEND: &str = "gemm 0.19 (f32, x86-v4 kernels where available)";

/// Threads a single GEMM may use. 1 by default: a sweep gets its parallelism from running
/// many runs at once, and nested threading would only make them fight for cores.
static GEMM_THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets the threads used inside each GEMM (benches' multi-thread option). 0 is treated as 1.
pub fn set_gemm_threads(threads: usize) {
    GEMM_THREADS.store(threads.max(1), Ordering::Relaxed);
}

pub fn gemm_threads() -> usize {
    GEMM_THREADS.load(Ordering::Relaxed)
}

/// A read-only matrix view: `data[row * row_stride + col * col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major (rows, cols) matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a row-major (cols, rows) matrix, without copying.
    pub fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef { data, rows, cols, row_stride: 1, col_stride: rows }
    }

    /// The transpose, without copying.
    fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    fn max_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
        }
    }
}

/// dst (a.rows × b.cols, row-major, contiguous) = [dst +] scale · a·b.
///
/// `accumulate = false` overwrites dst (its old contents are never read).
pub fn matmul<T: Real>(dst: &mut [T], a: MatRef<'_, T>, b: MatRef<'_, T>, scale: T, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert!(dst.len() >= m * n, "matmul: destination too small");
    assert!(a.data.len() >= a.max_index() && b.data.len() >= b.max_index(), "matmul: operand too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return;
    }
    if takes_transposed_route(&a, &b) {
        T::with_gemm_scratch(m * n, |dst_t| {
            gemm_unchecked(dst_t, b.t(), a.t(), scale, false);
            transpose_into(dst, dst_t, m, n, accumulate);
        });
    } else {
        gemm_unchecked(dst, a, b, scale, accumulate);
    }
}

/// The gemm crate works column-major: for our row-major dst it computes dstᵀ = bᵀ·aᵀ, which
/// makes b the operand it packs into panels. A b stored column-major (a weight read
/// transposed, as `Linear::forward` reads it) must then be gathered a whole row apart, and
/// when b is a big weight and a a batch, that gather costs more than the multiply saves. So
/// for such products we ask for dstᵀ = bᵀ·aᵀ ourselves, into scratch: b is then read along its
/// contiguous columns, only the small a is gathered, and one pass transposes the result back. Batch 128, one thread,
/// on the reference machine: width 1024 73 → 87 GFLOP/s, width 512 86 → 89; at width 256
/// the extra pass costs more than it saves (87 → 83), hence the size thresholds.
fn takes_transposed_route<T>(a: &MatRef<'_, T>, b: &MatRef<'_, T>) -> bool {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    b.row_stride == 1 && b.col_stride != 1 && n >= 4 * m && k * n >= 1 << 18
}

/// dst (m × n) = [dst +] srcᵀ with src (n × m), both row-major; in tiles that stay in L1.
fn transpose_into<T: Real>(dst: &mut [T], src: &[T], m: usize, n: usize, accumulate: bool) {
    const TILE: usize = 16;
    for i0 in (0..m).step_by(TILE) {
        for j0 in (0..n).step_by(TILE) {
            for i in i0..(i0 + TILE).min(m) {
                let dst_row = &mut dst[i * n..(i + 1) * n];
                for j in j0..(j0 + TILE).min(n) {
                    let value = src[j * m + i];
                    dst_row[j] = if accumulate { dst_row[j] + value } else { value };
                }
            }
        }
    }
}

/// Per-thread scratch for the transposed route, grown once and reused, so a train step
/// allocates nothing after its first call.
pub trait GemmScratch: Sized {
    /// Calls `f` with a scratch slice of `len` elements (contents unspecified).
    fn with_gemm_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! gemm_scratch {
    ($t:ty) => {
        impl GemmScratch for $t {
            fn with_gemm_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                thread_local!(static SCRATCH: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) });
                SCRATCH.with_borrow_mut(|scratch| {
                    if scratch.len() < len {
                        scratch.resize(len, 0.0);
                    }
                    f(&mut scratch[..len])
                })
            }
        }
    };
}
gemm_scratch!(f32);
gemm_scratch!(f64);

/// The kernel call itself; `matmul` has checked the shapes and that dst is m×n.
fn gemm_unchecked<T: Real>(dst: &mut [T], a: MatRef<'_, T>, b: MatRef<'_, T>, scale: T, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let threads = gemm_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: matmul's asserts bound every index the kernel touches: dst is m×n row-major,
    // a and b are read only inside their max_index, and dst does not alias a or b (&mut vs &).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            T::one(),
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_for_all_stride_patterns() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.71).cos()).collect();
        let expected = naive(&a, &b, m, k, n);
        let mut c = vec![0.0; m * n];
        matmul(&mut c, MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n), 1.0, false);
        for (x, y) in c.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-12);
        }
        // a given as the transpose of its (k, m) transpose, b likewise.
        let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut c2 = vec![1.0; m * n];
        matmul(&mut c2, MatRef::transposed(&at, m, k), MatRef::transposed(&bt, k, n), 2.0, true);
        for (x, y) in c2.iter().zip(&expected) {
            assert!((x - (1.0 + 2.0 * y)).abs() < 1e-12);
        }
    }

    #[test]
    fn transposed_route_matches_naive_product() {
        // A batch against a big weight read transposed, as in Linear::forward.
        let (m, k, n) = (5, 512, 520);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let w: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.71).cos()).collect();
        let b = MatRef::transposed(&w, k, n);
        assert!(takes_transposed_route(&MatRef::row_major(&a, m, k), &b));
        let bt: Vec<f64> = (0..k * n).map(|i| w[(i % n) * k + i / n]).collect();
        let expected = naive(&a, &bt, m, k, n);
        let mut c = vec![f64::NAN; m * n];
        matmul(&mut c, MatRef::row_major(&a, m, k), b, 1.0, false);
        let mut c2 = vec![1.0; m * n];
        matmul(&mut c2, MatRef::row_major(&a, m, k), b, 2.0, true);
        for ((x, x2), y) in c.iter().zip(&c2).zip(&expected) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
            assert!((x2 - (1.0 + 2.0 * y)).abs() < 1e-9, "{x2} vs {}", 1.0 + 2.0 * y);
        }
    }
}
