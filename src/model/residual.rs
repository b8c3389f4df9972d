//! One pre-activation residual block, forward and backward side by side:
//!   two layers: u = W φ(N(h_{k−1})) + b,  v = W' φ(N'(u)) + b',  h_k = h_{k−1} + α_k v
//!   one layer:  v = W φ(N(h_{k−1})) + b,                         h_k = h_{k−1} + α_k v
//! The identity path is one term of the forward (`h_{k−1} +`) and one of the backward (the
//! `+ 1` of ∂L/∂h_{k−1} = ∂L/∂h_k·(∂F/∂h_{k−1} + 1)).

use super::linear::Linear;
use super::norm_act::NormAct;
use super::{flat, flat_mut, Mode, Real};
use crate::config::{Activation, Norm, ResidualScale};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};

/// One layer of a residual branch: a = φ(N(input)), then pre = W·a (bias added by the consumer).
struct BranchLayer<T> {
    act: NormAct<T>,
    linear: Linear,
    /// W·a, plus the bias once the next layer (or the residual add) has run: u or v.
    pre: Array2<T>,
}

/// The block's α: fixed by the residual scale, or a learned parameter (ReZero).
enum BlockScale<T> {
    Fixed(T),
    /// Offset of α in the parameter buffer.
    Learned(usize),
}

pub struct ResidualBlock<T> {
    branch: Vec<BranchLayer<T>>,
    scale: BlockScale<T>,
    /// h_k, (max_batch, width).
    out: Array2<T>,
}

impl<T: Real> ResidualBlock<T> {
    /// Block k of `blocks`, its `branch_layers` w×w layers laid out at `*offset` (then α, if
    /// learned). α is 1, 1/√K, or ReZero's learned α starting at 0.
    pub fn new(
        width: usize,
        branch_layers: usize,
        norm: Norm,
        residual_scale: ResidualScale,
        blocks: usize,
        max_batch: usize,
        offset: &mut usize,
    ) -> Self {
        let branch = (0..branch_layers)
            .map(|_| {
                let act = NormAct::new(norm, width, max_batch, offset);
                BranchLayer {
                    act,
                    linear: Linear::allocate(width, width, offset),
                    pre: Array2::zeros((max_batch, width)),
                }
            })
            .collect();
        let scale = match residual_scale {
            ResidualScale::One | ResidualScale::InvSqrtBlocks => {
                BlockScale::Fixed(T::from_f64(residual_scale.initial_alpha(blocks)))
            }
            ResidualScale::Rezero => {
                *offset += 1;
                BlockScale::Learned(*offset - 1)
            }
        };
        ResidualBlock { branch, scale, out: Array2::zeros((max_batch, width)) }
    }

    /// α_k, the weight of the branch in h_k = h_{k−1} + α_k v.
    pub fn alpha(&self, params: &Array1<T>) -> T {
        match self.scale {
            BlockScale::Fixed(alpha) => alpha,
            BlockScale::Learned(offset) => params[offset],
        }
    }

