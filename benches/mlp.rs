//! Criterion benches: what a residual connection costs next to a plain layer, how time grows
//! with depth and width, and how close a layer gets to this machine's own GEMM ceiling.
//!
//! Ids (the analysis relies on them): `{forward,backward,train_step}/{plain,residual}/d{D}_w{W}`
//! and `gemm_ceiling/{f32,matrixmultiply}/w{W}`.
//! - `forward`: inference forward (`Mode::Eval`), logits only.
//! - `backward`: the train step (`step::TrainStep::run`: gather of the batch's rows, forward
//!   in `Mode::Train`, softmax cross-entropy gradient, backward) without the update.
//! - `train_step`: the whole train step, the one training runs, with one Adam update over the
//!   flat parameter buffer.
//! - `gemm_ceiling`: one raw f32 GEMM (`f32`: through `model::gemm::matmul`; `matrixmultiply`:
//!   the same operands through `matrixmultiply::sgemm`) at a hidden layer's
//!   forward shape, (B × w) · (w × w)ᵀ with the weight read transposed exactly as
//!   `Linear::forward` reads it.
//!
//! FLOP convention (`Throughput::Elements`, so criterion's "elem/s" are FLOP/s): 2·B·w² per
//! hidden w×w layer forward, 3× that for forward + backward (`backward`, `train_step`). Only
//! the D hidden layers count: the stem (width × width here, since the input has `width`
//! features), the head (width × 10), the loss and the optimizer are timed but not counted, so
//! at small depth the GFLOP/s understate the GEMM rate. `gemm_ceiling` counts its 2·B·w².
//!
//! Networks: ReLU, no normalisation, He init, input dim = width, 10 classes with random fixed
//! labels, batch 128. Residual: two-layer pre-activation blocks with α = 1/√K.
//!
//! Environment:
//! - `DEGRADATION_BENCH_GRID=full`: depths {2,…,128} × widths {32,…,1024}; default `quick`:
//!   depths {4, 16, 64} × widths {64, 256, 1024}.
//! - `DEGRADATION_BENCH_THREADS=N`: threads inside each GEMM (default 1, GEMM parallelism off).
//! - `DEGRADATION_BENCH_CLOCK=thread_cpu`: time with the benchmark thread's CPU time instead of
//!   the wall clock, for a machine shared with other work (see `common/cpu_time.rs`).
//!
//! Besides criterion's own files, `machine.json` (the sweep's fingerprint, threads recorded)
//! and `bench_config.json` (grid, batch, threads, FLOP convention) are written into
//! criterion's output directory, `target/criterion` unless `CRITERION_HOME` or
//! `CARGO_TARGET_DIR` says otherwise.

mod common;

use common::cpu_time::{Clock, ThreadCpuTime};
use common::criterion_home;
use common::sampling::{configure, CliOverrides};
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use degradation_bench::config::{
    Activation, Arch, Init, ModelConfig, Norm, OptimizerConfig, OptimizerKind, ResidualScale,
};
use degradation_bench::data::{Dataset, Targets};
use degradation_bench::machine::{fingerprint, write_machine_json};
use degradation_bench::model::gemm::{gemm_threads, matmul, set_gemm_threads, GEMM_BACKEND};
use degradation_bench::model::{Mlp, Mode};
use degradation_bench::train::optim::Optimizer;
use degradation_bench::train::step::TrainStep;
use ndarray::Array2;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const BATCH: usize = 128;
const CLASSES: usize = 10;
const SEED: u64 = 0x5eed;
/// Small enough that thousands of Adam steps on one batch keep every value far from
/// overflow and from subnormals, so the timing stays stationary.
const LEARNING_RATE: f64 = 1e-4;

const QUICK_DEPTHS: &[usize] = &[4, 16, 64];
const QUICK_WIDTHS: &[usize] = &[64, 256, 1024];
const FULL_DEPTHS: &[usize] = &[2, 4, 8, 16, 32, 64, 128];
const FULL_WIDTHS: &[usize] = &[32, 64, 128, 256, 512, 1024];

/// The three timed network operations, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Forward,
    Backward,
    TrainStep,
}

impl Op {
    const ALL: [Op; 3] = [Op::Forward, Op::Backward, Op::TrainStep];

