//! Residual overhead, measured so that it survives a noisy machine: plain and residual train
//! steps of the same depth and width are timed **interleaved in one process** — one sample of
//! each per round, many rounds, the order alternating — and every round gives one paired ratio
//! residual ÷ plain. A slow-down from something else running on the machine (a build, another
//! benchmark, a frequency change) lasts longer than a round, so it hits both halves of a pair
//! and cancels in the ratio, where criterion's separate runs of the two see different machines.
//! The analysis reports the median paired ratio with a bootstrap interval.
//!
//! One sample = `iters` consecutive train steps (forward, softmax cross-entropy, backward, one
//! Adam update, batch 128, one thread), with `iters` chosen so that a sample lasts about
//! [`SAMPLE_TARGET`]; the network, optimizer and batch are built once and reused.
//!
//! Pairing cancels a disturbance that outlasts a round, not a machine busy throughout, so the
//! file also records what the machine was doing: the 1-minute load average (`/proc/loadavg`)
//! before and after each point, and the CPUs the process could use beside the threads it
//! used. The analysis flags a point measured under load.
//!
//! Run: `cargo bench --bench overhead` (widths 64, 256, 1024 at depth 16, 100 rounds). Options
//! after `--`: `--widths 64,256`, `--depth 16`, `--rounds 100`, `--out DIR`. Output:
//! `DIR/overhead.json` (the paired samples) and `DIR/machine.json` (the fingerprint), where DIR
//! is `--out`, else `$DEGRADATION_OVERHEAD_DIR`, else criterion's directory (`$CRITERION_HOME`,
//! else `$CARGO_TARGET_DIR/criterion`, else `target/criterion`), so one directory per machine
//! holds both benches and `analyze --criterion DIR` reads both. Without `--bench` (as under
//! `cargo test --benches`) it runs one tiny round as a smoke test and writes nothing.

mod common;

use common::{selected, Invocation};
use degradation_bench::config::{
    Activation, Arch, Init, ModelConfig, Norm, OptimizerConfig, OptimizerKind, ResidualScale,
};
use degradation_bench::data::{Dataset, Targets};
use degradation_bench::machine::{fingerprint, write_machine_json};
use degradation_bench::model::gemm::{set_gemm_threads, GEMM_BACKEND};
use degradation_bench::model::Mlp;
use degradation_bench::train::optim::Optimizer;
use degradation_bench::train::step::TrainStep;
use ndarray::Array2;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BATCH: usize = 128;
const CLASSES: usize = 10;
const SEED: u64 = 0x5eed;
/// As in the criterion benches: small enough that thousands of Adam steps on one batch keep
/// the values far from overflow and subnormals, so the step time stays stationary.
const LEARNING_RATE: f64 = 1e-4;
/// Long enough that the timer's resolution and one-off interruptions are small against a
/// sample, short enough that a round sees one state of the machine.
const SAMPLE_TARGET: Duration = Duration::from_millis(20);
/// Untimed steps of each network before the first round (caches, page faults, Adam's state).
const WARM_UP: Duration = Duration::from_millis(500);
/// GEMM threads of every step timed here: one, as in the criterion benches' default.
const THREADS: usize = 1;
/// Load above [`THREADS`] by more than this is other work on the machine: the margin the
/// analysis flags a point by (`LOAD_MARGIN` in `analysis/src/sections/overhead/conditions.rs`).
const LOAD_MARGIN: f64 = 0.5;

/// The output format, read by the analysis (`overhead.json`).
#[derive(Serialize)]
struct OverheadFile {
    /// What one sample is, for a reader of the file.
    method: &'static str,
    batch: usize,
    threads: usize,
    /// CPUs this process could run on (affinity and cgroup quota); absent where unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    available_cpus: Option<usize>,
    optimizer: &'static str,
    points: Vec<OverheadPoint>,
}

#[derive(Serialize)]
struct OverheadPoint {
    depth: usize,
    width: usize,
    /// Train steps per sample.
    iters: usize,
    /// The 1-minute load average just before the point's warm-up and just after its last
    /// round; absent where `/proc/loadavg` cannot be read. The bench's own thread counts in it
    /// once it has run a while.
    #[serde(skip_serializing_if = "Option::is_none")]
    loadavg_1min_before: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    loadavg_1min_after: Option<f64>,
    /// Nanoseconds per train step, one entry per round; `plain_ns[i]` and `residual_ns[i]`
    /// were timed back to back.
    plain_ns: Vec<f64>,
    residual_ns: Vec<f64>,
}

