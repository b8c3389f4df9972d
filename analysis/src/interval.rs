//! Point estimates with confidence intervals, and the interval arithmetic the timing questions
//! need: ratios of two independent estimates, the median of paired ratios (bootstrap), and a
//! geometric mean over many ratios (bootstrap). Knows no topic.
//!
//! Resampling uses a fixed-seed generator, so a report regenerated from the same inputs is the
//! same to the byte.

/// Resamples per bootstrap interval: the 2.5 % and 97.5 % quantiles of 10 000 resamples move
/// by well under a tenth of the interval's width between seeds.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// The confidence level of the intervals computed here (criterion's default as well).
pub const CONFIDENCE_LEVEL: f64 = 0.95;

/// A positive quantity with a confidence interval (`lower ≤ point ≤ upper`) at `level`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
    /// Confidence level of `[lower, upper]`, e.g. 0.95.
    pub level: f64,
}

impl Interval {
    /// An interval from its parts, or the reason it is not one (for error messages).
    pub fn new(point: f64, lower: f64, upper: f64, level: f64) -> Result<Self, String> {
        if ![point, lower, upper].iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(format!("point {point}, bounds [{lower}, {upper}]: expected positive finite numbers"));
        }
        if !(lower <= point && point <= upper) {
            return Err(format!("point {point} lies outside its interval [{lower}, {upper}]"));
        }
        if !(level > 0.0 && level < 1.0) {
            return Err(format!("confidence level {level}: expected a number between 0 and 1"));
        }
        Ok(Interval { point, lower, upper, level })
    }

    /// `k · self` (k > 0), e.g. a time in ns as ms.
    pub fn scaled(self, k: f64) -> Self {
        Interval { point: self.point * k, lower: self.lower * k, upper: self.upper * k, level: self.level }
    }

    /// `k ÷ self` (k > 0): the bounds swap, e.g. FLOPs ÷ time as a rate.
    pub fn reciprocal_scaled(self, k: f64) -> Self {
        Interval { point: k / self.point, lower: k / self.upper, upper: k / self.lower, level: self.level }
    }

    /// Whether `value` lies inside the interval: for a ratio, `contains(1.0)` means the two
    /// sides are not distinguishable from each other at this level ("within noise").
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    /// `self ÷ other` for two independent estimates, combining their uncertainties in log
    /// space: each side's half-width of ln(bound) is treated as a normal quantile and the two
    /// add in quadrature (delta method), separately below and above the point, so asymmetric
    /// intervals stay asymmetric. Taking the extreme bounds instead (`lower ÷ upper`) would give
    /// an interval with far more than the stated coverage.
    pub fn ratio(self, other: Interval) -> Interval {
        let below = |x: &Interval| (x.point / x.lower).ln();
        let above = |x: &Interval| (x.upper / x.point).ln();
        let point = self.point / other.point;
        let down = below(&self).hypot(above(&other));
        let up = above(&self).hypot(below(&other));
        Interval { point, lower: point * (-down).exp(), upper: point * up.exp(), level: self.level.min(other.level) }
    }

    /// The interval as a percentage change from 1 (for a ratio): `(point − 1, lower − 1,
    /// upper − 1) × 100`.
    pub fn as_percent_change(&self) -> (f64, f64, f64) {
        ((self.point - 1.0) * 100.0, (self.lower - 1.0) * 100.0, (self.upper - 1.0) * 100.0)
    }
}

/// Median of a non-empty slice (the mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The `q` quantile (0 ≤ q ≤ 1) of sorted values, linear between order statistics.
fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (below, fraction) = (position.floor() as usize, position.fract());
    match sorted.get(below + 1) {
        Some(next) => sorted[below] + fraction * (next - sorted[below]),
        None => sorted[below],
    }
}

/// The percentile interval of `replicates` around `point`.
fn percentile_interval(point: f64, mut replicates: Vec<f64>) -> Interval {
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE_LEVEL) / 2.0;
    let lower = sorted_quantile(&replicates, tail).min(point);
    let upper = sorted_quantile(&replicates, 1.0 - tail).max(point);
    Interval { point, lower, upper, level: CONFIDENCE_LEVEL }
}

/// Median of the paired ratios `numerator[i] ÷ denominator[i]` with a percentile bootstrap
/// interval (pairs resampled with replacement). `None` without a usable pair.
pub fn median_paired_ratio(numerator: &[f64], denominator: &[f64]) -> Option<Interval> {
    let ratios: Vec<f64> =
        numerator.iter().zip(denominator).map(|(a, b)| a / b).filter(|r| r.is_finite() && *r > 0.0).collect();
    if ratios.is_empty() {
        return None;
    }
    let mut rng = SplitMix64::new(0x0bad_5eed ^ ratios.len() as u64);
    let mut resample = vec![0.0; ratios.len()];
    let replicates = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            for slot in resample.iter_mut() {
                *slot = ratios[rng.below(ratios.len())];
            }
            median(&resample)
        })
        .collect();
    Some(percentile_interval(median(&ratios), replicates))
}

