//! The sweep: expands an experiment into runs, trains them in parallel (one run per rayon
//! task, longest first, each single-threaded), and appends one record per finished run to
//! `runs.jsonl`. Re-running into the same directory resumes; `--shard I/N` splits the grid
//! across processes or machines.

mod grid;
mod progress;
pub mod store;

pub use grid::{expand, forward_flops_per_sample, run_flops, run_id, select_shard, DataShape, PlannedRun, Shard};

use crate::config::{Arch, Experiment, RunConfig};
use crate::data;
use crate::error::{Error, Result};
use crate::machine;
use crate::model::gemm::GEMM_BACKEND;
use crate::record::{MachineInfo, RunRecord};
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
];

/// The text of a shipped preset.
pub fn preset_text(name: &str) -> Result<String> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| text.to_string()).ok_or_else(|| Error::UnknownPreset {
        name: name.to_string(),
        available: PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
    })
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
    pub wall_seconds: f64,
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
    let shape = DataShape {
        input_dim: split.train.input_dim,
        output_dim: split.train.output_dim(),
        train_len: split.train.len(),
        test_len: split.test.len(),
    };
    let runs = select_shard(expand(experiment, shape), options.shard);
    if let Some(first) = runs.first() {
        crate::train::validate_against_data(&first.config, &split)?;
    }
    let machine = machine::fingerprint(threads, GEMM_BACKEND);
    let out_dir =
        options.out.clone().unwrap_or_else(|| default_out_dir(&experiment.name, &machine.machine_id, options.shard));

    if options.dry_run {
        print_plan(&runs, threads, &out_dir);
        return Ok(SweepOutcome {
            out_dir,
            runs_total: runs.len(),
            runs_done: 0,
            runs_skipped: 0,
            wall_seconds: started.elapsed().as_secs_f64(),
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

    let progress = Progress::new(options.progress, total, skipped);
    let path = out_dir.join(store::RUNS_JSONL);
    let output = Mutex::new(file);
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
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
                    let record = to_record(planned, &result, &machine);
                    let mut file = output.lock().expect("no thread panics while holding the file");
                    store::append(&mut file, &path, &record)?;
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
    Ok(SweepOutcome {
        out_dir,
        runs_total: total,
        runs_done: total - skipped,
        runs_skipped: skipped,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The record of one finished run: its configuration, results and machine.
pub fn to_record(planned: &PlannedRun, result: &TrainResult, machine: &MachineInfo) -> RunRecord {
    let c: &RunConfig = &planned.config;
    let m = &c.model;
    RunRecord {
        run_id: planned.run_id.clone(),
        experiment: c.experiment.clone(),
        dataset: c.dataset.to_string(),
        arch: m.arch.to_string(),
        depth: m.depth,
        width: m.width,
        block_layers: m.block_layers,
        activation: m.activation.to_string(),
        norm: m.norm.to_string(),
        residual_scale: (m.arch == Arch::Residual).then(|| m.residual_scale.to_string()),
        init: m.init.to_string(),
        optimizer: c.optimizer.kind.to_string(),
        lr: c.optimizer.lr,
        momentum: c.optimizer.momentum,
        weight_decay: c.optimizer.weight_decay,
        batch_size: c.batch_size,
        steps: c.steps,
        seed: c.seed,
        machine_id: machine.machine_id.clone(),
        final_train_loss: result.final_train_loss,
        final_train_accuracy: result.final_train_accuracy,
        test_loss: result.test_loss,
        test_accuracy: result.test_accuracy,
        diverged: result.diverged,
        diverged_at_step: result.diverged_at_step,
        loss_curve: result.loss_curve.clone(),
        weight_grad_norms_init: result.probe_init.weight_grad_norms.clone(),
        weight_grad_norms_final: result.probe_final.weight_grad_norms.clone(),
        state_rms_init: result.probe_init.state_rms.clone(),
        state_grad_norms_init: result.probe_init.state_grad_norms.clone(),
        state_rms_final: result.probe_final.state_rms.clone(),
        state_grad_norms_final: result.probe_final.state_grad_norms.clone(),
        branch_ratios_init: result.probe_init.branch_ratios.clone(),
        branch_ratios_final: result.probe_final.branch_ratios.clone(),
        shattered_acf_init: result.shattered_acf_init.clone(),
        shattered_acf_final: result.shattered_acf_final.clone(),
        lesion_train_losses: result.lesion_train_losses.clone(),
        wall_seconds: result.wall_seconds,
        steps_per_second: result.steps_per_second,
        implementation: None,
    }
}

/// The dry-run listing: each run with its cost, and a time estimate from a short calibration
/// of this machine's training speed.
fn print_plan(runs: &[PlannedRun], threads: usize, out_dir: &std::path::Path) {
    let total_flops: f64 = runs.iter().map(|r| r.flops).sum();
    println!("{:<40} {:>12}", "run_id", "GFLOP");
    for run in runs {
        println!("{:<40} {:>12.2}", run.run_id, run.flops / 1e9);
    }
    let rate = calibrate(runs);
    let seconds = total_flops / (rate * threads.min(runs.len().max(1)) as f64);
    println!(
        "{} runs, {:.1} TFLOP in all; calibrated {:.1} GFLOP/s per thread → about {} with {threads} thread(s); results in {}",
        runs.len(),
        total_flops / 1e12,
        rate / 1e9,
        format_duration(seconds),
        out_dir.display()
    );
}

/// FLOP/s of training steps on the grid's largest width (a short, fixed number of steps).
fn calibrate(runs: &[PlannedRun]) -> f64 {
    use crate::loss::{loss_and_grad, BatchTargets};
    use crate::model::{Mlp, Mode};
    use crate::optim::Optimizer;
    let Some(widest) = runs.iter().max_by_key(|r| r.config.model.width) else { return 1e9 };
    let mut model = widest.config.model.clone();
    model.depth = if model.arch == Arch::Residual { 2 * model.block_layers.max(1) } else { 4 };
    let batch = widest.config.batch_size;
    let Ok(mut mlp) = Mlp::<f32>::new(&model, batch, 0) else { return 1e9 };
    let mut optimizer = Optimizer::new(&widest.config.optimizer, mlp.num_params());
    let inputs = vec![0.5f32; batch * model.input_dim];
    let targets = vec![0.0f32; batch * model.output_dim];
    let mut dlogits = vec![0.0f32; batch * model.output_dim];
    let step_flops = 3.0 * forward_flops_per_sample(&model) * batch as f64;
    let started = Instant::now();
    let mut steps = 0;
    while steps < 3 || (started.elapsed().as_secs_f64() < 0.3 && steps < 10_000) {
        let logits = mlp.forward(&inputs, batch, Mode::Train);
        loss_and_grad(logits, BatchTargets::Values(&targets), batch, model.output_dim, Some(&mut dlogits));
        mlp.backward(&inputs, &dlogits, batch, None);
        optimizer.step(&mut mlp.params, &mlp.grads);
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
