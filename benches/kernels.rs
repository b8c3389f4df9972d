//! `kernels`: the f32 GEMM kernels worth considering, at the three products a train step
//! runs, so the one the crate calls is chosen by measurement on each machine.
//!
//! Products, for a batch of B rows and a hidden w×w layer (weight W stored (w_out, w_in)
//! row-major, activations batch-major), with the operand layouts the layers use:
//! - `forward`:     out (B × w) = h (B × w) · Wᵀ          — W read transposed
//! - `input_grad`:  ∂h  (B × w) = δ (B × w) · W
//! - `weight_grad`: ∂W  (w × w) = δᵀ (w × B) · h (B × w)  — δ read transposed
//!
//! Each costs 2·B·w² FLOP. Kernels, all single-threaded and called on the raw strided
//! buffers (no copies):
//! - `gemm`: the `gemm` crate (0.19, x86-v4 kernels where the CPU has AVX-512);
//! - `matrixmultiply`: `matrixmultiply::sgemm` (0.3.11, its AVX-512 kernels on);
//! - `crate`: the crate's own entry `model::gemm::matmul`, whatever it picks today;
//! - `openblas` (with `--features openblas-bench`, linking the system's libopenblas): `cblas_sgemm`.
//!
//! Method: for each shape the kernels are timed interleaved, 101 rounds of one ~1 ms sample
//! each, in a rotating order, so background load on a shared machine hits all of them alike;
//! a sample's time is divided by the calls it made. Reported per kernel: ns per call (median
//! with its 95 % interval, best decile, best), GFLOP/s at the best decile — other work can
//! only slow a sample down, so that is the kernel's own speed — and the heap allocations of one
//! call (counted by this binary's global allocator): a kernel that allocates breaks a train
//! step's promise to allocate nothing. The winner of a shape is the kernel with the shortest
//! best-decile time. Every kernel's result is checked against the `gemm` crate's first.
//!
//! Output: `kernels.json` in criterion's output directory, with the machine id; a table on
//! stdout. Filter with substrings of `kernels/{product}/b{B}_w{w}`.

mod common;

use common::{criterion_home, filters, selected, write_json, Invocation, Product, Summary};
use degradation_bench::machine::fingerprint;
use degradation_bench::model::gemm::{matmul, GEMM_BACKEND};
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BATCHES: [usize; 2] = [64, 128];
const WIDTHS: [usize; 6] = [32, 64, 128, 256, 512, 1024];
/// Many short samples: on a shared machine a 1 ms sample mostly runs inside one time slice,
/// so the best decile is the kernel's unhindered speed even when the median is not.
const ROUNDS: usize = 101;
const SAMPLE_TIME: Duration = Duration::from_millis(1);

/// Counts every allocation of the process; the bench is single-threaded while it counts.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A matrix operand inside a buffer: element (i, j) at `i·row_stride + j·col_stride`.
#[derive(Clone, Copy)]
struct Layout2 {
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl Layout2 {
    fn row_major(rows: usize, cols: usize) -> Self {
        Layout2 { rows, cols, row_stride: cols, col_stride: 1 }
    }
    /// The transpose of a row-major (cols × rows) buffer.
    fn transposed(rows: usize, cols: usize) -> Self {
        Layout2 { rows, cols, row_stride: 1, col_stride: rows }
    }
    /// The matrix `data` holds in this layout, as the crate's `matmul` takes it.
    fn view(self, data: &[f32]) -> ArrayView2<'_, f32> {
        let shape = (self.rows, self.cols).strides((self.row_stride, self.col_stride));
        ArrayView2::from_shape(shape, data).expect("the layout fits its buffer")
    }
}

/// One product at one shape: c (m × n, row-major) = a (m × k) · b (k × n).
struct Problem {
    product: Product,
    batch: usize,
    width: usize,
    a: Vec<f32>,
    a_layout: Layout2,
    b: Vec<f32>,
    b_layout: Layout2,
    c: Vec<f32>,
}

