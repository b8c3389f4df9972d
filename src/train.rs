//! The training loop: minibatches without replacement (a fresh permutation each epoch, from
//! the run seed; the incomplete tail of an epoch is dropped), a fixed number of steps,
//! loss-curve checkpoints, divergence detection, probes at initialisation and at the end,
//! and final evaluation. One step is forward → loss → backward → optimizer update, and
//! allocates nothing.

use crate::config::RunConfig;
use crate::data::{Dataset, Split, Targets};
use crate::error::{Error, Result};
use crate::loss::{loss_and_grad, BatchTargets};
use crate::mechanisms::{gradient_autocorrelation, lesion_losses};
use crate::model::{Mlp, Mode};
use crate::optim::Optimizer;
use crate::probe::probe;
use crate::record::{LossPoint, ProbeStats};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// ChaCha stream of the batch order, distinct from the stream that initialises the weights.
const SHUFFLE_STREAM: u64 = 1;

/// What one training run produced (the sweep adds identity and machine fields).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainResult {
    pub final_train_loss: Option<f64>,
    pub final_train_accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub diverged: bool,
    pub diverged_at_step: Option<usize>,
    pub loss_curve: Vec<LossPoint>,
    pub probe_init: ProbeStats,
    pub probe_final: ProbeStats,
    /// Mechanism probes; empty unless the run asked for them.
    pub shattered_acf_init: Vec<f64>,
    pub shattered_acf_final: Vec<f64>,
    pub lesion_train_losses: Vec<Option<f64>>,
    pub wall_seconds: f64,
    pub steps_per_second: f64,
}

/// Loss and accuracy (classification only) over a whole data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: Option<f64>,
}

/// Contiguous copies of one minibatch's rows, sized once.
struct BatchBuffers {
    inputs: Vec<f32>,
    labels: Vec<u32>,
    values: Vec<f32>,
}

impl BatchBuffers {
    fn new(data: &Dataset, batch: usize) -> Self {
        let (labels, values) = match &data.targets {
            Targets::Classes { .. } => (batch, 0),
            Targets::Values { dim, .. } => (0, batch * dim),
        };
        BatchBuffers { inputs: vec![0.0; batch * data.input_dim], labels: vec![0; labels], values: vec![0.0; values] }
    }

    /// Gathers the rows `indices` of `data`.
    fn gather(&mut self, data: &Dataset, indices: &[usize]) {
        let d = data.input_dim;
        for (slot, &i) in indices.iter().enumerate() {
            self.inputs[slot * d..(slot + 1) * d].copy_from_slice(data.input(i));
        }
        match &data.targets {
            Targets::Classes { labels, .. } => {
                for (slot, &i) in indices.iter().enumerate() {
                    self.labels[slot] = labels[i];
                }
            }
            Targets::Values { values, dim } => {
                for (slot, &i) in indices.iter().enumerate() {
                    self.values[slot * dim..(slot + 1) * dim].copy_from_slice(&values[i * dim..(i + 1) * dim]);
                }
            }
        }
    }

    fn targets(&self, data: &Dataset) -> BatchTargets<'_> {
        match data.targets {
            Targets::Classes { .. } => BatchTargets::Classes(&self.labels),
            Targets::Values { .. } => BatchTargets::Values(&self.values),
        }
    }
}

/// Endless minibatches without replacement from a seeded permutation.
pub(crate) struct BatchOrder {
    permutation: Vec<usize>,
    position: usize,
    batch: usize,
    rng: ChaCha8Rng,
}

impl BatchOrder {
    pub(crate) fn new(len: usize, batch: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(SHUFFLE_STREAM);
        let mut permutation: Vec<usize> = (0..len).collect();
        permutation.shuffle(&mut rng);
        BatchOrder { permutation, position: 0, batch, rng }
    }

    pub(crate) fn next_batch(&mut self) -> &[usize] {
        if self.position + self.batch > self.permutation.len() {
            self.permutation.shuffle(&mut self.rng);
            self.position = 0;
        }
        let start = self.position;
        self.position += self.batch;
        &self.permutation[start..start + self.batch]
    }
}

