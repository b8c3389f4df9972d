//! The sweep: expands an experiment into runs, trains them in parallel (one run per rayon
//! task, longest first, each single-threaded), and appends one record per finished run to
//! `runs.jsonl`. Re-running into the same directory resumes; `--shard I/N` splits the grid
//! across processes or machines.

mod grid;
mod progress;
pub mod store;

pub use grid::{
    expand, forward_flops_per_sample, run_flops, run_forward_flops, run_id, select_shard, DataShape, PlannedRun, Shard,
};

use crate::config::{conv, Arch, Experiment, Family, RunConfig};
use crate::data;
use crate::error::{Error, Result};
use crate::machine;
use crate::model::conv::ConvNet;
use crate::model::gemm::GEMM_BACKEND;
use crate::model::{Mlp, Network};
use crate::record::TimeSplit;
use crate::record::{MachineInfo, RunRecord, RunSetup};
use crate::train::{train, TrainResult};
use progress::Progress;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The presets shipped under experiments/, embedded so the binaries work from anywhere.
pub const PRESETS: &[(&str, &str)] = &[
    ("quick", include_str!("../../experiments/quick.toml")),
    ("init", include_str!("../../experiments/init.toml")),
    ("full", include_str!("../../experiments/full.toml")),
    ("tiny", include_str!("../../experiments/tiny.toml")),
    ("mechanisms", include_str!("../../experiments/mechanisms.toml")),
    ("longer", include_str!("../../experiments/longer.toml")),
    ("seeds", include_str!("../../experiments/seeds.toml")),
    ("scales", include_str!("../../experiments/scales.toml")),
    ("drift", include_str!("../../experiments/drift.toml")),
    ("sensitivity", include_str!("../../experiments/sensitivity.toml")),
    ("tuned", include_str!("../../experiments/tuned.toml")),
    ("fashion", include_str!("../../experiments/fashion.toml")),
    ("conv_quick", include_str!("../../experiments/conv_quick.toml")),
    ("resnet", include_str!("../../experiments/resnet.toml")),
    ("resnet_seeds", include_str!("../../experiments/resnet_seeds.toml")),
    ("fig6_short", include_str!("../../experiments/fig6_short.toml")),
    ("stalls", include_str!("../../experiments/stalls.toml")),
    ("deep", include_str!("../../experiments/deep.toml")),
    ("deep_conv", include_str!("../../experiments/deep_conv.toml")),
    ("deep_conv_gentle", include_str!("../../experiments/deep_conv_gentle.toml")),
];

/// The presets' names, in the order above (for command-line help and checks).
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(name, _)| *name).collect()
}

/// The text of a shipped preset.
pub fn preset_text(name: &str) -> Result<String> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| text.to_string()).ok_or_else(|| Error::UnknownPreset {
        name: name.to_string(),
        available: PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
    })
}

/// An experiment from a file or a shipped preset, with its text (copied beside results) and
/// the path its errors name.
pub fn load_experiment(config: Option<&std::path::Path>, preset: Option<&str>) -> Result<(Experiment, String)> {
    let (text, path) = match (config, preset) {
        (Some(path), _) => (std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?, path.to_path_buf()),
        (None, Some(name)) => (preset_text(name)?, PathBuf::from(format!("experiments/{name}.toml"))),
        (None, None) => return Err(Error::invalid("experiment", "none", "give an experiment file or a preset")),
    };
    Ok((Experiment::from_toml_str(&text, &path)?, text))
}

/// Everything `sweep` (the binary, or `analyze --run`) asks for.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub experiment: Experiment,
    /// The experiment file's text, copied into the results directory.
    pub experiment_text: String,
    /// Default: results/<experiment>/<machine_id> (with a shard suffix when sharded).
    pub out: Option<PathBuf>,
    /// Parallel runs; default: all available cores.
    pub threads: Option<usize>,
    pub shard: Option<Shard>,
    pub dry_run: bool,
    pub fresh: bool,
    /// Draw a progress bar (when stderr is a terminal) or log lines.
    pub progress: bool,
}

#[derive(Debug, Clone)]
pub struct SweepOutcome {
    pub out_dir: PathBuf,
    /// Runs in this shard of the grid.
    pub runs_total: usize,
    /// Runs finished by this invocation (earlier ones are skipped on resume).
    pub runs_done: usize,
    pub runs_skipped: usize,
    /// What the calibration predicted for the runs this invocation trained (0 for a dry run).
    pub estimated_seconds: f64,
    pub wall_seconds: f64,
    /// The runs' time, part by part, summed over the runs this invocation trained.
    pub run_time: TimeSplit,
    /// Time spent serialising and appending their records (lock waits excluded).
    pub record_seconds: f64,
}

