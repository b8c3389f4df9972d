//! How fast a rounding-level perturbation of the weights grows during training: a twin of the
//! run, its initial weights moved by one unit in the last place, trained in lockstep on the
//! same minibatches with its own optimizer. Two correct f32 implementations differ by rounding
//! from the first step on, so this growth bounds how closely two implementations' (or two
//! thread counts') single runs can ever agree: where it reaches O(1), the final loss of one
//! seed is as different between implementations as between seeds.

use crate::config::RunConfig;
use crate::data::Dataset;
use crate::error::Result;
use crate::model::Network;
use crate::record::PerturbationPoint;
use crate::train::optim::Optimizer;
use crate::train::step::TrainStep;

/// The perturbed twin of a run.
pub struct Twin<N> {
    net: N,
    optimizer: Optimizer<f32>,
    step: TrainStep<f32>,
    interval_sum: f64,
    pub points: Vec<PerturbationPoint>,
}

/// One unit in the last place away from zero for every non-zero parameter (zero biases stay
/// zero): the size of a rounding difference, relative 6e-8 to 1.2e-7 per parameter.
pub fn perturb(params: &mut [f32]) {
    for p in params.iter_mut().filter(|p| **p != 0.0 && p.is_finite()) {
        *p = f32::from_bits(p.to_bits() + 1);
    }
}

/// ‖a − b‖ / ‖a‖, accumulated in f64; `None` when not finite.
pub fn relative_distance(a: &[f32], b: &[f32]) -> Option<f64> {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        diff += (x as f64 - y as f64).powi(2);
        norm += (x as f64).powi(2);
    }
    let distance = (diff / norm).sqrt();
    distance.is_finite().then_some(distance)
}

impl<N: Network<f32>> Twin<N> {
    /// The run's network as initialised from `config` (the same weights as the run's own),
    /// perturbed, with a fresh optimizer on the run's schedule.
    pub fn new(config: &RunConfig, train: &Dataset) -> Result<Self> {
        let mut net = N::for_run(config, train, config.batch_size)?;
        perturb(net.params_and_grads().0.as_slice_mut().expect("parameters are one contiguous buffer"));
        let optimizer = Optimizer::scheduled(&config.optimizer, &config.lr_schedule, config.steps, net.num_params());
        let step = TrainStep::new(&net, train, config.batch_size);
        Ok(Twin { net, optimizer, step, interval_sum: 0.0, points: Vec::new() })
    }

    /// One training step on the run's minibatch.
    pub fn step(&mut self, train: &Dataset, indices: &[usize]) {
        let loss = self.step.run(&mut self.net, Some(&mut self.optimizer), train, indices).loss;
        self.interval_sum += loss;
    }

    /// Records the checkpoint at `step`, where the run's mean minibatch loss since the previous
    /// checkpoint was `run_loss` over `count` steps.
    pub fn checkpoint(&mut self, step: usize, run: &N, run_loss: f64, count: usize) {
        let twin_loss = self.interval_sum / count as f64;
        self.interval_sum = 0.0;
        let slices = (run.params().as_slice(), self.net.params().as_slice());
        let param_distance = match slices {
            (Some(a), Some(b)) => relative_distance(a, b),
            _ => None,
        };
        let loss_difference = ((twin_loss - run_loss) / run_loss).abs();
        self.points.push(PerturbationPoint {
            step,
            param_distance,
            loss_difference: loss_difference.is_finite().then_some(loss_difference),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ulp_away_from_zero_and_zeros_kept() {
        let mut p = [1.0f32, -0.5, 0.0, 3.0e-3];
        perturb(&mut p);
        assert_eq!(p[0], 1.0 + f32::EPSILON);
        assert_eq!(p[1], -0.5 - f32::EPSILON / 2.0);
        assert_eq!(p[2], 0.0);
        let relative = (p[3] as f64 - 3.0e-3f32 as f64) / 3.0e-3;
        assert!(relative > 5.9e-8 && relative < 1.2e-7, "{relative}");
        assert!((relative_distance(&[3.0, 4.0], &[3.0, 4.5]).unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(relative_distance(&[0.0], &[0.0]), None);
    }
}
