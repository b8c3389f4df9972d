//! `subnormal`: what arithmetic on subnormal floats costs on this machine, and what
//! flush-to-zero (FTZ) with denormals-are-zero (DAZ) would save, where a collapsed deep plain
//! net computes (see `train::subnormals` for the count and docs/benchmarks.md for the answer).
//!
//! Ids, criterion groups `subnormal_gemm`, `subnormal_update`, `subnormal_step`:
//! - `subnormal_gemm/{normal,subnormal,subnormal_ftz_daz}/{forward,input_grad,weight_grad}_b128_w64`:
//!   one call of `model::gemm::matmul` (the GEMM every linear layer calls) at a width-64
//!   layer's three products for a batch of 128: out = h·Wᵀ, ∂h = δ·W, ∂W = δᵀ·h. `normal`: h, δ
//!   N(0, 1) and W N(0, 2/64); `subnormal`: the activation or gradient operand (h in the forward,
//!   δ in the two backward products) scaled by 1e-39, so every nonzero value of it is subnormal
//!   and so are the products (W and the other operand stay normal, as in a net whose signal has
//!   died away); `subnormal_ftz_daz`: the same operands with FTZ and DAZ set in MXCSR.
//! - `subnormal_update/{plain,residual}_d128_w64/{default,ftz_daz,flushed}`: one Adam update
//!   (`train::optim::Optimizer::step`) over the whole flat parameter buffer of a net replayed
//!   (`train::replay`) through the `tuned` preset's Adam lr 1e-3, seed-0 run at depth 128, width
//!   64 for its 1500 steps: the plain net has collapsed to chance and carries a subnormal first
//!   moment for many of its parameters; the residual net has trained.
//! - `subnormal_step/{plain,residual}_d128_w64/{default,ftz_daz,flushed}`: that run's whole
//!   next train step (`Replay::step`: gather, forward, loss, backward, Adam update; batch 64, one
//!   thread), exactly the step the sweep timed.
//! - Two controls. `flushed`: one update or step under FTZ/DAZ first (the subnormal moments
//!   become 0), then timed with MXCSR as it was; parameters whose gradient is exactly 0 grow
//!   subnormal moments again within the thousands of timed iterations (the census after timing
//!   says how many), so it lies between the two. `subnormal_update/normal_values/{default,ftz_daz}`:
//!   the same update over as many parameters with fixed N(0, 10⁻⁶) gradients, which never
//!   produce a subnormal value: a difference there would be the mode itself.
//!
//! Each variant gets its own replayed net (FTZ changes the values it runs on, so a shared net
//! would hand the next variant a different state). Each iteration sets MXCSR and restores it
//! afterwards in both variants, so both pay the same for it and criterion's own arithmetic never
//! runs flushed. Before timing, each fixture prints a census of what it computes on, so a
//! variant that does not do what its name says shows. FTZ/DAZ exist on x86_64 only; elsewhere
//! only the `normal`, `subnormal` and `default` variants run.
//!
//! `DEGRADATION_BENCH_CLOCK=thread_cpu` times with the thread's CPU time (as the `mlp` bench):
//! on a machine shared with other work the wall clock also counts the waits for a core.
//!
//! ```sh
//! cargo bench --bench subnormal -- --measurement-time 3 --warm-up-time 1
//! cargo bench --bench subnormal -- subnormal_step
//! ```

mod common;

use common::cpu_time::{Clock, ThreadCpuTime};
use common::sampling::{configure, CliOverrides};
use common::{Invocation, Product};
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion};
use degradation_bench::config::{Arch, OptimizerKind, RunConfig};
use degradation_bench::data::{self, Split};
use degradation_bench::model::gemm::matmul;
use degradation_bench::model::Mlp;
use degradation_bench::sweep::{self, expand, DataShape};
use degradation_bench::train::replay::Replay;
use degradation_bench::train::subnormals::FloatCensus;
use ndarray::Array2;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const BATCH: usize = 128;
const WIDTH: usize = 64;
/// Scales N(0, 1) values into the subnormal range (below 2⁻¹²⁶ ≈ 1.18e-38) and keeps them
/// well above its bottom (1.4e-45), so their products with normal weights stay subnormal.
const SUBNORMAL_SCALE: f32 = 1e-39;
/// The replayed run: the `tuned` preset's Adam lr 1e-3 run at this depth, width and seed.
const DEPTH: usize = 128;
const SEED: u64 = 0;
const LR: f64 = 1e-3;