impl SweepOutcome {
    /// One line on where the runs' time went: each part's share of the runs' summed time
    /// (record writing beside it), parts under 0.05% left out.
    pub fn time_line(&self) -> Option<String> {
        let total = self.run_time.total() + self.record_seconds;
        if total <= 0.0 {
            return None;
        }
        let mut parts: Vec<(&str, f64)> = self.run_time.parts().to_vec();
        parts.push(("writing records", self.record_seconds));
        let shares: Vec<String> = parts
            .into_iter()
            .filter(|(_, seconds)| seconds / total >= 0.0005)
            .map(|(name, seconds)| format!("{} {:.1}%", name.replace('_', " "), 100.0 * seconds / total))
            .collect();
        Some(format!("time in runs ({:.1} s summed over threads): {}", total, shares.join(", ")))
    }
}

/// The default results directory for an experiment on this machine.
pub fn default_out_dir(experiment: &str, machine_id: &str, shard: Option<Shard>) -> PathBuf {
    let dir = PathBuf::from("results").join(experiment);
    match shard {
        None => dir.join(machine_id),
        Some(s) => dir.join(format!("{machine_id}-shard-{}-of-{}", s.index, s.count)),
    }
}

/// Runs (or, with `dry_run`, lists) the sweep.
pub fn run(options: &SweepOptions) -> Result<SweepOutcome> {
    let started = Instant::now();
    let threads = match options.threads {
        Some(0) => return Err(Error::invalid("--threads", 0, "must be at least 1")),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let experiment = &options.experiment;
    experiment.validate()?;
    let split = data::load(experiment.dataset, &experiment.dataset_options)?;
    let shape = DataShape::of(&split);
    let runs = select_shard(expand(experiment, shape), options.shard);
    if let Some(first) = runs.first() {
        crate::train::validate_against_data(&first.config, &split)?;
    }
    let machine = machine::fingerprint(threads, GEMM_BACKEND);
    let out_dir =
        options.out.clone().unwrap_or_else(|| default_out_dir(&experiment.name, &machine.machine_id, options.shard));

    if options.dry_run {
        print_plan(&runs, threads, shape, &out_dir);
        return Ok(SweepOutcome {
            out_dir,
            runs_total: runs.len(),
            runs_done: 0,
            runs_skipped: 0,
            estimated_seconds: 0.0,
            wall_seconds: started.elapsed().as_secs_f64(),
            run_time: TimeSplit::default(),
            record_seconds: 0.0,
        });
    }

    if options.fresh {
        let old = out_dir.join(store::EXPERIMENT_TOML);
        if old.exists() && std::fs::read_to_string(&old).ok().as_deref() != Some(options.experiment_text.as_str()) {
            let aside = out_dir.join(format!("experiment.toml.bak-{}", machine.recorded_at.replace(':', "")));
            std::fs::rename(&old, &aside).map_err(|e| Error::io(&old, e))?;
        }
    }
    let (file, existing) = store::prepare(&out_dir, options.fresh)?;
    store::write_experiment(&out_dir, &options.experiment_text)?;
    machine::write_machine_json(&out_dir, &machine)?;
    let done = store::recorded_ids(&existing);
    let total = runs.len();
    let mut todo: Vec<PlannedRun> = runs.into_iter().filter(|r| !done.contains(&r.run_id)).collect();
    let skipped = total - todo.len();
    // Longest first: the big runs start early, so the tail of the sweep is short runs that
    // balance across threads (LPT scheduling).
    todo.sort_by(|a, b| b.flops.total_cmp(&a.flops).then_with(|| a.run_id.cmp(&b.run_id)));
    // Printed beside the time taken, so a wrong calibration shows on every sweep.
    let estimated_seconds = estimate_seconds(&todo, threads, shape);

    let progress = Progress::new(options.progress, total, skipped);
    let path = out_dir.join(store::RUNS_JSONL);
    let output = Mutex::new(file);
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let spent: Mutex<(TimeSplit, f64)> = Mutex::new((TimeSplit::default(), 0.0));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::invalid("--threads", threads, e.to_string()))?;
    pool.scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|_| loop {
                if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                    return;
                }
                let Some(planned) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else { return };
                progress.started(&planned.run_id);
                let outcome = train(&planned.config, &split).and_then(|result| {
                    let time_split = result.time_split.unwrap_or_default();
                    let record = to_record(planned, result, &machine);
                    let mut file = output.lock().expect("no thread panics while holding the file");
                    let writing = Instant::now();
                    crate::record::append_run(&mut *file, &path, &record)?;
                    let written = writing.elapsed().as_secs_f64();
                    drop(file);
                    let mut spent = spent.lock().expect("no thread panics while holding the totals");
                    spent.0.add(&time_split);
                    spent.1 += written;
                    Ok(record)
                });
                match outcome {
                    Ok(record) => progress.finished(planned, &record),
                    Err(e) => {
                        *failure.lock().expect("no thread panics while holding the error") = Some(e);
                        return;
                    }
                }
            });
        }
    });
    progress.finish();
    if let Some(error) = failure.into_inner().expect("workers have stopped") {
        return Err(error);
    }
    let (run_time, record_seconds) = spent.into_inner().expect("workers have stopped");
    Ok(SweepOutcome {
        out_dir,
        runs_total: total,
        runs_done: total - skipped,
        runs_skipped: skipped,
        estimated_seconds,
        wall_seconds: started.elapsed().as_secs_f64(),
        run_time,
        record_seconds,
    })
}

