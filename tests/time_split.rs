//! Every run records where its time went: each part charged once, parts a run did not ask for
//! exactly zero, the parts adding up to the run's wall time, and the step rate counting the
//! steps alone.

use degradation_bench::config::{
    Activation, Arch, DatasetKind, DatasetOptions, Init, MechanismProbes, ModelConfig, Norm, OptimizerConfig,
    OptimizerKind, ResidualScale, RunConfig,
};
use degradation_bench::data;
use degradation_bench::train::train;

fn config(probes: MechanismProbes) -> RunConfig {
    RunConfig {
        experiment: "time".into(),
        dataset: DatasetKind::Digits,
        dataset_options: DatasetOptions::default(),
        model: ModelConfig {
            arch: Arch::Residual,
            depth: 4,
            width: 32,
            input_dim: 64,
            output_dim: 10,
            activation: Activation::Relu,
            norm: Norm::None,
            residual_scale: ResidualScale::InvSqrtBlocks,
            block_layers: 2,
            init: Init::He,
        },
        optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, momentum: 0.9, weight_decay: 0.0 },
        batch_size: 64,
        steps: 400,
        checkpoints: 10,
        seed: 3,
        probes,
    }
}

#[test]
fn the_parts_cover_the_run_and_only_what_it_asked_for() {
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    let plain_run = train(&config(MechanismProbes::default()), &split).unwrap();
    let time = plain_run.time_split;
    eprintln!("without mechanisms or twin: {time:?}");
    assert_eq!((time.mechanisms, time.twin), (0.0, 0.0), "parts the run did not ask for");
    for (name, seconds) in time.parts() {
        if name != "mechanisms" && name != "twin" {
            assert!(seconds > 0.0, "{name} was never charged: {time:?}");
        }
    }
    assert_eq!(plain_run.wall_seconds, time.total());
    let rate_from_steps = 400.0 / time.steps;
    assert!((plain_run.steps_per_second / rate_from_steps - 1.0).abs() < 1e-12, "the step rate counts only the steps");

    let everything = MechanismProbes { shattered_gradients: true, lesion: true, perturbation: true };
    let probed = train(&config(everything), &split).unwrap();
    let time = probed.time_split;
    eprintln!("with mechanisms and twin: {time:?}");
    assert!(time.mechanisms > 0.0 && time.twin > 0.0, "{time:?}");
    // The twin repeats every step of the run: charged to the steps instead, it would leave its
    // own part near zero. (A wide margin: this is attribution, not a speed measurement.)
    assert!(time.twin > 0.2 * time.steps, "the twin's steps were charged elsewhere: {time:?}");
    assert_eq!(probed.loss_curve, plain_run.loss_curve, "measuring changed the run");
}
