//! What theory predicts at initialisation for the canonical networks (ReLU, He init, biases 0,
//! no normalisation unless stated), as pure functions: the tests in `tests/theory*.rs` check
//! the model against them and the report draws them as theory lines.
//!
//! Notation: S_k = E[h_k²] (the squared RMS the probes report, mean included), G_k = ‖∂L/∂h_k‖².

use std::f64::consts::PI;

/// Per block of a residual net, the mean-field (infinite-width) profiles at initialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualInitProfile {
    /// S_k / S₀, k = 0..=K.
    pub state_sq: Vec<f64>,
    /// G_k / G_K, k = 0..=K (the output side is 1; the input side shows the growth towards it).
    pub grad_sq: Vec<f64>,
}

/// Residual stream with the ReLU stem, He-initialised branches of one or two layers, scale α.
///
/// Forward: given h_{k−1}, the branch output v has E[v_j²] = 2·R_{k−1} with R = E[φ(h)²]
/// (one He layer keeps E[φ(·)²]·2 → the pre-activation; a second layer takes half of that
/// through its ReLU and doubles it again), and v is uncorrelated with h_{k−1}, so
///   S_k = S_{k−1} + 2α²·R_{k−1}.
/// Backward: ∂L/∂h_{k−1} = g + α·J_vᵀg (the "+1" and the branch); E‖W₂ᵀg‖² = 2‖g‖², the inner
/// ReLU keeps half, W₁ᵀ doubles, and the mask φ'(h_{k−1}) keeps the fraction P_{k−1} = P(h > 0):
///   G_{k−1} = G_k·(1 + 2α²·P_{k−1}).
/// A symmetric stream has R = S/2 and P = 1/2 (factors 1 + α² forward, 1 + α² backward), but the
/// stem's output h₀ = φ(W₀x) is non-negative: R₀ = S₀ and P₀ = 1/2 (the units at 0 are masked),
/// and later each unit of the stream is h₀ᵢ + εᵢ with ε ~ N(0, V), V = S − S₀, independent of
/// h₀ᵢ = φ(gᵢ), gᵢ ~ N(0, 2S₀) — exact at infinite width, where the branch sums are Gaussian.
/// Both R and P then have closed forms (`relu_stream`); the stream forgets h₀'s mean only
/// as V grows, which is why α = 1/√K grows S_K/S₀ to about 5.2 (K → ∞), not to e.
pub fn residual_relu_profile(blocks: usize, alpha: f64) -> ResidualInitProfile {
    let alpha_sq = alpha * alpha;
    let mut state_sq = Vec::with_capacity(blocks + 1);
    let mut positive_fraction = Vec::with_capacity(blocks);
    state_sq.push(1.0);
    for k in 1..=blocks {
        let s = state_sq[k - 1];
        let (relu_sq, positive) = if k == 1 { (1.0, 0.5) } else { relu_stream(s - 1.0) };
        positive_fraction.push(positive);
        state_sq.push(s + 2.0 * alpha_sq * relu_sq);
    }
    let mut grad_sq = vec![1.0; blocks + 1];
    for k in (1..=blocks).rev() {
        grad_sq[k - 1] = grad_sq[k] * (1.0 + 2.0 * alpha_sq * positive_fraction[k - 1]);
    }
    ResidualInitProfile { state_sq, grad_sq }
}

/// (E[φ(h)²], P(h > 0)) for h = φ(g) + ε, g ~ N(0, 2), ε ~ N(0, v) independent (S₀ = E[φ(g)²] = 1).
///
/// Half of the units have φ(g) = 0 and contribute E[φ(ε)²]/2 = v/4 and P(ε > 0)/2 = 1/4. The
/// other half are the orthant moments of (g, g + ε), correlation ρ = √(2/(2+v)):
/// E[Y²·1{X>0, Y>0}] = σ_Y²·(1/4 + asin ρ/(2π) + ρ√(1−ρ²)/(2π)) and
/// P(g > 0, g + ε > 0) = 1/4 + asin ρ/(2π), with asin ρ = atan √(2/v).
fn relu_stream(v: f64) -> (f64, f64) {
    let rho = (2.0 / (2.0 + v)).sqrt();
    let angle = rho.asin();
    let relu_sq = v / 4.0 + (2.0 + v) * (0.25 + angle / (2.0 * PI) + rho * (1.0 - rho * rho).sqrt() / (2.0 * PI));
    let positive = 0.5 + angle / (2.0 * PI);
    (relu_sq, positive)
}

/// Growth of ‖∂L/∂h‖² per layer towards the input in a plain ReLU net with batch normalisation
/// at initialisation, in the limits of large width and batch (Yang et al., 2019). Why: with
/// He-scaled W the backward Wᵀ doubles ‖δ‖² and the ReLU mask halves it, while batch
/// normalisation divides by the batch variance of its input z = W h, E[z²] = 2·Var_batch(h)
/// per unit. h = φ(ẑ) with ẑ standardised has Var(φ(ẑ)) = 1/2 − 1/(2π) = (π − 1)/(2π), so the
/// layer multiplies ‖∂L/∂h‖² by 1/(2·(π−1)/(2π)) = π/(π − 1) ≈ 1.467 whatever the weight scale.
pub const BATCHNORM_RELU_GRADIENT_GROWTH: f64 = PI / (PI - 1.0);

/// Mean and variance of a random quantity (here a natural logarithm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub mean: f64,
    pub variance: f64,
}

