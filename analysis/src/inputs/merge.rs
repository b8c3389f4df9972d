//! Merging results directories (shards of one sweep, or the same directory given twice) and
//! checking them against the experiment's grid.
//!
//! A run is identified by its machine, its implementation (this crate or a peer such as
//! PyTorch, which trains the same `run_id` its own way) and `run_id` (a hash of its whole
//! configuration). The
//! same run twice with the same results is a repeated input: kept once, with a warning. The
//! same run twice with different results means two sweeps disagree; that is an error naming
//! both files, never a silent choice.

use super::results::ResultSet;
use crate::error::{Error, Result, Warning};
use degradation_bench::record::RunRecord;
use degradation_bench::sweep::{expand, DataShape};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// Two records of one run agree in everything training produced (not where or how fast).
pub fn same_training(a: &RunRecord, b: &RunRecord) -> bool {
    let strip = |r: &RunRecord| {
        let mut value = r.results_json();
        if let Some(map) = value.as_object_mut() {
            map.remove("machine_id");
        }
        value
    };
    strip(a) == strip(b)
}

/// Drops repeated runs (same machine, same run id, same results) with one warning per input
/// that lost any; a run present twice with different results is an error.
pub fn merge_runs(sets: &mut [ResultSet], warnings: &mut Vec<Warning>) -> Result<()> {
    type Key = (String, Option<String>, String);
    let mut seen: HashMap<Key, (PathBuf, serde_json::Value)> = HashMap::new();
    for set in sets.iter_mut() {
        let before = set.runs.len();
        let machine_id = set.machine.machine_id.clone();
        let mut kept = Vec::with_capacity(set.runs.len());
        for run in std::mem::take(&mut set.runs) {
            let key = (machine_id.clone(), run.record.implementation.clone(), run.record.run_id.clone());
            let results = run.record.results_json();
            match seen.get(&key) {
                Some((first, earlier)) if *earlier != results => {
                    return Err(Error::ConflictingRun {
                        run_id: run.record.run_id.clone(),
                        first: first.join("runs.jsonl"),
                        second: set.dir.join("runs.jsonl"),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(key, (set.dir.clone(), results));
                    kept.push(run);
                }
            }
        }
        set.runs = kept;
        let dropped = before - set.runs.len();
        if dropped > 0 {
            warnings.push(Warning(format!(
                "{}: {dropped} run(s) already read from another input (same run_id, same results) were counted once",
                set.dir.display()
            )));
        }
    }
    Ok(())
}

/// How much of one experiment's grid the inputs hold, on one machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub experiment: String,
    pub machine_id: String,
    pub cpu_model: String,
    /// The peer that trained these runs (`None`: this crate); each implementation is covered
    /// separately.
    pub implementation: Option<String>,
    /// Runs the experiment file plans.
    pub planned: usize,
    /// Planned runs present in the inputs.
    pub present: usize,
    /// Planned run ids not present, sorted.
    pub missing: Vec<String>,
    /// Run ids present that the experiment file does not plan (another version of the file?).
    pub unplanned: Vec<String>,
}

impl Coverage {
    /// One line for the report.
    pub fn line(&self) -> String {
        let by = match &self.implementation {
            Some(name) => format!(" trained by {name}"),
            None => String::new(),
        };
        let mut line = format!(
            "Coverage of `{}`{by} on {}: {} of {} planned runs present",
            self.experiment, self.cpu_model, self.present, self.planned
        );
        if !self.missing.is_empty() {
            let shown: Vec<String> = self.missing.iter().take(8).map(|id| format!("`{id}`")).collect();
            let more = self.missing.len().saturating_sub(shown.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            line.push_str(&format!("; missing: {}{more}", shown.join(", ")));
        }
        if !self.unplanned.is_empty() {
            line.push_str(&format!("; {} run(s) present that the experiment file does not plan", self.unplanned.len()));
        }
        line.push('.');
        line
    }
}

/// Coverage of every (experiment, machine, implementation) whose experiment file was found
/// beside its results.
pub fn coverage(sets: &[ResultSet]) -> Result<Vec<Coverage>> {
    let mut by_key: BTreeMap<(String, String, Option<String>), Vec<&ResultSet>> = BTreeMap::new();
    for set in sets {
        let key = (set.experiment.clone(), set.machine.machine_id.clone(), set.implementation());
        by_key.entry(key).or_default().push(set);
    }
    let mut out = Vec::new();
    for ((experiment, machine_id, implementation), sets) in by_key {
        let Some(config) = sets.iter().find_map(|s| s.experiment_config.as_ref()) else {
            continue;
        };
        let split = degradation_bench::data::load(config.dataset, &config.dataset_options)?;
        let shape = DataShape::of(&split);
        let planned: BTreeSet<String> = expand(config, shape).into_iter().map(|p| p.run_id).collect();
        let present: BTreeSet<String> =
            sets.iter().flat_map(|s| s.runs.iter().map(|r| r.record.run_id.clone())).collect();
        out.push(Coverage {
            experiment,
            machine_id,
            cpu_model: sets[0].machine.cpu_model.clone(),
            implementation,
            planned: planned.len(),
            present: planned.intersection(&present).count(),
            missing: planned.difference(&present).cloned().collect(),
            unplanned: present.difference(&planned).cloned().collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::synthetic_run;
    use degradation_bench::record::TimeSplit;

    #[test]
    fn where_and_how_fast_a_run_trained_is_not_what_it_trained() {
        let a = synthetic_run("plain", 8, 0, Some(0.1));
        let mut b = a.clone();
        b.machine_id = "m2".into();
        b.result.wall_seconds = 7.0;
        b.result.steps_per_second = 3.0;
        b.result.time_split = Some(TimeSplit { steps: 7.0, ..TimeSplit::default() });
        assert!(same_training(&a, &b));
        b.result.final_train_loss = Some(0.1 + 1e-12);
        assert!(!same_training(&a, &b));
    }
}
