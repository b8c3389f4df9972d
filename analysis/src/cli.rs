//! The `analyze` command line: load inputs, optionally run a sweep preset first, write the report.

use crate::criterion::load_criterion;
use crate::error::{Error, Result, Warning};
use crate::inputs::{dedupe_runs, load_results, Inputs};
use crate::report::{self, Report};
use crate::sections;
use clap::Parser;
use std::path::{Path, PathBuf};

/// Analyse degradation-bench sweeps and criterion benchmarks into a report directory
/// (README.md with tables and findings, SVG charts, CSV tables).
#[derive(Debug, Parser)]
#[command(name = "analyze", version)]
pub struct Args {
    /// Sweep results directory (runs.jsonl, machine.json, experiment.toml). Repeat for several
    /// experiments, shards or machines.
    #[arg(long = "input", value_name = "DIR")]
    pub inputs: Vec<PathBuf>,

    /// Criterion output directory (with the benches' machine.json). Repeat for several machines.
    /// Default: target/criterion, when it exists and has estimates.
    #[arg(long = "criterion", value_name = "DIR")]
    pub criterion: Vec<PathBuf>,

    /// Report directory. Default: reports/<experiment>-<machine_id>, or
    /// reports/compare-<id1>-<id2> when the inputs come from several machines.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// First run the named sweep preset (experiments/<PRESET>.toml) on this machine, then
    /// analyse its results together with any other inputs: the one-command main job.
    #[arg(long, value_name = "PRESET")]
    pub run: Option<String>,

    /// Worker threads for --run (default: all cores).
    #[arg(long, value_name = "N", requires = "run")]
    pub threads: Option<usize>,

    /// Do not pick up target/criterion when no --criterion is given.
    #[arg(long)]
    pub no_default_criterion: bool,
}

/// Where criterion writes by default, relative to the workspace root.
pub const DEFAULT_CRITERION_DIR: &str = "target/criterion";

/// Loads every input named on the command line, collecting warnings.
pub fn load_inputs(args: &Args, sweep_outputs: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for dir in sweep_outputs.iter().chain(&args.inputs) {
        let set = load_results(dir, &mut inputs.warnings)?;
        inputs.results.push(set);
    }
    dedupe_runs(&mut inputs.results, &mut inputs.warnings);
    for dir in &args.criterion {
        let set = load_criterion(dir, &mut inputs.warnings)?;
        inputs.benches.push(set);
    }
    let default_dir = Path::new(DEFAULT_CRITERION_DIR);
    if args.criterion.is_empty() && !args.no_default_criterion && default_dir.is_dir() {
        // Picked up implicitly, so an unusable one is a warning, not an error.
        match load_criterion(default_dir, &mut inputs.warnings) {
            Ok(set) => inputs.benches.push(set),
            Err(e) => inputs.warnings.push(Warning(format!("default criterion directory skipped: {e}"))),
        }
    }
    if inputs.results.is_empty() && inputs.benches.is_empty() {
        return Err(Error::NoInputs);
    }
    Ok(inputs)
}

/// Runs the whole command; returns the report directory.
pub fn run(args: &Args, command_line: String) -> Result<PathBuf> {
    let mut sweep_outputs = Vec::new();
    if let Some(preset) = &args.run {
        sweep_outputs.push(crate::sweep::run_preset(preset, args.threads)?);
    }
    let inputs = load_inputs(args, &sweep_outputs)?;
    for warning in &inputs.warnings {
        eprintln!("warning: {warning}");
    }
    let out = args.out.clone().unwrap_or_else(|| inputs.default_out());
    let report = assemble(&inputs, command_line)?;
    report::write(&report, &out)?;
    Ok(out)
}

/// The report for these inputs: title, command, every section, the machines' fingerprints.
pub fn assemble(inputs: &Inputs, command: String) -> Result<Report> {
    let experiments = inputs.experiments();
    let what = if experiments.is_empty() { "benchmarks".to_string() } else { experiments.join(" + ") };
    let machines = inputs.machines();
    let on: Vec<String> = machines.iter().map(|m| format!("{} (`{}`)", m.cpu_model, m.machine_id)).collect();
    let mut attachments = Vec::new();
    for machine in &machines {
        let name = format!("machine-{}.json", machine.machine_id);
        let text = serde_json::to_string_pretty(machine)
            .map_err(|e| Error::Json { path: PathBuf::from(&name), message: e.to_string() })?;
        attachments.push((name, text + "\n"));
    }
    Ok(Report {
        title: format!("{what} on {}", on.join(", ")),
        command,
        notes: Vec::new(),
        sections: sections::build_all(inputs)?,
        warnings: inputs.warnings.clone(),
        attachments,
    })
}

/// The command line as typed, quoted where needed, for the report header.
pub fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            let a = if i == 0 { "analyze".to_string() } else { a };
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "\"'$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
