//! What training, evaluation and the probes need of a network, implemented by [`Mlp`] and
//! [`ConvNet`]. The training loop, the train step, evaluation, the probes, the mechanisms and
//! the perturbed twin are generic over it and compiled once per network (static dispatch): the
//! MLP's step is the same code as before conv nets existed, with no indirection per layer or
//! per step. Each method is the network's own inherent method of the same name.

use super::conv::{ConvNet, ConvNetConfig};
use super::{Mlp, Mode, Real};
use crate::config::{Family, RunConfig};
use crate::data::Dataset;
use crate::error::{Error, Result};
use ndarray::{Array1, ArrayView2, ArrayViewMut2};

/// A network over one flat parameter buffer and a gradient buffer of the same layout, taking
/// (n, input_dim) batches of up to `max_batch` rows.
pub trait Network<T: Real>: Sized {
    /// The family this type implements.
    const FAMILY: Family;

    /// The network `config` describes, for batches of up to `max_batch` rows of `data` (a conv
    /// net reads the image shape from it), initialised from `config.seed`.
    fn for_run(config: &RunConfig, data: &Dataset, max_batch: usize) -> Result<Self>;

    fn max_batch(&self) -> usize;
    fn num_params(&self) -> usize;
    /// Logits per row: classes, or the regression target's dimension.
    fn output_dim(&self) -> usize;

    /// Logits, (n, output_dim), for the n rows of `inputs`.
    fn forward(&mut self, inputs: ArrayView2<'_, T>, mode: Mode) -> ArrayView2<'_, T>;
    /// Writes ∂L/∂θ for the last forward (same `inputs`) given ∂L/∂logits; if asked, also
    /// ‖∂L/∂h_k‖ for k = 0..K.
    fn backward(
        &mut self,
        inputs: ArrayView2<'_, T>,
        dlogits: ArrayView2<'_, T>,
        state_grad_norms: Option<&mut Vec<f64>>,
    );
    /// ∂L/∂x for the last backward, (n, input_dim).
    fn input_gradient(&mut self, out: ArrayViewMut2<'_, T>);

    fn params(&self) -> &Array1<T>;
    /// The parameters to update and the gradients of the last backward.
    fn params_and_grads(&mut self) -> (&mut Array1<T>, &Array1<T>);

    /// RMS of each hidden state h_k of the last forward over `n` rows.
    fn state_rms(&self, n: usize) -> Vec<f64>;
    /// ‖∂L/∂W_l‖ for each hidden weight layer, input side first.
    fn weight_grad_norms(&self) -> Vec<f64>;
    /// ‖B_l‖ of the part of `buffer` (laid out as the parameters) that holds each hidden
    /// weight layer W_l, input side first: norms of weights, of updates, of distances.
    fn weight_norms_of(&self, buffer: &Array1<T>) -> Vec<f64>;
    /// ‖α_k v_k‖ ÷ ‖h_{k−1}‖ per residual block (empty where not measured).
    fn branch_ratios(&self, n: usize) -> Vec<f64>;

    /// Positions a lesion study can remove (0 where there is none: conv nets).
    fn lesion_sites(&self) -> usize;
    /// Replaces position `position` by the identity in later forwards; `None` restores.
    fn set_lesion(&mut self, position: Option<usize>);
}

/// The trait methods that are each network's inherent method of the same name, written once
/// for both networks (the inherent methods stay: benches and tests call them directly).
macro_rules! same_named_methods {
    ($net:ident) => {
        #[inline]
        fn max_batch(&self) -> usize {
            $net::max_batch(self)
        }

        #[inline]
        fn num_params(&self) -> usize {
            $net::num_params(self)
        }

        #[inline]
        fn forward(&mut self, inputs: ArrayView2<'_, T>, mode: Mode) -> ArrayView2<'_, T> {
            $net::forward(self, inputs, mode)
        }

        #[inline]
        fn backward(
            &mut self,
            inputs: ArrayView2<'_, T>,
            dlogits: ArrayView2<'_, T>,
            state_grad_norms: Option<&mut Vec<f64>>,
        ) {
            $net::backward(self, inputs, dlogits, state_grad_norms)
        }

        fn input_gradient(&mut self, out: ArrayViewMut2<'_, T>) {
            $net::input_gradient(self, out)
        }

        #[inline]
        fn params(&self) -> &Array1<T> {
            &self.params
        }

        #[inline]
        fn params_and_grads(&mut self) -> (&mut Array1<T>, &Array1<T>) {
            (&mut self.params, &self.grads)
        }

        fn state_rms(&self, n: usize) -> Vec<f64> {
            $net::state_rms(self, n)
        }

        fn weight_grad_norms(&self) -> Vec<f64> {
            $net::weight_grad_norms(self)
        }

        fn weight_norms_of(&self, buffer: &Array1<T>) -> Vec<f64> {
            $net::weight_norms_of(self, buffer)
        }
    };
}

impl<T: Real> Network<T> for Mlp<T> {
    const FAMILY: Family = Family::Mlp;

    same_named_methods!(Mlp);

    fn for_run(config: &RunConfig, _data: &Dataset, max_batch: usize) -> Result<Self> {
        Mlp::new(&config.model, max_batch, config.seed)
    }

    #[inline]
    fn output_dim(&self) -> usize {
        self.config().output_dim
    }

    fn branch_ratios(&self, n: usize) -> Vec<f64> {
        Mlp::branch_ratios(self, n)
    }

    fn lesion_sites(&self) -> usize {
        self.config().blocks()
    }

    fn set_lesion(&mut self, position: Option<usize>) {
        Mlp::set_lesion(self, position)
    }
}

impl<T: Real> Network<T> for ConvNet<T> {
    const FAMILY: Family = Family::Conv;

    same_named_methods!(ConvNet);

    fn for_run(config: &RunConfig, data: &Dataset, max_batch: usize) -> Result<Self> {
        let Some(image) = data.image_shape else {
            return Err(Error::invalid(
                "dataset",
                config.dataset,
                "a conv net reads images, and this data set has none",
            ));
        };
        let Some(net) = ConvNetConfig::for_run(&config.model, image) else {
            return Err(Error::invalid("depth", config.model.depth, "a conv net's depth is 6n + 2 with n ≥ 1"));
        };
        ConvNet::new(&net, max_batch, config.seed)
    }

    #[inline]
    fn output_dim(&self) -> usize {
        self.config().classes
    }

    /// Not measured for conv nets.
    fn branch_ratios(&self, _n: usize) -> Vec<f64> {
        Vec::new()
    }

    /// Conv nets have no lesion study (their configuration refuses one).
    fn lesion_sites(&self) -> usize {
        0
    }

    fn set_lesion(&mut self, _position: Option<usize>) {}
}
