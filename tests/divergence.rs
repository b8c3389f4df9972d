//! Divergence: a run whose loss stops being finite is stopped and marked
//! diverged, with the step, no final losses and no final probes — and nothing panics.

use degradation_bench::config::{
    Activation, Arch, DatasetKind, DatasetOptions, Family, Init, LrSchedule, MechanismProbes, ModelConfig, Norm,
    OptimizerConfig, OptimizerKind, ResidualScale, RunConfig,
};
use degradation_bench::data;
use degradation_bench::train::{train, TrainResult};

fn absurd(arch: Arch, kind: OptimizerKind, lr: f64) -> RunConfig {
    RunConfig {
        experiment: "divergence".into(),
        dataset: DatasetKind::Digits,
        dataset_options: DatasetOptions::default(),
        model: ModelConfig {
            arch,
            depth: 8,
            width: 32,
            input_dim: 64,
            output_dim: 10,
            activation: Activation::Relu,
            norm: Norm::None,
            residual_scale: ResidualScale::One,
            block_layers: 2,
            init: Init::He,
        },
        optimizer: OptimizerConfig { kind, lr, momentum: 0.0, weight_decay: 0.0 },
        batch_size: 32,
        steps: 50,
        checkpoints: 50,
        seed: 3,
        family: Family::Mlp,
        lr_schedule: LrSchedule::default(),
        probes: MechanismProbes { shattered_gradients: true, lesion: true, perturbation: true, instrument_samples: 50 },
    }
}

#[track_caller]
fn assert_diverged(config: &RunConfig, result: &TrainResult) {
    let what = format!("{} {} lr {}", config.model.arch, config.optimizer.kind, config.optimizer.lr);
    assert!(result.diverged, "{what}: not marked diverged: {:?}", result.final_train_loss);
    let step = result.diverged_at_step.unwrap_or_else(|| panic!("{what}: no divergence step"));
    assert!((1..=config.steps).contains(&step), "{what}: step {step}");
    assert_eq!(result.final_train_loss, None, "{what}");
    assert_eq!(result.final_train_accuracy, None, "{what}");
    assert_eq!(result.test_loss, None, "{what}");
    assert_eq!(result.test_accuracy, None, "{what}");
    // The loss at initialisation is finite (step 0), checkpoints stop before the divergence.
    let first = result.loss_curve.first().unwrap_or_else(|| panic!("{what}: empty loss curve"));
    assert_eq!(first.step, 0);
    assert!(first.loss.is_some_and(f64::is_finite), "{what}: {first:?}");
    assert!(result.loss_curve.iter().all(|p| p.step < step), "{what}: {:?}", result.loss_curve);
    assert!(result.loss_curve.iter().flat_map(|p| p.loss).all(f64::is_finite));
    // Initial probes exist, final ones (and final mechanism probes) do not.
    assert_eq!(result.state_rms_init.len(), config.model.blocks() + 1, "{what}");
    assert!(result.final_probes() == Default::default(), "{what}");
    assert!(result.shattered_acf_final.is_empty() && result.lesion_train_losses.is_empty(), "{what}");
    eprintln!("{what}: diverged at step {step}");
}

#[test]
fn absurd_learning_rates_diverge_without_panicking() {
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    for (arch, kind, lr) in [
        (Arch::Plain, OptimizerKind::Sgd, 1e6),
        (Arch::Residual, OptimizerKind::Sgd, 1e6),
        (Arch::Plain, OptimizerKind::Adam, 1e6),
    ] {
        // (Residual + Adam at lr 1e6 is left out on purpose: Adam moves each weight by at most
        // ~lr per step, ReLU then kills most units and the loss stays finite, ~5e5 — absurd
        // but not diverged by the definition "the loss is not finite".)
        let config = absurd(arch, kind, lr);
        let result = train(&config, &split).expect("a diverging run is a result, not an error");
        assert_diverged(&config, &result);
    }
}

#[test]
fn a_sane_learning_rate_does_not_diverge() {
    // The same runs with a sane learning rate are fine, so the flag is not set by accident.
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    for arch in [Arch::Plain, Arch::Residual] {
        let mut config = absurd(arch, OptimizerKind::Sgd, 0.01);
        config.steps = 20;
        let result = train(&config, &split).unwrap();
        assert!(!result.diverged && result.diverged_at_step.is_none(), "{arch}");
        assert!(result.final_train_loss.is_some_and(f64::is_finite) && result.test_loss.is_some(), "{arch}");
        assert_eq!(result.lesion_train_losses.len(), config.model.blocks(), "{arch}");
    }
}
