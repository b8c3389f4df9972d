//! The train step: gather → forward → loss → backward → update, in one place. Training, the
//! sweep's time calibration, the benches and the allocation test all run this function, so
//! what is timed and tested is what trains. Generic over the float type (an f64 network runs
//! the very same step) and over the network (an MLP or a conv net, see `model::network`). After
//! its first call it allocates nothing.

use crate::data::Dataset;
use crate::model::{Mode, Network, Real};
use crate::train::eval::BatchBuffers;
use crate::train::loss::{loss_and_grad, LossValue};
use crate::train::optim::Optimizer;
use ndarray::{s, Array2};

/// The buffers of a step (the gathered batch and ∂L/∂logits), sized once.
pub struct TrainStep<T> {
    batch: BatchBuffers<T>,
    /// (batch, output_dim).
    dlogits: Array2<T>,
}

impl<T: Real> TrainStep<T> {
    /// Buffers for steps of up to `batch` rows of `data` through `net`.
    pub fn new<N: Network<T>>(net: &N, data: &Dataset, batch: usize) -> Self {
        TrainStep { batch: BatchBuffers::new(data, batch), dlogits: Array2::zeros((batch, net.output_dim())) }
    }

    /// One step on the rows `indices` of `data`: the minibatch loss of the network before
    /// the update. With `optimizer` `None` the step stops after the backward (gradients
    /// written, parameters untouched); a non-finite loss stops it after the loss, so a
    /// diverged network is left as it was.
    pub fn run<N: Network<T>>(
        &mut self,
        net: &mut N,
        optimizer: Option<&mut Optimizer<T>>,
        data: &Dataset,
        indices: &[usize],
    ) -> LossValue {
        self.batch.gather(data, indices);
        let inputs = self.batch.inputs();
        let mut dlogits = self.dlogits.slice_mut(s![..indices.len(), ..]);
        let logits = net.forward(inputs, Mode::Train);
        let value = loss_and_grad(logits, self.batch.targets(), Some(dlogits.view_mut()));
        if !value.loss.is_finite() {
            return value;
        }
        net.backward(inputs, dlogits.view(), None);
        if let Some(optimizer) = optimizer {
            let (params, grads) = net.params_and_grads();
            optimizer.step(params, grads);
        }
        value
    }
}
