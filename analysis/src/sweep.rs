//! `--run PRESET`: run a shipped sweep preset (or an experiment file) through the core
//! library, then hand its results directory to the analysis.

use crate::error::{Error, Result};
use degradation_bench::config::Experiment;
use degradation_bench::sweep::{self, SweepOptions};
use std::path::{Path, PathBuf};

/// Runs the preset on this machine into its default results directory (resuming an earlier,
/// interrupted run of it) and returns that directory. An existing `.toml` file path is
/// accepted in place of a preset name.
pub fn run_preset(preset: &str, threads: Option<usize>) -> Result<PathBuf> {
    let as_file = Path::new(preset);
    let (text, path) = if preset.ends_with(".toml") && as_file.is_file() {
        let text = std::fs::read_to_string(as_file).map_err(|e| Error::io(as_file, e))?;
        (text, as_file.to_path_buf())
    } else {
        (sweep::preset_text(preset)?, PathBuf::from(format!("experiments/{preset}.toml")))
    };
    let experiment = Experiment::from_toml_str(&text, &path)?;
    let outcome = sweep::run(&SweepOptions {
        experiment,
        experiment_text: text,
        out: None,
        threads,
        shard: None,
        dry_run: false,
        fresh: false,
        progress: true,
    })?;
    eprintln!(
        "sweep `{preset}`: {} runs trained, {} already recorded; estimated {:.1} s, took {:.1} s; results in {}",
        outcome.runs_done,
        outcome.runs_skipped,
        outcome.estimated_seconds,
        outcome.wall_seconds,
        outcome.out_dir.display()
    );
    if let Some(line) = outcome.time_line() {
        eprintln!("{line}");
    }
    Ok(outcome.out_dir)
}
