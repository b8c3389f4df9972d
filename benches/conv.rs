//! Criterion benches of the ResNet paper's CIFAR family (`model::conv`, He et al. 2015,
//! Sec. 4.2), plain and residual, and of the GEMMs its convolutions run, so a conv step's rate
//! has a ceiling measured on the same machine.
//!
//! Ids (none shares a group with the `mlp` bench's):
//! - `conv_{forward,backward,train_step}/{plain,residual}/d{D}_i{I}`: depth D = 6n + 2 (20 and
//!   56), I×I input images of one channel (8 and 28), 16 base filters, 10 classes, batch 128.
//!   `conv_forward`: inference forward (`Mode::Eval`, BN running statistics), logits only.
//!   `conv_backward`: forward (`Mode::Train`), softmax cross-entropy and its gradient, backward.
//!   `conv_train_step`: the same + one SGD update (momentum 0.9, weight decay 1e-4) of the flat
//!   parameter buffer through the crate's `Optimizer`.
//! - `gemm_ceiling_conv/{forward,weight_grad,input_grad}/i{I}_c{C}`: one call of each GEMM a
//!   stride-1 C→C conv of the I×I net runs per block of images (`Conv2d::images_per_gemm`
//!   images, rows = images × output pixels), with the operands laid out as `conv2d.rs` lays
//!   them: forward y = cols·Wᵀ (rows × 9C)·(9C × C); weight_grad ∂W += dyᵀ·cols (C × rows)·(rows
//!   × 9C); input_grad ∂cols = dy·W (rows × C)·(C × 9C). C = 16, 32, 64 are the three stages
//!   (maps I, I/2, I/4), where all but the stem's and the two stride-2 convs' FLOPs are.
//!
//! FLOP convention (`Throughput::Elements`, so criterion's "elem/s" are FLOP/s): the batch times
//! `ConvNetConfig::forward_flops_per_sample` (2·H_o·W_o·9·C_in·C_out per conv, the stem
//! included, plus 2·64·10 for the classifier); 3× that for `conv_backward` and
//! `conv_train_step` (forward, ∂W and ∂x; the stem's unneeded ∂x is counted all the same, as
//! the usual "3 × forward" convention does). BN, ReLU, pooling, the shortcut, the loss and the
//! update are timed, not counted. ResNet-20 at 28×28 counts 23.7 GFLOP per train step,
//! ResNet-56 73.6 (pinned by a test in `sweep::grid`).
//! `gemm_ceiling_conv` counts its own 2·m·k·n.
//!
//! Inputs are fixed N(0, 1) images with fixed random labels; one batch every iteration. The
//! learning rate is small (1e-3) so thousands of steps on one batch leave the values far from
//! overflow and subnormals, keeping the timing stationary (`peers/pytorch/conv_timing.py` uses
//! the same step).
//!
//! Environment, as for the `mlp` bench: `DEGRADATION_BENCH_THREADS=N` (threads inside each
//! GEMM, default 1), `DEGRADATION_BENCH_CLOCK=thread_cpu` (the benchmark thread's CPU time
//! instead of the wall clock). Besides criterion's files, `machine.json` (the fingerprint, its
//! `threads` the GEMM threads) and `conv_bench_config.json` (grid, batch, optimizer, FLOP
//! convention, clock) are written into criterion's directory.

mod common;

use common::cpu_time::{Clock, ThreadCpuTime};
use common::criterion_home;
use common::sampling::{configure, CliOverrides};
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use degradation_bench::config::{Arch, OptimizerConfig, OptimizerKind};
use degradation_bench::machine::{fingerprint, write_machine_json};
use degradation_bench::model::conv::conv2d::Conv2d;
use degradation_bench::model::conv::{ConvNet, ConvNetConfig, MapShape};
use degradation_bench::model::gemm::{gemm_threads, matmul, set_gemm_threads, GEMM_BACKEND};
use degradation_bench::model::Mode;
use degradation_bench::train::loss::softmax_cross_entropy;
use degradation_bench::train::optim::Optimizer;
use ndarray::Array2;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const BATCH: usize = 128;
const CLASSES: usize = 10;
const BASE_CHANNELS: usize = 16;
const SEED: u64 = 0x5eed;
const DEPTHS: [usize; 2] = [20, 56];
const INPUT_SIDES: [usize; 2] = [8, 28];
const LEARNING_RATE: f64 = 1e-3;
const MOMENTUM: f64 = 0.9;
const WEIGHT_DECAY: f64 = 1e-4;

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
            Op::Forward => "conv_forward",
            Op::Backward => "conv_backward",
            Op::TrainStep => "conv_train_step",
        }
    }

    /// GEMM passes per conv: forward 1, forward + backward 3 (∂W and ∂x).
    fn passes(self) -> u64 {
        match self {
            Op::Forward => 1,
            Op::Backward | Op::TrainStep => 3,
        }
    }
}