impl Problem {
    fn new(product: Product, batch: usize, width: usize) -> Self {
        let (b, w) = (batch, width);
        let (a_layout, b_layout) = match product {
            Product::Forward => (Layout2::row_major(b, w), Layout2::transposed(w, w)),
            Product::InputGrad => (Layout2::row_major(b, w), Layout2::row_major(w, w)),
            Product::WeightGrad => (Layout2::transposed(w, b), Layout2::row_major(b, w)),
        };
        let mut rng = ChaCha8Rng::seed_from_u64((batch * 10_000 + width) as u64);
        let mut normal = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.sample(StandardNormal)).collect() };
        let (a, bm) = (normal(a_layout.rows * a_layout.cols), normal(b_layout.rows * b_layout.cols));
        let c = vec![0.0; a_layout.rows * b_layout.cols];
        Problem { product, batch, width, a, a_layout, b: bm, b_layout, c }
    }

    fn mkn(&self) -> (usize, usize, usize) {
        (self.a_layout.rows, self.a_layout.cols, self.b_layout.cols)
    }

    fn flops(&self) -> f64 {
        let (m, k, n) = self.mkn();
        2.0 * (m * k * n) as f64
    }

    fn id(&self) -> String {
        format!("kernels/{}/b{}_w{}", self.product.name(), self.batch, self.width)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Gemm,
    MatrixMultiply,
    Crate,
    #[cfg(feature = "openblas-bench")]
    OpenBlas,
}

impl Kernel {
    fn all() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut all = vec![Kernel::Gemm, Kernel::MatrixMultiply, Kernel::Crate];
        #[cfg(feature = "openblas-bench")]
        all.push(Kernel::OpenBlas);
        all
    }

    fn name(self) -> &'static str {
        match self {
            Kernel::Gemm => "gemm",
            Kernel::MatrixMultiply => "matrixmultiply",
            Kernel::Crate => "crate",
            #[cfg(feature = "openblas-bench")]
            Kernel::OpenBlas => "openblas",
        }
    }

    /// c = a · b, overwriting c.
    fn run(self, p: &mut Problem) {
        let (m, k, n) = p.mkn();
        let (a, b) = (p.a_layout, p.b_layout);
        let (a_rs, a_cs, b_rs, b_cs) =
            (a.row_stride as isize, a.col_stride as isize, b.row_stride as isize, b.col_stride as isize);
        match self {
            // SAFETY (all three raw calls): the layouts index inside their buffers (built
            // from the same shapes), c holds m·n elements written row-major, and c does not
            // alias a or b.
            Kernel::Gemm => unsafe {
                // gemm computes dst := alpha·dst + beta·lhs·rhs; strides are (column, row).
                gemm::gemm(
                    m,
                    n,
                    k,
                    p.c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    p.a.as_ptr(),
                    a_cs,
                    a_rs,
                    p.b.as_ptr(),
                    b_cs,
                    b_rs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            },
            Kernel::MatrixMultiply => unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    p.a.as_ptr(),
                    a_rs,
                    a_cs,
                    p.b.as_ptr(),
                    b_rs,
                    b_cs,
                    0.0,
                    p.c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            Kernel::Crate => {
                let c = ArrayViewMut2::from_shape((m, n), &mut p.c).expect("c is m × n");
                matmul(c, a.view(&p.a), b.view(&p.b), 1.0, false)
            }
            #[cfg(feature = "openblas-bench")]
            Kernel::OpenBlas => openblas::sgemm(m, k, n, &p.a, a, &p.b, b, &mut p.c),
        }
    }
}

#[cfg(feature = "openblas-bench")]
mod openblas {
    use super::Layout2;

    const ROW_MAJOR: i32 = 101;
    const NO_TRANS: i32 = 111;
    const TRANS: i32 = 112;