    fn group(self) -> &'static str {
        match self {
            Op::Forward => "forward",
            Op::Backward => "backward",
            Op::TrainStep => "train_step",
        }
    }

    /// GEMM passes per hidden layer: forward 1, forward + backward 3 (∂W and ∂input).
    fn passes(self) -> u64 {
        match self {
            Op::Forward => 1,
            Op::Backward | Op::TrainStep => 3,
        }
    }
}

/// 2·B·w² per layer forward pass: the counted work of one hidden w×w layer.
fn layer_flops(width: usize) -> u64 {
    2 * (BATCH * width * width) as u64
}

/// A network, its optimizer, a data set of one batch and the step's buffers; everything a
/// timed iteration touches.
struct Fixture {
    mlp: Mlp<f32>,
    optimizer: Option<Optimizer<f32>>,
    data: Dataset,
    rows: Vec<usize>,
    step: TrainStep<f32>,
}

impl Fixture {
    fn new(arch: Arch, depth: usize, width: usize, op: Op) -> Self {
        let config = ModelConfig {
            arch,
            depth,
            width,
            input_dim: width,
            output_dim: CLASSES,
            activation: Activation::Relu,
            norm: Norm::None,
            residual_scale: ResidualScale::InvSqrtBlocks,
            block_layers: 2,
            init: Init::He,
        };
        let mlp = Mlp::<f32>::new(&config, BATCH, SEED).expect("bench configurations are valid");
        let optimizer = (op == Op::TrainStep).then(|| {
            let adam =
                OptimizerConfig { kind: OptimizerKind::Adam, lr: LEARNING_RATE, momentum: 0.0, weight_decay: 0.0 };
            Optimizer::new(&adam, mlp.num_params())
        });
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ width as u64);
        let inputs = Array2::<f32>::random_using((BATCH, width), StandardNormal, &mut rng);
        let labels = (0..BATCH).map(|_| rng.random_range(0..CLASSES as u32)).collect();
        let data = Dataset { inputs, targets: Targets::Classes { labels, num_classes: CLASSES }, image_shape: None };
        let step = TrainStep::new(&mlp, &data, BATCH);
        Fixture { mlp, optimizer, data, rows: (0..BATCH).collect(), step }
    }

    /// One timed iteration of `op`.
    fn run(&mut self, op: Op) {
        let Fixture { mlp, optimizer, data, rows, step } = self;
        if op == Op::Forward {
            black_box(mlp.forward(data.inputs.view(), Mode::Eval));
            return;
        }
        black_box(step.run(mlp, optimizer.as_mut(), data, rows));
        black_box(&mlp.params);
    }
}

/// A deliberately pessimistic single-thread rate, for sizing samples only.
fn estimate_seconds(flops: u64, layers: usize) -> f64 {
    const RATE: f64 = 40e9;
    const PER_LAYER_OVERHEAD: f64 = 3e-6;
    (flops as f64 / RATE + layers as f64 * PER_LAYER_OVERHEAD) / gemm_threads() as f64
}

fn bench_network<M: Measurement>(c: &mut Criterion<M>, cli: &CliOverrides, grid: &Grid) {
    for op in Op::ALL {
        let mut group = c.benchmark_group(op.group());
        for &width in grid.widths {
            for &depth in grid.depths {
                let flops = op.passes() * depth as u64 * layer_flops(width);
                // Stem and head (≈ one more layer) enter the estimate, not the throughput.
                let estimate = estimate_seconds(flops + op.passes() * layer_flops(width), depth + 2);
                configure(&mut group, cli, estimate);
                group.throughput(Throughput::Elements(flops));
                for arch in [Arch::Plain, Arch::Residual] {
                    // Built on first use, so filtered-out benchmarks allocate nothing.
                    let mut fixture = None;
                    group.bench_function(
                        criterion::BenchmarkId::new(arch.as_str(), format!("d{depth}_w{width}")),
                        |b| {
                            let fixture = fixture.get_or_insert_with(|| Fixture::new(arch, depth, width, op));
                            b.iter(|| fixture.run(op));
                        },
                    );
                }
            }
        }
        group.finish();
    }
}

