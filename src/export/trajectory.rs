//! This implementation's own trajectory from an exported starting point: the minibatch loss
//! of every step, the gradients of the first step and the parameters (and a conv net's
//! BatchNorm2d running statistics) after chosen steps, in one float type. The peer replays the
//! same batches from the same parameters and compares.

use super::files::{write_floats, Precision};
use super::layout::ExportLayout;
use crate::config::RunConfig;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::conv::ConvNet;
use crate::model::{Mlp, Network, Real};
use crate::train::optim::Optimizer;
use crate::train::step::TrainStep;
use std::path::Path;

/// What to record along a trajectory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrajectoryPlan {
    /// Parameters are written after each of these steps (1-based: after the k-th update).
    pub record_steps: Vec<usize>,
}

/// The state a network keeps besides its parameters that the export writes, flat in the
/// order of [`ExportLayout::buffers`].
pub trait ExportedBuffers<T> {
    fn exported_buffers(&self) -> Vec<T>;
}

/// None: the MLP's BatchNorm running statistics are not exported (the MLP export predates
/// them and stays as it was).
impl<T: Real> ExportedBuffers<T> for Mlp<T> {
    fn exported_buffers(&self) -> Vec<T> {
        Vec::new()
    }
}

/// Each BatchNorm2d's running mean, then its running variance, input side first.
impl<T: Real> ExportedBuffers<T> for ConvNet<T> {
    fn exported_buffers(&self) -> Vec<T> {
        self.batch_norms().flat_map(|bn| bn.running_mean().iter().chain(bn.running_var()).copied()).collect()
    }
}

/// Trains `config`'s network `N` (in `T`) on the batches `batches` of `train`, writing into
/// `dir`: `params_init`, `grads_step_1`, `params_step_<k>` (in `T`, in `layout`'s order),
/// `buffers_step_<k>` where the layout has buffers, and `losses` (f64, one per step taken).
/// Returns the number of steps taken: fewer than `batches.len()` when a loss was not finite
/// (that step's loss is still written).
pub fn record<T: Real, N: Network<T> + ExportedBuffers<T>>(
    config: &RunConfig,
    train: &Dataset,
    batches: &[Vec<usize>],
    plan: &TrajectoryPlan,
    layout: &ExportLayout,
    dir: &Path,
) -> Result<usize> {
    let precision = Precision::of::<T>();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut net = N::for_run(config, train, config.batch_size)?;
    assert_eq!(net.num_params(), layout.num_params(), "the export's layout describes another network");
    let mut optimizer = Optimizer::<T>::new(&config.optimizer, net.num_params());
    let mut step = TrainStep::<T>::new(&net, train, config.batch_size);
    let write = |name: &str, flat: &[T]| {
        write_floats(&dir.join(format!("{name}.bin")), precision, layout.export_order(flat).into_iter())
    };
    write("params_init", flat(net.params()))?;
    let mut losses = Vec::with_capacity(batches.len());
    for (index, indices) in batches.iter().enumerate() {
        let number = index + 1;
        // The training loop's own step, stopped before the update so the first step's
        // gradients can be written; the update then runs as in training.
        let loss = step.run(&mut net, None, train, indices).loss;
        losses.push(loss);
        if !loss.is_finite() {
            break;
        }
        let (params, grads) = net.params_and_grads();
        if number == 1 {
            write("grads_step_1", flat(grads))?;
        }
        optimizer.step(params, grads);
        if plan.record_steps.contains(&number) {
            write(&format!("params_step_{number}"), flat(net.params()))?;
            if !layout.buffers.is_empty() {
                let buffers = net.exported_buffers();
                assert_eq!(buffers.len(), layout.num_buffers(), "buffers of another network");
                write_floats(&dir.join(format!("buffers_step_{number}.bin")), precision, buffers.into_iter())?;
            }
        }
    }
    write_floats(&dir.join("losses.bin"), Precision::F64, losses.iter().copied())?;
    Ok(losses.len())
}

fn flat<T>(buffer: &ndarray::Array1<T>) -> &[T] {
    buffer.as_slice().expect("owned arrays are contiguous")
}