/// Geometric mean of ratios that each carry an interval, with a bootstrap interval that holds
/// both sources of uncertainty: which benchmarks happen to be in the set (they are resampled
/// with replacement) and each one's own measurement noise (its log ratio is redrawn from a
/// normal distribution whose spread matches its interval). `None` for an empty set.
pub fn geometric_mean(ratios: &[Interval]) -> Option<Interval> {
    if ratios.is_empty() {
        return None;
    }
    // The standard normal quantile of the ratios' own level, to turn a half-width into σ.
    let z = normal_quantile(0.5 + ratios[0].level / 2.0);
    let logs: Vec<(f64, f64)> = ratios.iter().map(|r| (r.point.ln(), (r.upper / r.lower).ln() / 2.0 / z)).collect();
    let point = (logs.iter().map(|l| l.0).sum::<f64>() / logs.len() as f64).exp();
    let mut rng = SplitMix64::new(0x6e0_3ea7 ^ logs.len() as u64);
    let replicates = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let sum: f64 = (0..logs.len())
                .map(|_| {
                    let (log, sigma) = logs[rng.below(logs.len())];
                    log + sigma * rng.standard_normal()
                })
                .sum();
            (sum / logs.len() as f64).exp()
        })
        .collect();
    Some(percentile_interval(point, replicates))
}

/// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9), for
/// turning an interval's level into a number of standard deviations.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// A small deterministic generator for resampling (SplitMix64): reproducible reports need a
/// fixed stream, not statistical strength beyond what a bootstrap uses.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform index below `n` (the modulo bias is below 2⁻⁴⁰ for any n we use).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Box–Muller.
    fn standard_normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn median_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(sorted_quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), 2.0);
        assert_eq!(sorted_quantile(&[1.0, 2.0], 0.5), 1.5);
    }

    #[test]
    fn normal_quantile_matches_tables() {
        assert!(close(normal_quantile(0.975), 1.959_963_985, 1e-8));
        assert!(close(normal_quantile(0.5), 0.0, 1e-12));
        assert!(close(normal_quantile(0.005), -2.575_829_304, 1e-8));
    }

    #[test]
    fn interval_validation_and_arithmetic() {
        assert!(Interval::new(2.0, 1.0, 3.0, 0.95).is_ok());
        assert!(Interval::new(2.0, 2.5, 3.0, 0.95).unwrap_err().contains("outside"));
        assert!(Interval::new(2.0, 1.0, 3.0, 95.0).unwrap_err().contains("level"));
        assert!(Interval::new(-2.0, -3.0, 3.0, 0.95).is_err());
        let t = Interval::new(2.0, 1.0, 4.0, 0.95).unwrap();
        let rate = t.reciprocal_scaled(8.0);
        assert_eq!((rate.point, rate.lower, rate.upper), (4.0, 2.0, 8.0));
        assert!(t.contains(1.0) && !t.contains(4.5));
    }

    #[test]
    fn ratio_adds_log_half_widths_in_quadrature() {
        // a: 100 (−10 % / +21 %: ln 0.9, ln 1.21), b: 50 exact → the ratio keeps a's interval.
        let a = Interval::new(100.0, 90.0, 121.0, 0.95).unwrap();
        let exact = Interval::new(50.0, 50.0, 50.0, 0.95).unwrap();
        let r = a.ratio(exact);
        assert!(close(r.point, 2.0, 1e-12) && close(r.lower, 1.8, 1e-12) && close(r.upper, 2.42, 1e-12));
        // Two sides with log half-widths 0.3 and 0.4 below/above: hypot = 0.5.
        let num = Interval::new(1.0, (-0.3f64).exp(), 0.3f64.exp(), 0.95).unwrap();
        let den = Interval::new(1.0, (-0.4f64).exp(), 0.4f64.exp(), 0.95).unwrap();
        let r = num.ratio(den);
        assert!(close(r.lower, (-0.5f64).exp(), 1e-12) && close(r.upper, 0.5f64.exp(), 1e-12), "{r:?}");
    }

    #[test]
    fn paired_ratio_median_and_its_interval() {
        // Ratios 1.00, 1.01, …, 1.10 (11 pairs): median 1.05; the bootstrap interval lies
        // within the data's range and around the median.
        let den: Vec<f64> = (0..11).map(|i| 100.0 + i as f64).collect();
        let num: Vec<f64> = den.iter().enumerate().map(|(i, d)| d * (1.0 + i as f64 / 100.0)).collect();
        let r = median_paired_ratio(&num, &den).unwrap();
        assert!(close(r.point, 1.05, 1e-12), "{r:?}");
        assert!(r.lower >= 1.0 && r.lower < 1.05 && r.upper > 1.05 && r.upper <= 1.10, "{r:?}");
        // The same pairs give the same interval (fixed seed).
        assert_eq!(median_paired_ratio(&num, &den), Some(r));
        assert_eq!(median_paired_ratio(&[], &[]), None);
    }

    #[test]
    fn geometric_mean_of_exact_ratios() {
        // 1, 2, 4, 8 → (1·2·4·8)^(1/4) = 64^(1/4) = 2√2; exact inputs: the interval is the
        // spread from resampling which benchmarks are in the set, inside [1, 8].
        let exact = |x: f64| Interval::new(x, x, x, 0.95).unwrap();
        let g = geometric_mean(&[exact(1.0), exact(2.0), exact(4.0), exact(8.0)]).unwrap();
        assert!(close(g.point, 2.0 * 2f64.sqrt(), 1e-12), "{g:?}");
        assert!(g.lower >= 1.0 && g.lower < g.point && g.upper > g.point && g.upper <= 8.0, "{g:?}");
        // All equal and exact: no spread at all.
        let g = geometric_mean(&[exact(1.5); 5]).unwrap();
        assert!(close(g.lower, 1.5, 1e-12) && close(g.upper, 1.5, 1e-12));
        // One ratio with measurement noise only: the interval is close to its own.
        let noisy = Interval::new(2.0, 2.0 / 1.1, 2.0 * 1.1, 0.95).unwrap();
        let g = geometric_mean(&[noisy]).unwrap();
        assert!(close(g.lower, noisy.lower, 0.02) && close(g.upper, noisy.upper, 0.02), "{g:?}");
        assert_eq!(geometric_mean(&[]), None);
    }
}