/// Whether an iteration runs with FTZ and DAZ set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flush {
    Off,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    FtzDaz,
}

impl Flush {
    #[cfg(target_arch = "x86_64")]
    const ALL: &'static [Flush] = &[Flush::Off, Flush::FtzDaz];
    #[cfg(not(target_arch = "x86_64"))]
    const ALL: &'static [Flush] = &[Flush::Off];
}

/// Runs `f` with MXCSR's flush-to-zero (bit 15: subnormal results become 0) and
/// denormals-are-zero (bit 6: subnormal operands read as 0) set when `flush` says so, and puts
/// MXCSR back as it was afterwards. MXCSR governs SSE, AVX and AVX-512 arithmetic alike.
#[cfg(target_arch = "x86_64")]
fn with_flush<R>(flush: Flush, f: impl FnOnce() -> R) -> R {
    // std marks these two deprecated because Rust assumes the default floating-point
    // environment; here the change is confined to `f` and undone before any other code runs.
    #[allow(deprecated)]
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
    const FLUSH_TO_ZERO: u32 = 1 << 15;
    const DENORMALS_ARE_ZERO: u32 = 1 << 6;

    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: writes back the value read below; ldmxcsr has no other effect.
            #[allow(deprecated)]
            unsafe {
                _mm_setcsr(self.0)
            };
        }
    }
    // SAFETY: stmxcsr/ldmxcsr only read and write the control register of this thread;
    // the reserved bits are written back as read.
    #[allow(deprecated)]
    let saved = unsafe { _mm_getcsr() };
    let bits = match flush {
        Flush::Off => saved,
        Flush::FtzDaz => saved | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO,
    };
    #[allow(deprecated)]
    unsafe {
        _mm_setcsr(bits)
    };
    let _restore = Restore(saved);
    f()
}

#[cfg(not(target_arch = "x86_64"))]
fn with_flush<R>(_flush: Flush, f: impl FnOnce() -> R) -> R {
    f()
}

/// The operands of one product: `signal` is h (forward) or δ (backward), the operand that is
/// subnormal in a collapsed net; `other` is h in ∂W = δᵀ·h and unused otherwise.
struct Operands {
    signal: Array2<f32>,
    other: Array2<f32>,
    weight: Array2<f32>,
    out: Array2<f32>,
}

impl Operands {
    fn new(product: Product, subnormal: bool) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
        let mut signal = Array2::<f32>::random_using((BATCH, WIDTH), StandardNormal, &mut rng);
        if subnormal {
            signal.mapv_inplace(|x| x * SUBNORMAL_SCALE);
        }
        let other = Array2::<f32>::random_using((BATCH, WIDTH), StandardNormal, &mut rng);
        let weight = Array2::<f32>::random_using((WIDTH, WIDTH), StandardNormal, &mut rng)
            .mapv(|x| x * (2.0 / WIDTH as f32).sqrt());
        let out = match product {
            Product::Forward | Product::InputGrad => Array2::zeros((BATCH, WIDTH)),
            Product::WeightGrad => Array2::zeros((WIDTH, WIDTH)),
        };
        Operands { signal, other, weight, out }
    }

    /// The product as the layers run it (`Linear::forward` and `Linear::backward`).
    fn run(&mut self, product: Product) {
        let Operands { signal, other, weight, out } = self;
        match product {
            Product::Forward => matmul(out.view_mut(), signal.view(), weight.t(), 1.0, false),
            Product::InputGrad => matmul(out.view_mut(), signal.view(), weight.view(), 1.0, false),
            Product::WeightGrad => matmul(out.view_mut(), signal.t(), other.view(), 1.0, false),
        }
    }
}

