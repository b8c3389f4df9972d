//! `sweep`: trains a grid of plain and residual MLPs from an experiment file and records
//! per-run results in `results/<experiment>/<machine_id>/runs.jsonl`.

use clap::Parser;
use degradation_bench::config::Experiment;
use degradation_bench::sweep::{self, format_duration, DataShape, Shard, SweepOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Train a grid of plain and residual MLPs and record losses and per-layer gradient norms.
///
/// Re-running into the same directory resumes: runs already recorded are skipped.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Experiment file (TOML; see experiments/ and docs/experiments.md for the format).
    #[arg(long, conflicts_with = "preset", required_unless_present_any = ["preset", "timing_fields"])]
    config: Option<PathBuf>,

    /// A preset shipped in experiments/.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(sweep::preset_names()))]
    preset: Option<String>,

    /// Results directory [default: results/<experiment>/<machine_id>].
    #[arg(long)]
    out: Option<PathBuf>,

    /// Runs trained in parallel (each run is single-threaded) [default: all cores].
    #[arg(long)]
    threads: Option<usize>,

    /// Run only shard I of N (runs whose position in run-id order is I mod N), e.g. 0/4.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,

    /// List the runs and estimate their cost (FLOPs, and time from a short calibration) without training.
    #[arg(long)]
    dry_run: bool,

    /// Print the run ids of the grid (or of --shard), one per line, sorted, and exit: the
    /// listing that scripts check merged shards against.
    #[arg(long, conflicts_with = "dry_run")]
    list_runs: bool,

    /// Start over: move an existing runs.jsonl aside (it is never deleted) instead of resuming.
    #[arg(long)]
    fresh: bool,

    /// No progress bar or log lines.
    #[arg(long)]
    quiet: bool,

    /// Print the record fields that time a run (left out of every bit-identity check), one per
    /// line, and exit: scripts that compare results read the list from here.
    #[arg(long, exclusive = true)]
    timing_fields: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> degradation_bench::Result<()> {
    if cli.timing_fields {
        for field in degradation_bench::record::RunRecord::TIMING_FIELDS {
            println!("{field}");
        }
        return Ok(());
    }
    let (experiment, text) = sweep::load_experiment(cli.config.as_deref(), cli.preset.as_deref())?;
    if cli.list_runs {
        return list_runs(&experiment, cli.shard);
    }
    let outcome = sweep::run(&SweepOptions {
        experiment,
        experiment_text: text,
        out: cli.out.clone(),
        threads: cli.threads,
        shard: cli.shard,
        dry_run: cli.dry_run,
        fresh: cli.fresh,
        progress: !cli.quiet,
    })?;
    if !cli.dry_run {
        eprintln!(
            "{} runs trained ({} already recorded); estimated {}, took {}; results in {}",
            outcome.runs_done,
            outcome.runs_skipped,
            format_duration(outcome.estimated_seconds),
            format_duration(outcome.wall_seconds),
            outcome.out_dir.display()
        );
        if let Some(line) = outcome.time_line() {
            eprintln!("{line}");
        }
    }
    Ok(())
}

/// Run ids only, without the calibration a dry run does, so the listing is cheap and stable.
fn list_runs(experiment: &Experiment, shard: Option<Shard>) -> degradation_bench::Result<()> {
    experiment.validate()?;
    let split = degradation_bench::data::load(experiment.dataset, &experiment.dataset_options)?;
    let shape = DataShape::of(&split);
    for run in sweep::select_shard(sweep::expand(experiment, shape), shard) {
        println!("{}", run.run_id);
    }
    Ok(())
}