/// One train step of the canonical bench network (ReLU, no normalisation, He init, two-layer
/// pre-activation blocks with α = 1/√K for the residual net; input width = `width`, 10 classes,
/// fixed random batch of 128, Adam). The only code here that knows the model's API.
fn train_step(arch: Arch, depth: usize, width: usize) -> impl FnMut() {
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
    let mut mlp = Mlp::<f32>::new(&config, BATCH, SEED).expect("bench configurations are valid");
    let adam = OptimizerConfig { kind: OptimizerKind::Adam, lr: LEARNING_RATE, momentum: 0.0, weight_decay: 0.0 };
    let mut optimizer = Optimizer::new(&adam, mlp.num_params());
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ width as u64);
    let inputs = Array2::<f32>::random_using((BATCH, width), StandardNormal, &mut rng);
    let labels = (0..BATCH).map(|_| rng.random_range(0..CLASSES as u32)).collect();
    let data = Dataset { inputs, targets: Targets::Classes { labels, num_classes: CLASSES }, image_shape: None };
    let rows: Vec<usize> = (0..BATCH).collect();
    let mut step = TrainStep::new(&mlp, &data, BATCH);
    move || {
        black_box(step.run(&mut mlp, Some(&mut optimizer), &data, &rows));
        black_box(&mlp.params);
    }
}

/// Nanoseconds per call of `step`, over `iters` calls.
fn time_per_step(step: &mut impl FnMut(), iters: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        step();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// Warms both networks up and returns the steps per sample that reach [`SAMPLE_TARGET`].
fn calibrate(plain: &mut impl FnMut(), residual: &mut impl FnMut()) -> usize {
    let start = Instant::now();
    let mut steps = 0usize;
    while start.elapsed() < WARM_UP || steps < 2 {
        plain();
        residual();
        steps += 1;
    }
    let per_pair = start.elapsed().as_secs_f64() / steps as f64;
    // A pair is one plain and one residual step; a sample is one network's share.
    (SAMPLE_TARGET.as_secs_f64() / (per_pair / 2.0)).ceil().max(1.0) as usize
}

/// The 1-minute load average, the first field of `/proc/loadavg` (Linux); `None` elsewhere.
fn loadavg_1min() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn measure_point(depth: usize, width: usize, rounds: usize) -> OverheadPoint {
    let loadavg_1min_before = loadavg_1min();
    let mut plain = train_step(Arch::Plain, depth, width);
    let mut residual = train_step(Arch::Residual, depth, width);
    let iters = calibrate(&mut plain, &mut residual);
    let (mut plain_ns, mut residual_ns) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        // Alternating the order cancels whatever systematically favours the first (or the
        // second) sample of a round.
        let (p, r) = if round % 2 == 0 {
            let p = time_per_step(&mut plain, iters);
            (p, time_per_step(&mut residual, iters))
        } else {
            let r = time_per_step(&mut residual, iters);
            (time_per_step(&mut plain, iters), r)
        };
        plain_ns.push(p);
        residual_ns.push(r);
    }
    let loadavg_1min_after = loadavg_1min();
    OverheadPoint { depth, width, iters, loadavg_1min_before, loadavg_1min_after, plain_ns, residual_ns }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

struct Options {
    depth: usize,
    widths: Vec<usize>,
    rounds: usize,
    out: Option<PathBuf>,
    measuring: bool,
    /// Positional arguments: substrings of the ids to run. Collected here rather than by
    /// `common::filters`, which would take the values of `--widths` and `--rounds` for filters.
    filters: Vec<String>,
}

impl Options {
    fn from_args() -> Result<Self, String> {
        let mut options = Options {
            depth: 16,
            widths: vec![64, 256, 1024],
            rounds: 100,
            out: None,
            measuring: false,
            filters: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        let number = |flag: &str, text: Option<String>| -> Result<usize, String> {
            let text = text.ok_or_else(|| format!("{flag}: expected a value"))?;
            match text.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("{flag} {text}: expected a whole number >= 1")),
            }
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => options.measuring = true,
                "--depth" => options.depth = number("--depth", args.next())?,
                "--rounds" => options.rounds = number("--rounds", args.next())?,
                "--out" => options.out = Some(args.next().ok_or("--out: expected a directory")?.into()),
                "--widths" => {
                    let list = args.next().ok_or("--widths: expected a list such as 64,256")?;
                    options.widths =
                        list.split(',').map(|w| number("--widths", Some(w.to_string()))).collect::<Result<_, _>>()?;
                }
                filter if !filter.starts_with("--") => options.filters.push(filter.to_string()),
                // What cargo passes to every bench target and criterion's own flags (`cargo
                // bench -- --save-baseline X` reaches every bench target): criterion's, not ours.
                _ => {}
            }
        }
        if options.depth % 2 != 0 {
            return Err(format!(
                "--depth {}: residual nets use two-layer blocks, so depth must be even",
                options.depth
            ));
        }
        Ok(options)
    }

    fn out_dir(&self) -> PathBuf {
        if let Some(dir) = &self.out {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("DEGRADATION_OVERHEAD_DIR") {
            return dir.into();
        }
        if let Some(home) = std::env::var_os("CRITERION_HOME") {
            return home.into();
        }
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
        target.join("criterion")
    }
}

