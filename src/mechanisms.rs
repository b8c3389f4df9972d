//! Probes of *why* plain nets degrade (optional per experiment):
//! - shattered gradients (Balduzzi et al., 2017): along a line of inputs x(t) = x_a + t·(x_b − x_a),
//!   the derivative of one logit w.r.t. t; its autocorrelation falls towards 0 with depth in
//!   plain nets (the gradient looks like white noise) and decays much more slowly in residual nets;
//! - lesions (Veit et al., 2016): the training loss with one hidden layer (plain) or one block
//!   (residual) replaced by the identity.

use crate::data::Dataset;
use crate::eval::evaluate;
use crate::model::{Mlp, Mode};
use ndarray::{s, Array2};

/// Points on the input line, and the lags of the autocorrelation kept in the records.
pub const LINE_POINTS: usize = 256;
pub const MAX_LAG: usize = 16;

/// Autocorrelation ρ(0..=MAX_LAG) of g(t) = ∂logit₀/∂t along the line from `from` to `to`
/// (LINE_POINTS evenly spaced t in [0, 1]). Evaluation-mode normalisation, so points do not
/// interact and the batch chunking changes nothing. `None` if g is constant or not finite.
pub fn gradient_autocorrelation(mlp: &mut Mlp<f32>, from: &[f32], to: &[f32]) -> Option<Vec<f64>> {
    let input_dim = from.len();
    let outputs = mlp.config().output_dim;
    let chunk = mlp.max_batch();
    let direction: Vec<f32> = to.iter().zip(from).map(|(b, a)| b - a).collect();
    let mut inputs = Array2::<f32>::zeros((chunk, input_dim));
    let mut dlogits = Array2::<f32>::zeros((chunk, outputs));
    let mut input_grad = Array2::<f32>::zeros((chunk, input_dim));
    let mut derivative = Vec::with_capacity(LINE_POINTS);
    for start in (0..LINE_POINTS).step_by(chunk) {
        let n = chunk.min(LINE_POINTS - start);
        for (row, mut x) in inputs.rows_mut().into_iter().take(n).enumerate() {
            let t = (start + row) as f32 / (LINE_POINTS - 1) as f32;
            for (x, (&a, &d)) in x.iter_mut().zip(from.iter().zip(&direction)) {
                *x = a + t * d;
            }
        }
        let points = inputs.slice(s![..n, ..]);
        mlp.forward(points, Mode::Eval);
        // ∂logit₀/∂logits is the first unit vector for every row.
        dlogits.fill(0.0);
        dlogits.column_mut(0).fill(1.0);
        mlp.backward(points, dlogits.slice(s![..n, ..]), None);
        mlp.input_gradient(input_grad.slice_mut(s![..n, ..]));
        for g in input_grad.rows().into_iter().take(n) {
            derivative.push(g.iter().zip(&direction).map(|(&g, &d)| g as f64 * d as f64).sum::<f64>());
        }
    }
    autocorrelation(&derivative, MAX_LAG)
}

/// Sample autocorrelation ρ(k) = Σ (g_t − ḡ)(g_{t+k} − ḡ) / Σ (g_t − ḡ)², k = 0..=max_lag.
pub fn autocorrelation(series: &[f64], max_lag: usize) -> Option<Vec<f64>> {
    let n = series.len();
    let mean = series.iter().sum::<f64>() / n.max(1) as f64;
    let centred: Vec<f64> = series.iter().map(|v| v - mean).collect();
    let variance: f64 = centred.iter().map(|v| v * v).sum();
    if !(variance.is_finite() && variance > 0.0) {
        return None;
    }
    let acf = (0..=max_lag.min(n.saturating_sub(1)))
        .map(|lag| centred.iter().zip(&centred[lag..]).map(|(a, b)| a * b).sum::<f64>() / variance)
        .collect();
    Some(acf)
}

/// Training loss with each hidden layer (plain) or block (residual) lesioned in turn,
/// input side first. `None` entries are non-finite losses.
pub fn lesion_losses(mlp: &mut Mlp<f32>, train: &Dataset) -> Vec<Option<f64>> {
    let positions = mlp.config().blocks();
    let losses = (0..positions)
        .map(|position| {
            mlp.set_lesion(Some(position));
            Some(evaluate(mlp, train).loss).filter(|l| l.is_finite())
        })
        .collect();
    mlp.set_lesion(None);
    losses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autocorrelation_of_known_series() {
        // A sine with period 32 samples: ρ(k) ≈ cos(2πk/32) for a long series.
        let series: Vec<f64> = (0..4096).map(|t| (2.0 * std::f64::consts::PI * t as f64 / 32.0).sin()).collect();
        let acf = autocorrelation(&series, 8).unwrap();
        assert!((acf[0] - 1.0).abs() < 1e-12);
        for (k, &rho) in acf.iter().enumerate() {
            let expected = (2.0 * std::f64::consts::PI * k as f64 / 32.0).cos();
            assert!((rho - expected).abs() < 0.01, "lag {k}: {rho} vs {expected}");
        }
        // Alternating signs: ρ(1) = −1 up to the edge term.
        let alternating: Vec<f64> = (0..1000).map(|t| if t % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert!((autocorrelation(&alternating, 1).unwrap()[1] + 1.0).abs() < 0.01);
        assert!(autocorrelation(&[2.0; 10], 3).is_none());
    }
}
