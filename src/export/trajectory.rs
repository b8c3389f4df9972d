//! This implementation's own trajectory from an exported starting point: the minibatch loss
//! of every step, the gradients of the first step and the parameters after chosen steps, in
//! one float type. The peer replays the same batches from the same parameters and compares.

use super::files::{write_floats, Precision};
use crate::config::RunConfig;
use crate::data::{Dataset, Targets};
use crate::error::Result;
use crate::loss::{loss_and_grad, BatchTargets};
use crate::model::{Mlp, Mode, Real};
use crate::optim::Optimizer;
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
    let mut step = Step::<T>::new(&mlp, train, config.batch_size);
    write_floats(&dir.join("params_init.bin"), precision, mlp.params.iter().copied())?;
    let mut losses = Vec::with_capacity(batches.len());
    for (index, indices) in batches.iter().enumerate() {
        let number = index + 1;
        let loss = step.forward_backward(&mut mlp, train, indices);
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

/// Gather → forward → loss → backward of one training step, in `T`.
struct Step<T> {
    inputs: Vec<T>,
    labels: Vec<u32>,
    values: Vec<f32>,
    dlogits: Vec<T>,
}

impl<T: Real> Step<T> {
    fn new(mlp: &Mlp<T>, data: &Dataset, batch: usize) -> Self {
        let outputs = mlp.config().output_dim;
        Step {
            inputs: vec![T::zero(); batch * data.input_dim],
            labels: Vec::with_capacity(batch),
            values: Vec::with_capacity(batch * outputs),
            dlogits: vec![T::zero(); batch * outputs],
        }
    }

    /// The minibatch loss before the update; gradients are left in `mlp.grads`.
    fn forward_backward(&mut self, mlp: &mut Mlp<T>, data: &Dataset, indices: &[usize]) -> f64 {
        let (n, d) = (indices.len(), data.input_dim);
        for (slot, &i) in indices.iter().enumerate() {
            for (x, &v) in self.inputs[slot * d..(slot + 1) * d].iter_mut().zip(data.input(i)) {
                *x = T::from_f64(v as f64);
            }
        }
        self.labels.clear();
        self.values.clear();
        let targets = match &data.targets {
            Targets::Classes { labels, .. } => {
                self.labels.extend(indices.iter().map(|&i| labels[i]));
                BatchTargets::Classes(&self.labels)
            }
            Targets::Values { values, dim } => {
                self.values.extend(indices.iter().flat_map(|&i| &values[i * dim..(i + 1) * dim]));
                BatchTargets::Values(&self.values)
            }
        };
        let classes = mlp.config().output_dim;
        let logits = mlp.forward(&self.inputs, n, Mode::Train);
        let value = loss_and_grad(logits, targets, n, classes, Some(&mut self.dlogits));
        if value.loss.is_finite() {
            mlp.backward(&self.inputs, &self.dlogits, n, None);
        }
        value.loss
    }
}
