//! The units of the paper's CIFAR nets, forward and backward side by side:
//!   ConvBn:    y = BN(conv(x))
//!   ConvBlock: a₁ = relu(BN₁(conv₁(h_{k−1}))),  h_k = relu(BN₂(conv₂(a₁)) + S(h_{k−1}))
//! with S the option-A shortcut (residual) or absent (plain): post-activation, as in the 2015
//! paper. The identity path is one call in the forward (`forward_add`) and one in the
//! backward (`shortcut.backward`, into the input gradient that conv₁ then adds to), the
//! ∂L/∂h_{k−1} = ∂L/∂(sum)·(∂F/∂h_{k−1} + ∂S/∂h_{k−1}) of the residual formula.

use super::batch_norm2d::BatchNorm2d;
use super::conv2d::{Conv2d, InputGrad};
use super::relu::{relu_backward, relu_forward};
use super::shortcut::Shortcut;
use super::MapShape;
use crate::model::{Mode, Real};
use ndarray::Array1;

/// Scratch shared by every layer of a network, sized for the largest one.
pub struct Scratch<T> {
    /// im2col blocks.
    pub cols: Vec<T>,
    /// ∂L/∂a₁ inside a block's backward, (max_batch, H, W, C) of the largest map.
    pub branch: Vec<T>,
}

/// conv → BN, with the buffer its backward reads.
pub struct ConvBn<T> {
    pub conv: Conv2d,
    pub bn: BatchNorm2d<T>,
    /// conv(x), which the BN normalises in place into x̂: (max_batch, H_o, W_o, C_out).
    xhat: Vec<T>,
}

impl<T: Real> ConvBn<T> {
    /// Lays out W, then γ and β, at `*offset` in the flat buffer and advances the offset.
    pub fn new(input: MapShape, out_channels: usize, stride: usize, max_batch: usize, offset: &mut usize) -> Self {
        let conv = Conv2d::allocate(input, out_channels, stride, offset);
        let bn = BatchNorm2d::allocate(out_channels, offset);
        ConvBn { conv, bn, xhat: vec![T::zero(); max_batch * conv.output.len()] }
    }

    /// y = BN(conv(x)). x is (n, H, W, C_in), y is (n, H_o, W_o, C_out).
    pub fn forward(&mut self, params: &Array1<T>, x: &[T], y: &mut [T], mode: Mode, cols: &mut [T]) {
        let z = &mut self.xhat[..y.len()];
        self.conv.forward(params, x, z, cols);
        self.bn.forward(params, z, y, mode);
    }

    /// `grad` holds ∂L/∂y on entry and ∂L/∂conv(x) on exit; writes W's, γ's and β's
    /// gradients and, as `dx` asks, ∂L/∂x. x is the forward's input.
    pub fn backward(
        &mut self,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: &[T],
        grad: &mut [T],
        dx: InputGrad<'_, T>,
        cols: &mut [T],
    ) {
        // In the forward pass y = BN(z), z = conv(x): first ∂L/∂z, then the conv's gradients.
        self.bn.backward(params, grads, &self.xhat[..grad.len()], grad);
        self.conv.backward(params, grads, x, grad, dx, cols);
    }
}

/// One block of two 3×3 convs with its activations; residual if it has a shortcut.
pub struct ConvBlock<T> {
    /// conv₁ (stride 1 or 2) → BN₁.
    pub first: ConvBn<T>,
    /// conv₂ (stride 1) → BN₂.
    pub second: ConvBn<T>,
    /// None in a plain net.
    shortcut: Option<Shortcut>,
    /// a₁ = relu(BN₁(conv₁(h_{k−1}))), (max_batch, H_o, W_o, C_out).
    act: Vec<T>,
    /// h_k, (max_batch, H_o, W_o, C_out).
    out: Vec<T>,
}

impl<T: Real> ConvBlock<T> {
    /// A block from `input` maps to `out_channels` channels; the first conv has `stride`.
    pub fn new(
        input: MapShape,
        out_channels: usize,
        stride: usize,
        residual: bool,
        max_batch: usize,
        offset: &mut usize,
    ) -> Self {
        let first = ConvBn::new(input, out_channels, stride, max_batch, offset);
        let output = first.conv.output;
        let second = ConvBn::new(output, out_channels, 1, max_batch, offset);
        let shortcut = residual.then(|| Shortcut::new(input, output));
        let buffer = vec![T::zero(); max_batch * output.len()];
        ConvBlock { first, second, shortcut, act: buffer.clone(), out: buffer }
    }

    pub fn input_shape(&self) -> MapShape {
        self.first.conv.input
    }

    pub fn output_shape(&self) -> MapShape {
        self.second.conv.output
    }

    /// h_k of the last forward, its first n maps.
    pub fn output(&self, n: usize) -> &[T] {
        &self.out[..n * self.output_shape().len()]
    }

    /// h_k = relu(BN₂(conv₂(relu(BN₁(conv₁(h_{k−1}))))) + S(h_{k−1})); x = h_{k−1} is
    /// (n, H, W, C_in).
    pub fn forward(&mut self, params: &Array1<T>, x: &[T], mode: Mode, cols: &mut [T]) {
        let n = x.len() / self.input_shape().len();
        let len = n * self.output_shape().len();
        let (act, out) = (&mut self.act[..len], &mut self.out[..len]);
        // a₁ = relu(BN₁(conv₁(h_{k−1})))
        self.first.forward(params, x, act, mode, cols);
        relu_forward(act);
        // h_k = relu(BN₂(conv₂(a₁)) + S(h_{k−1}))
        self.second.forward(params, act, out, mode, cols);
        if let Some(shortcut) = &self.shortcut {
            shortcut.forward_add(x, out);
        }
        relu_forward(out);
    }

    /// `grad` holds ∂L/∂h_k on entry (clobbered); `dx` receives ∂L/∂h_{k−1} (overwritten).
    /// Writes the block's parameter gradients. x = h_{k−1} is the forward's input.
    pub fn backward(
        &mut self,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: &[T],
        grad: &mut [T],
        dx: &mut [T],
        scratch: &mut Scratch<T>,
    ) {
        let len = grad.len();
        let (act, out) = (&self.act[..len], &self.out[..len]);
        let dact = &mut scratch.branch[..len];
        // In the forward pass h_k = relu(s), s = BN₂(conv₂(a₁)) + S(h_{k−1}): first ∂L/∂s ...
        relu_backward(grad, out);
        // ... which reaches h_{k−1} unchanged through the shortcut (written first) ...
        if let Some(shortcut) = &self.shortcut {
            shortcut.backward(grad, dx);
        }
        // ... and through the branch: ∂L/∂a₁ from conv₂, then through relu and conv₁, whose
        // input gradient adds to the shortcut's (or, in a plain net, is all of it).
        self.second.backward(params, grads, act, grad, InputGrad::Overwrite(dact), &mut scratch.cols);
        relu_backward(dact, act);
        let dx = if self.shortcut.is_some() { InputGrad::Accumulate(dx) } else { InputGrad::Overwrite(dx) };
        self.first.backward(params, grads, x, dact, dx, &mut scratch.cols);
    }
}
