//! The run the integration tests start from: the digits data, He init, ReLU, no normalisation,
//! α = 1/√K, two-layer blocks, Adam at lr 1e-3, batch 64, 1500 steps, 10 checkpoints, seed 0,
//! no mechanism probes. Tests change what they study with struct update syntax.

use degradation_bench::config::{
    Activation, Arch, DatasetKind, DatasetOptions, Family, Init, LrSchedule, MechanismProbes, ModelConfig, Norm,
    OptimizerConfig, OptimizerKind, ResidualScale, RunConfig,
};

pub fn digits_run(experiment: &str, arch: Arch, depth: usize, width: usize) -> RunConfig {
    RunConfig {
        experiment: experiment.into(),
        dataset: DatasetKind::Digits,
        dataset_options: DatasetOptions::default(),
        model: ModelConfig {
            arch,
            depth,
            width,
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
        steps: 1500,
        checkpoints: 10,
        seed: 0,
        family: Family::Mlp,
        lr_schedule: LrSchedule::default(),
        probes: MechanismProbes::default(),
    }
}
