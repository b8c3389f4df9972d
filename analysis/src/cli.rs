//! The `analyze` command line: load inputs, optionally run a sweep preset first, write the report.

use crate::criterion::load_criterion;
use crate::error::{Error, Result, Warning};
use crate::inputs::{coverage, load_results_dirs, pool_seeds, Inputs, PoolSeeds};
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

    /// Report directory. Default: results/reports/<experiment>-<machine_id> (or
    /// results/reports/compare-<id1>-<id2> when the inputs come from several machines), where
    /// nothing is tracked; with --publish, the same name under reports/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Publish: copy --run's results to reports/data/<machine_id>/<experiment>/ and write the
    /// report under reports/, where committed results live. Machine ids repeat across VMs of
    /// one type, so this may overwrite committed files: it is never the default.
    #[arg(long)]
    pub publish: bool,

    /// First run the named sweep preset (experiments/<PRESET>.toml) on this machine, then
    /// analyse its results together with any other inputs: the one-command main job.
    #[arg(long, value_name = "PRESET",
          value_parser = clap::builder::PossibleValuesParser::new(degradation_bench::sweep::preset_names()))]
    pub run: Option<String>,

    /// Worker threads for --run (default: all cores).
    #[arg(long, value_name = "N", requires = "run")]
    pub threads: Option<usize>,

    /// Do not pick up target/criterion when no --criterion is given.
    #[arg(long)]
    pub no_default_criterion: bool,

    /// Read the runs of experiment EXTRA as more seeds of experiment BASE (an experiment that
    /// only adds seeds, such as `resnet_seeds` to `resnet`); otherwise runs of different
    /// experiments are never pooled. Repeatable.
    #[arg(long = "pool-seeds", value_name = "EXTRA=BASE")]
    pub pool_seeds: Vec<PoolSeeds>,
}

/// Where criterion writes by default, relative to the workspace root.
pub const DEFAULT_CRITERION_DIR: &str = "target/criterion";

/// Where `--publish` copies `--run`'s results so the report can be regenerated from committed files.
pub const REPORT_DATA_DIR: &str = "reports/data";

/// Where reports go by default: untracked, so the main job never changes a committed file.
pub const UNPUBLISHED_REPORTS_DIR: &str = "results/reports";

/// Where published reports go.
pub const PUBLISHED_REPORTS_DIR: &str = "reports";

/// Inputs as loaded, with what the report says about them.
pub struct Loaded {
    pub inputs: Inputs,
    /// Lines about the inputs as a whole (shards merged, coverage of the grid).
    pub notes: Vec<String>,
    /// The `--criterion` directories actually read (the default one when picked up).
    pub criterion_dirs: Vec<PathBuf>,
}

/// Loads every input named on the command line (and the results of `--run`), collecting
/// warnings; directories of shards are merged and checked against the experiment's grid.
pub fn load_inputs(args: &Args, sweep_outputs: &[PathBuf]) -> Result<Loaded> {
    let mut inputs = Inputs::default();
    let dirs: Vec<PathBuf> = sweep_outputs.iter().chain(&args.inputs).cloned().collect();
    let mut notes = load_results_dirs(&dirs, &mut inputs)?;
    for c in coverage(&inputs.results)? {
        notes.push(c.line());
    }
    for pool in &args.pool_seeds {
        let moved = pool_seeds(&mut inputs.results, pool)?;
        notes.push(format!(
            "The {moved} runs of `{}` are read as more seeds of `{}`'s nets (`--pool-seeds {pool}`).",
            pool.extra, pool.base
        ));
    }
    let mut criterion_dirs = args.criterion.clone();
    for dir in &args.criterion {
        let set = load_criterion(dir, &mut inputs.warnings)?;
        inputs.benches.push(set);
    }
    let default_dir = Path::new(DEFAULT_CRITERION_DIR);
    if args.criterion.is_empty() && !args.no_default_criterion && default_dir.is_dir() {
        // Picked up implicitly, so an unusable one is a warning, not an error.
        match load_criterion(default_dir, &mut inputs.warnings) {
            Ok(set) => {
                inputs.benches.push(set);
                criterion_dirs.push(default_dir.to_path_buf());
            }
            Err(e) => inputs.warnings.push(Warning(format!("default criterion directory skipped: {e}"))),
        }
    }
    if inputs.results.is_empty() && inputs.benches.is_empty() {
        return Err(Error::NoInputs);
    }
    Ok(Loaded { inputs, notes, criterion_dirs })
}