    #[link(name = "openblas")]
    extern "C" {
        #[allow(clippy::too_many_arguments)]
        fn cblas_sgemm(
            order: i32,
            trans_a: i32,
            trans_b: i32,
            m: i32,
            n: i32,
            k: i32,
            alpha: f32,
            a: *const f32,
            lda: i32,
            b: *const f32,
            ldb: i32,
            beta: f32,
            c: *mut f32,
            ldc: i32,
        );
        fn openblas_set_num_threads(threads: i32);
    }

    pub fn single_threaded() {
        // SAFETY: a plain setter of the library's thread count.
        unsafe { openblas_set_num_threads(1) }
    }

    /// BLAS takes a row-major operand or the transpose of one: (transpose flag, leading dim).
    fn as_blas(layout: Layout2) -> (i32, i32) {
        if layout.col_stride == 1 {
            (NO_TRANS, layout.row_stride as i32)
        } else {
            assert_eq!(layout.row_stride, 1, "BLAS needs one unit stride");
            (TRANS, layout.col_stride as i32)
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sgemm(m: usize, k: usize, n: usize, a: &[f32], al: Layout2, b: &[f32], bl: Layout2, c: &mut [f32]) {
        let ((ta, lda), (tb, ldb)) = (as_blas(al), as_blas(bl));
        assert!(c.len() >= m * n);
        // SAFETY: the layouts index inside a and b, c holds m·n elements, row-major with ldc = n.
        unsafe {
            cblas_sgemm(
                ROW_MAJOR,
                ta,
                tb,
                m as i32,
                n as i32,
                k as i32,
                1.0,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                0.0,
                c.as_mut_ptr(),
                n as i32,
            )
        }
    }
}

#[derive(Serialize)]
struct KernelResult {
    product: Product,
    batch: usize,
    width: usize,
    m: usize,
    k: usize,
    n: usize,
    kernel: &'static str,
    ns_per_call: Summary,
    gflops: f64,
    allocations_per_call: usize,
}

#[derive(Serialize)]
struct Winner {
    product: Product,
    batch: usize,
    width: usize,
    fastest: &'static str,
    /// Runner-up's best-decile time ÷ the fastest's.
    margin: f64,
    runner_up: &'static str,
    /// Whether the medians rank the two the same way.
    medians_agree: bool,
}

#[derive(Serialize)]
struct Report {
    machine_id: String,
    cpu_model: String,
    simd_features: Vec<String>,
    threads: usize,
    rounds: usize,
    method: &'static str,
    results: Vec<KernelResult>,
    winners: Vec<Winner>,
}

/// Max |x − y| allowed between two kernels: f32 rounding grows with √k for N(0, 1) inputs.
fn check_agreement(reference: &[f32], other: &[f32], k: usize, what: &str) {
    let tolerance = 1e-4 * (k as f32).sqrt() * 4.0;
    let worst = reference.iter().zip(other).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst <= tolerance, "{what}: differs from the gemm crate by {worst} (> {tolerance})");
}

/// Calls per sample so one sample takes about `SAMPLE_TIME`.
fn calls_per_sample(kernel: Kernel, p: &mut Problem) -> usize {
    let start = Instant::now();
    let mut calls = 0;
    while start.elapsed() < SAMPLE_TIME / 2 {
        kernel.run(p);
        calls += 1;
    }
    (calls * 2).max(1)
}

fn measure(p: &mut Problem, kernels: &[Kernel]) -> Vec<(Summary, usize)> {
    Kernel::Gemm.run(p);
    let reference = p.c.clone();
    let mut allocations = Vec::with_capacity(kernels.len());
    for &kernel in kernels {
        p.c.fill(f32::NAN);
        kernel.run(p); // first call: lets a kernel grow its scratch
        check_agreement(&reference, &p.c, p.mkn().1, &format!("{} {}", p.id(), kernel.name()));
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        kernel.run(p);
        allocations.push(ALLOCATIONS.load(Ordering::Relaxed) - before);
    }
    let calls: Vec<usize> = kernels.iter().map(|&kernel| calls_per_sample(kernel, p)).collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); kernels.len()];
    for round in 0..ROUNDS {
        for offset in 0..kernels.len() {
            let i = (round + offset) % kernels.len();
            let start = Instant::now();
            for _ in 0..calls[i] {
                kernels[i].run(p);
            }
            black_box(&p.c);
            times[i].push(start.elapsed().as_nanos() as f64 / calls[i] as f64);
        }
    }
    times.iter().map(|t| Summary::of(t, false)).zip(allocations).collect()
}