/// The record of one finished run: its configuration, results and machine.
pub fn to_record(planned: &PlannedRun, result: TrainResult, machine: &MachineInfo) -> RunRecord {
    RunRecord {
        run_id: planned.run_id.clone(),
        experiment: planned.config.experiment.clone(),
        setup: RunSetup::from(&planned.config),
        machine_id: machine.machine_id.clone(),
        result,
        implementation: None,
    }
}

/// The dry-run listing: each run with its cost, and a time estimate from a short calibration
/// of this machine's training speed.
fn print_plan(runs: &[PlannedRun], threads: usize, data: DataShape, out_dir: &std::path::Path) {
    let total_flops: f64 = runs.iter().map(|r| r.flops).sum();
    println!("{:<40} {:>12}", "run_id", "GFLOP");
    for run in runs {
        println!("{:<40} {:>12.2}", run.run_id, run.flops / 1e9);
    }
    let rate = calibrate(runs, threads, data);
    println!(
        "{} runs, {:.1} TFLOP in all; calibrated {:.1} GFLOP/s per thread → about {} with {threads} thread(s); results in {}",
        runs.len(),
        total_flops / 1e12,
        rate / 1e9,
        format_duration(schedule_seconds(runs, threads, rate)),
        out_dir.display()
    );
}

/// Expected wall time of `runs` (on data of shape `data`) on `threads` workers: a short
/// calibration of this machine's training speed (see [`calibrate`]), then the sweep's own
/// schedule.
pub fn estimate_seconds(runs: &[PlannedRun], threads: usize, data: DataShape) -> f64 {
    if runs.is_empty() {
        return 0.0;
    }
    schedule_seconds(runs, threads, calibrate(runs, threads, data))
}

/// Makespan of the sweep's schedule at `rate` FLOP/s per worker: longest run first, each to
/// the worker that frees up first. (Total ÷ threads is too optimistic when a few long runs
/// dominate, or when there are fewer runs than threads.)
fn schedule_seconds(runs: &[PlannedRun], threads: usize, rate: f64) -> f64 {
    makespan(runs.iter().map(|r| r.flops / rate).collect(), threads)
}

/// Longest-first list scheduling of `costs` onto `workers`: when the last one finishes.
fn makespan(mut costs: Vec<f64>, workers: usize) -> f64 {
    costs.sort_by(|a, b| b.total_cmp(a));
    let mut busy_until = vec![0.0f64; workers.clamp(1, costs.len().max(1))];
    for cost in costs {
        let free = busy_until.iter_mut().min_by(|a, b| a.total_cmp(b)).expect("at least one worker");
        *free += cost;
    }
    busy_until.into_iter().fold(0.0, f64::max)
}

