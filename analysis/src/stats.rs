//! Statistics that know no topic: quantiles, least-squares slopes, intervals for a sample's
//! mean and variance, and what initialisation theory predicts for the probes.
//!
//!
//! Theory at initialisation (infinite width, ReLU, no normalisation; the network definitions
//! of docs/method.md): a w×w layer with weight variance σ² maps the second moment of a symmetric
//! pre-activation through ReLU by g = w·σ²/2, so g = 1 for He (σ² = 2/w) and g = ½ for Xavier
//! (σ² = 1/w): a plain net multiplies RMS² by g per layer, and ‖∂L/∂h_k‖² shrinks by the same
//! factor per step towards the output. Residual nets take the core's profile
//! (`degradation_bench::theory::residual_relu_profile`), which the core's tests check against
//! the model: the stem's output is non-negative, so the stream is not symmetric at first.

use crate::variant::Variant;
use degradation_bench::config::{Activation, Arch, Init, Norm};
use degradation_bench::theory::{residual_relu_profile, ResidualInitProfile};

/// The confidence level of every interval the analysis computes (criterion's default as well).
pub const CONFIDENCE_LEVEL: f64 = 0.95;

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
/// profile (ReLU, no normalisation; the module docs and the core's `tests/theory*.rs`):
/// - plain He: flat; plain Xavier: −1 per layer;
/// - residual He (α = 1, α = 1/√K, ReZero's α = 0; branches of one or two layers): the core's
///   mean-field profile [`residual_relu_profile`], which follows the stem's non-negative output
///   (the first block triples RMS² at α = 1, later ones tend to doubling; α = 1/√K grows the
///   stream about 5.2-fold in total, not e-fold). Residual Xavier: none.
pub fn theory_log2_rms2_profile(variant: &Variant, depth: usize) -> Option<Vec<f64>> {
    if variant.activation != Activation::Relu || variant.norm != Norm::None {
        return None;
    }
    let k_max = variant.blocks(depth);
    match (variant.arch, variant.init) {
        (Arch::Plain, Init::He) => Some(vec![0.0; k_max + 1]),
        (Arch::Plain, Init::Xavier) => Some((0..=k_max).map(|k| -(k as f64)).collect()),
        (Arch::Residual, Init::He) => Some(log2_all(&residual_profile(variant, depth)?.state_sq)),
        _ => None,
    }
}

/// The core's residual profile for this net, where its derivation holds (one- or two-layer He
/// branches of a fixed α at initialisation).
fn residual_profile(variant: &Variant, depth: usize) -> Option<ResidualInitProfile> {
    if !matches!(variant.block_layers, 1 | 2) || variant.is_conv() {
        return None;
    }
    Some(residual_relu_profile(variant.blocks(depth), variant.alpha(depth)?))
}

/// The least-squares slope per k of [`theory_log2_rms2_profile`] (the table's theory column),
/// fitted over every k as the measured slope is: plain He 0, plain Xavier −1, ReZero 0, α = 1
/// a little above 1 (the tripling first block); `None` where theory gives no profile.
pub fn theory_rms2_slope(variant: &Variant, depth: usize) -> Option<f64> {
    fit_slope(&theory_log2_rms2_profile(variant, depth)?)
}

/// Predicted log₂(‖∂L/∂h_k‖ ÷ ‖∂L/∂h_K‖) for k = 0..=K: plain nets take the forward factor per
/// layer, from the output towards the input (flat under He, ‖∂L/∂h‖² halving per layer towards
/// the input under Xavier); residual He nets the core's backward profile (the "+1" and the
/// branch, G_{k−1} = G_k·(1 + 2α²·P(h_{k−1} > 0))).
pub fn theory_log2_grad_profile(variant: &Variant, depth: usize) -> Option<Vec<f64>> {
    if variant.arch == Arch::Residual {
        let rms2 = theory_log2_rms2_profile(variant, depth)?;
        let grad_sq = residual_profile(variant, depth)?.grad_sq;
        debug_assert_eq!(grad_sq.len(), rms2.len());
        return Some(grad_sq.iter().map(|g| 0.5 * g.log2()).collect());
    }
    let rms2 = theory_log2_rms2_profile(variant, depth)?;
    let last = *rms2.last()?;
    // ‖∂L/∂h_k‖² shrinks towards the input by the factor the forward pass grows by.
    Some(rms2.iter().map(|&s| 0.5 * (last - s)).collect())
}

