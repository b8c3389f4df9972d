//! Reproducibility: the same RunConfig and seed give a bit-identical
//! TrainResult (loss curve, final losses, probes, mechanism probes) on the same machine,
//! whether the run is alone or other trainings run at the same time on other threads
//! (std threads and rayon); a different seed gives a different result. MLPs and conv nets
//! alike, with and without a learning-rate schedule.

use degradation_bench::config::{
    conv, Activation, Arch, DatasetKind, DatasetOptions, Family, Init, LrSchedule, MechanismProbes, ModelConfig, Norm,
    OptimizerConfig, OptimizerKind, ResidualScale, RunConfig,
};
use degradation_bench::data::{self, Split};
use degradation_bench::machine::fingerprint as fingerprint_machine;
use degradation_bench::record::MachineInfo;
use degradation_bench::sweep::{to_record, PlannedRun};
use degradation_bench::train::{train, TrainResult};
use rayon::prelude::*;

fn run(dataset: DatasetKind, model: ModelConfig, optimizer: OptimizerConfig, seed: u64) -> RunConfig {
    RunConfig {
        experiment: "determinism".into(),
        dataset,
        dataset_options: DatasetOptions { samples: 200, test_samples: 50, ..DatasetOptions::default() },
        model,
        optimizer,
        batch_size: 32,
        steps: 40,
        checkpoints: 4,
        seed,
        family: Family::Mlp,
        lr_schedule: LrSchedule::default(),
        probes: MechanismProbes::default(),
    }
}

fn model(
    arch: Arch,
    activation: Activation,
    norm: Norm,
    residual_scale: ResidualScale,
    io: (usize, usize),
) -> ModelConfig {
    ModelConfig {
        arch,
        depth: 4,
        width: 24,
        input_dim: io.0,
        output_dim: io.1,
        activation,
        norm,
        residual_scale,
        block_layers: 2,
        init: Init::He,
    }
}

fn adam(lr: f64) -> OptimizerConfig {
    OptimizerConfig { kind: OptimizerKind::Adam, lr, momentum: 0.0, weight_decay: 0.0 }
}

fn sgd(lr: f64) -> OptimizerConfig {
    OptimizerConfig { kind: OptimizerKind::Sgd, lr, momentum: 0.9, weight_decay: 1e-4 }
}

/// Runs covering both archs, every norm, several activations, both optimizers, all three
/// data sets (so both losses), the mechanism probes, a conv net and a schedule.
fn runs(seed: u64) -> Vec<RunConfig> {
    let digits = (64, 10);
    let teacher = (DatasetOptions::default().input_dim, DatasetOptions::default().output_dim);
    let mut with_probes = run(
        DatasetKind::Digits,
        model(Arch::Plain, Activation::Relu, Norm::None, ResidualScale::One, digits),
        adam(1e-3),
        seed,
    );
    with_probes.probes =
        MechanismProbes { shattered_gradients: true, lesion: true, perturbation: true, instrument_samples: 50 };
    let mut conv_net = run(DatasetKind::Digits, conv::model(Arch::Residual, 8, 4, 64, 10), sgd(0.05), seed);
    conv_net.family = Family::Conv;
    conv_net.lr_schedule =
        LrSchedule { decay_at: vec![0.5, 0.75], warmup_steps: 5, warmup_lr: 0.01, ..LrSchedule::default() };
    conv_net.probes =
        MechanismProbes { shattered_gradients: true, lesion: false, perturbation: true, instrument_samples: 50 };
    vec![
        with_probes,
        conv_net,
        run(
            DatasetKind::Digits,
            model(Arch::Residual, Activation::Gelu, Norm::Layer, ResidualScale::Rezero, digits),
            sgd(0.05),
            seed,
        ),
        run(
            DatasetKind::Spirals,
            model(Arch::Plain, Activation::Tanh, Norm::Batch, ResidualScale::One, (2, 2)),
            adam(3e-3),
            seed,
        ),
        run(
            DatasetKind::Teacher,
            model(Arch::Residual, Activation::Relu, Norm::Batch, ResidualScale::InvSqrtBlocks, teacher),
            adam(1e-3),
            seed,
        ),
    ]
}

fn split(config: &RunConfig) -> Split {
    data::load(config.dataset, &config.dataset_options).unwrap()
}

/// Every field of the run's record but the timings (`RunRecord::TIMING_FIELDS`), printed
/// with Rust's shortest round-trip float format: two results print the same exactly when
/// every float has the same bits (−0.0 included).
fn fingerprint(config: &RunConfig, result: &TrainResult) -> String {
    let planned = PlannedRun { run_id: String::new(), config: config.clone(), flops: 0.0 };
    let mut record = to_record(&planned, result.clone(), &machine());
    record.clear_timings();
    format!("{record:?}")
}

fn machine() -> MachineInfo {
    static MACHINE: std::sync::OnceLock<MachineInfo> = std::sync::OnceLock::new();
    MACHINE.get_or_init(|| fingerprint_machine(1, "test")).clone()
}

fn train_all(configs: &[RunConfig]) -> Vec<String> {
    configs.iter().map(|c| fingerprint(c, &train(c, &split(c)).unwrap())).collect()
}

#[test]
fn same_seed_gives_bit_identical_results_alone_and_in_parallel() {
    let configs = runs(7);
    let reference = train_all(&configs);
    for (config, print) in configs.iter().zip(&reference) {
        assert!(!print.contains("diverged: true"), "{}: {print}", config.model.arch);
    }
    // Every run at once, each on its own std thread next to the other three.
    let concurrent: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            configs.iter().map(|c| scope.spawn(move || fingerprint(c, &train(c, &split(c)).unwrap()))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(concurrent, reference);

    // Through rayon, as the sweep runs them (each config twice, interleaved).
    let jobs: Vec<&RunConfig> = configs.iter().cycle().take(2 * configs.len()).collect();
    let prints: Vec<String> = jobs.par_iter().map(|c| fingerprint(c, &train(c, &split(c)).unwrap())).collect();
    for (i, print) in prints.iter().enumerate() {
        assert_eq!(print, &reference[i % configs.len()], "rayon job {i}");
    }
}

#[test]
fn different_seeds_give_different_results() {
    for (a, b) in runs(7).iter().zip(&runs(8)) {
        let (ra, rb) = (train(a, &split(a)).unwrap(), train(b, &split(b)).unwrap());
        let what = format!("{} {} {}", a.dataset, a.model.arch, a.model.norm);
        assert_ne!(ra.state_rms_init, rb.state_rms_init, "{what}: same initial network");
        assert_ne!(ra.loss_curve, rb.loss_curve, "{what}: same loss curve");
        assert_ne!(ra.final_train_loss, rb.final_train_loss, "{what}: same final loss");
    }
}

#[test]
fn data_sets_depend_only_on_their_options() {
    for kind in [DatasetKind::Spirals, DatasetKind::Teacher] {
        let options = DatasetOptions { samples: 64, test_samples: 16, data_seed: 3, ..DatasetOptions::default() };
        let a = data::load(kind, &options).unwrap();
        assert_eq!(a, data::load(kind, &options).unwrap(), "{kind}");
        let other = data::load(kind, &DatasetOptions { data_seed: 4, ..options }).unwrap();
        assert_ne!(a.train.inputs, other.train.inputs, "{kind}");
    }
    let digits = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    let again = data::load(DatasetKind::Digits, &DatasetOptions { data_seed: 9, ..DatasetOptions::default() }).unwrap();
    assert_eq!(digits, again);
}