/// FLOP/s per worker of training steps, measured on a run representative of where the grid's
/// time goes (the FLOP-weighted median run, made smaller so a step stays short: an MLP's depth
/// halved, a conv net's blocks per stage and then its batch halved) with as many workers
/// stepping at once as the sweep will run: cores, caches and memory bandwidth are shared
/// during a sweep, so one worker alone overstates the rate.
fn calibrate(runs: &[PlannedRun], threads: usize, data: DataShape) -> f64 {
    /// Upper bound on one calibration step, so the calibration stays well under a second.
    const MAX_STEP_FLOPS: f64 = 2e9;
    let mut by_cost: Vec<&PlannedRun> = runs.iter().collect();
    by_cost.sort_by(|a, b| a.flops.total_cmp(&b.flops));
    let half = 0.5 * runs.iter().map(|r| r.flops).sum::<f64>();
    let mut cumulative = 0.0;
    let Some(typical) = by_cost.into_iter().find(|r| {
        cumulative += r.flops;
        cumulative >= half
    }) else {
        return 1e9;
    };
    let mut config = typical.config.clone();
    config.seed = 0;
    let step_flops = |config: &RunConfig| 3.0 * run_forward_flops(config, data) * config.batch_size as f64;
    match config.family {
        Family::Mlp => {
            let model = &mut config.model;
            let unit = if model.arch == Arch::Residual { model.block_layers.max(1) } else { 1 };
            while model.depth > unit
                && 3.0 * forward_flops_per_sample(model) * config.batch_size as f64 > MAX_STEP_FLOPS
            {
                model.depth = (model.depth / 2).div_ceil(unit) * unit;
            }
        }
        Family::Conv => {
            // Smaller batches change a conv's GEMM shapes (the deepest stage multiplies several
            // images at once), fewer blocks hardly do: one block per stage at the run's batch
            // (ResNet-8 at 1×28×28 and 128 images: 6.9 GFLOP, ~0.06 s on a Zen 5 core) is
            // allowed a larger step before the batch is halved.
            const MAX_CONV_STEP_FLOPS: f64 = 4.0 * MAX_STEP_FLOPS;
            while step_flops(&config) > MAX_CONV_STEP_FLOPS {
                match conv::blocks_per_stage(config.model.depth) {
                    Some(n) if n > 1 => config.model.depth = 6 * (n / 2) + 2,
                    _ if config.batch_size > 1 => config.batch_size /= 2,
                    _ => break,
                }
            }
        }
    }
    let workers = threads.clamp(1, runs.len());
    let rates: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| match config.family {
                    Family::Mlp => step_rate::<Mlp<f32>>(&config, data),
                    Family::Conv => step_rate::<ConvNet<f32>>(&config, data),
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a calibration worker does not panic")).collect()
    });
    rates.iter().sum::<f64>() / rates.len() as f64
}

/// FLOP/s of one worker running training steps of `config`'s network for about 0.3 s (at
/// least 3 steps), on synthetic data of the run's shape.
fn step_rate<N: Network<f32>>(config: &RunConfig, data: DataShape) -> f64 {
    use crate::data::{Dataset, Targets};
    use crate::train::optim::Optimizer;
    use crate::train::step::TrainStep;
    let batch = config.batch_size;
    let (input_dim, output_dim) = (config.model.input_dim, config.model.output_dim);
    let dataset = Dataset {
        inputs: ndarray::Array2::from_shape_fn((batch, input_dim), |(i, j)| ((i * 7 + j * 13) % 17) as f32 / 17.0),
        targets: Targets::Values { values: ndarray::Array2::zeros((batch, output_dim)) },
        image_shape: data.image_shape,
    };
    let Ok(mut net) = N::for_run(config, &dataset, batch) else { return 1e9 };
    let mut optimizer = Optimizer::new(&config.optimizer, net.num_params());
    let rows: Vec<usize> = (0..batch).collect();
    let mut step = TrainStep::new(&net, &dataset, batch);
    let step_flops = 3.0 * run_forward_flops(config, data) * batch as f64;
    let started = Instant::now();
    let mut steps = 0;
    while steps < 3 || (started.elapsed().as_secs_f64() < 0.3 && steps < 10_000) {
        step.run(&mut net, Some(&mut optimizer), &dataset, &rows);
        steps += 1;
    }
    step_flops * steps as f64 / started.elapsed().as_secs_f64()
}

pub fn format_duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{makespan, preset_names, preset_text, PRESETS};
    use crate::config::Experiment;
    use std::path::Path;

    #[test]
    fn every_preset_is_a_valid_experiment() {
        assert_eq!(preset_names().len(), PRESETS.len());
        for name in preset_names() {
            let text = preset_text(name).unwrap();
            Experiment::from_toml_str(&text, Path::new(&format!("experiments/{name}.toml")))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn makespan_follows_the_longest_first_schedule() {
        // Balanced: 4 | 3 3 → 4+2+2 | 3+3+2.
        assert_eq!(makespan(vec![2.0, 3.0, 4.0, 2.0, 3.0, 2.0], 2), 8.0);
        // One long run dominates: not total ÷ workers (6).
        assert_eq!(makespan(vec![1.0, 10.0, 1.0], 2), 10.0);
        // Fewer runs than workers.
        assert_eq!(makespan(vec![5.0], 4), 5.0);
        assert_eq!(makespan(Vec::new(), 2), 0.0);
    }
}