/// ln(‖h_l‖²/‖h_{l−1}‖²) for one input through one He ReLU layer of width `width`: exact moments.
///
/// Given h_{l−1}, W h_{l−1} ~ N(0, (2/n)‖h_{l−1}‖²·I) (rotation invariance), so the ratio is
/// (2/n)·χ²_M with M ~ Binomial(n, 1/2) active units, independently of h_{l−1} and of the
/// other layers: over D layers ln‖h_D‖² − ln‖h₀‖² is a sum of D independent copies. With
/// E ln χ²_m = ψ(m/2) + ln 2 and Var ln χ²_m = ψ'(m/2), the mean is ≈ −5/(2n) and the variance
/// ≈ 5/n (to first order in 1/n): the log-norm drifts down and spreads like depth ÷ width
/// although E‖h_D‖² is flat (Hanin, 2018; Hanin & Nica, 2019, where the Jacobian's log-norm
/// and hence ln‖∂L/∂h‖ follow the same law). M = 0 (probability 2⁻ⁿ, a dead layer) is left out.
pub fn relu_layer_log_gain(width: usize) -> Moments {
    let n = width as f64;
    // Binomial(n, 1/2) weights, built by the recurrence C(n, m) / C(n, m − 1) = (n − m + 1) / m
    // in log space so large widths do not overflow.
    let mut log_weight = -n * std::f64::consts::LN_2;
    let mut terms = Vec::with_capacity(width);
    for m in 1..=width {
        log_weight += ((n - m as f64 + 1.0) / m as f64).ln();
        let half = m as f64 / 2.0;
        terms.push((log_weight.exp(), (4.0 / n).ln() + digamma(half), trigamma(half)));
    }
    let mean: f64 = terms.iter().map(|&(p, log_mean, _)| p * log_mean).sum();
    let variance = terms.iter().map(|&(p, log_mean, log_var)| p * (log_var + (log_mean - mean).powi(2))).sum();
    Moments { mean, variance }
}

/// ψ(x), x > 0: recurrence up to x ≥ 10, then the asymptotic series (error < 1e-12 there).
fn digamma(mut x: f64) -> f64 {
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    shift + x.ln() - 0.5 / x - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// ψ'(x), x > 0: recurrence up to x ≥ 10, then the asymptotic series (error < 1e-12 there).
fn trigamma(mut x: f64) -> f64 {
    let mut shift = 0.0;
    while x < 10.0 {
        shift += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    shift + 1.0 / x + f / 2.0 + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f / 30.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_rand::rand::{Rng, SeedableRng};
    use ndarray_rand::rand_distr::StandardNormal;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn polygamma_at_known_points() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-12);
        assert!((digamma(0.5) + euler + 2.0 * std::f64::consts::LN_2).abs() < 1e-12);
        assert!((trigamma(1.0) - PI * PI / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - PI * PI / 2.0).abs() < 1e-12);
    }

    #[test]
    fn relu_stream_closed_forms_match_sampling() {
        // 10⁶ samples: the standard errors of E[φ(h)²] and P(h > 0) are below 0.004 and 0.0005.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for v in [0.1f64, 1.0, 5.0] {
            let (samples, mut relu_sq, mut positive) = (1_000_000, 0.0, 0.0);
            for _ in 0..samples {
                let g: f64 = rng.sample::<f64, _>(StandardNormal) * 2f64.sqrt();
                let h = g.max(0.0) + rng.sample::<f64, _>(StandardNormal) * v.sqrt();
                relu_sq += h.max(0.0).powi(2) / samples as f64;
                positive += f64::from(h > 0.0) / samples as f64;
            }
            let (r, p) = relu_stream(v);
            assert!((r - relu_sq).abs() < 0.02 * r, "v = {v}: R = {r}, sampled {relu_sq}");
            assert!((p - positive).abs() < 0.003, "v = {v}: P = {p}, sampled {positive}");
        }
        // Limits: v → 0 gives back h₀ (R = S₀ = 1, and P = 3/4 once any noise unmasks the zeros).
        let (r, p) = relu_stream(1e-12);
        assert!((r - 1.0).abs() < 1e-5 && (p - 0.75).abs() < 1e-5);
    }

    #[test]
    fn residual_profile_limits() {
        // α = 1: the stem's block triples S, later blocks tend to doubling, forward and backward.
        let one = residual_relu_profile(12, 1.0);
        assert!((one.state_sq[1] - 3.0).abs() < 1e-12);
        let last = one.state_sq[12] / one.state_sq[11];
        assert!((last - 2.0).abs() < 0.03, "{last}");
        assert!((one.grad_sq[0] / one.grad_sq[1] - 2.0).abs() < 1e-12);
        // α = 1/√K: bounded by (1 + 2/K)^K < e² and above the symmetric-stream (1 + 1/K)^K.
        for blocks in [4, 32, 256] {
            let k = blocks as f64;
            let profile = residual_relu_profile(blocks, 1.0 / k.sqrt());
            let growth = profile.state_sq[blocks];
            assert!((1.0 + 1.0 / k).powf(k) < growth && growth < (1.0 + 2.0 / k).powf(k), "K = {blocks}: {growth}");
        }
    }

    #[test]
    fn layer_log_gain_tends_to_first_order() {
        for width in [64, 256, 1024] {
            let n = width as f64;
            let m = relu_layer_log_gain(width);
            // Next order is O(1/n²): the coefficients approach −5/2 and 5 like 1/n.
            assert!((m.mean * n + 2.5).abs() < 10.0 / n, "width {width}: {}", m.mean * n);
            assert!((m.variance * n - 5.0).abs() < 25.0 / n, "width {width}: {}", m.variance * n);
        }
    }
}