    /// The branch's weight layers, input side first.
    pub fn linears(&self) -> impl Iterator<Item = Linear> + '_ {
        self.branch.iter().map(|layer| layer.linear)
    }

    /// Offsets and widths of the branch's norm gains.
    pub fn norm_gains(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.branch.iter().filter_map(|layer| layer.act.norm_gain())
    }

    /// h_k of the last forward, its first n rows.
    pub fn output(&self, n: usize) -> ArrayView2<'_, T> {
        self.out.slice(s![..n, ..])
    }

    /// v, the branch's output (with its bias) of the last forward, its first n rows.
    pub fn branch_output(&self, n: usize) -> ArrayView2<'_, T> {
        self.branch.last().expect("a block has at least one layer").pre.slice(s![..n, ..])
    }

    /// h_k = h_{k−1} + α_k F(h_{k−1}); x = h_{k−1} is (n, width).
    pub fn forward(&mut self, activation: Activation, params: &Array1<T>, x: ArrayView2<'_, T>, mode: Mode) {
        let n = x.nrows();
        let alpha = self.alpha(params);
        // u = W φ(N(h_{k−1})) + b;  v = W' φ(N'(u)) + b'
        for index in 0..self.branch.len() {
            let (done, todo) = self.branch.split_at_mut(index);
            let layer = &mut todo[0];
            match done.last_mut() {
                None => layer.act.forward(activation, params, x, mode),
                Some(prev) => {
                    let bias = prev.linear.bias(params);
                    layer.act.forward_biased(activation, params, prev.pre.slice_mut(s![..n, ..]), bias, mode)
                }
            }
            layer.linear.forward(params, layer.act.output(n), layer.pre.slice_mut(s![..n, ..]));
        }
        // h_k = h_{k−1} + α_k v, with v's bias added in the same pass.
        let last = self.branch.last_mut().expect("a block has at least one layer");
        let bias = last.linear.bias(params);
        let bias = bias.to_slice().expect("contiguous");
        let w = bias.len();
        let mut v = last.pre.slice_mut(s![..n, ..]);
        let mut out = self.out.slice_mut(s![..n, ..]);
        for ((out_row, v_row), x_row) in flat_mut(&mut out)
            .chunks_exact_mut(w)
            .zip(flat_mut(&mut v).chunks_exact_mut(w))
            .zip(flat(&x).chunks_exact(w))
        {
            for col in 0..w {
                v_row[col] += bias[col];
                out_row[col] = x_row[col] + alpha * v_row[col];
            }
        }
    }

    /// h_k = h_{k−1}: the branch removed (lesion studies, evaluation only).
    pub fn lesion(&mut self, x: ArrayView2<'_, T>) {
        self.out.slice_mut(s![..x.nrows(), ..]).assign(&x);
    }

    /// `grad` holds ∂L/∂h_k on entry and ∂L/∂h_{k−1} on exit; writes the branch's gradients
    /// (and ∂L/∂α for ReZero). x = h_{k−1} is the forward's input, (n, width); `scratch` is
    /// two (max_batch, width) buffers whose contents are overwritten.
    pub fn backward(
        &self,
        activation: Activation,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: ArrayView2<'_, T>,
        mut grad: ArrayViewMut2<'_, T>,
        scratch: [&mut Array2<T>; 2],
    ) {
        let n = x.nrows();
        // In the forward pass h_k = h_{k−1} + α v, so ∂L/∂v = α·∂L/∂h_k and ∂L/∂α = Σ ∂L/∂h_k ⊙ v.
        if let BlockScale::Learned(offset) = self.scale {
            let v = self.branch_output(n);
            grads[offset] = flat(&grad.view()).iter().zip(flat(&v)).map(|(&g, &v)| g * v).sum();
        }
        let alpha = self.alpha(params);
        // Back through the branch F, last layer first; α is folded into the last GEMMs.
        let [mut incoming, mut outgoing] = scratch;
        for index in (0..self.branch.len()).rev() {
            let layer = &self.branch[index];
            let (dy, scale) = if index + 1 == self.branch.len() {
                (grad.view(), alpha)
            } else {
                (incoming.slice(s![..n, ..]), T::one())
            };
            let mut dx = outgoing.slice_mut(s![..n, ..]);
            layer.linear.backward(params, grads, layer.act.output(n), dy, Some(dx.view_mut()), scale);
            let layer_input = if index == 0 { x } else { self.branch[index - 1].pre.slice(s![..n, ..]) };
            layer.act.backward(activation, params, grads, layer_input, dx);
            std::mem::swap(&mut incoming, &mut outgoing);
        }
        // ∂L/∂h_{k−1} = ∂L/∂h_k · (∂F/∂h_{k−1} + 1): the identity path adds the gradient unchanged.
        let branch = incoming.slice(s![..n, ..]);
        for (g, &from_branch) in flat_mut(&mut grad).iter_mut().zip(flat(&branch)) {
            *g += from_branch;
        }
    }
}
