//! `export`: writes an experiment's data split and run configurations (and, with
//! `--trajectory-steps`, each run's exact starting point and this implementation's trajectory
//! in f64 and f32) for an independent implementation: `peers/pytorch/parity.py` checks the
//! trajectories in lockstep, or trains the runs itself as a peer.

use clap::Parser;
use degradation_bench::export::{export_experiment, ExportOptions};
use degradation_bench::sweep;
use std::path::PathBuf;
use std::process::ExitCode;

/// Export an experiment's data, runs and (optionally) starting points and trajectories.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Experiment file (TOML; see experiments/).
    #[arg(long, conflicts_with = "preset", required_unless_present = "preset")]
    config: Option<PathBuf>,

    /// A preset shipped in experiments/ (as for `sweep`).
    #[arg(long)]
    preset: Option<String>,

    /// Directory to write (created if missing).
    #[arg(long)]
    out: PathBuf,

    /// Also export each run's starting point and this implementation's first N steps.
    #[arg(long, value_name = "N")]
    trajectory_steps: Option<usize>,

    /// Steps after which the parameters are written [default: 1 and the last].
    #[arg(long, value_delimiter = ',', value_name = "K,...")]
    record_steps: Option<Vec<usize>>,
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
    let (experiment, text) = sweep::load_experiment(cli.config.as_deref(), cli.preset.as_deref())?;
    let record_steps = match (&cli.record_steps, cli.trajectory_steps) {
        (Some(steps), _) => steps.clone(),
        (None, Some(steps)) => vec![1, steps],
        (None, None) => Vec::new(),
    };
    let options = ExportOptions { trajectory_steps: cli.trajectory_steps, record_steps };
    let index = export_experiment(&experiment, &text, &cli.out, &options)?;
    eprintln!("exported {} runs of `{}` to {}", index.runs.len(), index.experiment, cli.out.display());
    Ok(())
}
