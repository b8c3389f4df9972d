//! The degradation problem in one run: plain and residual MLPs of growing depth on the real
//! digits data (width 64, Adam lr 1e-3, batch 64, 1500 steps, He init, no normalisation).
//! Plain nets train well when shallow and worse past some depth; residual nets with
//! α = 1/√K keep training at depth 128. Prints the final training loss per depth.
//!
//! `cargo run --release --example degradation`

use degradation_bench::config::*;
use degradation_bench::data;
use degradation_bench::train::train;
use rayon::prelude::*;

fn main() -> degradation_bench::Result<()> {
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default())?;
    let depths = [2, 4, 8, 16, 32, 64, 128];
    let mut runs = Vec::new();
    for arch in [Arch::Plain, Arch::Residual] {
        for &depth in &depths {
            runs.push(RunConfig {
                experiment: "example".into(),
                dataset: DatasetKind::Digits,
                dataset_options: DatasetOptions::default(),
                model: ModelConfig {
                    arch,
                    depth,
                    width: 64,
                    input_dim: split.train.input_dim,
                    output_dim: split.train.output_dim(),
                    activation: Activation::Relu,
                    norm: Norm::None,
                    residual_scale: ResidualScale::InvSqrtBlocks,
                    block_layers: 2,
                    init: Init::He,
                },
                optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, momentum: 0.0, weight_decay: 0.0 },
                batch_size: 64,
                steps: 1500,
                checkpoints: 10,
                seed: 0,
                probes: MechanismProbes::default(),
            });
        }
    }
    let results: Vec<_> = runs.par_iter().map(|run| train(run, &split).map(|r| (run, r))).collect::<Result<_, _>>()?;
    println!("{:<9} {:>5} {:>14} {:>9} {:>8}", "arch", "depth", "train loss", "test acc", "steps/s");
    for (run, result) in results {
        let loss = result.final_train_loss.map_or("diverged".to_string(), |l| format!("{l:.3e}"));
        let acc = result.test_accuracy.map_or("-".to_string(), |a| format!("{:.3}", a));
        println!(
            "{:<9} {:>5} {:>14} {:>9} {:>8.0}",
            run.model.arch, run.model.depth, loss, acc, result.steps_per_second
        );
    }
    Ok(())
}
