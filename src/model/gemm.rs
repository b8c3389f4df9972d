//! The one GEMM entry point of the crate: every layer's forward and backward, and the
//! `gemm_ceiling` bench, go through [`matmul`], so the ceiling measures the kernel the layers use.
//!
//! Operands are ndarray views; the kernel reads them through their pointers and strides, so a
//! transposed weight (`w.t()`) or a batch's first rows (`h.slice(s![..n, ..])`) cost no copy.
//! The only temporary is one reused per-thread buffer for the transposed route below.

use super::Real;
use ndarray::{ArrayView2, ArrayViewMut2};
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

/// c = [c +] scale · a·b, with a (m, k), b (k, n) and c (m, n) of any strides.
///
/// `accumulate = false` overwrites c (its old contents are never read). Panics if the
/// shapes do not agree; allocates nothing once the per-thread scratch has grown.
pub fn matmul<T: Real>(
    mut c: ArrayViewMut2<'_, T>,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    scale: T,
    accumulate: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert_eq!(b.nrows(), k, "matmul: inner dimensions differ");
    assert_eq!(c.dim(), (m, n), "matmul: destination shape differs from the product's");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(T::zero());
        }
        return;
    }
    if takes_transposed_route(&a, &b) {
        T::with_gemm_scratch(m * n, |scratch| {
            let mut c_t = ArrayViewMut2::from_shape((n, m), scratch).expect("scratch holds n·m elements");
            kernel(c_t.view_mut(), b.t(), a.t(), scale, false);
            add_transposed(c, c_t.view(), accumulate);
        });
    } else {
        kernel(c, a, b, scale, accumulate);
    }
}

/// The gemm crate works column-major: for our row-major c it computes cᵀ = bᵀ·aᵀ, which
/// makes b the operand it packs into panels. A b stored column-major (a weight read
/// transposed, as `Linear::forward` reads it) must then be gathered a whole row apart, and
/// when b is a big weight and a a batch, that gather costs more than the multiply saves. So
/// for such products we ask for cᵀ = bᵀ·aᵀ ourselves, into scratch: b is then read along its
/// contiguous columns, only the small a is gathered, and one pass transposes the result back.
/// Batch 128, one thread, on the reference machine: width 1024 73 → 87 GFLOP/s, width 512
/// 86 → 89; at width 256 the extra pass costs more than it saves (87 → 83), hence the size
/// thresholds.
fn takes_transposed_route<T>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>) -> bool {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let b_strides = b.strides();
    b_strides[0] == 1 && b_strides[1] != 1 && n >= 4 * m && k * n >= 1 << 18
}

/// c (m, n) = [c +] srcᵀ with src (n, m); in tiles that stay in L1 when c is row-major.
fn add_transposed<T: Real>(mut c: ArrayViewMut2<'_, T>, src: ArrayView2<'_, T>, accumulate: bool) {
    const TILE: usize = 16;
    let (m, n) = c.dim();
    if !(c.is_standard_layout() && src.is_standard_layout()) {
        c.zip_mut_with(&src.t(), |d, &s| *d = if accumulate { *d + s } else { s });
        return;
    }
    let dst = c.as_slice_mut().expect("standard layout");
    let src = src.to_slice().expect("standard layout");
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

/// The kernel: the `gemm` crate (0.19), on the views' pointers and strides. Chosen by
/// measurement on this project's reference machine, where it ran 96–108 GFLOP/s
/// single-threaded against matrixmultiply's 80–95 (the kernel behind ndarray's own `dot`).
/// Another kernel is a change of this function alone: it receives shapes that `matmul` has
/// checked and a c that is neither empty nor of inner dimension 0.
fn kernel<T: Real>(
    mut c: ArrayViewMut2<'_, T>,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    scale: T,
    accumulate: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let threads = gemm_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    let (c_rs, c_cs) = (c.strides()[0], c.strides()[1]);
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    // SAFETY: the kernel reads a[i, p] at a.ptr + i·a_rs + p·a_cs for i < m, p < k, b likewise
    // for p < k, j < n, and reads/writes c[i, j] at c.ptr + i·c_rs + j·c_cs for i < m, j < n.
    // Every such offset lies inside its view, because ndarray views only exist with
    // in-bounds (pointer, shape, strides) and `matmul` checked that a is (m, k), b (k, n) and
    // c (m, n). c is a unique borrow, so it aliases neither a nor b, and no two of its
    // elements share an address (a mutable view's strides never overlap).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
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
    use ndarray::Array2;

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
        Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
    }

    #[test]
    fn matches_naive_product_for_all_stride_patterns() {
        let (m, k, n) = (7, 5, 3);
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * k + j) as f64 * 0.37).sin());
        let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * n + j) as f64 * 0.71).cos());
        let expected = naive(&a, &b);
        let mut c = Array2::zeros((m, n));
        matmul(c.view_mut(), a.view(), b.view(), 1.0, false);
        for (x, y) in c.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-12);
        }
        // a and b given as transposes of column-major copies; c likewise, accumulated.
        let (at, bt) = (a.t().as_standard_layout().to_owned(), b.t().as_standard_layout().to_owned());
        let mut ct = Array2::ones((n, m));
        matmul(ct.view_mut().reversed_axes(), at.t(), bt.t(), 2.0, true);
        for (x, y) in ct.t().iter().zip(&expected) {
            assert!((x - (1.0 + 2.0 * y)).abs() < 1e-12);
        }
    }

    #[test]
    fn transposed_route_matches_naive_product() {
        // A batch against a big weight read transposed, as in Linear::forward.
        let (m, k, n) = (5, 512, 520);
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * k + j) as f64 * 0.37).sin());
        let w = Array2::from_shape_fn((n, k), |(i, j)| ((i * k + j) as f64 * 0.71).cos());
        assert!(takes_transposed_route(&a.view(), &w.t()));
        let expected = naive(&a, &w.t().to_owned());
        let mut c = Array2::from_elem((m, n), f64::NAN);
        matmul(c.view_mut(), a.view(), w.t(), 1.0, false);
        let mut c2 = Array2::ones((m, n));
        matmul(c2.view_mut(), a.view(), w.t(), 2.0, true);
        for ((x, x2), y) in c.iter().zip(&c2).zip(&expected) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
            assert!((x2 - (1.0 + 2.0 * y)).abs() < 1e-9, "{x2} vs {}", 1.0 + 2.0 * y);
        }
    }
}
