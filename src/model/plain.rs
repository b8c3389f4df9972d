//! One plain layer, forward and backward side by side: z = W·x + b, h = φ(N(z)).
//! The stem h₀ = φ(W₀x + b₀) is a plain layer without normalisation.

use super::linear::Linear;
use super::norm_act::NormAct;
use super::{Mode, Real};
use crate::config::{Activation, Norm};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};

pub struct PlainLayer<T> {
    pub linear: Linear,
    /// z = W·x + b, (max_batch, width): saved for the backward.
    pre: Array2<T>,
    /// h = φ(N(z)).
    pub act: NormAct<T>,
}

impl<T: Real> PlainLayer<T> {
    /// Lays out W, b and N's parameters at `*offset` in the flat buffer and advances it.
    pub fn new(fan_in: usize, width: usize, norm: Norm, max_batch: usize, offset: &mut usize) -> Self {
        let linear = Linear::allocate(fan_in, width, offset);
        let act = NormAct::new(norm, width, max_batch, offset);
        PlainLayer { linear, pre: Array2::zeros((max_batch, width)), act }
    }

    /// h of the last forward, its first n rows.
    pub fn output(&self, n: usize) -> ArrayView2<'_, T> {
        self.act.output(n)
    }

    /// h = φ(N(W·x + b)); x is (n, fan_in).
    pub fn forward(&mut self, activation: Activation, params: &Array1<T>, x: ArrayView2<'_, T>, mode: Mode) {
        let mut pre = self.pre.slice_mut(s![..x.nrows(), ..]);
        self.linear.forward(params, x, pre.view_mut());
        self.act.forward_biased(activation, params, pre, self.linear.bias(params), mode);
    }

    /// h = x: the layer replaced by the identity (lesion studies, evaluation only).
    pub fn lesion(&mut self, x: ArrayView2<'_, T>) {
        self.act.copy_through(x);
    }

    /// `grad` holds ∂L/∂h on entry and ∂L/∂z on exit; writes ∂L/∂W, ∂L/∂b, N's gradients and,
    /// if asked, dx = ∂L/∂x. x is the forward's input, (n, fan_in).
    pub fn backward(
        &self,
        activation: Activation,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: ArrayView2<'_, T>,
        mut grad: ArrayViewMut2<'_, T>,
        dx: Option<ArrayViewMut2<'_, T>>,
    ) {
        // In the forward pass h = φ(N(z)), so now ∂L/∂z = N'ᵀ(φ'(N(z)) ⊙ ∂L/∂h) ...
        self.act.backward(activation, params, grads, self.pre.slice(s![..x.nrows(), ..]), grad.view_mut());
        // ... and z = W·x + b gives ∂L/∂W = ∂L/∂zᵀ·x, ∂L/∂b = Σ ∂L/∂z, ∂L/∂x = ∂L/∂z·W.
        self.linear.backward(params, grads, x, grad.view(), dx, T::one());
    }
}
