//! Probes of *why* plain nets degrade (optional per experiment):
//! - shattered gradients (Balduzzi et al., 2017): along an arc of inputs from x_a towards x_b, the
//!   derivative of one logit w.r.t. the angle; its autocorrelation falls towards 0 with depth in
//!   plain nets (the gradient looks like white noise) and decays much more slowly in residual nets;
//! - lesions (Veit et al., 2016): the training loss with one hidden layer (plain) or one block
//!   (residual) replaced by the identity.

use crate::data::Dataset;
use crate::model::{Mode, Network};
use crate::train::eval::evaluate;
use ndarray::{s, Array2};

/// Points on each input arc, and the lags of the autocorrelation kept in the records.
pub const LINE_POINTS: usize = 256;
pub const MAX_LAG: usize = 16;
/// The arc's total angle, π/4: one lag is 45°/255 ≈ 0.18°, about the step of a straight line
/// of 256 points between two digits (which lie 40–70° apart), and lag 16 is 2.8°.
pub const LINE_ANGLE: f64 = std::f64::consts::FRAC_PI_4;
/// Arcs averaged per run (pairs of the probe batch's samples): one pair's ρ varies with the
/// pair, the average over ten does much less.
pub const LINES: usize = 10;

/// Autocorrelation ρ(0..=MAX_LAG) of g(θ) = ∂logit₀/∂θ along the arc
/// x(θ) = ‖x_a‖·(cos θ·â + sin θ·ê), θ = 0..LINE_ANGLE in LINE_POINTS equal steps, where ê is the
/// unit direction of x_b − (x_b·â)â: the arc starts at `from` and turns towards `to` at constant
/// norm. Why an arc with a fixed angular step: with biases at 0 (initialisation) a ReLU net is
/// positively homogeneous, so how its gradient changes between two inputs depends on the angle
/// between them and not on their distance; a straight line between the two samples made the
/// step, and with it ρ, depend on which two samples were picked. Evaluation-mode normalisation,
/// so points do not interact. `None` if the two inputs are parallel, or g is constant or not finite.
pub fn gradient_autocorrelation<N: Network<f32>>(net: &mut N, from: &[f32], to: &[f32]) -> Option<Vec<f64>> {
    let input_dim = from.len();
    let outputs = net.output_dim();
    let chunk = net.max_batch();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let start: Vec<f64> = from.iter().map(|&v| v as f64).collect();
    let radius = norm(&start);
    let along: Vec<f64> = start.iter().map(|v| v / radius).collect();
    let projection: f64 = to.iter().zip(&along).map(|(&b, a)| b as f64 * a).sum();
    let mut across: Vec<f64> = to.iter().zip(&along).map(|(&b, a)| b as f64 - projection * a).collect();
    let across_norm = norm(&across);
    if !(radius > 0.0 && across_norm > 1e-6 * radius) {
        return None;
    }
    across.iter_mut().for_each(|v| *v /= across_norm);
    let mut inputs = Array2::<f32>::zeros((chunk, input_dim));
    let mut tangents = Array2::<f32>::zeros((chunk, input_dim));
    let mut dlogits = Array2::<f32>::zeros((chunk, outputs));
    let mut input_grad = Array2::<f32>::zeros((chunk, input_dim));
    let mut derivative = Vec::with_capacity(LINE_POINTS);
    for first in (0..LINE_POINTS).step_by(chunk) {
        let n = chunk.min(LINE_POINTS - first);
        for (row, (mut x, mut dx)) in inputs.rows_mut().into_iter().zip(tangents.rows_mut()).take(n).enumerate() {
            let theta = LINE_ANGLE * (first + row) as f64 / (LINE_POINTS - 1) as f64;
            let (sin, cos) = theta.sin_cos();
            for (((x, dx), &a), &e) in x.iter_mut().zip(dx.iter_mut()).zip(&along).zip(&across) {
                *x = (radius * (cos * a + sin * e)) as f32;
                *dx = (radius * (cos * e - sin * a)) as f32;
            }
        }
        let points = inputs.slice(s![..n, ..]);
        net.forward(points, Mode::Eval);
        // ∂logit₀/∂logits is the first unit vector for every row.
        dlogits.fill(0.0);
        dlogits.column_mut(0).fill(1.0);
        net.backward(points, dlogits.slice(s![..n, ..]), None);
        net.input_gradient(input_grad.slice_mut(s![..n, ..]));
        for (g, dx) in input_grad.rows().into_iter().zip(tangents.rows()).take(n) {
            derivative.push(g.iter().zip(dx).map(|(&g, &d)| g as f64 * d as f64).sum::<f64>());
        }
    }
    autocorrelation(&derivative, MAX_LAG)
}

