//! `--run PRESET`: run a shipped sweep preset through the core library, then hand its
//! results directory to the analysis.

use crate::error::Result;
use std::path::PathBuf;

/// Runs the preset on this machine (resuming an earlier partial run) and returns its results directory.
pub fn run_preset(_preset: &str, _threads: Option<usize>) -> Result<PathBuf> {
    todo!("wired to degradation_bench::sweep once it lands")
}