fn main() {
    let invocation = Invocation::from_args();
    let filters = filters();
    let kernels = Kernel::all();
    #[cfg(feature = "openblas-bench")]
    openblas::single_threaded();
    let mut problems = Vec::new();
    for product in Product::ALL {
        for batch in BATCHES {
            for width in WIDTHS {
                let id = format!("kernels/{}/b{batch}_w{width}", product.name());
                if selected(&id, &filters) {
                    problems.push((product, batch, width));
                }
            }
        }
    }
    match invocation {
        Invocation::List => {
            problems.iter().for_each(|&(p, b, w)| println!("kernels/{}/b{b}_w{w}: bench", p.name()));
            return;
        }
        Invocation::Smoke => {
            for &(product, batch, width) in &problems {
                let mut p = Problem::new(product, batch, width);
                Kernel::Gemm.run(&mut p);
                let reference = p.c.clone();
                for &kernel in &kernels {
                    p.c.fill(f32::NAN);
                    kernel.run(&mut p);
                    check_agreement(&reference, &p.c, p.mkn().1, &format!("{} {}", p.id(), kernel.name()));
                }
                println!("{}: ok", p.id());
            }
            return;
        }
        Invocation::Measure => {}
    }

    let mut results = Vec::new();
    let mut winners = Vec::new();
    println!("{:<34} {}", "shape", kernels.iter().map(|k| format!("{:>22}", k.name())).collect::<String>());
    for &(product, batch, width) in &problems {
        let mut p = Problem::new(product, batch, width);
        let measured = measure(&mut p, &kernels);
        let (m, k, n) = p.mkn();
        let cells: String = measured
            .iter()
            .map(|(s, allocs)| format!("{:>14.1} GF/s a{allocs:<2}", p.flops() / s.best_decile))
            .collect();
        println!("{:<34} {cells}", p.id());
        let mut order: Vec<usize> = (0..kernels.len()).collect();
        order.sort_by(|&i, &j| measured[i].0.best_decile.total_cmp(&measured[j].0.best_decile));
        if let [first, second, ..] = order[..] {
            let (a, b) = (measured[first].0, measured[second].0);
            winners.push(Winner {
                product,
                batch,
                width,
                fastest: kernels[first].name(),
                margin: b.best_decile / a.best_decile,
                runner_up: kernels[second].name(),
                medians_agree: a.median <= b.median,
            });
        }
        for (&kernel, (summary, allocations)) in kernels.iter().zip(measured) {
            results.push(KernelResult {
                product,
                batch,
                width,
                m,
                k,
                n,
                kernel: kernel.name(),
                ns_per_call: summary,
                gflops: p.flops() / summary.best_decile,
                allocations_per_call: allocations,
            });
        }
    }
    let info = fingerprint(1, GEMM_BACKEND);
    let report = Report {
        machine_id: info.machine_id,
        cpu_model: info.cpu_model,
        simd_features: info.simd_features,
        threads: 1,
        rounds: ROUNDS,
        method: "one thread; kernels interleaved in rotating order, one ~1 ms sample each per round; \
                 ns_per_call: median over rounds with a distribution-free 95% interval, best decile, best; \
                 gflops = 2*m*k*n / best-decile time; winner = shortest best-decile time",
        results,
        winners,
    };
    match write_json(&criterion_home(), "kernels.json", &report) {
        Ok(path) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("warning: could not write kernels.json: {e}"),
    }
}
