//! The perturbation probe: a twin one ulp away from the run, trained on the same batches.
//! It must leave the run itself untouched, start at a rounding-level distance, and show the
//! growth the probe exists to measure.

mod common;

use common::digits_run;
use degradation_bench::config::{Arch, DatasetKind, DatasetOptions, MechanismProbes, RunConfig};
use degradation_bench::data;
use degradation_bench::train::train;

fn config(arch: Arch, depth: usize, perturbation: bool) -> RunConfig {
    let probes = MechanismProbes { perturbation, ..MechanismProbes::default() };
    RunConfig { steps: 300, seed: 1, probes, ..digits_run("sensitivity", arch, depth, 32) }
}

#[test]
fn the_twin_leaves_the_run_untouched_and_drifts_away_from_a_rounding_level_start() {
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    for arch in [Arch::Plain, Arch::Residual] {
        let alone = train(&config(arch, 16, false), &split).unwrap();
        let shadowed = train(&config(arch, 16, true), &split).unwrap();
        assert!(alone.perturbation_growth.is_empty());
        assert_eq!(alone.loss_curve, shadowed.loss_curve, "{arch}: the twin changed the run");
        assert_eq!(alone.final_train_loss, shadowed.final_train_loss, "{arch}");

        let points = &shadowed.perturbation_growth;
        let steps: Vec<usize> = points.iter().map(|p| p.step).collect();
        assert_eq!(steps, (1..=10).map(|i| 30 * i).collect::<Vec<_>>(), "{arch}: one point per checkpoint");
        let distances: Vec<f64> = points.iter().map(|p| p.param_distance.unwrap()).collect();
        // One ulp is a relative 6e-8 to 1.2e-7 per weight; after 30 steps the distance is still
        // of that order (the updates have not amplified it yet), and it is never 0.
        assert!(distances[0] > 1e-8 && distances[0] < 1e-5, "{arch}: {distances:?}");
        // Training amplifies it by orders of magnitude: the reason single runs of two correct
        // f32 implementations cannot be compared.
        let last = distances[distances.len() - 1];
        assert!(last > 1e3 * distances[0], "{arch}: no growth: {distances:?}");
        assert!(points.iter().all(|p| p.loss_difference.is_some()), "{arch}");
        eprintln!("{arch}: parameter distance by checkpoint {distances:?}");
    }
}
