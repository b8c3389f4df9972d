//! A run's training steps alone, paused wherever the caller likes: the same network, the same
//! optimizer and the same batch order as [`train`](crate::train::train) uses, so after `s` steps
//! the network is bit for bit the one the run had after step `s`. What the loop does besides
//! stepping (checkpoint losses, tail and final evaluations, probes) reads the network without
//! changing it, so leaving it out changes nothing the steps compute. Only the instruments' and
//! the twin's copies are left out as well, and they too only read.
//!
//! For the questions a finished record cannot answer: what the values inside a network are
//! at some step (`subnormals`), and how fast the very step of a collapsed net runs (benches).

use crate::config::RunConfig;
use crate::data::{Dataset, Split};
use crate::error::Result;
use crate::model::Network;
use crate::train::loss::LossValue;
use crate::train::optim::Optimizer;
use crate::train::run::BatchOrder;
use crate::train::step::TrainStep;
use crate::train::validate_against_data;

/// A training run stopped after `steps_done` steps.
pub struct Replay<N> {
    pub net: N,
    pub optimizer: Optimizer<f32>,
    order: BatchOrder,
    step: TrainStep<f32>,
    /// The run's first minibatch, on which its probes measure the network.
    pub probe_rows: Vec<usize>,
    steps_done: usize,
}

impl<N: Network<f32>> Replay<N> {
    /// The run `config` describes, at initialisation (no step taken).
    pub fn start(config: &RunConfig, split: &Split) -> Result<Self> {
        config.validate()?;
        validate_against_data(config, split)?;
        let train_set = &split.train;
        let batch = config.batch_size;
        let net = N::for_run(config, train_set, batch)?;
        let optimizer = Optimizer::scheduled(&config.optimizer, &config.lr_schedule, config.steps, net.num_params());
        let mut order = BatchOrder::new(train_set.len(), batch, config.seed);
        // As in the loop: the probes' batch is drawn first, then the order starts over.
        let probe_rows = order.next_batch().to_vec();
        order.rewind();
        let step = TrainStep::new(&net, train_set, batch);
        Ok(Replay { net, optimizer, order, step, probe_rows, steps_done: 0 })
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// One train step on the next minibatch of `train_set` (the split's training set the
    /// replay started with): the minibatch loss before the update. A non-finite loss leaves
    /// the network as it was, as in the loop, and does not count as a step.
    pub fn step(&mut self, train_set: &Dataset) -> LossValue {
        let indices = self.order.next_batch();
        let value = self.step.run(&mut self.net, Some(&mut self.optimizer), train_set, indices);
        if value.loss.is_finite() {
            self.steps_done += 1;
        }
        value
    }

    /// Steps until `steps_done` is `target` (nothing if it is already past it). `false` if a
    /// step's loss was not finite (the run diverged there and stays where it stopped).
    pub fn advance_to(&mut self, train_set: &Dataset, target: usize) -> bool {
        while self.steps_done < target {
            if !self.step(train_set).loss.is_finite() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{
        Activation, Arch, DatasetKind, DatasetOptions, Family, Init, LrSchedule, MechanismProbes, ModelConfig, Norm,
        OptimizerConfig, OptimizerKind, ResidualScale,
    };
    use crate::model::Mlp;
    use crate::train::eval::evaluate;

    /// The spirals' 60 samples, and a small Adam run on them: width 8, residual blocks of two
    /// layers, lr 1e-2, batches of 16 (epochs reshuffle within the run).
    pub(crate) fn spirals_run(
        arch: Arch,
        depth: usize,
        steps: usize,
        checkpoints: usize,
        seed: u64,
    ) -> (RunConfig, Split) {
        let options = DatasetOptions { samples: 60, test_samples: 10, ..DatasetOptions::default() };
        let split = crate::data::load(DatasetKind::Spirals, &options).unwrap();
        let config = RunConfig {
            experiment: "unit".into(),
            dataset: DatasetKind::Spirals,
            dataset_options: options,
            model: ModelConfig {
                arch,
                depth,
                width: 8,
                input_dim: 2,
                output_dim: 2,
                activation: Activation::Relu,
                norm: Norm::None,
                residual_scale: ResidualScale::InvSqrtBlocks,
                block_layers: if arch == Arch::Plain { 1 } else { 2 },
                init: Init::He,
            },
            optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-2, momentum: 0.0, weight_decay: 0.0 },
            batch_size: 16,
            steps,
            checkpoints,
            seed,
            family: Family::Mlp,
            lr_schedule: LrSchedule::default(),
            probes: MechanismProbes::default(),
        };
        (config, split)
    }

    #[test]
    fn a_replay_ends_where_the_training_loop_ends() {
        for arch in [Arch::Plain, Arch::Residual] {
            let (config, split) = spirals_run(arch, 4, 40, 5, 3);
            let trained = crate::train::train(&config, &split).unwrap();
            let mut replay = Replay::<Mlp<f32>>::start(&config, &split).unwrap();
            assert!(replay.advance_to(&split.train, config.steps));
            assert_eq!(replay.steps_done(), config.steps);
            let replayed = evaluate(&mut replay.net, &split.train);
            assert_eq!(Some(replayed.loss), trained.final_train_loss, "{arch}");
            assert_eq!(replayed.accuracy, trained.final_train_accuracy, "{arch}");
        }
    }
}
