//! Linear layers, forward and backward side by side. Weights are (out, in) row-major inside
//! the flat parameter buffer; activations are batch-major (n, features), so each pass is one GEMM.

use super::gemm::{matmul, MatRef};
use super::Real;

/// Offsets of one linear layer's weight and bias in the flat parameter (and gradient) buffer.
#[derive(Debug, Clone, Copy)]
pub struct Linear {
    pub fan_in: usize,
    pub fan_out: usize,
    /// Start of W, (fan_out, fan_in).
    pub weight: usize,
    /// Start of b, (fan_out).
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

    pub fn weight<'a, T>(&self, params: &'a [T]) -> &'a [T] {
        &params[self.weight..self.weight + self.fan_in * self.fan_out]
    }

    pub fn bias<'a, T>(&self, params: &'a [T]) -> &'a [T] {
        &params[self.bias..self.bias + self.fan_out]
    }

    /// out = inp · Wᵀ, without the bias (it is added in the fused pass that follows).
    /// inp is (n, fan_in), out is (n, fan_out).
    pub fn forward<T: Real>(&self, params: &[T], inp: &[T], out: &mut [T], n: usize) {
        matmul(
            out,
            MatRef::row_major(inp, n, self.fan_in),
            MatRef::transposed(self.weight(params), self.fan_in, self.fan_out),
            T::one(),
            false,
        );
    }

    /// Given ∂L/∂out = scale·dout, writes ∂L/∂W = scale·doutᵀ·inp and ∂L/∂b = scale·Σ dout,
    /// and, if asked, dinp = ∂L/∂inp = scale·dout·W (overwritten).
    /// `scale` folds a residual branch's α into the GEMMs instead of an extra pass.
    /// inp is (n, fan_in), dout is (n, fan_out), dinp is (n, fan_in).
    // Explicit buffers, as in the forward: bundling them into a struct would hide which are written.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Real>(
        &self,
        params: &[T],
        grads: &mut [T],
        inp: &[T],
        dout: &[T],
        dinp: Option<&mut [T]>,
        n: usize,
        scale: T,
    ) {
        let (fan_in, fan_out) = (self.fan_in, self.fan_out);
        let (weight_grad, rest) = grads[self.weight..].split_at_mut(fan_in * fan_out);
        matmul(weight_grad, MatRef::transposed(dout, fan_out, n), MatRef::row_major(inp, n, fan_in), scale, false);
        let bias_grad = &mut rest[self.bias - self.weight - fan_in * fan_out..][..fan_out];
        bias_grad.fill(T::zero());
        for row in dout[..n * fan_out].chunks_exact(fan_out) {
            for (b, &d) in bias_grad.iter_mut().zip(row) {
                *b += d;
            }
        }
        if scale != T::one() {
            for b in bias_grad.iter_mut() {
                *b *= scale;
            }
        }
        if let Some(dinp) = dinp {
            matmul(
                dinp,
                MatRef::row_major(dout, n, fan_out),
                MatRef::row_major(self.weight(params), fan_out, fan_in),
                scale,
                false,
            );
        }
    }
}
