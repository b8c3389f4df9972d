//! Statistics that know no topic: quantiles, least-squares slopes, and what initialisation
//! theory predicts for the probes.
//!
//!
//! Theory at initialisation (infinite width, ReLU, no normalisation; the network definitions
//! of docs/method.md): a w×w layer with weight variance σ² maps the second moment of a symmetric
//! pre-activation through ReLU by g = w·σ²/2, so g = 1 for He (σ² = 2/w) and g = ½ for Xavier
//! (σ² = 1/w). A plain net multiplies RMS² by g per layer; a residual block of L layers adds a
//! branch with second moment α²·g^L·RMS², so RMS² grows by (1 + α²g^L) per block (α = 1 with He
//! doubles it; α = 1/√K keeps the total bounded by e). The backward pass mirrors this: ‖∂L/∂h_k‖²
//! shrinks by the same factor per step towards the output, so the log₂‖∂L/∂h_k‖ slope is −½ of
//! the log₂RMS² slope.

use crate::variant::Variant;
use degradation_bench::config::{Activation, Arch, Init, Norm, ResidualScale};

/// Least-squares slope of `values[k]` against k = 0, 1, …, skipping non-finite values.
/// `None` with fewer than two usable points.
pub fn fit_slope(values: &[f64]) -> Option<f64> {
    let points: Vec<(f64, f64)> =
        values.iter().enumerate().filter(|(_, y)| y.is_finite()).map(|(k, &y)| (k as f64, y)).collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(sxy / sxx)
}

/// log₂ of each value; non-positive values (a dead gradient) become NaN and drop out of fits.
pub fn log2_all(values: &[f64]) -> Vec<f64> {
    values.iter().map(|&v| if v > 0.0 { v.log2() } else { f64::NAN }).collect()
}

/// Gradient-flow summary of one probe (at init or at the end of training).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowStats {
    /// log₂(‖∂L/∂h₀‖ ÷ ‖∂L/∂h_K‖): how much larger the input-side gradient is.
    pub grad_ratio_log2: Option<f64>,
    /// Fitted slope of log₂‖∂L/∂h_k‖ per k.
    pub grad_slope: Option<f64>,
    /// Fitted slope of log₂ RMS(h_k) per k.
    pub rms_slope: Option<f64>,
}

pub fn flow_stats(state_grad_norms: &[f64], state_rms: &[f64]) -> FlowStats {
    let grad_ratio_log2 = match (state_grad_norms.first(), state_grad_norms.last()) {
        (Some(&first), Some(&last)) if state_grad_norms.len() >= 2 && first > 0.0 && last > 0.0 => {
            let ratio = (first / last).log2();
            ratio.is_finite().then_some(ratio)
        }
        _ => None,
    };
    FlowStats {
        grad_ratio_log2,
        grad_slope: fit_slope(&log2_all(state_grad_norms)),
        rms_slope: fit_slope(&log2_all(state_rms)),
    }
}

/// Predicted log₂(RMS²(h_k) ÷ RMS²(h_0)) for k = 0..=K at initialisation, where theory gives a
/// profile (ReLU, no normalisation; see the module docs and `tests/theory.rs`):
/// - plain He: flat; plain Xavier: −1 per layer;
/// - residual ReZero: flat (α = 0 at init, exactly);
/// - residual α = 1, He: S_k = S_{k−1} + 2α²R_{k−1} with R = E[φ(h)²]. The stem's output is
///   non-negative (R₀ = S₀), so the first block triples S; later blocks add a symmetric
///   branch and the factor tends to 2 (R → S/2): log₂ 3, then +1 per block (asymptotic).
///
/// α = 1/√K has no profile: with the ReLU stem the stream keeps h₀'s positive mean, R/S stays
/// between ½ and 1, and theory bounds only the total growth, (1 + 1/K)^K ≤ S_K/S₀ < (1 + 2/K)^K
/// (a symmetric-stream line log₂(1 + 1/K) per block would not hold). Residual Xavier: none.
pub fn theory_log2_rms2_profile(variant: &Variant, depth: usize) -> Option<Vec<f64>> {
    if variant.activation != Activation::Relu || variant.norm != Norm::None {
        return None;
    }
    let k_max = variant.blocks(depth);
    match (variant.arch, variant.residual_scale, variant.init) {
        (Arch::Plain, _, Init::He) => Some(vec![0.0; k_max + 1]),
        (Arch::Plain, _, Init::Xavier) => Some((0..=k_max).map(|k| -(k as f64)).collect()),
        (Arch::Residual, Some(ResidualScale::Rezero), _) => Some(vec![0.0; k_max + 1]),
        (Arch::Residual, Some(ResidualScale::One), Init::He) => {
            Some((0..=k_max).map(|k| if k == 0 { 0.0 } else { 3f64.log2() + (k - 1) as f64 }).collect())
        }
        _ => None,
    }
}