/// Checks what needs the data: the batch must fit in the training set.
pub fn validate_against_data(config: &RunConfig, split: &Split) -> Result<()> {
    let train = split.train.len();
    if config.batch_size > train {
        return Err(Error::invalid(
            "batch_size",
            config.batch_size,
            format!("larger than the {train} training samples of `{}`", config.dataset),
        ));
    }
    if split.train.input_dim != config.model.input_dim || split.train.output_dim() != config.model.output_dim {
        return Err(Error::invalid(
            "model",
            format!("{}→{}", config.model.input_dim, config.model.output_dim),
            format!(
                "data set `{}` has {} inputs and {} outputs",
                config.dataset,
                split.train.input_dim,
                split.train.output_dim()
            ),
        ));
    }
    Ok(())
}

/// Mean loss and accuracy of `mlp` over all of `data`, in chunks of the network's batch
/// capacity, with normalisation in evaluation mode.
pub fn evaluate(mlp: &mut Mlp<f32>, data: &Dataset) -> Evaluation {
    let chunk = mlp.max_batch();
    let classes = mlp.config().output_dim;
    let mut buffers = BatchBuffers::new(data, chunk);
    let mut indices: Vec<usize> = Vec::with_capacity(chunk);
    let (mut loss_sum, mut correct) = (0.0, 0usize);
    for start in (0..data.len()).step_by(chunk) {
        let n = chunk.min(data.len() - start);
        indices.clear();
        indices.extend(start..start + n);
        buffers.gather(data, &indices);
        let logits = mlp.forward(&buffers.inputs, n, Mode::Eval);
        let value = loss_and_grad(logits, buffers.targets(data), n, classes, None);
        loss_sum += value.loss * n as f64;
        correct += value.correct.unwrap_or(0);
    }
    let total = data.len().max(1) as f64;
    let accuracy = matches!(data.targets, Targets::Classes { .. }).then(|| correct as f64 / total);
    Evaluation { loss: loss_sum / total, accuracy }
}

