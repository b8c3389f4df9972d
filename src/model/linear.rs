//! Linear layers, forward and backward side by side. Weights are (out, in) row-major inside
//! the flat parameter buffer; activations are batch-major (n, features), so each pass is one GEMM.

use super::gemm::matmul;
use super::{flat, flat_mut, Real};
use ndarray::{s, Array1, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

/// Offsets of one linear layer's weight and bias in the flat parameter (and gradient) buffer.
#[derive(Debug, Clone, Copy)]
pub struct Linear {
    pub fan_in: usize,
    pub fan_out: usize,
    /// Start of W, (fan_out, fan_in).
    pub weight: usize,
    /// Start of b, (fan_out); directly after W.
    pub bias: usize,
}

impl Linear {
    /// Lays the layer out at `*offset` in the flat buffer and advances the offset.
    pub fn allocate(fan_in: usize, fan_out: usize, offset: &mut usize) -> Self {
        let weight = *offset;
        let bias = weight + fan_in * fan_out;
        *offset = bias + fan_out;
        Linear { fan_in, fan_out, weight, bias }
    }

    /// W, (fan_out, fan_in), cut from the flat buffer.
    pub fn weight<'a, T>(&self, params: &'a Array1<T>) -> ArrayView2<'a, T> {
        params
            .slice(s![self.weight..self.bias])
            .into_shape_with_order((self.fan_out, self.fan_in))
            .expect("a contiguous range of fan_out·fan_in elements")
    }

    /// b, (fan_out).
    pub fn bias<'a, T>(&self, params: &'a Array1<T>) -> ArrayView1<'a, T> {
        params.slice(s![self.bias..self.bias + self.fan_out])
    }

    /// W and b (or ∂L/∂W and ∂L/∂b), cut from a flat buffer as two disjoint mutable views.
    pub fn weight_and_bias_mut<'a, T>(
        &self,
        buffer: &'a mut Array1<T>,
    ) -> (ArrayViewMut2<'a, T>, ArrayViewMut1<'a, T>) {
        let (weight, bias) =
            buffer.slice_mut(s![self.weight..self.bias + self.fan_out]).split_at(Axis(0), self.bias - self.weight);
        let weight = weight.into_shape_with_order((self.fan_out, self.fan_in)).expect("contiguous");
        (weight, bias)
    }

    /// y = x · Wᵀ, without the bias (it is added in the fused pass that follows).
    /// x is (n, fan_in), y is (n, fan_out).
    pub fn forward<T: Real>(&self, params: &Array1<T>, x: ArrayView2<'_, T>, y: ArrayViewMut2<'_, T>) {
        matmul(y, x, self.weight(params).t(), T::one(), false);
    }

    /// Given ∂L/∂y = scale·dy, writes ∂L/∂W = scale·dyᵀ·x and ∂L/∂b = scale·Σ dy, and, if
    /// asked, dx = ∂L/∂x = scale·dy·W (overwritten). `scale` folds a residual branch's α into
    /// the GEMMs instead of an extra pass. x is (n, fan_in), dy is (n, fan_out), dx is (n, fan_in).
    pub fn backward<T: Real>(
        &self,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: ArrayView2<'_, T>,
        dy: ArrayView2<'_, T>,
        dx: Option<ArrayViewMut2<'_, T>>,
        scale: T,
    ) {
        let (weight_grad, mut bias_grad) = self.weight_and_bias_mut(grads);
        matmul(weight_grad, dy.t(), x, scale, false);
        let bias_grad = bias_grad.as_slice_mut().expect("contiguous");
        bias_grad.fill(T::zero());
        for row in flat(&dy).chunks_exact(self.fan_out) {
            for (b, &d) in bias_grad.iter_mut().zip(row) {
                *b += d;
            }
        }
        if scale != T::one() {
            for b in bias_grad.iter_mut() {
                *b *= scale;
            }
        }
        if let Some(dx) = dx {
            matmul(dx, dy, self.weight(params), scale, false);
        }
    }
}

/// y += b on every row, in place. y is (n, width), b is (width).
pub fn add_bias<T: Real>(mut y: ArrayViewMut2<'_, T>, bias: ArrayView1<'_, T>) {
    let bias = bias.to_slice().expect("contiguous");
    for row in flat_mut(&mut y).chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}