/// The per-k slope of [`theory_log2_rms2_profile`] away from the first block (the table's
/// theory column): plain He 0, plain Xavier −1, ReZero 0, α = 1 +1; `None` elsewhere.
pub fn theory_rms2_slope(variant: &Variant, depth: usize) -> Option<f64> {
    let profile = theory_log2_rms2_profile(variant, depth)?;
    match profile.len() {
        0 | 1 => None,
        2 => Some(profile[1] - profile[0]),
        n => Some(profile[n - 1] - profile[n - 2]),
    }
}

/// Predicted log₂(‖∂L/∂h_k‖ ÷ ‖∂L/∂h_K‖) for k = 0..=K, where the backward theory is tested:
/// plain nets (the same factor per layer as the forward pass, from the output towards the
/// input: flat under He, halving ‖∂L/∂h‖² per layer towards the input under Xavier) and
/// ReZero (flat). Residual α = 1 has no tested backward profile here.
pub fn theory_log2_grad_profile(variant: &Variant, depth: usize) -> Option<Vec<f64>> {
    let forward_only = variant.arch == Arch::Residual && variant.residual_scale != Some(ResidualScale::Rezero);
    if forward_only {
        return None;
    }
    let rms2 = theory_log2_rms2_profile(variant, depth)?;
    let last = *rms2.last()?;
    // ‖∂L/∂h_k‖² shrinks towards the input by the factor the forward pass grows by.
    Some(rms2.iter().map(|&s| 0.5 * (last - s)).collect())
}

/// Median of the finite values; `None` if there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    quantile(values, 0.5)
}

/// Median in which infinities are values like any other (a run that never reached a threshold
/// enters as +∞, so when most runs never did, the median is +∞); `None` if there are no values
/// or one is NaN. An even count averages the middle two.
pub fn median_with_infinities(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let middle = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[middle] } else { (v[middle - 1] + v[middle]) / 2.0 })
}

