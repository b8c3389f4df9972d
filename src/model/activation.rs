//! Activations φ, forward and backward side by side. The backward multiplies an incoming
//! gradient in place by φ'(x), reading the saved pre-activation x and output φ(x).

use super::{flat, flat_mut, Real};
use crate::config::Activation;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

/// φ(x). `Gelu` is the exact x·Φ(x) with Φ the standard normal CDF.
#[inline(always)]
pub fn apply<T: Real>(activation: Activation, x: T) -> T {
    match activation {
        Activation::Relu => x.max(T::zero()),
        Activation::Tanh => x.tanh(),
        Activation::Gelu => {
            let half = T::from_f64(0.5);
            half * x * (T::one() + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf())
        }
        Activation::Identity => x,
    }
}

/// φ'(x), given x and y = φ(x) (whichever is cheaper is used).
#[inline(always)]
pub fn derivative<T: Real>(activation: Activation, x: T, y: T) -> T {
    match activation {
        Activation::Relu => {
            if x > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        }
        Activation::Tanh => T::one() - y * y,
        Activation::Gelu => {
            // d/dx [x Φ(x)] = Φ(x) + x φ(x), φ the standard normal density.
            let cdf = T::from_f64(0.5) * (T::one() + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf());
            let density = (-(x * x) * T::from_f64(0.5)).exp() * T::from_f64(1.0 / (2.0 * std::f64::consts::PI).sqrt());
            cdf + x * density
        }
        Activation::Identity => T::one(),
    }
}

/// y = φ(x), elementwise. x and y are (n, width).
pub fn activation_forward<T: Real>(activation: Activation, x: ArrayView2<'_, T>, mut y: ArrayViewMut2<'_, T>) {
    for (yv, &xv) in flat_mut(&mut y).iter_mut().zip(flat(&x)) {
        *yv = apply(activation, xv);
    }
}

/// x += bias, then y = φ(x), per row in one fused pass; x keeps the biased pre-activation
/// (the backward reads it). x and y are (n, width), bias is (width).
pub fn bias_activation_forward<T: Real>(
    activation: Activation,
    mut x: ArrayViewMut2<'_, T>,
    bias: ArrayView1<'_, T>,
    mut y: ArrayViewMut2<'_, T>,
) {
    let bias = bias.to_slice().expect("contiguous");
    let width = bias.len();
    for (x_row, y_row) in flat_mut(&mut x).chunks_exact_mut(width).zip(flat_mut(&mut y).chunks_exact_mut(width)) {
        for ((xv, yv), &b) in x_row.iter_mut().zip(y_row.iter_mut()).zip(bias) {
            *xv += b;
            *yv = apply(activation, *xv);
        }
    }
}

/// grad ⊙= φ'(x): turns ∂L/∂φ(x) into ∂L/∂x in place. grad, x and y = φ(x) are (n, width).
pub fn activation_backward<T: Real>(
    activation: Activation,
    mut grad: ArrayViewMut2<'_, T>,
    x: ArrayView2<'_, T>,
    y: ArrayView2<'_, T>,
) {
    let (grad, x, y) = (flat_mut(&mut grad), flat(&x), flat(&y));
    match activation {
        Activation::Identity => {}
        Activation::Relu => {
            // A select and an unconditional store, not `if x <= 0 { *g = 0 }`: the sign of x is
            // a coin flip, so the branch mispredicts half the time and the conditional store
            // keeps the loop from vectorising (it cost 15% of a width-256 train step).
            for (g, &xv) in grad.iter_mut().zip(x) {
                *g = if xv <= T::zero() { T::zero() } else { *g };
            }
        }
        _ => {
            for ((g, &xv), &yv) in grad.iter_mut().zip(x).zip(y) {
                *g *= derivative(activation, xv, yv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_central_differences() {
        for &activation in Activation::ALL {
            for &x in &[-2.3f64, -0.7, -0.1, 0.2, 0.9, 3.1] {
                let h = 1e-6;
                let numeric = (apply(activation, x + h) - apply(activation, x - h)) / (2.0 * h);
                let analytic = derivative(activation, x, apply(activation, x));
                assert!((numeric - analytic).abs() < 1e-7, "{activation} at {x}: {numeric} vs {analytic}");
            }
        }
    }

    #[test]
    fn gelu_matches_known_values() {
        // x·Φ(x): Φ(1) = 0.841344746..., Φ(−1) = 0.158655254...
        assert!((apply(Activation::Gelu, 1.0f64) - 0.841_344_746_068_543).abs() < 1e-12);
        assert!((apply(Activation::Gelu, -1.0f64) + 0.158_655_253_931_457).abs() < 1e-12);
    }
}