fn bench_gemm_ceiling<M: Measurement>(c: &mut Criterion<M>, cli: &CliOverrides, grid: &Grid) {
    let mut group = c.benchmark_group("gemm_ceiling");
    for &width in grid.widths {
        let flops = layer_flops(width);
        configure(&mut group, cli, estimate_seconds(flops, 1));
        group.throughput(Throughput::Elements(flops));
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ width as u64);
        let inp = Array2::<f32>::random_using((BATCH, width), StandardNormal, &mut rng);
        let weight = Array2::<f32>::random_using((width, width), StandardNormal, &mut rng);
        let mut out = Array2::<f32>::zeros((BATCH, width));
        group.bench_function(criterion::BenchmarkId::new("f32", format!("w{width}")), |b| {
            b.iter(|| {
                // out = inp · Wᵀ: inp (B, w) row-major, W (w_out, w_in) row-major read transposed.
                matmul(out.view_mut(), inp.view(), weight.t(), 1.0, false);
                black_box(&out);
            });
        });
        // The same product through matrixmultiply (AVX-512 kernels on), the alternative the
        // `kernels` bench found fastest at some forward shapes: reports compare the two.
        group.bench_function(criterion::BenchmarkId::new("matrixmultiply", format!("w{width}")), |b| {
            b.iter(|| {
                // SAFETY: the three buffers are contiguous row-major arrays of the stated shapes
                // (inp BATCH × width, weight width × width read transposed through its strides,
                // out BATCH × width), alive and unaliased for the call.
                unsafe {
                    matrixmultiply::sgemm(
                        BATCH,
                        width,
                        width,
                        1.0,
                        inp.as_ptr(),
                        width as isize,
                        1,
                        weight.as_ptr(),
                        1,
                        width as isize,
                        0.0,
                        out.as_mut_ptr(),
                        width as isize,
                        1,
                    )
                };
                black_box(&out);
            });
        });
    }
    group.finish();
}

struct Grid {
    name: &'static str,
    depths: &'static [usize],
    widths: &'static [usize],
}

impl Grid {
    fn from_env() -> Self {
        match std::env::var("DEGRADATION_BENCH_GRID").as_deref() {
            Ok("full") => Grid { name: "full", depths: FULL_DEPTHS, widths: FULL_WIDTHS },
            Ok("quick") | Ok("") | Err(_) => Grid { name: "quick", depths: QUICK_DEPTHS, widths: QUICK_WIDTHS },
            Ok(other) => panic!("DEGRADATION_BENCH_GRID={other}: expected `quick` or `full`"),
        }
    }
}

fn threads_from_env() -> usize {
    match std::env::var("DEGRADATION_BENCH_THREADS") {
        Err(_) => 1,
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => panic!("DEGRADATION_BENCH_THREADS={text}: expected a whole number >= 1"),
        },
    }
}

/// Writes machine.json and bench_config.json unless criterion only lists or tests.
fn write_fingerprint(grid: &Grid, threads: usize, clock: Clock) {
    let measuring =
        std::env::args().any(|a| a == "--bench") && !std::env::args().any(|a| a == "--list" || a == "--test");
    if !measuring {
        return;
    }
    let dir = criterion_home();
    let info = fingerprint(threads, GEMM_BACKEND);
    if let Err(e) = write_machine_json(&dir, &info) {
        eprintln!("warning: could not write the machine fingerprint: {e}");
        return;
    }
    let config = serde_json::json!({
        "grid": grid.name,
        "depths": grid.depths,
        "widths": grid.widths,
        "batch": BATCH,
        "threads": threads,
        "optimizer": "adam",
        "clock": clock.name(),
        "flops": "2*batch*width^2 per hidden layer forward; 3x for backward and train_step; stem and head excluded",
        "machine_id": info.machine_id,
    });
    let path = dir.join("bench_config.json");
    if let Err(e) = std::fs::write(&path, format!("{config:#}\n")) {
        eprintln!("warning: could not write {}: {e}", path.display());
    }
}

fn main() {
    let threads = threads_from_env();
    set_gemm_threads(threads);
    let grid = Grid::from_env();
    let clock = Clock::from_env();
    write_fingerprint(&grid, threads, clock);

    let cli = CliOverrides::from_args();
    match clock {
        Clock::Wall => run_benches(Criterion::default().configure_from_args(), &cli, &grid),
        Clock::ThreadCpu => run_benches(
            Criterion::default().with_measurement(ThreadCpuTime::default()).configure_from_args(),
            &cli,
            &grid,
        ),
    }
}

fn run_benches<M: Measurement>(mut c: Criterion<M>, cli: &CliOverrides, grid: &Grid) {
    bench_gemm_ceiling(&mut c, cli, grid);
    bench_network(&mut c, cli, grid);
    c.final_summary();
}
