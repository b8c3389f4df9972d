//! `subnormals`: how many subnormal floats a run's train step computes on, from initialisation
//! to its last step, for the runs of an experiment at one depth and width (by default the
//! `tuned` preset's Adam lr 1e-3 runs at depth 128, width 64: collapsed plain nets beside
//! residual ones that train).
//!
//! Each run is replayed step for step as the sweep trained it (`train::replay`), and every
//! `--every` steps its buffers are counted on the run's probe batch (`train::subnormals`):
//! hidden states, state gradients, hidden weights, weight gradients, the optimizer's moments.
//! The replay's final training loss is checked against the committed record of the same run
//! when `--records` names the sweep's runs.jsonl: equal bits mean the counted network is the
//! one the sweep timed. The step rate between census points is printed too (one thread; the
//! census and evaluation are not in it).
//!
//! ```sh
//! cargo run --release --example subnormals -- --preset tuned --optimizer adam --lr 0.001 \
//!     --depths 128 --width 64 --records reports/data/ee28a5d5ff16/tuned/runs.jsonl \
//!     --out reports/data/ee28a5d5ff16/subnormals
//! ```
//!
//! Writes `subnormals.json` (per run: totals at every census point, per layer at the first and
//! the last), `machine.json` and the experiment's `experiment.toml` into `--out`.

use clap::Parser;
use degradation_bench::config::{Family, OptimizerKind};
use degradation_bench::data;
use degradation_bench::machine::{fingerprint, write_machine_json};
use degradation_bench::model::gemm::GEMM_BACKEND;
use degradation_bench::model::Mlp;
use degradation_bench::record::read_runs;
use degradation_bench::sweep::{self, expand, DataShape};
use degradation_bench::train::eval::{evaluate, BatchBuffers};
use degradation_bench::train::replay::Replay;
use degradation_bench::train::subnormals::{CensusTotals, FloatCensus, NetCensus};
use degradation_bench::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Count the subnormal floats of an experiment's runs at one depth and width.
#[derive(Parser, Debug)]
struct Cli {
    /// Experiment file (TOML).
    #[arg(long, conflicts_with = "preset")]
    config: Option<PathBuf>,
    /// A preset shipped in experiments/.
    #[arg(long, default_value = "tuned")]
    preset: Option<String>,
    /// Depths to count (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "128")]
    depths: Vec<usize>,
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Only runs of this optimizer (`adam` or `sgd`).
    #[arg(long)]
    optimizer: Option<String>,
    /// Only runs of this learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Only these seeds [default: all of the experiment's].
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// Steps between census points.
    #[arg(long, default_value_t = 100)]
    every: usize,
    /// The sweep's runs.jsonl of the same experiment, to check each replay's final loss against.
    #[arg(long)]
    records: Option<PathBuf>,
    /// Directory to write subnormals.json, machine.json and experiment.toml into.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train with flush-to-zero and denormals-are-zero set in MXCSR (x86_64), to see whether
    /// the final losses stay bit-identical to the records. A measurement, not a training mode:
    /// nothing is written with it.
    #[arg(long, conflicts_with = "out")]
    ftz_daz: bool,
}

#[derive(Serialize)]
struct Output {
    experiment: String,
    machine_id: String,
    depths: Vec<usize>,
    width: usize,
    census_every: usize,
    threshold: &'static str,
    runs: Vec<RunCensus>,
}

#[derive(Serialize)]
struct RunCensus {
    run_id: String,
    arch: String,
    depth: usize,
    seed: u64,
    optimizer: String,
    lr: f64,
    steps: usize,
    final_train_loss: f64,
    /// The committed record's final training loss, where `--records` has the run.
    recorded_final_train_loss: Option<f64>,
    points: Vec<Point>,
    /// Per layer at the last census point, input side first.
    last_per_layer: PerLayer,
}