/// How two samples' ranges lie: `Greater` when every value of `a` is above every value of `b`,
/// `Less` when every one is below, `None` when the ranges overlap or a sample is empty. How a
/// report orders a few seeds that no rank test can separate.
pub fn range_order(a: &[f64], b: &[f64]) -> Option<std::cmp::Ordering> {
    let lowest = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if a.is_empty() || b.is_empty() {
        None
    } else if lowest(a) > highest(b) {
        Some(std::cmp::Ordering::Greater)
    } else if highest(a) < lowest(b) {
        Some(std::cmp::Ordering::Less)
    } else {
        None
    }
}

/// Median of the finite values by the linear rule of [`quantile`]; `None` if there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    quantile(values, 0.5)
}

/// The `q` quantile (0 ≤ q ≤ 1) of the finite values, linear between order statistics; `None`
/// if there are none. See [`sorted_quantile`] for the rule.
pub fn quantile(values: impl IntoIterator<Item = f64>, q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    sorted_quantile(&v, q)
}

/// The `q` quantile of values sorted ascending, all of them taken: at position p = q·(n − 1),
/// `lower + (upper − lower)·(p − ⌊p⌋)`. This is polars' `QuantileMethod::Linear` (and its
/// `median`) to the bit, operation for operation, so a table aggregated in polars and a number
/// computed here agree exactly. `None` for no values.
pub fn sorted_quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let position = q * sorted.len().checked_sub(1)? as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    Some(sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64))
}

/// Median in which infinities are values like any other (a run that never reached a threshold
/// enters as +∞, so when most runs never did, the median is +∞); `None` if there are no values
/// or one is NaN. An even count averages the middle two as (a + b) ÷ 2, the midpoint rule: it
/// keeps two infinite middle values infinite (the linear rule's ∞ − ∞ would be NaN), and it is
/// the rule of the bootstrap medians, the Hodges–Lehmann shift and the median ratios the
/// reports print, whose last bits can differ from the linear rule's.
pub fn median_with_infinities(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let middle = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[middle] } else { (v[middle - 1] + v[middle]) / 2.0 })
}

/// The median of `a` over the median of `b`, infinities (diverged runs) counted as values; NaN
/// where either is empty.
pub fn median_ratio(a: &[f64], b: &[f64]) -> f64 {
    let median = |v: &[f64]| median_with_infinities(v.iter().copied()).unwrap_or(f64::NAN);
    median(a) / median(b)
}

/// A point estimate of either sign with its confidence interval (`lower ≤ point ≤ upper`) at
/// [`CONFIDENCE_LEVEL`]; [`crate::interval::Interval`] is the positive-only counterpart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Estimate {
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    /// `self ÷ k` for an exact, non-zero `k` (a prediction): the bounds swap when k < 0.
    pub fn divided_by(self, k: f64) -> Estimate {
        let (a, b) = (self.lower / k, self.upper / k);
        Estimate { point: self.point / k, lower: a.min(b), upper: a.max(b) }
    }
}

/// The mean of n values with its Student-t interval, from the sample mean and the sample
/// variance (n − 1 in the denominator). `None` below two values or for a non-finite input.
pub fn mean_t_interval(mean: f64, variance: f64, n: usize) -> Option<Estimate> {
    if n < 2 || !mean.is_finite() || !(variance.is_finite() && variance >= 0.0) {
        return None;
    }
    let half = student_t_quantile(0.5 + CONFIDENCE_LEVEL / 2.0, (n - 1) as f64) * (variance / n as f64).sqrt();
    Some(Estimate { point: mean, lower: mean - half, upper: mean + half })
}

/// The variance of n values with its chi-square interval, (n − 1)s² ÷ χ²_{n−1} at the two
/// tail quantiles. Exact for normal values; heavier tails than normal make it too narrow.
pub fn variance_chi_square_interval(variance: f64, n: usize) -> Option<Estimate> {
    if n < 2 || !(variance.is_finite() && variance >= 0.0) {
        return None;
    }
    let (dof, tail) = ((n - 1) as f64, (1.0 - CONFIDENCE_LEVEL) / 2.0);
    let scaled = dof * variance;
    Some(Estimate {
        point: variance,
        lower: scaled / chi_square_quantile(1.0 - tail, dof),
        upper: scaled / chi_square_quantile(tail, dof),
    })
}

/// The `p` quantile (0.5 < p < 1) of Student's t with `dof` degrees of freedom: bisection on
/// P(|T| > t) = I_{ν/(ν+t²)}(ν/2, ½) = 2(1 − p).
fn student_t_quantile(p: f64, dof: f64) -> f64 {
    let two_sided = 2.0 * (1.0 - p);
    let beyond = |t: f64| regularized_beta(dof / (dof + t * t), dof / 2.0, 0.5);
    bisect(|t| beyond(t) - two_sided, 0.0, 1e4)
}