/// ρ(0..=MAX_LAG) averaged over the arcs between consecutive pairs of `rows` (the first
/// 2·LINES of them, fewer if there are fewer), with the number of arcs that gave a finite ρ.
/// `None` if none did.
pub fn mean_gradient_autocorrelation<N: Network<f32>>(
    net: &mut N,
    data: &Dataset,
    rows: &[usize],
) -> Option<(Vec<f64>, usize)> {
    let mut sum = [0.0; MAX_LAG + 1];
    let mut lines = 0;
    for pair in rows.chunks_exact(2).take(LINES) {
        if let Some(acf) = gradient_autocorrelation(net, data.input(pair[0]), data.input(pair[1])) {
            sum.iter_mut().zip(&acf).for_each(|(s, r)| *s += r);
            lines += 1;
        }
    }
    (lines > 0).then(|| (sum.iter().map(|s| s / lines as f64).collect(), lines))
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
/// input side first. `None` entries are non-finite losses. (Conv nets have no lesion sites:
/// their configuration refuses the study.)
pub fn lesion_losses<N: Network<f32>>(net: &mut N, train: &Dataset) -> Vec<Option<f64>> {
    let positions = net.lesion_sites();
    let losses = (0..positions)
        .map(|position| {
            net.set_lesion(Some(position));
            Some(evaluate(net, train).loss).filter(|l| l.is_finite())
        })
        .collect();
    net.set_lesion(None);
    losses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arc_depends_on_the_directions_only() {
        use crate::config::{Activation, Arch, Init, ModelConfig, Norm, ResidualScale};
        let config = ModelConfig {
            arch: Arch::Plain,
            depth: 6,
            width: 16,
            input_dim: 8,
            output_dim: 3,
            activation: Activation::Relu,
            norm: Norm::None,
            residual_scale: ResidualScale::One,
            block_layers: 2,
            init: Init::He,
        };
        let mut mlp = crate::model::Mlp::<f32>::new(&config, 64, 3).unwrap();
        let a = [0.3f32, 0.0, 0.5, 0.9, 0.1, 0.0, 0.7, 0.2];
        let b = [0.0f32, 0.8, 0.1, 0.2, 0.6, 0.4, 0.0, 0.3];
        let acf = gradient_autocorrelation(&mut mlp, &a, &b).unwrap();
        // Biases are 0 at initialisation, so the net is positively homogeneous: scaling x_a, and
        // moving x_b along x_a, leave the arc's directions and hence ρ unchanged.
        let scaled: Vec<f32> = a.iter().map(|v| 3.0 * v).collect();
        let shifted: Vec<f32> = b.iter().zip(&a).map(|(v, w)| v + 2.0 * w).collect();
        let same = gradient_autocorrelation(&mut mlp, &scaled, &shifted).unwrap();
        for (x, y) in acf.iter().zip(&same) {
            assert!((x - y).abs() < 1e-4, "{acf:?} vs {same:?}");
        }
        // Parallel inputs span no arc.
        assert!(gradient_autocorrelation(&mut mlp, &a, &scaled).is_none());
        assert_eq!(acf.len(), MAX_LAG + 1);
    }

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
