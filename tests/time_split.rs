//! Every run records where its time went: each part charged once, parts a run did not ask for
//! exactly zero (mechanisms, twin, instruments), the parts adding up to the run's wall time, and the step rate counting the
//! steps alone.

mod common;

use common::digits_run;
use degradation_bench::config::{Arch, DatasetKind, DatasetOptions, MechanismProbes, RunConfig};
use degradation_bench::data;
use degradation_bench::train::train;

fn config(probes: MechanismProbes) -> RunConfig {
    RunConfig { steps: 400, seed: 3, probes, ..digits_run("time", Arch::Residual, 4, 32) }
}

#[test]
fn the_parts_cover_the_run_and_only_what_it_asked_for() {
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    let plain_run = train(&config(MechanismProbes::default()), &split).unwrap();
    let time = plain_run.time_split.expect("the trainer times every run");
    eprintln!("without mechanisms or twin: {time:?}");
    assert_eq!((time.mechanisms, time.twin, time.instruments), (0.0, 0.0, 0.0), "parts the run did not ask for");
    for (name, seconds) in time.parts() {
        if !["mechanisms", "twin", "instruments"].contains(&name) {
            assert!(seconds > 0.0, "{name} was never charged: {time:?}");
        }
    }
    assert_eq!(plain_run.wall_seconds, time.total());
    let rate_from_steps = 400.0 / time.steps;
    assert!((plain_run.steps_per_second / rate_from_steps - 1.0).abs() < 1e-12, "the step rate counts only the steps");

    let everything =
        MechanismProbes { shattered_gradients: true, lesion: true, perturbation: true, instrument_samples: 50 };
    let probed = train(&config(everything), &split).unwrap();
    let time = probed.time_split.expect("the trainer times every run");
    eprintln!("with mechanisms and twin: {time:?}");
    assert!(time.mechanisms > 0.0 && time.twin > 0.0 && time.instruments > 0.0, "{time:?}");
    // The twin repeats every step of the run: charged to the steps instead, it would leave its
    // own part near zero. (A wide margin: this is attribution, not a speed measurement.)
    assert!(time.twin > 0.2 * time.steps, "the twin's steps were charged elsewhere: {time:?}");
    assert_eq!(probed.loss_curve, plain_run.loss_curve, "measuring changed the run");
}