/// Linear-interpolation quantile (the same rule as polars' `QuantileMethod::Linear`).
pub fn quantile(values: impl IntoIterator<Item = f64>, q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let position = q * (v.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    Some(v[low] + (v[high] - v[low]) * (position - low as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::{synthetic_run, typed};

    #[test]
    fn median_with_infinities_counts_them() {
        let inf = f64::INFINITY;
        // Three finite values and two +∞: the median is the third value, not the finite median.
        assert_eq!(median_with_infinities([600.0, 50.0, inf, 300.0, inf]), Some(600.0));
        assert_eq!(median([600.0, 50.0, inf, 300.0, inf]), Some(300.0));
        assert_eq!(median_with_infinities([50.0, inf, inf]), Some(inf));
        assert_eq!(median_with_infinities([100.0, 200.0, inf, 50.0]), Some(150.0));
        assert_eq!(median_with_infinities([1.0, f64::NAN]), None);
        assert_eq!(median_with_infinities([]), None);
    }

    #[test]
    fn slope_of_exact_lines() {
        let line: Vec<f64> = (0..10).map(|k| 1.5 - 0.75 * k as f64).collect();
        assert!((fit_slope(&line).unwrap() + 0.75).abs() < 1e-12);
        assert_eq!(fit_slope(&[1.0]), None);
        // Non-finite points drop out without bending the fit.
        let with_gap = [0.0, 2.0, f64::NAN, 6.0, f64::NEG_INFINITY, 10.0];
        assert!((fit_slope(&with_gap).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn flow_stats_of_geometric_profiles() {
        let run = synthetic_run("plain", 8, 0, Some(0.1));
        let stats = flow_stats(&run.state_grad_norms_init, &run.state_rms_init);
        assert!((stats.grad_slope.unwrap() + 0.25).abs() < 1e-12);
        assert!((stats.rms_slope.unwrap() - 0.5).abs() < 1e-12);
        // h_0 to h_8: 2^0 / 2^-2 → log₂ ratio 2.
        assert!((stats.grad_ratio_log2.unwrap() - 2.0).abs() < 1e-12);
        let dead = flow_stats(&[0.0, 1.0], &[1.0]);
        assert_eq!(dead.grad_ratio_log2, None);
        assert_eq!(dead.rms_slope, None);
    }

    #[test]
    fn theory_matches_the_textbook_cases() {
        let variant = |arch: &str, f: &dyn Fn(&mut degradation_bench::record::RunRecord)| {
            let mut run = synthetic_run(arch, 16, 0, Some(0.1));
            f(&mut run);
            typed(run).variant
        };
        let he = variant("plain", &|_| {});
        assert_eq!(theory_rms2_slope(&he, 16), Some(0.0));
        let xavier = variant("plain", &|r| r.init = degradation_bench::config::Init::Xavier);
        assert_eq!(theory_rms2_slope(&xavier, 16), Some(-1.0));
        // Xavier: ‖∂L/∂h_k‖ halves per layer in ², so log₂‖∂L/∂h_0‖ − log₂‖∂L/∂h_K‖ = −K/2.
        assert_eq!(theory_log2_grad_profile(&xavier, 16).unwrap()[0], -8.0);
        assert_eq!(
            theory_rms2_slope(&variant("plain", &|r| r.norm = degradation_bench::config::Norm::Layer), 16),
            None
        );

        // α = 1, 16 layers in 2-layer blocks: K = 8; the stem's non-negative output makes the
        // first block triple RMS², later ones double it.
        let one = variant("residual", &|r| r.residual_scale = Some(degradation_bench::config::ResidualScale::One));
        let profile = theory_log2_rms2_profile(&one, 16).unwrap();
        assert_eq!(profile.len(), 9);
        assert_eq!(profile[0], 0.0);
        assert!((profile[1] - 3f64.log2()).abs() < 1e-12);
        assert!((profile[8] - (3f64.log2() + 7.0)).abs() < 1e-12);
        assert_eq!(theory_rms2_slope(&one, 16), Some(1.0));
        assert_eq!(theory_log2_grad_profile(&one, 16), None, "no tested backward theory for α = 1");
        // α = 1/√K: theory bounds the total growth only; no line.
        assert_eq!(theory_log2_rms2_profile(&variant("residual", &|_| {}), 16), None);
        let rezero =
            variant("residual", &|r| r.residual_scale = Some(degradation_bench::config::ResidualScale::Rezero));
        assert_eq!(theory_log2_grad_profile(&rezero, 16), Some(vec![0.0; 9]));
        assert_eq!(
            theory_rms2_slope(
                &variant("residual", &|r| r.activation = degradation_bench::config::Activation::Tanh),
                16
            ),
            None
        );
    }

    #[test]
    fn quantiles_interpolate_linearly() {
        let v = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert_eq!(median(v), Some(2.5));
        assert_eq!(quantile(v, 0.25), Some(1.75));
        assert_eq!(quantile(v, 0.75), Some(3.25));
        assert_eq!(median([f64::NAN]), None);
    }
}