/// Runs the whole command; returns the report directory.
pub fn run(args: &Args) -> Result<PathBuf> {
    let mut sweep_outputs = Vec::new();
    if let Some(preset) = &args.run {
        let results = crate::sweep::run_preset(preset, args.threads)?;
        if args.publish {
            let kept = keep_results(&results)?;
            eprintln!("results copied to {} (the report is regenerated from there)", kept.display());
            sweep_outputs.push(kept);
        } else {
            sweep_outputs.push(results);
        }
    }
    let loaded = load_inputs(args, &sweep_outputs)?;
    for warning in &loaded.inputs.warnings {
        eprintln!("warning: {warning}");
    }
    for note in &loaded.notes {
        eprintln!("{note}");
    }
    let runs: usize = loaded.inputs.results.iter().map(|r| r.runs.len()).sum();
    eprintln!(
        "read {} results directories ({runs} runs) and {} criterion trees",
        loaded.inputs.results.len(),
        loaded.inputs.benches.len()
    );
    let out = report_dir(args, &loaded.inputs);
    let inputs: Vec<PathBuf> = sweep_outputs.iter().chain(&args.inputs).cloned().collect();
    let command = regenerate_command(&inputs, &loaded.criterion_dirs, &args.pool_seeds, &out);
    let mut report = assemble(&loaded.inputs, command)?;
    report.notes = loaded.notes;
    report::write(&report, &out)?;
    Ok(out)
}

/// `--out`, else the inputs' default name under `results/reports/` (under `reports/` with
/// `--publish`).
pub fn report_dir(args: &Args, inputs: &Inputs) -> PathBuf {
    let root = if args.publish { PUBLISHED_REPORTS_DIR } else { UNPUBLISHED_REPORTS_DIR };
    args.out.clone().unwrap_or_else(|| Path::new(root).join(inputs.default_name()))
}

/// Copies a sweep's results directory (runs.jsonl, machine.json, experiment.toml) to
/// `reports/data/<machine_id>/<experiment>/`, where a report's data is committed.
pub fn keep_results(results: &Path) -> Result<PathBuf> {
    let machine = crate::inputs::read_machine(&results.join("machine.json"))?;
    let set = crate::inputs::load_results(results, &mut Vec::new())?;
    let dest = Path::new(REPORT_DATA_DIR).join(&machine.machine_id).join(&set.experiment);
    std::fs::create_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    for name in ["runs.jsonl", "machine.json", "experiment.toml"] {
        let from = results.join(name);
        if from.is_file() {
            std::fs::copy(&from, dest.join(name)).map_err(|e| Error::io(&from, e))?;
        }
    }
    Ok(dest)
}

/// The command that regenerates the report from the files it read: every input by path (a
/// `--run` sweep by the directory its results were copied to), no implicit default.
pub fn regenerate_command(inputs: &[PathBuf], criterion: &[PathBuf], pools: &[PoolSeeds], out: &Path) -> String {
    let mut words = vec!["analyze".to_string()];
    for dir in inputs {
        words.push("--input".into());
        words.push(quote(&dir.display().to_string()));
    }
    for dir in criterion {
        words.push("--criterion".into());
        words.push(quote(&dir.display().to_string()));
    }
    if criterion.is_empty() {
        words.push("--no-default-criterion".into());
    }
    for pool in pools {
        words.push("--pool-seeds".into());
        words.push(quote(&pool.to_string()));
    }
    words.push("--out".into());
    words.push(quote(&out.display().to_string()));
    words.join(" ")
}

fn quote(word: &str) -> String {
    if word.is_empty() || word.contains(|c: char| c.is_whitespace() || "\"'$`\\".contains(c)) {
        format!("'{}'", word.replace('\'', "'\\''"))
    } else {
        word.to_string()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_go_where_nothing_is_tracked_unless_published() {
        let inputs = Inputs::default();
        let args = |words: &[&str]| Args::parse_from(["analyze"].iter().chain(words));
        let name = inputs.default_name();
        assert_eq!(report_dir(&args(&["--run", "quick"]), &inputs), Path::new("results/reports").join(&name));
        assert_eq!(report_dir(&args(&["--run", "quick", "--publish"]), &inputs), Path::new("reports").join(&name));
        assert_eq!(report_dir(&args(&["--run", "quick", "--out", "x"]), &inputs), Path::new("x"));
        // `results/` is git-ignored: the default never lands in a tracked directory.
        let ignored = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.gitignore")).unwrap();
        assert!(ignored.lines().any(|line| line.trim() == "/results"), "{ignored}");
    }
}
