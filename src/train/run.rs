//! The training loop: minibatches without replacement (a fresh permutation each epoch, from
//! the run seed; the incomplete tail of an epoch is dropped), a fixed number of steps,
//! loss-curve checkpoints, divergence detection, probes at initialisation and at the end,
//! and final evaluation. One step is forward → loss → backward → optimizer update, and
//! allocates nothing. The loop is generic over the network (`model::Network`): [`train`] picks
//! the MLP or the conv net by the run's family, once per run.

use crate::config::{Family, RunConfig};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::conv::ConvNet;
use crate::model::{Mlp, Network};
use crate::record::{LossPoint, TimeSplit, TrainResult};
use crate::train::eval::{evaluate, BatchBuffers};
use crate::train::instruments::Instruments;
use crate::train::mechanisms::{lesion_losses, mean_gradient_autocorrelation};
use crate::train::optim::Optimizer;
use crate::train::probe::probe;
use crate::train::sensitivity::Twin;
use crate::train::step::TrainStep;
use crate::train::time_split::Stopwatch;
use ndarray_rand::rand::seq::SliceRandom;
use ndarray_rand::rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// ChaCha stream of the batch order, distinct from the stream that initialises the weights.
const SHUFFLE_STREAM: u64 = 1;

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

    /// Starts the current permutation over (the loop draws the probes' batch, then rewinds).
    pub(crate) fn rewind(&mut self) {
        self.position = 0;
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

/// Checks what needs the data: the batch must fit in the training set, the model's input and
/// output sizes must be the data's, and a conv net needs images.
pub fn validate_against_data(config: &RunConfig, split: &Split) -> Result<()> {
    let train = split.train.len();
    if config.batch_size > train {
        return Err(Error::invalid(
            "batch_size",
            config.batch_size,
            format!("larger than the {train} training samples of `{}`", config.dataset),
        ));
    }
    if split.train.input_dim() != config.model.input_dim || split.train.output_dim() != config.model.output_dim {
        return Err(Error::invalid(
            "model",
            format!("{}→{}", config.model.input_dim, config.model.output_dim),
            format!(
                "data set `{}` has {} inputs and {} outputs",
                config.dataset,
                split.train.input_dim(),
                split.train.output_dim()
            ),
        ));
    }
    if config.family == Family::Conv && split.train.image_shape.is_none() {
        return Err(Error::invalid(
            "dataset",
            config.dataset,
            "a conv net reads images, and this data set has no image shape",
        ));
    }
    Ok(())
}

/// Trains one network as `config` says and measures it.
pub fn train(config: &RunConfig, split: &Split) -> Result<TrainResult> {
    config.validate()?;
    validate_against_data(config, split)?;
    match config.family {
        Family::Mlp => train_network::<Mlp<f32>>(config, split),
        Family::Conv => train_network::<ConvNet<f32>>(config, split),
    }
}

/// [`train`] for one network type; `config` is validated.
fn train_network<N: Network<f32>>(config: &RunConfig, split: &Split) -> Result<TrainResult> {
    debug_assert_eq!(config.family, N::FAMILY);
    let mut time = TimeSplit::default();
    let mut watch = Stopwatch::start();
    let train_set = &split.train;
    let batch = config.batch_size;
    let mut net = N::for_run(config, train_set, batch)?;
    let mut optimizer = Optimizer::scheduled(&config.optimizer, &config.lr_schedule, config.steps, net.num_params());
    let mut order = BatchOrder::new(train_set.len(), batch, config.seed);
    let mut buffers = BatchBuffers::new(train_set, batch);
    let mut train_step = TrainStep::new(&net, train_set, batch);

    // Probes use the first minibatch of the run, at initialisation and again at the end.
    let probe_rows: Vec<usize> = order.next_batch().to_vec();
    order.rewind();
    buffers.gather(train_set, &probe_rows);
    watch.charge(&mut time.setup);
    let probe_init = probe(&mut net, buffers.inputs(), buffers.targets()).unwrap_or_default();
    watch.charge(&mut time.probes);
    // The shattered-gradients arcs run between consecutive pairs of that batch's samples.
    let shattered = |net: &mut N| -> (Vec<f64>, usize) {
        if config.probes.shattered_gradients {
            mean_gradient_autocorrelation(net, train_set, &probe_rows).unwrap_or_default()
        } else {
            (Vec::new(), 0)
        }
    };
    let (shattered_acf_init, shattered_lines) = shattered(&mut net);
    // Parts a run did not ask for stay exactly zero.
    let mechanisms_on = config.probes.shattered_gradients || config.probes.lesion;
    watch.charge(if mechanisms_on { &mut time.mechanisms } else { &mut time.probes });

    let checkpoints = checkpoint_steps(config.steps, config.checkpoints);
    let first_tail_step = tail_start(config.steps);
    let mut tail_train_losses = Vec::new();
    let mut loss_curve = Vec::with_capacity(checkpoints.len() + 1);
    let mut next_checkpoint = 0;
    let (mut interval_sum, mut interval_count) = (0.0f64, 0usize);
    let mut diverged_at_step = None;

    watch.charge(&mut time.setup);
    let mut twin = if config.probes.perturbation { Some(Twin::<N>::new(config, train_set)?) } else { None };
    watch.charge(if twin.is_some() { &mut time.twin } else { &mut time.setup });
    let samples = config.probes.instrument_samples;
    let mut instruments = (samples > 0).then(|| Instruments::start(&mut net, samples, train_set, &split.test));
    watch.charge(if instruments.is_some() { &mut time.instruments } else { &mut time.setup });

    // The step rate counts only `time.steps`: whatever else the loop does charges its own part.
    for step in 1..=config.steps {
        let at_checkpoint = next_checkpoint < checkpoints.len() && step == checkpoints[next_checkpoint];
        if let Some(instruments) = instruments.as_mut().filter(|_| at_checkpoint) {
            watch.charge(&mut time.steps);
            instruments.before_step(&net);
            watch.charge(&mut time.instruments);
        }
        let indices = order.next_batch();
        let value = train_step.run(&mut net, Some(&mut optimizer), train_set, indices);
        if let Some(twin) = &mut twin {
            watch.charge(&mut time.steps);
            twin.step(train_set, indices);
            watch.charge(&mut time.twin);
        }
        if step == 1 {
            loss_curve.push(LossPoint { step: 0, loss: Some(value.loss).filter(|l| l.is_finite()) });
        }
        if !value.loss.is_finite() {
            diverged_at_step = Some(step);
            break;
        }

        interval_sum += value.loss;
        interval_count += 1;
        if at_checkpoint {
            loss_curve.push(LossPoint { step, loss: Some(interval_sum / interval_count as f64) });
            if let Some(instruments) = &mut instruments {
                watch.charge(&mut time.steps);
                instruments.checkpoint(&mut net, step, train_set, &split.test);
                watch.charge(&mut time.instruments);
            }
            if let Some(twin) = &mut twin {
                watch.charge(&mut time.steps);
                twin.checkpoint(step, &net, interval_sum / interval_count as f64, interval_count);
                watch.charge(&mut time.twin);
            }
            next_checkpoint += 1;
            if step >= first_tail_step {
                watch.charge(&mut time.steps);
                let loss = evaluate(&mut net, train_set).loss;
                tail_train_losses.push(LossPoint { step, loss: Some(loss).filter(|l| l.is_finite()) });
                watch.charge(&mut time.tail_evaluation);
            }
            interval_sum = 0.0;
            interval_count = 0;
        }
    }
    watch.charge(&mut time.steps);
    let steps_done = diverged_at_step.map_or(config.steps, |s| s - 1);

    let mut result = TrainResult {
        diverged: diverged_at_step.is_some(),
        diverged_at_step,
        loss_curve,
        robust_train_loss: if diverged_at_step.is_none() { median_loss(&tail_train_losses) } else { None },
        tail_train_losses,
        shattered_acf_init,
        shattered_lines,
        perturbation_growth: twin.map(|t| t.points).unwrap_or_default(),
        instruments: instruments.map(|i| i.points).unwrap_or_default(),
        steps_per_second: if time.steps > 0.0 { steps_done as f64 / time.steps } else { 0.0 },
        ..TrainResult::default()
    };
    result.store_init_probes(probe_init);
    if !result.instruments.is_empty() {
        result.instrument_samples = samples;
    }
    if !result.diverged {
        let train_eval = evaluate(&mut net, train_set);
        let test_eval = evaluate(&mut net, &split.test);
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
        watch.charge(&mut time.final_evaluation);
        buffers.gather(train_set, &probe_rows);
        result.store_final_probes(probe(&mut net, buffers.inputs(), buffers.targets()).unwrap_or_default());
        watch.charge(&mut time.probes);
        result.shattered_acf_final = shattered(&mut net).0;
        if config.probes.lesion {
            result.lesion_train_losses = lesion_losses(&mut net, train_set);
        }
        watch.charge(if mechanisms_on { &mut time.mechanisms } else { &mut time.probes });
    }
    if config.steps == 0 {
        result.loss_curve.clear();
    }
    result.time_split = Some(time);
    result.wall_seconds = time.total();
    Ok(result)
}

/// The first step of the last 10% of a run's steps: the checkpoints from there on also evaluate
/// the full training set, for a final loss that one unlucky snapshot (a loss spike under Adam)
/// cannot decide. With 1500 steps and 30 checkpoints: steps 1350, 1400, 1450, 1500.
pub fn tail_start(steps: usize) -> usize {
    steps - steps / 10
}

/// Median of the finite losses of `points`; `None` if any is not finite or there are none.
pub fn median_loss(points: &[LossPoint]) -> Option<f64> {
    let mut losses: Vec<f64> = points.iter().map(|p| p.loss).collect::<Option<_>>()?;
    if losses.is_empty() {
        return None;
    }
    losses.sort_by(f64::total_cmp);
    let middle = losses.len() / 2;
    Some(if losses.len() % 2 == 1 { losses[middle] } else { (losses[middle - 1] + losses[middle]) / 2.0 })
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
        Activation, Arch, DatasetKind, DatasetOptions, Family, Init, LrSchedule, MechanismProbes, ModelConfig, Norm,
        OptimizerConfig, OptimizerKind, ResidualScale,
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
            family: Family::Mlp,
            lr_schedule: LrSchedule::default(),
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
        // The probe's loss at initialisation, computed as `probe` computes it: the fresh
        // network, the run's first batch, a Probe-mode forward (Norm::None: the same as Train).
        let probe_loss = {
            let mut mlp = Mlp::<f32>::new(&config.model, config.batch_size, config.seed).unwrap();
            let rows = BatchOrder::new(split.train.len(), config.batch_size, config.seed).next_batch().to_vec();
            let mut buffers = BatchBuffers::new(&split.train, config.batch_size);
            buffers.gather(&split.train, &rows);
            let logits = mlp.forward(buffers.inputs(), crate::model::Mode::Probe);
            crate::train::loss::loss_and_grad(logits, buffers.targets(), None).loss
        };
        assert!(initial > 0.1 && initial < 5.0, "{initial}");
        assert!((initial - probe_loss).abs() <= 1e-6 * probe_loss.abs(), "{initial} vs the probe's {probe_loss}");
        assert_eq!(result.state_rms_init.len(), 2);
        assert_eq!(result.state_grad_norms_final.len(), 2);
        assert!(result.final_train_loss.is_some() && result.test_accuracy.is_some());
        // No steps: no curve, but the initial network is still evaluated.
        let (config, split) = tiny_run(Norm::None, 0, 4);
        let result = train(&config, &split).unwrap();
        assert!(result.loss_curve.is_empty() && !result.diverged);
        assert!(result.final_train_loss.is_some_and(f64::is_finite));
    }

    #[test]
    fn the_robust_loss_is_the_median_of_the_last_tenth_of_checkpoints() {
        assert_eq!(tail_start(1500), 1350);
        assert_eq!(tail_start(5), 5);
        assert_eq!(checkpoint_steps(200, 20).into_iter().filter(|&s| s >= tail_start(200)).count(), 3);
        let (config, split) = tiny_run(Norm::None, 200, 20);
        let result = train(&config, &split).unwrap();
        let steps: Vec<usize> = result.tail_train_losses.iter().map(|p| p.step).collect();
        assert_eq!(steps, [180, 190, 200]);
        // The last tail point is the final evaluation; the robust loss is the middle one.
        assert_eq!(result.tail_train_losses[2].loss, result.final_train_loss);
        let mut losses: Vec<f64> = result.tail_train_losses.iter().map(|p| p.loss.unwrap()).collect();
        losses.sort_by(f64::total_cmp);
        assert_eq!(result.robust_train_loss, Some(losses[1]));
        // Even counts average the middle two; a non-finite point gives no robust loss.
        let point = |step, loss| LossPoint { step, loss };
        assert_eq!(
            median_loss(&[point(1, Some(4.0)), point(2, Some(1.0)), point(3, Some(2.0)), point(4, Some(9.0))]),
            Some(3.0)
        );
        assert_eq!(median_loss(&[point(1, Some(4.0)), point(2, None)]), None);
        assert_eq!(median_loss(&[]), None);
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
