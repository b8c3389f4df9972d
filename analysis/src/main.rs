//! `analyze`: see `degradation_analysis::cli` and `analyze --help`.

use clap::Parser;
use degradation_analysis::cli::{run, Args};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(out) => {
            eprintln!("report written to {}", out.join("README.md").display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
