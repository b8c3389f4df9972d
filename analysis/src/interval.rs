//! Point estimates with confidence intervals, and the interval arithmetic the timing questions
//! need: ratios of two independent estimates, a median and the median of paired ratios
//! (bootstrap), and a geometric mean over a fixed set of ratios (their measurement uncertainty
//! propagated). Knows no topic.
//!
//! Resampling uses a fixed-seed generator, so a report regenerated from the same inputs is the
//! same to the byte.

use crate::stats::{median_with_infinities, sorted_quantile};

/// Resamples per bootstrap interval: the 2.5 % and 97.5 % quantiles of 10 000 resamples move
/// by well under a tenth of the interval's width between seeds.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
pub use crate::stats::CONFIDENCE_LEVEL;

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

/// The percentile interval of `replicates` around `point`.
fn percentile_interval(point: f64, mut replicates: Vec<f64>) -> Interval {
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE_LEVEL) / 2.0;
    let quantile = |q| sorted_quantile(&replicates, q).expect("at least one resample");
    let lower = quantile(tail).min(point);
    let upper = quantile(1.0 - tail).max(point);
    Interval { point, lower, upper, level: CONFIDENCE_LEVEL }
}

/// Median of the paired ratios `numerator[i] ÷ denominator[i]` with a percentile bootstrap
/// interval (pairs resampled with replacement). `None` without a usable pair.
pub fn median_paired_ratio(numerator: &[f64], denominator: &[f64]) -> Option<Interval> {
    let ratios: Vec<f64> = numerator.iter().zip(denominator).map(|(a, b)| a / b).collect();
    bootstrap_median(&ratios)
}

/// Median of the positive finite `values` with a percentile bootstrap interval (values
/// resampled with replacement). `None` without one such value.
pub fn bootstrap_median(values: &[f64]) -> Option<Interval> {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
    if values.is_empty() {
        return None;
    }
    // The midpoint rule, as these intervals have always been computed.
    let median = |v: &[f64]| median_with_infinities(v.iter().copied()).expect("positive finite values");
    let mut rng = SplitMix64::new(0x0bad_5eed ^ values.len() as u64);
    let mut resample = vec![0.0; values.len()];
    let replicates = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            for slot in resample.iter_mut() {
                *slot = values[rng.below(values.len())];
            }
            median(&resample)
        })
        .collect();
    Some(percentile_interval(median(&values), replicates))
}

/// Geometric mean of ratios over a fixed set, with an interval that carries only the ratios'
/// own measurement uncertainty. The set is a designed grid (every depth × width × arch the
/// benches time), not a random draw of benchmarks, so which benchmarks are in it is not
/// resampled: the interval answers "how sure are we of this mean over these benchmarks", and
/// the spread over the grid is a range to show beside it, not an uncertainty. In log space the
/// mean is the mean of the logs; each ratio's half-widths below and above its point (ln of
/// point ÷ lower, upper ÷ point) add in quadrature and divide by the count (delta method, the
/// ratios measured independently), separately on each side as in [`Interval::ratio`].
/// `None` for an empty set.
pub fn geometric_mean(ratios: &[Interval]) -> Option<Interval> {
    if ratios.is_empty() {
        return None;
    }
    let n = ratios.len() as f64;
    let point = (ratios.iter().map(|r| r.point.ln()).sum::<f64>() / n).exp();
    let quadrature = |side: fn(&Interval) -> f64| ratios.iter().map(|r| side(r).powi(2)).sum::<f64>().sqrt() / n;
    let down = quadrature(|r| (r.point / r.lower).ln());
    let up = quadrature(|r| (r.upper / r.point).ln());
    let level = ratios.iter().map(|r| r.level).fold(1.0, f64::min);
    Some(Interval { point, lower: point * (-down).exp(), upper: point * up.exp(), level })
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

    /// Uniform index below `n` (the modulo bias is below 2⁻⁴⁰ for any n we use).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
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
    fn median_of_values_and_its_interval() {
        // 1, 2, …, 9 ms in ns, shuffled, and one unusable value: median 5 ms, inside the data.
        let values = [9e6, 1e6, 5e6, 2e6, 8e6, f64::NAN, 3e6, 7e6, 4e6, 6e6];
        let m = bootstrap_median(&values).unwrap();
        assert_eq!(m.point, 5e6);
        assert!(m.lower >= 1e6 && m.lower < 5e6 && m.upper > 5e6 && m.upper <= 9e6, "{m:?}");
        assert_eq!(bootstrap_median(&[0.0, -1.0]), None);
    }

    #[test]
    fn geometric_mean_propagates_measurement_only() {
        // 1, 2, 4, 8 exact → (1·2·4·8)^(1/4) = 2√2, and no interval at all: the grid's spread
        // is not an uncertainty of its mean.
        let exact = |x: f64| Interval::new(x, x, x, 0.95).unwrap();
        let g = geometric_mean(&[exact(1.0), exact(2.0), exact(4.0), exact(8.0)]).unwrap();
        assert!(close(g.point, 2.0 * 2f64.sqrt(), 1e-12), "{g:?}");
        assert!(close(g.lower, g.point, 1e-12) && close(g.upper, g.point, 1e-12), "{g:?}");
        // One ratio: its own interval.
        let noisy = Interval::new(2.0, 2.0 / 1.1, 2.0 * 1.2, 0.95).unwrap();
        let g = geometric_mean(&[noisy]).unwrap();
        assert!(close(g.lower, noisy.lower, 1e-12) && close(g.upper, noisy.upper, 1e-12), "{g:?}");
        // Four ratios each ±ln 1.1 in log space: the mean's half-width is √4 · ln 1.1 ÷ 4.
        let four = [Interval::new(3.0, 3.0 / 1.1, 3.0 * 1.1, 0.95).unwrap(); 4];
        let g = geometric_mean(&four).unwrap();
        let half = 1.1f64.ln() / 2.0;
        assert!(close(g.point, 3.0, 1e-12) && close(g.upper, 3.0 * half.exp(), 1e-12), "{g:?}");
        assert!(close(g.lower, 3.0 * (-half).exp(), 1e-12), "{g:?}");
        assert_eq!(geometric_mean(&[]), None);
    }
}