/// Subnormal and zero counts per layer, one array per buffer (values per layer: `values`).
#[derive(Serialize)]
struct PerLayer {
    step: usize,
    hidden_states: Counts,
    state_grads: Counts,
    weights: Counts,
    weight_grads: Counts,
    first_moments: Counts,
    second_moments: Counts,
}

#[derive(Serialize)]
struct Counts {
    values: Vec<u64>,
    subnormals: Vec<u64>,
    zeros: Vec<u64>,
}

impl Counts {
    fn of(layers: &[FloatCensus]) -> Counts {
        Counts {
            values: layers.iter().map(|c| c.values).collect(),
            subnormals: layers.iter().map(|c| c.subnormals).collect(),
            zeros: layers.iter().map(|c| c.zeros).collect(),
        }
    }
}

impl PerLayer {
    fn of(census: &NetCensus) -> PerLayer {
        PerLayer {
            step: census.step,
            hidden_states: Counts::of(&census.hidden_states),
            state_grads: Counts::of(&census.state_grads),
            weights: Counts::of(&census.weights),
            weight_grads: Counts::of(&census.weight_grads),
            first_moments: Counts::of(&census.first_moments),
            second_moments: Counts::of(&census.second_moments),
        }
    }
}

#[derive(Serialize)]
struct Point {
    step: usize,
    batch_loss: f64,
    /// Train steps per second since the previous point (none at step 0).
    steps_per_second: Option<f64>,
    totals: CensusTotals,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    if cli.every == 0 {
        return Err(Error::invalid("--every", 0, "must be at least 1"));
    }
    if cli.ftz_daz {
        set_ftz_daz()?;
    }
    let preset = if cli.config.is_some() { None } else { cli.preset.as_deref() };
    let (experiment, text) = sweep::load_experiment(cli.config.as_deref(), preset)?;
    let split = data::load(experiment.dataset, &experiment.dataset_options)?;
    let optimizer = match cli.optimizer.as_deref() {
        None => None,
        Some("adam") => Some(OptimizerKind::Adam),
        Some("sgd") => Some(OptimizerKind::Sgd),
        Some(other) => return Err(Error::invalid("--optimizer", other, "expected `adam` or `sgd`")),
    };
    let runs: Vec<_> = expand(&experiment, DataShape::of(&split))
        .into_iter()
        .filter(|r| r.config.family == Family::Mlp)
        .filter(|r| cli.depths.contains(&r.config.model.depth) && r.config.model.width == cli.width)
        .filter(|r| optimizer.is_none_or(|kind| r.config.optimizer.kind == kind))
        .filter(|r| cli.lr.is_none_or(|lr| r.config.optimizer.lr == lr))
        .filter(|r| cli.seeds.as_ref().is_none_or(|seeds| seeds.contains(&r.config.seed)))
        .collect();
    if runs.is_empty() {
        return Err(Error::invalid(
            "--depths",
            format!("{:?}", cli.depths),
            "no run of the experiment matches the filters",
        ));
    }
    let recorded: HashMap<String, Option<f64>> = match &cli.records {
        None => HashMap::new(),
        Some(path) => read_runs(path)?.records.into_iter().map(|r| (r.run_id, r.result.final_train_loss)).collect(),
    };
    let machine = fingerprint(1, GEMM_BACKEND);

