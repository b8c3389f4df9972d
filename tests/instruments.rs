//! The instruments: reading a net at the checkpoints leaves its training bit-identical; the
//! points come at step 0 and at every checkpoint; the fit they report agrees with the final
//! evaluation; and the per-layer update they measure is, for plain SGD, exactly lr × ‖∂L/∂W_l‖.

mod common;

use common::digits_run;
use degradation_bench::config::{
    conv, Arch, DatasetKind, DatasetOptions, Family, OptimizerConfig, OptimizerKind, RunConfig,
};
use degradation_bench::data::{self, Split};
use degradation_bench::model::conv::ConvNet;
use degradation_bench::model::{Mlp, Network};
use degradation_bench::train::run::checkpoint_steps;
use degradation_bench::train::train;
use std::sync::OnceLock;

fn digits() -> &'static Split {
    static SPLIT: OnceLock<Split> = OnceLock::new();
    SPLIT.get_or_init(|| data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap())
}

fn runs() -> Vec<RunConfig> {
    let mlp = RunConfig { steps: 120, checkpoints: 6, ..digits_run("instruments", Arch::Plain, 8, 32) };
    let residual = RunConfig { steps: 120, checkpoints: 6, ..digits_run("instruments", Arch::Residual, 8, 32) };
    let conv_net = RunConfig {
        family: Family::Conv,
        model: conv::model(Arch::Residual, 8, 4, 64, 10),
        optimizer: OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.05, momentum: 0.9, weight_decay: 1e-4 },
        batch_size: 32,
        steps: 40,
        checkpoints: 4,
        ..digits_run("instruments", Arch::Residual, 8, 4)
    };
    vec![mlp, residual, conv_net]
}

#[test]
fn instruments_leave_training_unchanged_and_agree_with_the_final_evaluation() {
    for config in runs() {
        let without = train(&config, digits()).unwrap();
        let mut instrumented = config.clone();
        instrumented.probes.instrument_samples = 10_000; // more than the 1437 training digits
        let with = train(&instrumented, digits()).unwrap();
        let name = format!("{} {} d{}", config.family, config.model.arch, config.model.depth);
        assert!(without.instruments.is_empty(), "{name}");
        // Training is untouched: every measured value but the timings is bit-identical.
        assert_eq!(with.loss_curve, without.loss_curve, "{name}");
        assert_eq!(with.final_train_loss, without.final_train_loss, "{name}");
        assert_eq!(with.test_accuracy, without.test_accuracy, "{name}");
        assert_eq!(with.final_probes(), without.final_probes(), "{name}");
        assert_eq!(with.tail_train_losses, without.tail_train_losses, "{name}");
        // Step 0 and one point per checkpoint.
        let steps: Vec<usize> = with.instruments.iter().map(|p| p.step).collect();
        let mut expected = vec![0];
        expected.extend(checkpoint_steps(config.steps, config.checkpoints));
        assert_eq!(steps, expected, "{name}");
        // The whole training set was evaluated: the last point is the final evaluation.
        let last = with.instruments.last().unwrap();
        assert_eq!(last.train_loss, with.final_train_loss, "{name}");
        assert_eq!(last.train_error, with.final_train_accuracy.map(|a| 1.0 - a), "{name}");
        assert_eq!(last.test_error, with.test_accuracy.map(|a| 1.0 - a), "{name}");
        // Per-layer series have one value per hidden weight layer; step 0 has not moved.
        let layers = with.weight_grad_norms_init.len();
        let first = &with.instruments[0];
        assert_eq!(first.distance_from_init, vec![0.0; layers], "{name}");
        assert!(first.update_ratios.is_empty() && first.weight_grad_norms.is_empty(), "{name}");
        for point in &with.instruments[1..] {
            for series in [&point.weight_grad_norms, &point.update_ratios, &point.distance_from_init] {
                assert_eq!(series.len(), layers, "{name} step {}", point.step);
                assert!(series.iter().all(|v| v.is_finite() && *v > 0.0), "{name} step {}: {series:?}", point.step);
            }
        }
        let (with_time, without_time) = (with.time_split.unwrap(), without.time_split.unwrap());
        assert!(with_time.instruments > 0.0 && without_time.instruments == 0.0, "{name}");
    }
}

/// ‖W_l‖ per hidden weight layer of the run's initial network.
fn initial_weight_norms(config: &RunConfig) -> Vec<f64> {
    let train = &digits().train;
    match config.family {
        Family::Mlp => {
            let net = <Mlp<f32> as Network<f32>>::for_run(config, train, config.batch_size).unwrap();
            net.weight_norms_of(net.params())
        }
        Family::Conv => {
            let net = <ConvNet<f32> as Network<f32>>::for_run(config, train, config.batch_size).unwrap();
            net.weight_norms_of(net.params())
        }
    }
}

#[test]
fn a_plain_sgd_step_moves_each_layer_by_lr_times_its_gradient_norm() {
    // A checkpoint at step 1: there the distance from initialisation is the first update,
    // which plain SGD (no momentum, no weight decay) makes −lr·∂L/∂W_l.
    for mut config in runs() {
        config.optimizer = OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.01, momentum: 0.0, weight_decay: 0.0 };
        config.steps = 5;
        config.checkpoints = 5;
        config.probes.instrument_samples = 100;
        let result = train(&config, digits()).unwrap();
        let point = &result.instruments[1];
        assert_eq!(point.step, 1);
        let initial = initial_weight_norms(&config);
        for (layer, ((&distance, &grad), &norm)) in
            point.distance_from_init.iter().zip(&point.weight_grad_norms).zip(&initial).enumerate()
        {
            let moved = distance * norm;
            let expected = config.optimizer.lr * grad;
            // f32 parameters: the difference of two f32 weights carries their rounding.
            assert!(
                (moved - expected).abs() <= 1e-4 * expected + 1e-9,
                "{} layer {layer}: moved {moved:e}, lr·‖g‖ = {expected:e}",
                config.family
            );
        }
        // At step 1 the update is the whole distance travelled: update ratio × ‖W_1‖ = distance × ‖W_0‖.
        assert!(point.update_ratios.iter().zip(&point.distance_from_init).all(|(u, d)| (u / d - 1.0).abs() < 0.1));
    }
}
