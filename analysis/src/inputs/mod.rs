//! Everything `analyze` reads, loaded once: sweep results directories (typed runs, see
//! [`results`]), shard directories merged with a check ([`merge`]), and criterion trees.
//! Sections take [`Inputs`] and nothing else.

pub mod merge;
pub mod pool;
pub mod results;

pub use merge::{coverage, merge_runs, same_training, Coverage};
pub use pool::{pool_seeds, PoolSeeds};
pub use results::{load_results, parse_runs, read_machine, ResultSet};

use crate::criterion::BenchSet;
use crate::error::{Error, Result, Warning};
use crate::variant::Run;
use degradation_bench::record::MachineInfo;
use std::path::{Path, PathBuf};

/// Everything loaded from the command line's inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    pub results: Vec<ResultSet>,
    pub benches: Vec<BenchSet>,
    pub warnings: Vec<Warning>,
}

impl Inputs {
    /// One results set of `runs`, as tests build a report's inputs.
    #[cfg(test)]
    pub(crate) fn of_runs(experiment: &str, runs: Vec<Run>) -> Inputs {
        let result = ResultSet {
            dir: "results".into(),
            machine: crate::variant::tests::test_machine(),
            experiment: experiment.into(),
            experiment_text: None,
            experiment_config: None,
            runs,
        };
        Inputs { results: vec![result], ..Inputs::default() }
    }

    /// Every run of every results set, in input order, with its typed variant.
    pub fn runs(&self) -> Vec<Run> {
        self.results.iter().flat_map(|r| r.runs.iter().cloned()).collect()
    }

    /// The runs whose training results a report shows: every run, except that a run trained
    /// bit-identically on an earlier input's machine is shown once (the machines section says
    /// which runs agree). Runs that differ between machines are all kept.
    pub fn training_runs(&self) -> Vec<Run> {
        let mut kept: Vec<Run> = Vec::new();
        for run in self.runs() {
            let repeated = kept.iter().any(|k| {
                k.record.run_id == run.record.run_id
                    && k.record.implementation == run.record.implementation
                    && k.record.machine_id != run.record.machine_id
                    && same_training(&k.record, &run.record)
            });
            if !repeated {
                kept.push(run);
            }
        }
        kept
    }

    /// Distinct machine ids over all inputs, sorted.
    pub fn machine_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .results
            .iter()
            .map(|r| r.machine.machine_id.clone())
            .chain(self.benches.iter().map(|b| b.machine_id.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// One fingerprint per machine id (the first seen), sorted by id.
    pub fn machines(&self) -> Vec<MachineInfo> {
        let mut machines: Vec<MachineInfo> = Vec::new();
        let all = self.results.iter().map(|r| &r.machine).chain(self.benches.iter().filter_map(|b| b.machine.as_ref()));
        for machine in all {
            if !machines.iter().any(|m| m.machine_id == machine.machine_id) {
                machines.push(machine.clone());
            }
        }
        machines.sort_by(|a, b| a.machine_id.cmp(&b.machine_id));
        machines
    }

    /// Distinct experiment names in input order.
    pub fn experiments(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for set in &self.results {
            if !names.contains(&set.experiment) {
                names.push(set.experiment.clone());
            }
        }
        names
    }

    /// Whether any results set was trained by a peer implementation (not this crate).
    pub fn has_peer_runs(&self) -> bool {
        self.results.iter().any(|r| r.implementation().is_some())
    }

    /// The report's directory name: `<experiment>-<machine_id>`, `<experiment>-peers-<machine_id>`
    /// when a peer implementation's runs are among the inputs, or `compare-<id1>-<id2>` for
    /// several machines.
    pub fn default_name(&self) -> String {
        let ids = self.machine_ids();
        if ids.len() > 1 {
            format!("compare-{}", ids.join("-"))
        } else {
            let experiments = self.experiments();
            let experiment = if experiments.is_empty() { "bench".to_string() } else { experiments.join("+") };
            let peers = if self.has_peer_runs() { "-peers" } else { "" };
            format!("{experiment}{peers}-{}", ids.first().map_or("unknown", String::as_str))
        }
    }
}

/// What one `--input` directory turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    /// A results directory (runs.jsonl, machine.json, experiment.toml).
    Results,
    /// A directory of shards: its subdirectories (sorted by name) each hold a runs.jsonl.
    Shards(Vec<PathBuf>),
}

/// A directory with a runs.jsonl is one results set; one without, whose subdirectories hold
/// runs.jsonl files, is a directory of shards (one per Slurm array task, say).
pub fn classify(dir: &Path) -> Result<InputKind> {
    if !dir.is_dir() {
        return Err(Error::MissingDir { path: dir.to_path_buf(), what: "results" });
    }
    if dir.join("runs.jsonl").is_file() {
        return Ok(InputKind::Results);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut shards: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.join("runs.jsonl").is_file())
        .collect();
    shards.sort();
    if shards.is_empty() {
        // Let the results loader say what is missing.
        Ok(InputKind::Results)
    } else {
        Ok(InputKind::Shards(shards))
    }
}

/// Loads every results directory, expanding directories of shards, then merges the runs (a
/// run present twice with different results is an error). Returns what was merged, for the
/// report's notes.
pub fn load_results_dirs(dirs: &[PathBuf], inputs: &mut Inputs) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for dir in dirs {
        match classify(dir)? {
            InputKind::Results => inputs.results.push(load_results(dir, &mut inputs.warnings)?),
            InputKind::Shards(shards) => {
                let mut runs = 0;
                for shard in &shards {
                    let set = load_results(shard, &mut inputs.warnings)?;
                    runs += set.runs.len();
                    inputs.results.push(set);
                }
                notes.push(format!("`{}`: merged {} shards, {runs} runs.", dir.display(), shards.len()));
            }
        }
    }
    merge_runs(&mut inputs.results, &mut inputs.warnings)?;
    Ok(notes)
}
