//! Minibatches gathered into contiguous buffers, and evaluation over a whole data set: what
//! training, the train step and the mechanism probes share without importing each other.

use crate::data::{Dataset, Targets};
use crate::model::{Mode, Network, Real};
use crate::train::loss::{loss_and_grad, BatchTargets};
use ndarray::{s, Array2, ArrayView2};

/// Contiguous copies of one minibatch's rows (inputs converted to the network's float type),
/// sized once for the largest batch.
pub struct BatchBuffers<T> {
    /// (max_batch, input_dim).
    inputs: Array2<T>,
    /// Class labels (classification) or (max_batch, output_dim) values (regression).
    labels: Vec<u32>,
    values: Array2<f32>,
    classification: bool,
    /// Rows gathered by the last `gather`.
    rows: usize,
}

impl<T: Real> BatchBuffers<T> {
    /// Buffers for up to `max_batch` rows of `data`.
    pub fn new(data: &Dataset, max_batch: usize) -> Self {
        let (labels, values, classification) = match &data.targets {
            Targets::Classes { .. } => (max_batch, (0, 0), true),
            Targets::Values { values } => (0, (max_batch, values.ncols()), false),
        };
        BatchBuffers {
            inputs: Array2::zeros((max_batch, data.input_dim())),
            labels: vec![0; labels],
            values: Array2::zeros(values),
            classification,
            rows: 0,
        }
    }

    /// Gathers the rows `indices` of `data` (at most `max_batch` of them).
    pub fn gather(&mut self, data: &Dataset, indices: &[usize]) {
        let d = data.input_dim();
        self.rows = indices.len();
        let inputs = self.inputs.as_slice_mut().expect("owned arrays are row-major");
        for (slot, &i) in indices.iter().enumerate() {
            for (x, &v) in inputs[slot * d..(slot + 1) * d].iter_mut().zip(data.input(i)) {
                *x = T::from_f32(v);
            }
        }
        match &data.targets {
            Targets::Classes { labels, .. } => {
                for (slot, &i) in indices.iter().enumerate() {
                    self.labels[slot] = labels[i];
                }
            }
            Targets::Values { values } => {
                for (slot, &i) in indices.iter().enumerate() {
                    self.values.row_mut(slot).assign(&values.row(i));
                }
            }
        }
    }

    /// The gathered inputs, (rows, input_dim).
    pub fn inputs(&self) -> ArrayView2<'_, T> {
        self.inputs.slice(s![..self.rows, ..])
    }

    /// The gathered targets.
    pub fn targets(&self) -> BatchTargets<'_> {
        if self.classification {
            BatchTargets::Classes(&self.labels[..self.rows])
        } else {
            BatchTargets::Values(self.values.slice(s![..self.rows, ..]))
        }
    }
}

/// Loss and accuracy (classification only) over a whole data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: Option<f64>,
}

/// Mean loss and accuracy of `net` over all of `data`, in chunks of the network's batch
/// capacity, with normalisation in evaluation mode.
pub fn evaluate<T: Real, N: Network<T>>(net: &mut N, data: &Dataset) -> Evaluation {
    evaluate_first(net, data, data.len())
}

/// [`evaluate`] over the first `samples` samples of `data` (all of them if it has fewer).
pub fn evaluate_first<T: Real, N: Network<T>>(net: &mut N, data: &Dataset, samples: usize) -> Evaluation {
    let len = samples.min(data.len());
    let chunk = net.max_batch();
    let mut buffers = BatchBuffers::new(data, chunk);
    let mut indices: Vec<usize> = Vec::with_capacity(chunk);
    let (mut loss_sum, mut correct) = (0.0, 0usize);
    for start in (0..len).step_by(chunk) {
        let n = chunk.min(len - start);
        indices.clear();
        indices.extend(start..start + n);
        buffers.gather(data, &indices);
        let logits = net.forward(buffers.inputs(), Mode::Eval);
        let value = loss_and_grad(logits, buffers.targets(), None);
        loss_sum += value.loss * n as f64;
        correct += value.correct.unwrap_or(0);
    }
    let total = len.max(1) as f64;
    let accuracy = matches!(data.targets, Targets::Classes { .. }).then(|| correct as f64 / total);
    Evaluation { loss: loss_sum / total, accuracy }
}