fn bench_gemm<M: Measurement>(c: &mut Criterion<M>, cli: &CliOverrides) {
    let mut group = c.benchmark_group("subnormal_gemm");
    configure(&mut group, cli, 2.0 * (BATCH * WIDTH * WIDTH) as f64 / 40e9);
    let variants = [("normal", false, Flush::Off), ("subnormal", true, Flush::Off)]
        .into_iter()
        .chain(Flush::ALL.contains(&Flush::FtzDaz).then_some(("subnormal_ftz_daz", true, Flush::FtzDaz)));
    for (name, subnormal, flush) in variants {
        for product in Product::ALL {
            let mut operands = Operands::new(product, subnormal);
            with_flush(flush, || operands.run(product));
            let (signal, out) = (FloatCensus::of(&operands.signal), FloatCensus::of(&operands.out));
            eprintln!(
                "{name} {}: operand {}/{} subnormal, result {}/{} subnormal, {} zero",
                product.name(),
                signal.subnormals,
                signal.values,
                out.subnormals,
                out.values,
                out.zeros
            );
            group.bench_function(BenchmarkId::new(name, format!("{}_b{BATCH}_w{WIDTH}", product.name())), |b| {
                b.iter(|| with_flush(flush, || operands.run(product)));
                black_box(&operands.out);
            });
        }
    }
    group.finish();
}

/// The `tuned` preset's run at `DEPTH`, width 64, Adam lr 1e-3, seed 0, and its data.
fn replayed_run(arch: Arch) -> (RunConfig, Split) {
    let (experiment, _) = sweep::load_experiment(None, Some("tuned")).expect("the tuned preset is shipped");
    let split = data::load(experiment.dataset, &experiment.dataset_options).expect("the digits are embedded");
    let config = expand(&experiment, DataShape::of(&split))
        .into_iter()
        .map(|planned| planned.config)
        .find(|c| {
            c.model.arch == arch
                && c.model.depth == DEPTH
                && c.model.width == WIDTH
                && c.seed == SEED
                && c.optimizer.kind == OptimizerKind::Adam
                && c.optimizer.lr == LR
        })
        .expect("the tuned preset has this run");
    (config, split)
}

/// The variants of a collapsed net's update and step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Timed as the sweep runs it.
    Default,
    /// Timed with FTZ and DAZ set.
    FtzDaz,
    /// One update (or step) under FTZ and DAZ first, then timed as `Default`.
    Flushed,
}

impl Variant {
    #[cfg(target_arch = "x86_64")]
    const ALL: &'static [Variant] = &[Variant::Default, Variant::FtzDaz, Variant::Flushed];
    #[cfg(not(target_arch = "x86_64"))]
    const ALL: &'static [Variant] = &[Variant::Default];

    fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::FtzDaz => "ftz_daz",
            Variant::Flushed => "flushed",
        }
    }

    fn timed_flush(self) -> Flush {
        if self == Variant::FtzDaz {
            Flush::FtzDaz
        } else {
            Flush::Off
        }
    }
}

/// A net replayed to the end of its run (10 steps only when the bench merely smoke-tests).
struct Fixture {
    replay: Replay<Mlp<f32>>,
    split: Split,
}

/// Subnormals in `values`, and the aligned runs of `lanes` values that hold at least one: an
/// instruction on a vector of `lanes` values sees a subnormal operand if any lane holds one.
fn subnormal_lanes(values: &[f32], lanes: usize) -> String {
    let census = FloatCensus::of(values);
    let vectors = values.chunks(lanes).count();
    let hit = values.chunks(lanes).filter(|chunk| FloatCensus::of(*chunk).subnormals > 0).count();
    format!("{}/{} values, {hit}/{vectors} {lanes}-lane vectors", census.subnormals, census.values)
}

impl Fixture {
    fn new(arch: Arch, label: &str) -> Self {
        let (config, split) = replayed_run(arch);
        let steps = if Invocation::from_args() == Invocation::Smoke { 10 } else { config.steps };
        let mut replay = Replay::<Mlp<f32>>::start(&config, &split).expect("a valid preset run");
        assert!(replay.advance_to(&split.train, steps), "the replayed run diverged");
        let (first, second) = replay.optimizer.moments();
        eprintln!(
            "{label}: replayed {steps} steps; subnormal Adam moments: first {}; second {}; last step's gradients {}",
            subnormal_lanes(first, 8),
            subnormal_lanes(second, 8),
            subnormal_lanes(replay.net.grads.as_slice().expect("contiguous"), 8)
        );
        Fixture { replay, split }
    }