fn net_config(arch: Arch, depth: usize, side: usize) -> ConvNetConfig {
    assert_eq!((depth - 2) % 6, 0, "depth {depth} is not 6n + 2");
    ConvNetConfig::paper(arch, (depth - 2) / 6, MapShape::new(side, side, 1), CLASSES)
}

/// A network, its optimizer, one fixed batch and ∂L/∂logits: everything an iteration touches.
struct Fixture {
    net: ConvNet<f32>,
    optimizer: Optimizer<f32>,
    /// (BATCH, C·H·W), each row one image in (C, H, W) order.
    inputs: Array2<f32>,
    labels: Vec<u32>,
    /// (BATCH, CLASSES).
    dlogits: Array2<f32>,
}

impl Fixture {
    fn new(config: &ConvNetConfig) -> Self {
        let net = ConvNet::<f32>::new(config, BATCH, SEED).expect("bench configurations are valid");
        let sgd = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: LEARNING_RATE,
            momentum: MOMENTUM,
            weight_decay: WEIGHT_DECAY,
        };
        let optimizer = Optimizer::new(&sgd, net.num_params());
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ config.input.len() as u64);
        let inputs = Array2::<f32>::random_using((BATCH, config.input.len()), StandardNormal, &mut rng);
        let labels = (0..BATCH).map(|_| rng.random_range(0..CLASSES as u32)).collect();
        Fixture { net, optimizer, inputs, labels, dlogits: Array2::zeros((BATCH, CLASSES)) }
    }

    /// One timed iteration of `op`.
    fn run(&mut self, op: Op) {
        let Fixture { net, optimizer, inputs, labels, dlogits } = self;
        if op == Op::Forward {
            black_box(net.forward(inputs.view(), Mode::Eval));
            return;
        }
        let logits = net.forward(inputs.view(), Mode::Train);
        let logits = logits.as_slice().expect("logits are row-major");
        let dlogits_slice = dlogits.as_slice_mut().expect("owned arrays are row-major");
        black_box(softmax_cross_entropy(logits, labels, CLASSES, Some(dlogits_slice)));
        net.backward(inputs.view(), dlogits.view(), None);
        if op == Op::TrainStep {
            optimizer.step(&mut net.params, &net.grads);
        }
        black_box(&net.params);
    }
}

/// A deliberately pessimistic single-thread rate, for sizing samples only.
fn estimate_seconds(flops: u64) -> f64 {
    const RATE: f64 = 25e9;
    flops as f64 / RATE / gemm_threads() as f64
}

fn bench_networks<M: Measurement>(c: &mut Criterion<M>, cli: &CliOverrides) {
    for op in Op::ALL {
        let mut group = c.benchmark_group(op.group());
        for side in INPUT_SIDES {
            for depth in DEPTHS {
                // Plain and residual nets have the same convs, so the same FLOPs.
                let per_image = net_config(Arch::Plain, depth, side).forward_flops_per_sample();
                let flops = op.passes() * (per_image * BATCH as f64).round() as u64;
                configure(&mut group, cli, estimate_seconds(flops));
                group.throughput(Throughput::Elements(flops));
                for arch in [Arch::Plain, Arch::Residual] {
                    // Built on first use, so filtered-out benchmarks allocate nothing.
                    let mut fixture = None;
                    group.bench_function(BenchmarkId::new(arch.as_str(), format!("d{depth}_i{side}")), |b| {
                        let fixture = fixture.get_or_insert_with(|| Fixture::new(&net_config(arch, depth, side)));
                        b.iter(|| fixture.run(op));
                    });
                }
            }
        }
        group.finish();
    }
}