/// The `p` quantile of the chi-square distribution with `dof` degrees of freedom: bisection on
/// its CDF, P(dof/2, x/2).
fn chi_square_quantile(p: f64, dof: f64) -> f64 {
    bisect(|x| p - regularized_gamma(dof / 2.0, x / 2.0), 0.0, dof + 100.0 * dof.sqrt() + 100.0)
}

/// The root of a function that is positive at `lo` and negative at `hi` (to f64 precision).
fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Below this a continued fraction's denominator is moved off zero (modified Lentz).
const TINY: f64 = 1e-300;

/// The regularised lower incomplete gamma function P(a, x): its power series below x = a + 1,
/// one minus the continued fraction of Q(a, x) above, where each converges fast.
fn regularized_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let prefactor = (a * x.ln() - x - libm::lgamma(a)).exp();
    if x < a + 1.0 {
        // P = e^{−x} x^a / Γ(a) · Σ_k x^k / (a (a + 1) … (a + k))
        let (mut term, mut sum, mut denominator) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        return (prefactor * sum).min(1.0);
    }
    // Q = e^{−x} x^a / Γ(a) · 1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − 2·(2 − a)/(x + 5 − a − …)))
    let mut b = x + 1.0 - a;
    let (mut c, mut d) = (1.0 / TINY, 1.0 / b);
    let mut fraction = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        d = if d.abs() < TINY { TINY } else { d };
        c = b + an / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (1.0 - prefactor * fraction).max(0.0)
}