    /// Prints what the timed variant left in the moments, after timing.
    fn report(&self, label: &str) {
        let (first, second) = self.replay.optimizer.moments();
        eprintln!(
            "{label}: after timing, subnormal Adam moments: first {}; second {}",
            subnormal_lanes(first, 8),
            subnormal_lanes(second, 8)
        );
    }
}

fn bench_collapsed_net<M: Measurement>(c: &mut Criterion<M>, cli: &CliOverrides) {
    for (group_name, estimate) in [("subnormal_update", 1e-3), ("subnormal_step", 8e-3)] {
        let mut group = c.benchmark_group(group_name);
        configure(&mut group, cli, estimate);
        for arch in [Arch::Plain, Arch::Residual] {
            let name = format!("{}_d{DEPTH}_w{WIDTH}", arch.as_str());
            for &variant in Variant::ALL {
                let id = BenchmarkId::new(&name, variant.name());
                let label = format!("{group_name}/{name}/{}", variant.name());
                let update = group_name == "subnormal_update";
                // Built on first use, so filtered-out benchmarks replay nothing.
                let mut fixture: Option<Fixture> = None;
                group.bench_function(id, |b| {
                    let Fixture { replay, split } = fixture.get_or_insert_with(|| {
                        let mut fixture = Fixture::new(arch, &label);
                        if variant == Variant::Flushed {
                            let Fixture { replay, split } = &mut fixture;
                            with_flush(Flush::FtzDaz, || {
                                if update {
                                    replay.optimizer.step(&mut replay.net.params, &replay.net.grads);
                                } else {
                                    replay.step(&split.train);
                                }
                            });
                        }
                        fixture
                    });
                    let flush = variant.timed_flush();
                    if update {
                        b.iter(|| {
                            with_flush(flush, || replay.optimizer.step(&mut replay.net.params, &replay.net.grads))
                        });
                    } else {
                        b.iter(|| with_flush(flush, || black_box(replay.step(&split.train))));
                    }
                    black_box(&replay.net.params);
                });
                if let Some(fixture) = &fixture {
                    fixture.report(&label);
                }
            }
        }
        if group_name == "subnormal_update" {
            bench_update_control(&mut group);
        }
        group.finish();
    }
}

/// The Adam update over the replayed nets' parameter count with normal values only: fixed
/// gradients N(0, 10⁻⁶), never zero, so no moment decays towards the subnormal range.
fn bench_update_control<M: Measurement>(group: &mut criterion::BenchmarkGroup<'_, M>) {
    let (config, _) = replayed_run(Arch::Plain);
    let params = Mlp::<f32>::new(&config.model, 1, config.seed).expect("a valid preset run").num_params();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    for &flush in Flush::ALL {
        let name = if flush == Flush::Off { "default" } else { "ftz_daz" };
        let mut weights = ndarray::Array1::<f32>::random_using(params, StandardNormal, &mut rng).mapv(|x| 0.1 * x);
        let grads = ndarray::Array1::<f32>::random_using(params, StandardNormal, &mut rng).mapv(|x| 1e-3 * x);
        let mut optimizer = degradation_bench::train::optim::Optimizer::new(&config.optimizer, params);
        group.bench_function(BenchmarkId::new("normal_values", name), |b| {
            b.iter(|| with_flush(flush, || optimizer.step(&mut weights, &grads)));
            black_box(&weights);
        });
        let (first, second) = optimizer.moments();
        eprintln!(
            "subnormal_update/normal_values/{name}: after timing, subnormal Adam moments: first {}; second {}",
            subnormal_lanes(first, 8),
            subnormal_lanes(second, 8)
        );
    }
}

fn main() {
    let cli = CliOverrides::from_args();
    match Clock::from_env() {
        Clock::Wall => run_benches(Criterion::default().configure_from_args(), &cli),
        Clock::ThreadCpu => {
            run_benches(Criterion::default().with_measurement(ThreadCpuTime::default()).configure_from_args(), &cli)
        }
    }
}

fn run_benches<M: Measurement>(mut c: Criterion<M>, cli: &CliOverrides) {
    bench_gemm(&mut c, cli);
    bench_collapsed_net(&mut c, cli);
    c.final_summary();
}
