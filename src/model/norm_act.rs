//! φ(N(x)): an optional normalisation followed by the activation, the unit that every plain
//! layer ends with and every pre-activation residual branch layer starts with.

use super::activation::{activation_backward, activation_forward, bias_activation_forward};
use super::linear::add_bias;
use super::norm::{NormKind, NormLayer};
use super::{Mode, Real};
use crate::config::{Activation, Norm};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};

/// φ(N(x)) with the buffers its backward reads.
pub struct NormAct<T> {
    norm: Option<NormLayer<T>>,
    /// φ(N(x)), (max_batch, width).
    out: Array2<T>,
}

impl<T: Real> NormAct<T> {
    /// Lays out N's γ and β (if any) at `*offset` in the flat buffer and advances the offset.
    pub fn new(norm: Norm, width: usize, max_batch: usize, offset: &mut usize) -> Self {
        let kind = match norm {
            Norm::None => None,
            Norm::Layer => Some(NormKind::Layer),
            Norm::Batch => Some(NormKind::Batch),
        };
        let norm = kind.map(|kind| {
            let gain = *offset;
            *offset += 2 * width;
            NormLayer::new(kind, width, max_batch, gain, gain + width)
        });
        NormAct { norm, out: Array2::zeros((max_batch, width)) }
    }

    /// φ(N(x)) of the last forward, its first n rows.
    pub fn output(&self, n: usize) -> ArrayView2<'_, T> {
        self.out.slice(s![..n, ..])
    }

    /// Offset and width of N's gain γ, if there is a normalisation.
    pub fn norm_gain(&self) -> Option<(usize, usize)> {
        self.norm.as_ref().map(|norm| (norm.gain, norm.width))
    }

    /// out = φ(N(x)); x is (n, width) and only read.
    pub fn forward(&mut self, activation: Activation, params: &Array1<T>, x: ArrayView2<'_, T>, mode: Mode) {
        let out = self.out.slice_mut(s![..x.nrows(), ..]);
        match &mut self.norm {
            None => activation_forward(activation, x, out),
            Some(norm) => activation_forward(activation, norm.forward(params, x, mode), out),
        }
    }

    /// x += bias, then out = φ(N(x)); x keeps the biased values (the saved pre-activation).
    /// Without normalisation the bias add and φ are one fused pass.
    pub fn forward_biased(
        &mut self,
        activation: Activation,
        params: &Array1<T>,
        mut x: ArrayViewMut2<'_, T>,
        bias: ArrayView1<'_, T>,
        mode: Mode,
    ) {
        if self.norm.is_none() {
            let n = x.nrows();
            bias_activation_forward(activation, x, bias, self.out.slice_mut(s![..n, ..]));
            return;
        }
        add_bias(x.view_mut(), bias);
        self.forward(activation, params, x.view(), mode);
    }

    /// out = x: the unit replaced by the identity (lesion studies). x is (n, width).
    pub fn copy_through(&mut self, x: ArrayView2<'_, T>) {
        self.out.slice_mut(s![..x.nrows(), ..]).assign(&x);
    }

    /// In place: `grad` holds ∂L/∂out on entry and ∂L/∂x on exit. x is the saved input.
    pub fn backward(
        &self,
        activation: Activation,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: ArrayView2<'_, T>,
        mut grad: ArrayViewMut2<'_, T>,
    ) {
        let out = self.output(x.nrows());
        match &self.norm {
            None => activation_backward(activation, grad, x, out),
            Some(norm) => {
                activation_backward(activation, grad.view_mut(), norm.output(x.nrows()), out);
                norm.backward(params, grads, grad);
            }
        }
    }
}
