//! This implementation's own trajectory from an exported starting point: the minibatch loss
//! of every step, the gradients of the first step and the parameters after chosen steps, in
//! one float type. The peer replays the same batches from the same parameters and compares.

use super::files::{write_floats, Precision};
use crate::config::RunConfig;
use crate::data::Dataset;
use crate::error::Result;
use crate::model::{Mlp, Real};
use crate::train::optim::Optimizer;
use crate::train::step::TrainStep;
use std::path::Path;

/// What to record along a trajectory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrajectoryPlan {
    /// Parameters are written after each of these steps (1-based: after the k-th update).
    pub record_steps: Vec<usize>,
}

/// Trains `config`'s network in `T` on the batches `batches` of `train`, writing into `dir`:
/// `params_init`, `grads_step_1`, `params_step_<k>` (in `T`) and `losses` (f64, one per step
/// taken). Returns the number of steps taken: fewer than `batches.len()` when a loss was not
/// finite (that step's loss is still written).
pub fn record<T: Real>(
    config: &RunConfig,
    train: &Dataset,
    batches: &[Vec<usize>],
    plan: &TrajectoryPlan,
    dir: &Path,
) -> Result<usize> {
    let precision = Precision::of::<T>();
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    let mut mlp = Mlp::<T>::new(&config.model, config.batch_size, config.seed)?;
    let mut optimizer = Optimizer::<T>::new(&config.optimizer, mlp.num_params());
    let mut step = TrainStep::<T>::new(&mlp, train, config.batch_size);
    write_floats(&dir.join("params_init.bin"), precision, mlp.params.iter().copied())?;
    let mut losses = Vec::with_capacity(batches.len());
    for (index, indices) in batches.iter().enumerate() {
        let number = index + 1;
        // The training loop's own step, stopped before the update so the first step's
        // gradients can be written; the update then runs as in training.
        let loss = step.run(&mut mlp, None, train, indices).loss;
        losses.push(loss);
        if !loss.is_finite() {
            break;
        }
        if number == 1 {
            write_floats(&dir.join("grads_step_1.bin"), precision, mlp.grads.iter().copied())?;
        }
        optimizer.step(&mut mlp.params, &mlp.grads);
        if plan.record_steps.contains(&number) {
            write_floats(&dir.join(format!("params_step_{number}.bin")), precision, mlp.params.iter().copied())?;
        }
    }
    write_floats(&dir.join("losses.bin"), Precision::F64, losses.iter().copied())?;
    Ok(losses.len())
}