/// Trains one network as `config` says and measures it.
pub fn train(config: &RunConfig, split: &Split) -> Result<TrainResult> {
    config.validate()?;
    validate_against_data(config, split)?;
    let train_set = &split.train;
    let batch = config.batch_size;
    let classes = config.model.output_dim;
    let mut mlp = Mlp::<f32>::new(&config.model, batch, config.seed)?;
    let mut optimizer = Optimizer::new(&config.optimizer, mlp.num_params());
    let mut order = BatchOrder::new(train_set.len(), batch, config.seed);
    let mut buffers = BatchBuffers::new(train_set, batch);
    let mut dlogits = vec![0.0f32; batch * classes];

    // Probes use the first minibatch of the run, at initialisation and again at the end.
    let probe_rows: Vec<usize> = order.next_batch().to_vec();
    order.position = 0;
    buffers.gather(train_set, &probe_rows);
    let probe_init = probe(&mut mlp, &buffers.inputs, buffers.targets(train_set), batch).unwrap_or_default();
    // The shattered-gradients line runs between the first two samples of that batch.
    let line_ends =
        (train_set.input(probe_rows[0]).to_vec(), train_set.input(probe_rows[probe_rows.len().min(2) - 1]).to_vec());
    let shattered = |mlp: &mut Mlp<f32>| -> Vec<f64> {
        if config.probes.shattered_gradients {
            gradient_autocorrelation(mlp, &line_ends.0, &line_ends.1).unwrap_or_default()
        } else {
            Vec::new()
        }
    };
    let shattered_acf_init = shattered(&mut mlp);

    let checkpoints = checkpoint_steps(config.steps, config.checkpoints);
    let mut loss_curve = Vec::with_capacity(checkpoints.len() + 1);
    let mut next_checkpoint = 0;
    let (mut interval_sum, mut interval_count) = (0.0f64, 0usize);
    let mut diverged_at_step = None;

    let started = Instant::now();
    for step in 1..=config.steps {
        let indices = order.next_batch();
        buffers.gather(train_set, indices);
        let logits = mlp.forward(&buffers.inputs, batch, Mode::Train);
        let value = loss_and_grad(logits, buffers.targets(train_set), batch, classes, Some(&mut dlogits));
        if step == 1 {
            loss_curve.push(LossPoint { step: 0, loss: Some(value.loss).filter(|l| l.is_finite()) });
        }
        if !value.loss.is_finite() {
            diverged_at_step = Some(step);
            break;
        }
        mlp.backward(&buffers.inputs, &dlogits, batch, None);
        optimizer.step(&mut mlp.params, &mlp.grads);

        interval_sum += value.loss;
        interval_count += 1;
        if next_checkpoint < checkpoints.len() && step == checkpoints[next_checkpoint] {
            loss_curve.push(LossPoint { step, loss: Some(interval_sum / interval_count as f64) });
            next_checkpoint += 1;
            interval_sum = 0.0;
            interval_count = 0;
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let steps_done = diverged_at_step.map_or(config.steps, |s| s - 1);

    let mut result = TrainResult {
        final_train_loss: None,
        final_train_accuracy: None,
        test_loss: None,
        test_accuracy: None,
        diverged: diverged_at_step.is_some(),
        diverged_at_step,
        loss_curve,
        probe_init,
        probe_final: ProbeStats::default(),
        shattered_acf_init,
        shattered_acf_final: Vec::new(),
        lesion_train_losses: Vec::new(),
        wall_seconds: 0.0,
        steps_per_second: if train_seconds > 0.0 { steps_done as f64 / train_seconds } else { 0.0 },
    };
    if !result.diverged {
        let train_eval = evaluate(&mut mlp, train_set);
        let test_eval = evaluate(&mut mlp, &split.test);
        if train_eval.loss.is_finite() && test_eval.loss.is_finite() {
            result.final_train_loss = Some(train_eval.loss);
            result.final_train_accuracy = train_eval.accuracy;
            result.test_loss = Some(test_eval.loss);
            result.test_accuracy = test_eval.accuracy;
        } else {
            // Finite minibatch losses but a non-finite evaluation: diverged at the very end.
            result.diverged = true;
            result.diverged_at_step = Some(config.steps);
        }
        buffers.gather(train_set, &probe_rows);
        result.probe_final = probe(&mut mlp, &buffers.inputs, buffers.targets(train_set), batch).unwrap_or_default();
        result.shattered_acf_final = shattered(&mut mlp);
        if config.probes.lesion {
            result.lesion_train_losses = lesion_losses(&mut mlp, train_set);
        }
    }
    if config.steps == 0 {
        result.loss_curve.clear();
    }
    result.wall_seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

/// The steps at which the loss curve gets a point: `count` evenly spaced, the last at `steps`.
pub fn checkpoint_steps(steps: usize, count: usize) -> Vec<usize> {
    let count = count.min(steps);
    let mut points: Vec<usize> = (1..=count).map(|j| (j * steps).div_ceil(count)).collect();
    points.dedup();
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        Activation, Arch, DatasetKind, DatasetOptions, Init, MechanismProbes, ModelConfig, Norm, OptimizerConfig,
        OptimizerKind, ResidualScale,
    };

    #[test]
    fn batches_are_drawn_without_replacement_and_reshuffled_each_epoch() {
        // 10 samples, batch 3: three batches per epoch, the tail sample of each epoch dropped.
        let mut order = BatchOrder::new(10, 3, 42);
        let mut epochs = Vec::new();
        for _ in 0..4 {
            let epoch: Vec<usize> = (0..3).flat_map(|_| order.next_batch().to_vec()).collect();
            let mut sorted = epoch.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 9, "a sample repeated within an epoch: {epoch:?}");
            assert!(sorted.iter().all(|&i| i < 10));
            epochs.push(epoch);
        }
        assert!(epochs.windows(2).all(|w| w[0] != w[1]), "not reshuffled: {epochs:?}");
        // The same seed gives the same order; another seed another.
        let mut again = BatchOrder::new(10, 3, 42);
        let first: Vec<usize> = (0..12).flat_map(|_| again.next_batch().to_vec()).collect();
        assert_eq!(first, epochs.concat());
        let mut other = BatchOrder::new(10, 3, 43);
        assert_ne!(other.next_batch(), &epochs[0][..3]);
        // A batch of the whole set is a fresh permutation each time.
        let mut whole = BatchOrder::new(5, 5, 0);
        let mut batch = whole.next_batch().to_vec();
        batch.sort_unstable();
        assert_eq!(batch, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn checkpoints_are_evenly_spaced_and_end_at_the_last_step() {
        assert_eq!(checkpoint_steps(100, 4), vec![25, 50, 75, 100]);
        assert_eq!(checkpoint_steps(10, 3), vec![4, 7, 10]);
        assert_eq!(checkpoint_steps(3, 10), vec![1, 2, 3]);
        assert_eq!(checkpoint_steps(7, 0), Vec::<usize>::new());
        assert_eq!(checkpoint_steps(0, 5), Vec::<usize>::new());
        for (steps, count) in [(1500, 30), (1000, 7), (17, 16)] {
            let points = checkpoint_steps(steps, count);
            assert_eq!(points.len(), count);
            assert_eq!(*points.last().unwrap(), steps);
            assert!(points.windows(2).all(|w| w[0] < w[1]));
        }
    }

    fn tiny_run(norm: Norm, steps: usize, checkpoints: usize) -> (RunConfig, Split) {
        let options = DatasetOptions { samples: 40, test_samples: 13, ..DatasetOptions::default() };
        let split = crate::data::load(DatasetKind::Spirals, &options).unwrap();
        let config = RunConfig {
            experiment: "unit".into(),
            dataset: DatasetKind::Spirals,
            dataset_options: options,
            model: ModelConfig {
                arch: Arch::Residual,
                depth: 2,
                width: 8,
                input_dim: 2,
                output_dim: 2,
                activation: Activation::Tanh,
                norm,
                residual_scale: ResidualScale::One,
                block_layers: 2,
                init: Init::He,
            },
            optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-2, momentum: 0.0, weight_decay: 0.0 },
            batch_size: 16,
            steps,
            checkpoints,
            seed: 5,
            probes: MechanismProbes::default(),
        };
        (config, split)
    }

    #[test]
    fn evaluation_does_not_depend_on_the_chunk_size() {
        // 80 training samples in chunks of 16 (exact) and 7 (a ragged tail), 26 test samples.
        for norm in [Norm::None, Norm::Batch, Norm::Layer] {
            let (config, split) = tiny_run(norm, 0, 0);
            for data in [&split.train, &split.test] {
                let mut big = Mlp::<f32>::new(&config.model, 16, 3).unwrap();
                let mut small = Mlp::<f32>::new(&config.model, 7, 3).unwrap();
                let (a, b) = (evaluate(&mut big, data), evaluate(&mut small, data));
                assert!((a.loss - b.loss).abs() < 1e-6 * a.loss.abs().max(1.0), "{norm}: {a:?} vs {b:?}");
                assert_eq!(a.accuracy, b.accuracy);
                // Against the plain mean of per-sample losses.
                let mut one = Mlp::<f32>::new(&config.model, 1, 3).unwrap();
                let c = evaluate(&mut one, data);
                assert!((a.loss - c.loss).abs() < 1e-6 * a.loss.abs().max(1.0), "{norm}: {a:?} vs {c:?}");
            }
        }
    }

    #[test]
    fn loss_curve_has_the_initial_loss_and_one_point_per_checkpoint() {
        let (config, split) = tiny_run(Norm::None, 30, 4);
        let result = train(&config, &split).unwrap();
        let steps: Vec<usize> = result.loss_curve.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 8, 15, 23, 30]);
        assert!(result.loss_curve.iter().all(|p| p.loss.is_some_and(f64::is_finite)));
        // The first point is the loss of the initial network on the first batch, which the
        // initial probe also used: ln 2 ≈ 0.69 give or take for a fresh two-class network.
        let initial = result.loss_curve[0].loss.unwrap();
        assert!(initial > 0.1 && initial < 5.0, "{initial}");
        assert_eq!(result.probe_init.state_rms.len(), 2);
        assert_eq!(result.probe_final.state_grad_norms.len(), 2);
        assert!(result.final_train_loss.is_some() && result.test_accuracy.is_some());
        // No steps: no curve, but the initial network is still evaluated.
        let (config, split) = tiny_run(Norm::None, 0, 4);
        let result = train(&config, &split).unwrap();
        assert!(result.loss_curve.is_empty() && !result.diverged);
        assert!(result.final_train_loss.is_some_and(f64::is_finite));
    }

    #[test]
    fn training_lowers_the_loss() {
        let (config, split) = tiny_run(Norm::Layer, 200, 2);
        let result = train(&config, &split).unwrap();
        let first = result.loss_curve[0].loss.unwrap();
        let last = result.loss_curve.last().unwrap().loss.unwrap();
        assert!(last < 0.8 * first, "{first} → {last}");
    }
}