fn main() {
    let options = Options::from_args().unwrap_or_else(|message| {
        eprintln!("error: {message}");
        std::process::exit(2);
    });
    set_gemm_threads(THREADS);
    // Points by id, `overhead/d{depth}_w{width}`, selected by the positional filters as in criterion.
    let id = |width: usize| format!("overhead/d{}_w{width}", options.depth);
    let widths: Vec<usize> = options.widths.iter().copied().filter(|&w| selected(&id(w), &options.filters)).collect();
    if matches!(Invocation::from_args(), Invocation::List) {
        widths.iter().for_each(|&w| println!("{}: bench", id(w)));
        return;
    }
    if !options.measuring {
        let point = measure_point(2, 16, 1);
        println!("overhead: smoke run ok (d{} w{}, {} round)", point.depth, point.width, point.plain_ns.len());
        return;
    }
    let mut points = Vec::new();
    if widths.is_empty() {
        println!("overhead: no point matches the filters {:?}; nothing measured", options.filters);
        return;
    }
    for &width in &widths {
        let point = measure_point(options.depth, width, options.rounds);
        let mut ratios: Vec<f64> = point.plain_ns.iter().zip(&point.residual_ns).map(|(p, r)| r / p).collect();
        let load = |reading: Option<f64>| reading.map_or_else(|| "unknown".to_string(), |l| format!("{l:.2}"));
        println!(
            "overhead d{} w{}: residual/plain median {:.4} over {} rounds of {} steps (plain {:.3} ms/step, \
             1-minute load {} → {}); `analyze` gives the interval",
            point.depth,
            point.width,
            median(&mut ratios),
            options.rounds,
            point.iters,
            median(&mut point.plain_ns.clone()) / 1e6,
            load(point.loadavg_1min_before),
            load(point.loadavg_1min_after),
        );
        let readings = [point.loadavg_1min_before, point.loadavg_1min_after];
        if readings.into_iter().flatten().any(|l| l > THREADS as f64 + LOAD_MARGIN) {
            println!("  the machine was busy with other work: `analyze` flags this point as measured under load");
        }
        points.push(point);
    }
    let file = OverheadFile {
        method:
            "per round, one sample of plain and one of residual train steps timed back to back, order alternating; \
                 values are ns per step",
        batch: BATCH,
        threads: THREADS,
        available_cpus: std::thread::available_parallelism().ok().map(|n| n.get()),
        optimizer: "adam",
        points,
    };
    let dir = options.out_dir();
    if let Err(e) = write_machine_json(&dir, &fingerprint(THREADS, GEMM_BACKEND)) {
        eprintln!("error: could not write the machine fingerprint into {}: {e}", dir.display());
        std::process::exit(1);
    }
    let path = dir.join("overhead.json");
    let text = serde_json::to_string_pretty(&file).expect("the overhead file serialises") + "\n";
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("error: could not write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