/// The three GEMMs of one block of images of a stride-1 C→C conv, on fixed operands.
struct ConvGemms {
    /// im2col block (rows, 9C), also ∂L/∂cols' destination.
    cols: Array2<f32>,
    /// W, (C, 9C) (and ∂W's destination, same shape).
    weight: Array2<f32>,
    weight_grad: Array2<f32>,
    /// y and dy, (rows, C).
    out: Array2<f32>,
    dy: Array2<f32>,
}

fn bench_gemm_ceiling<M: Measurement>(c: &mut Criterion<M>, cli: &CliOverrides) {
    let mut group = c.benchmark_group("gemm_ceiling_conv");
    for side in INPUT_SIDES {
        for stage in 0..3 {
            let channels = BASE_CHANNELS << stage;
            let map = MapShape::new(side >> stage, side >> stage, channels);
            let conv = Conv2d::allocate(map, channels, 1, &mut 0);
            let rows = conv.images_per_gemm.min(BATCH) * conv.output.pixels();
            let (k, n) = (conv.fan_in(), channels);
            let flops = 2 * (rows * k * n) as u64;
            configure(&mut group, cli, estimate_seconds(flops));
            group.throughput(Throughput::Elements(flops));
            let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ (side * 64 + channels) as u64);
            let mut gemms = ConvGemms {
                cols: Array2::random_using((rows, k), StandardNormal, &mut rng),
                weight: Array2::random_using((n, k), StandardNormal, &mut rng),
                weight_grad: Array2::zeros((n, k)),
                out: Array2::zeros((rows, n)),
                dy: Array2::random_using((rows, n), StandardNormal, &mut rng),
            };
            let param = format!("i{side}_c{channels}");
            group.bench_function(BenchmarkId::new("forward", &param), |b| {
                let g = &mut gemms;
                // y = cols · Wᵀ, as `Conv2d::forward`.
                b.iter(|| matmul(g.out.view_mut(), g.cols.view(), g.weight.t(), 1.0, false));
            });
            group.bench_function(BenchmarkId::new("weight_grad", &param), |b| {
                let g = &mut gemms;
                // ∂W += dyᵀ · cols, as `Conv2d::backward` for every block after the first.
                b.iter(|| matmul(g.weight_grad.view_mut(), g.dy.t(), g.cols.view(), 1.0, true));
            });
            group.bench_function(BenchmarkId::new("input_grad", &param), |b| {
                let g = &mut gemms;
                // ∂L/∂cols = dy · W, as `Conv2d::input_block_backward`.
                b.iter(|| matmul(g.cols.view_mut(), g.dy.view(), g.weight.view(), 1.0, false));
            });
            black_box(&gemms.out);
        }
    }
    group.finish();
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

/// Writes machine.json and conv_bench_config.json unless criterion only lists or tests.
fn write_fingerprint(threads: usize, clock: Clock) {
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
        "depths": DEPTHS,
        "input_sides": INPUT_SIDES,
        "input_channels": 1,
        "base_channels": BASE_CHANNELS,
        "classes": CLASSES,
        "batch": BATCH,
        "threads": threads,
        "optimizer": { "kind": "sgd", "lr": LEARNING_RATE, "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY },
        "clock": clock.name(),
        "flops": "batch * ConvNetConfig::forward_flops_per_sample (2*H_o*W_o*9*C_in*C_out per conv, stem included, + 2*64*10 classifier); 3x for conv_backward and conv_train_step; BN, ReLU, pool, shortcut, loss and update excluded",
        "machine_id": info.machine_id,
    });
    let path = dir.join("conv_bench_config.json");
    if let Err(e) = std::fs::write(&path, format!("{config:#}\n")) {
        eprintln!("warning: could not write {}: {e}", path.display());
    }
}

fn main() {
    let threads = threads_from_env();
    set_gemm_threads(threads);
    let clock = Clock::from_env();
    write_fingerprint(threads, clock);
    let cli = CliOverrides::from_args();
    match clock {
        Clock::Wall => run_benches(Criterion::default().configure_from_args(), &cli),
        Clock::ThreadCpu => {
            run_benches(Criterion::default().with_measurement(ThreadCpuTime::default()).configure_from_args(), &cli)
        }
    }
}

fn run_benches<M: Measurement>(mut c: Criterion<M>, cli: &CliOverrides) {
    bench_gemm_ceiling(&mut c, cli);
    bench_networks(&mut c, cli);
    c.final_summary();
}
