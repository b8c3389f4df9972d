//! One sweep results directory → typed runs.
//!
//! A results directory is self-describing: `runs.jsonl` (one [`RunRecord`] per line, written
//! as each run finishes), `machine.json` ([`MachineInfo`]) and `experiment.toml` (the grid it
//! ran). A process killed mid-write leaves a truncated last line with no newline; that one is
//! skipped with a warning (the sweep redoes it on resume). Any other bad line is an error
//! naming the file and line, because silently dropping runs would bias every median.

use crate::error::{Error, Result, Warning};
pub use crate::fingerprint::read_machine;
use crate::variant::{Run, Variant};
use degradation_bench::config::Experiment;
use degradation_bench::record::{self, MachineInfo, RunRecord};
use degradation_bench::Error as CoreError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One sweep results directory, loaded.
#[derive(Debug, Clone)]
pub struct ResultSet {
    pub dir: PathBuf,
    pub machine: MachineInfo,
    /// The experiment's name (from the records; they all carry it).
    pub experiment: String,
    /// The experiment file the sweep ran, verbatim, when the directory has one.
    pub experiment_text: Option<String>,
    /// The parsed experiment, when the file is present and valid.
    pub experiment_config: Option<Experiment>,
    /// Every run with its typed variant, in file order.
    pub runs: Vec<Run>,
}

impl ResultSet {
    /// The peer that trained this directory's runs (`None`: this crate). A results directory
    /// is written by one implementation, so its first run speaks for all.
    pub fn implementation(&self) -> Option<String> {
        self.runs.first().and_then(|r| r.record.implementation.clone())
    }
}

/// Loads `dir/runs.jsonl`, `dir/machine.json` and (optionally) `dir/experiment.toml`.
pub fn load_results(dir: &Path, warnings: &mut Vec<Warning>) -> Result<ResultSet> {
    if !dir.is_dir() {
        return Err(Error::MissingDir { path: dir.to_path_buf(), what: "results" });
    }
    let machine_path = dir.join(record::MACHINE_JSON);
    if !machine_path.is_file() {
        return Err(Error::MissingFile {
            path: machine_path,
            why: "every results directory needs the machine fingerprint the sweep writes",
        });
    }
    let machine = read_machine(&machine_path)?;

    let runs_path = dir.join(record::RUNS_JSONL);
    if !runs_path.is_file() {
        return Err(Error::MissingFile {
            path: runs_path,
            why: "the sweep writes one JSON line per finished run here",
        });
    }
    let text = std::fs::read_to_string(&runs_path).map_err(|e| Error::io(&runs_path, e))?;
    let mut lines = parse_runs(&runs_path, &text, warnings)?;
    if lines.is_empty() {
        return Err(Error::EmptyResults { path: runs_path });
    }

    let foreign: HashSet<&str> =
        lines.iter().map(|(_, r)| r.machine_id.as_str()).filter(|id| *id != machine.machine_id).collect();
    if !foreign.is_empty() {
        let mut ids: Vec<&str> = foreign.into_iter().collect();
        ids.sort_unstable();
        warnings.push(Warning(format!(
            "{}: some runs carry machine_id {} but machine.json says {}; using machine.json",
            runs_path.display(),
            ids.join(", "),
            machine.machine_id
        )));
        for (_, run) in &mut lines {
            run.machine_id = machine.machine_id.clone();
        }
    }
    let mut runs = Vec::with_capacity(lines.len());
    for (line, record) in lines {
        let variant = Variant::of(&record, &machine).map_err(|e| Error::Line {
            path: runs_path.clone(),
            line,
            message: e.to_string(),
        })?;
        runs.push(Run { record, variant });
    }

    let experiment_path = dir.join("experiment.toml");
    let (experiment_text, experiment_config) = if experiment_path.is_file() {
        let text = std::fs::read_to_string(&experiment_path).map_err(|e| Error::io(&experiment_path, e))?;
        let config = match Experiment::from_toml_str(&text, &experiment_path) {
            Ok(config) => Some(config),
            Err(e) => {
                warnings.push(Warning(format!("{e} (the grid summary is left out)")));
                None
            }
        };
        (Some(text), config)
    } else {
        warnings.push(Warning(format!(
            "{}: missing; the report cannot show the experiment file",
            experiment_path.display()
        )));
        (None, None)
    };

    let experiment = runs[0].record.experiment.clone();
    Ok(ResultSet { dir: dir.to_path_buf(), machine, experiment, experiment_text, experiment_config, runs })
}

