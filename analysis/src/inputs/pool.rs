//! `--pool-seeds EXTRA=BASE`: an experiment that only adds seeds to another (the `resnet_seeds`
//! preset adds seeds 3 and 4 to `resnet`'s depths 20 and 56) is read as more seeds of it, so
//! the two experiments' seed counts add up in every table and test. Runs of different
//! experiments are otherwise never pooled. Refused, naming the run, where an EXTRA run's
//! settings match no BASE run's, or where one net would hold the same seed twice.

use super::ResultSet;
use crate::error::{Error, Result};
use std::str::FromStr;

/// One `--pool-seeds EXTRA=BASE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSeeds {
    pub extra: String,
    pub base: String,
}

impl FromStr for PoolSeeds {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.split_once('=') {
            Some((extra, base)) if !extra.is_empty() && !base.is_empty() && extra != base => {
                Ok(PoolSeeds { extra: extra.into(), base: base.into() })
            }
            _ => Err(format!("`{text}`: expected EXTRA=BASE, two different experiment names")),
        }
    }
}

impl std::fmt::Display for PoolSeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.extra, self.base)
    }
}

/// Relabels every run of `pool.extra` as a run of `pool.base`'s nets, after checking it fits
/// them; returns how many runs it moved. The records themselves (their `experiment`, run id and
/// results directory) are untouched: coverage and the experiment files still speak of both.
pub fn pool_seeds(results: &mut [ResultSet], pool: &PoolSeeds) -> Result<usize> {
    let refuse = |message: String| Error::PoolSeeds { pool: pool.to_string(), message };
    for name in [&pool.extra, &pool.base] {
        if !results.iter().any(|set| &set.experiment == name) {
            return Err(refuse(format!("no input holds experiment `{name}`")));
        }
    }
    let base: Vec<(crate::variant::Variant, usize, u64, String)> = results
        .iter()
        .filter(|set| set.experiment == pool.base)
        .flat_map(|set| set.runs.iter())
        .map(|run| (run.variant.clone(), run.record.setup.depth, run.record.setup.seed, run.record.run_id.clone()))
        .collect();
    let mut moved = 0;
    for set in results.iter_mut().filter(|set| set.experiment == pool.extra) {
        for run in &mut set.runs {
            let mut variant = run.variant.clone();
            variant.experiment = pool.base.clone();
            let (depth, seed, id) = (run.record.setup.depth, run.record.setup.seed, &run.record.run_id);
            if !base.iter().any(|(v, _, _, _)| *v == variant) {
                return Err(refuse(format!(
                    "run `{id}` ({}) matches no run of `{}` in its settings (all but depth and seed must agree)",
                    set.dir.display(),
                    pool.base
                )));
            }
            if let Some((_, _, _, twin)) = base.iter().find(|(v, d, s, _)| *v == variant && *d == depth && *s == seed) {
                return Err(refuse(format!(
                    "run `{id}` and `{twin}` are both seed {seed} of one net at depth {depth}"
                )));
            }
            run.variant = variant;
            moved += 1;
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::Inputs;
    use crate::variant::tests::{synthetic_run, typed};
    use crate::variant::Run;

    fn run_of(experiment: &str, arch: &str, depth: usize, seed: u64, lr: f64) -> Run {
        let mut record = synthetic_run(arch, depth, seed, Some(0.5));
        record.experiment = experiment.into();
        record.setup.lr = lr;
        record.run_id = format!("{experiment}-{}", record.run_id);
        typed(record)
    }

    fn sets(extra: Vec<Run>) -> Vec<ResultSet> {
        let base = vec![run_of("base", "plain", 8, 0, 0.1), run_of("base", "plain", 8, 1, 0.1)];
        let mut results = Inputs::of_runs("base", base).results;
        results.extend(Inputs::of_runs("extra", extra).results);
        results
    }

    #[test]
    fn extra_seeds_join_the_base_experiments_nets() {
        let pool: PoolSeeds = "extra=base".parse().unwrap();
        let mut results = sets(vec![run_of("extra", "plain", 8, 2, 0.1), run_of("extra", "plain", 16, 3, 0.1)]);
        assert_ne!(results[0].runs[0].variant, results[1].runs[0].variant);
        assert_eq!(pool_seeds(&mut results, &pool).unwrap(), 2);
        assert_eq!(results[0].runs[0].variant, results[1].runs[0].variant);
        // The records keep their own experiment and id.
        assert_eq!(results[1].runs[0].record.experiment, "extra");
        assert_eq!(pool.to_string(), "extra=base");
    }

    #[test]
    fn other_settings_a_repeated_seed_or_a_missing_experiment_are_refused() {
        let pool: PoolSeeds = "extra=base".parse().unwrap();
        let mut other_lr = sets(vec![run_of("extra", "plain", 8, 2, 0.01)]);
        let message = pool_seeds(&mut other_lr, &pool).unwrap_err().to_string();
        assert!(message.contains("run `extra-plain-d8-s2` (results) matches no run of `base`"), "{message}");
        let mut repeated = sets(vec![run_of("extra", "plain", 8, 1, 0.1)]);
        let message = pool_seeds(&mut repeated, &pool).unwrap_err().to_string();
        assert!(message.contains("`extra-plain-d8-s1` and `base-plain-d8-s1` are both seed 1"), "{message}");
        let missing: PoolSeeds = "other=base".parse().unwrap();
        let message = pool_seeds(&mut sets(vec![]), &missing).unwrap_err().to_string();
        assert_eq!(message, "--pool-seeds other=base: no input holds experiment `other`");
        assert!("base".parse::<PoolSeeds>().is_err() && "a=a".parse::<PoolSeeds>().is_err());
    }
}