/// The regularised incomplete beta function I_x(a, b), by its continued fraction on the side
/// of x where that converges (x < (a + 1)/(a + b + 2)), through I_x(a, b) = 1 − I_{1−x}(b, a).
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let log_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        log_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - log_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of I_x(a, b) (modified Lentz): coefficients d_{2m} = m(b − m)x ÷
/// ((a + 2m − 1)(a + 2m)) and d_{2m+1} = −(a + m)(a + b + m)x ÷ ((a + 2m)(a + 2m + 1)).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut fraction = d;
    for m in 1..10_000 {
        let m = m as f64;
        for coefficient in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 / guard(1.0 + coefficient * d);
            c = guard(1.0 + coefficient / c);
            fraction *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    fraction
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
        let stats = flow_stats(&run.result.state_grad_norms_init, &run.result.state_rms_init);
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
        let xavier = variant("plain", &|r| r.setup.init = degradation_bench::config::Init::Xavier);
        assert_eq!(theory_rms2_slope(&xavier, 16), Some(-1.0));
        // Xavier: ‖∂L/∂h_k‖ halves per layer in ², so log₂‖∂L/∂h_0‖ − log₂‖∂L/∂h_K‖ = −K/2.
        assert_eq!(theory_log2_grad_profile(&xavier, 16).unwrap()[0], -8.0);
        assert_eq!(
            theory_rms2_slope(&variant("plain", &|r| r.setup.norm = degradation_bench::config::Norm::Layer), 16),
            None
        );

        // Residual nets draw the core's profile: α = 1, 16 layers in 2-layer blocks, K = 8. The
        // stem's non-negative output makes the first block triple RMS² exactly (R₀ = S₀); later
        // blocks multiply it by 1 + 2R/S, which falls towards 2 as the stream forgets h₀'s mean.
        let one =
            variant("residual", &|r| r.setup.residual_scale = Some(degradation_bench::config::ResidualScale::One));
        let profile = theory_log2_rms2_profile(&one, 16).unwrap();
        assert_eq!(profile.len(), 9);
        assert_eq!(profile[0], 0.0);
        assert!((profile[1] - 3f64.log2()).abs() < 1e-12);
        let steps: Vec<f64> = profile.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps[1..].iter().all(|&d| d > 1.0 && d < 3f64.log2()), "{steps:?}");
        assert!(steps.windows(2).all(|w| w[1] < w[0]), "per-block growth falls towards doubling: {steps:?}");
        let slope = theory_rms2_slope(&one, 16).unwrap();
        assert!(slope > 1.0 && slope < 3f64.log2(), "{slope}");
        // Backward: ‖∂L/∂h‖² grows towards the input by 1 + 2α²P per block, P ∈ [½, 1): the first
        // block (P₀ = ½) exactly doubles it.
        let grad = theory_log2_grad_profile(&one, 16).unwrap();
        assert_eq!((grad.len(), grad[8]), (9, 0.0));
        assert!((grad[0] - grad[1] - 0.5).abs() < 1e-12, "{grad:?}");
        // α = 1/√K (the synthetic run's scale): the stream grows by a bounded factor in total.
        let inv_sqrt = theory_log2_rms2_profile(&variant("residual", &|_| {}), 16).unwrap();
        assert!(inv_sqrt[8] > 1.0 && inv_sqrt[8] < 5.2f64.log2(), "{inv_sqrt:?}");
        let rezero =
            variant("residual", &|r| r.setup.residual_scale = Some(degradation_bench::config::ResidualScale::Rezero));
        assert_eq!(theory_log2_rms2_profile(&rezero, 16), Some(vec![0.0; 9]));
        assert_eq!(theory_log2_grad_profile(&rezero, 16), Some(vec![0.0; 9]));
        let xavier_residual = variant("residual", &|r| r.setup.init = degradation_bench::config::Init::Xavier);
        assert_eq!(theory_log2_rms2_profile(&xavier_residual, 16), None);
        assert_eq!(
            theory_rms2_slope(
                &variant("residual", &|r| r.setup.activation = degradation_bench::config::Activation::Tanh),
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
        assert_eq!(sorted_quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), Some(2.0));
        assert_eq!(sorted_quantile(&[1.0, 2.0], 0.5), Some(1.5));
        assert_eq!(sorted_quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(sorted_quantile(&[], 0.5), None);
    }

    #[test]
    fn the_midpoint_rule_keeps_its_own_last_bits() {
        // (a + b) ÷ 2 and a + (b − a)·½ round differently here: both rules stay, each where it
        // was used, so no report changes by a bit.
        let (a, b) = (0.1, 0.7);
        assert_ne!((a + b) / 2.0, a + (b - a) * 0.5);
        assert_eq!(median_with_infinities([b, a]), Some((a + b) / 2.0));
        assert_eq!(median([b, a]), Some(a + (b - a) * 0.5));
    }
    #[test]
    fn t_and_chi_square_quantiles_match_tables() {
        // Closed forms at 1 and 2 degrees of freedom, printed tables elsewhere.
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs();
        assert!(close(student_t_quantile(0.975, 1.0), (0.475 * std::f64::consts::PI).tan(), 1e-9));
        assert!(close(student_t_quantile(0.975, 2.0), 0.95 / (2.0f64 * 0.975 * 0.025).sqrt(), 1e-9));
        assert!(close(student_t_quantile(0.975, 5.0), 2.570_582, 1e-6));
        assert!(close(student_t_quantile(0.975, 29.0), 2.045_230, 1e-6));
        assert!(close(chi_square_quantile(0.025, 2.0), -2.0 * 0.975f64.ln(), 1e-9));
        assert!(close(chi_square_quantile(0.975, 2.0), -2.0 * 0.025f64.ln(), 1e-9));
        assert!(close(chi_square_quantile(0.025, 29.0), 16.047_07, 1e-6));
        assert!(close(chi_square_quantile(0.975, 29.0), 45.722_29, 1e-6));
        assert!(close(chi_square_quantile(0.975, 1.0), 5.023_886, 1e-6));
    }

    #[test]
    fn mean_and_variance_intervals() {
        // 30 values, mean −2, variance 4: t half-width 2.045·2/√30; χ² bounds 29·4/45.72, 29·4/16.05.
        let mean = mean_t_interval(-2.0, 4.0, 30).unwrap();
        let half = 2.045_230 * 2.0 / 30f64.sqrt();
        assert!((mean.lower - (-2.0 - half)).abs() < 1e-5 && (mean.upper - (-2.0 + half)).abs() < 1e-5, "{mean:?}");
        let variance = variance_chi_square_interval(4.0, 30).unwrap();
        assert!((variance.lower - 116.0 / 45.722_29).abs() < 1e-5, "{variance:?}");
        assert!((variance.upper - 116.0 / 16.047_07).abs() < 1e-5, "{variance:?}");
        assert_eq!(mean_t_interval(1.0, 1.0, 1), None);
        assert_eq!(variance_chi_square_interval(f64::NAN, 10), None);
        // Dividing by a negative prediction swaps the bounds.
        let ratio = mean.divided_by(-4.0);
        assert!(ratio.lower < ratio.point && ratio.point < ratio.upper && (ratio.point - 0.5).abs() < 1e-12);
        assert!(ratio.contains(0.5) && !ratio.contains(2.0));
    }
}