/// Parses the text of a runs.jsonl file through the core's reader; its truncated last line
/// (an interrupted write) becomes a warning. Each record comes with its line number.
pub fn parse_runs(path: &Path, text: &str, warnings: &mut Vec<Warning>) -> Result<Vec<(usize, RunRecord)>> {
    let runs = record::parse_runs(path, text).map_err(|e| match e {
        CoreError::Record { path, line, message } => Error::Line { path, line, message },
        other => Error::Core(other),
    })?;
    if let Some(tail) = runs.truncated_tail {
        warnings.push(Warning(format!(
            "{}:{}: truncated last line (no trailing newline; an interrupted write?) skipped: {}",
            path.display(),
            tail.line,
            tail.error
        )));
    }
    Ok(runs.lines.into_iter().zip(runs.records).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::synthetic_run;
    use std::fs;

    fn line(seed: u64) -> String {
        serde_json::to_string(&synthetic_run("plain", 4, seed, Some(0.5))).unwrap()
    }

    fn machine_json() -> String {
        serde_json::json!({
            "machine_id": "m1", "cpu_model": "Test CPU", "logical_cores": 2, "physical_cores": 1,
            "simd_features": ["avx2"], "caches": ["L1d 48K"], "memory_bytes": 1024u64, "os": "Linux",
            "rustc_version": "rustc 1.91", "crate_version": "0.1.0", "git_commit": null,
            "gemm_backend": "gemm", "threads": 2, "recorded_at": "2026-11-26T00:00:00Z"
        })
        .to_string()
    }

    fn results_dir(runs: &str) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("runs.jsonl"), runs).unwrap();
        fs::write(tmp.path().join("machine.json"), machine_json()).unwrap();
        tmp
    }

    #[test]
    fn loads_a_good_directory() {
        let tmp = results_dir(&format!("{}\n\n{}\n", line(0), line(1)));
        let mut warnings = Vec::new();
        let set = load_results(tmp.path(), &mut warnings).unwrap();
        assert_eq!(set.runs.len(), 2);
        assert_eq!(set.runs[1].record.setup.seed, 1);
        assert_eq!(set.machine.cpu_model, "Test CPU");
        assert_eq!(set.experiment, "quick");
        // No experiment.toml: loaded, with a warning that says so.
        assert!(set.experiment_text.is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].0.contains("experiment.toml"));
    }

    #[test]
    fn a_garbage_line_is_an_error_naming_file_and_line() {
        let tmp = results_dir(&format!("{}\n{}\nnot json at all\n{}\n", line(0), line(1), line(2)));
        let err = load_results(tmp.path(), &mut Vec::new()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Line { line: 3, .. }), "{text}");
        assert!(text.contains("runs.jsonl:3:"), "{text}");
    }

    #[test]
    fn a_bad_last_line_with_newline_is_still_an_error() {
        let tmp = results_dir(&format!("{}\n{{\"run_id\": 1}}\n", line(0)));
        let err = load_results(tmp.path(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::Line { line: 2, .. }), "{err}");
    }

    #[test]
    fn a_truncated_last_line_is_skipped_with_a_warning() {
        let full = line(1);
        let tmp = results_dir(&format!("{}\n{}", line(0), &full[..full.len() / 2]));
        let mut warnings = Vec::new();
        let set = load_results(tmp.path(), &mut warnings).unwrap();
        assert_eq!(set.runs.len(), 1);
        let warning = warnings.iter().find(|w| w.0.contains("truncated")).expect("a truncation warning");
        assert!(warning.0.contains("runs.jsonl:2:"), "{warning}");
    }

    #[test]
    fn missing_pieces_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let err = load_results(&missing, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("not a results directory"), "{err}");

        fs::write(tmp.path().join("runs.jsonl"), line(0) + "\n").unwrap();
        let err = load_results(tmp.path(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::MissingFile { .. }), "{err}");
        assert!(err.to_string().contains("machine.json"), "{err}");

        fs::write(tmp.path().join("machine.json"), "{\"machine_id\": 3}").unwrap();
        let err = load_results(tmp.path(), &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("machine.json") && err.contains("not a machine fingerprint"), "{err}");

        let empty = results_dir("\n");
        let err = load_results(empty.path(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::EmptyResults { .. }), "{err}");
    }
}