    let mut output = Output {
        experiment: experiment.name.clone(),
        machine_id: machine.machine_id.clone(),
        depths: cli.depths.clone(),
        width: cli.width,
        census_every: cli.every,
        threshold: "subnormal: x != 0 and |x| < f32::MIN_POSITIVE (2^-126)",
        runs: Vec::new(),
    };
    println!(
        "{:<34} {:>5} {:>9} {:>8}  subnormal/values: {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
        "run", "step", "loss", "steps/s", "states", "state grads", "weights", "weight grads", "moment 1", "moment 2"
    );
    for planned in &runs {
        let config = &planned.config;
        let mut replay = Replay::<Mlp<f32>>::start(config, &split)?;
        let mut buffers = BatchBuffers::new(&split.train, config.batch_size);
        buffers.gather(&split.train, &replay.probe_rows);
        let mut points = Vec::new();
        let mut step = 0;
        let mut seconds = None;
        let last_per_layer = loop {
            let census = NetCensus::take(&mut replay.net, &replay.optimizer, buffers.inputs(), buffers.targets(), step);
            let point = Point {
                step,
                batch_loss: census.batch_loss,
                steps_per_second: seconds.map(|s: f64| (step - points.last().map_or(0, |p: &Point| p.step)) as f64 / s),
                totals: census.totals(),
            };
            print_point(&planned.run_id, &point);
            points.push(point);
            if step == config.steps {
                break PerLayer::of(&census);
            }
            step = (step + cli.every).min(config.steps);
            let started = Instant::now();
            if !replay.advance_to(&split.train, step) {
                return Err(Error::invalid("steps", step, format!("run {} diverged", planned.run_id)));
            }
            seconds = Some(started.elapsed().as_secs_f64());
        };
        let final_train_loss = evaluate(&mut replay.net, &split.train).loss;
        let recorded_final_train_loss = recorded.get(&planned.run_id).copied().flatten();
        if let Some(recorded) = recorded_final_train_loss {
            let same = recorded.to_bits() == final_train_loss.to_bits();
            println!(
                "{}: final training loss {final_train_loss} (record {recorded}: {})",
                planned.run_id,
                if same { "bit-identical" } else { "DIFFERENT" }
            );
        }
        output.runs.push(RunCensus {
            run_id: planned.run_id.clone(),
            arch: config.model.arch.as_str().to_string(),
            depth: config.model.depth,
            seed: config.seed,
            optimizer: format!("{:?}", config.optimizer.kind).to_lowercase(),
            lr: config.optimizer.lr,
            steps: config.steps,
            final_train_loss,
            recorded_final_train_loss,
            points,
            last_per_layer,
        });
    }

    if let Some(dir) = &cli.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join("subnormals.json");
        // One line: per-layer arrays of deep nets run to thousands of numbers.
        let json = serde_json::to_string(&output).expect("the census serialises");
        std::fs::write(&path, json + "\n").map_err(|e| Error::io(&path, e))?;
        let toml = dir.join("experiment.toml");
        std::fs::write(&toml, &text).map_err(|e| Error::io(&toml, e))?;
        write_machine_json(dir, &machine)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Sets MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) for this thread, which
/// runs every step (the GEMM is single-threaded), for the rest of the process.
#[cfg(target_arch = "x86_64")]
fn set_ftz_daz() -> Result<()> {
    // std marks these deprecated because Rust assumes the default floating-point environment;
    // this process sets it once, before any arithmetic it measures, and never changes it back.
    #[allow(deprecated)]
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
    // SAFETY: stmxcsr/ldmxcsr only read and write this thread's control register.
    #[allow(deprecated)]
    unsafe {
        _mm_setcsr(_mm_getcsr() | (1 << 15) | (1 << 6))
    };
    eprintln!("flush-to-zero and denormals-are-zero set");
    Ok(())
}

#[cfg(not(target_arch = "x86_64"))]
fn set_ftz_daz() -> Result<()> {
    Err(Error::invalid("--ftz-daz", true, "MXCSR exists on x86_64 only"))
}

fn print_point(run_id: &str, point: &Point) {
    let cell = |c: &FloatCensus| format!("{}/{}", c.subnormals, c.values);
    let t = &point.totals;
    println!(
        "{run_id:<34} {:>5} {:>9.4} {:>8} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
        point.step,
        point.batch_loss,
        point.steps_per_second.map_or_else(|| "-".to_string(), |r| format!("{r:.0}")),
        cell(&t.hidden_states),
        cell(&t.state_grads),
        cell(&t.weights),
        cell(&t.weight_grads),
        cell(&t.optimizer_first),
        cell(&t.optimizer_second),
    );
}
