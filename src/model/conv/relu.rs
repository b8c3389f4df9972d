//! ReLU over flat NHWC buffers, forward and backward side by side. Unlike
//! `model::activation`'s pair (separate input and output views), the forward works in place
//! and the backward reads only the output: for ReLU, y = max(x, 0) ≤ 0 exactly where x ≤ 0, so
//! the pre-activation need not be kept, which saves one activation-sized buffer per layer.

use crate::model::Real;

/// x ← max(x, 0), in place. x is any (n, H, W, C) buffer.
pub fn relu_forward<T: Real>(x: &mut [T]) {
    for v in x.iter_mut() {
        *v = v.max(T::zero());
    }
}

/// grad ⊙= [y > 0]: turns ∂L/∂y into ∂L/∂x in place, given the forward's output y (same shape).
/// A select and an unconditional store, as in `model::activation` (where a branch on the
/// coin-flip sign kept the loop from vectorising).
pub fn relu_backward<T: Real>(grad: &mut [T], y: &[T]) {
    assert_eq!(grad.len(), y.len(), "relu gradient: shape differs from the output's");
    for (g, &yv) in grad.iter_mut().zip(y) {
        *g = if yv <= T::zero() { T::zero() } else { *g };
    }
}
