//! What a rank test that finds nothing can still say. A p-value above 0.05 does not show that
//! two samples agree: with few seeds it only shows that a difference was not detected. Two
//! statements can be made instead, both from the distribution-free confidence interval of the
//! shift between the samples (Hodges–Lehmann; Lehmann, *Nonparametrics*, 1975, ch. 2):
//!
//! - **the interval itself**: the shifts consistent with the data. A shift outside it would have
//!   been detected by the Mann–Whitney test at the matching level, so its bounds are the smallest
//!   differences these seeds could detect;
//! - **equivalence** by two one-sided tests (TOST) at level α: the samples are equivalent within
//!   a margin δ when the (1 − 2α) interval lies inside (−δ, +δ).
//!
//! Losses are compared on a log scale, so the shift is a ratio and the margin a factor.
//!
//! The interval runs over the n_a·n_b pairwise differences a_i − b_j in order: with c the largest
//! count such that P(U ≤ c − 1) ≤ α/2 under the null, it is [D₍c₎, D₍n_a·n_b + 1 − c₎]. When even
//! c = 1 fails (3 against 3 at 95%), no finite interval exists and the bounds are infinite.

use crate::rank_test::{u_cumulative, SIGNIFICANCE};
use crate::stats::median_with_infinities;
use crate::table::format_sig;

/// Level of each one-sided test of the equivalence check: the (1 − 2α) = 90% interval decides.
pub const EQUIVALENCE_ALPHA: f64 = 0.05;

/// Two implementations' losses are equivalent when their ratio's 90% interval lies within
/// 1/2–2×: a factor of two is the smallest difference that would change a reading of any
/// degradation chart here (they span orders of magnitude), and ten seeds resolve it.
pub const EQUIVALENCE_FACTOR: f64 = 2.0;

/// The Hodges–Lehmann shift of `a` over `b` with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// The median of the pairwise differences a_i − b_j.
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    /// The interval's nominal coverage, e.g. 0.95.
    pub confidence: f64,
}

impl Shift {
    /// Whether the interval lies strictly inside (−margin, +margin).
    pub fn within(&self, margin: f64) -> bool {
        -margin < self.lower && self.upper < margin
    }
}

/// The shift of `a` over `b` and its `confidence` interval; `None` when a sample is empty or a
/// value is not finite (a diverged run has no shift).
pub fn shift_interval(a: &[f64], b: &[f64], confidence: f64) -> Option<Shift> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|v| !v.is_finite()) {
        return None;
    }
    let mut differences: Vec<f64> = a.iter().flat_map(|x| b.iter().map(move |y| x - y)).collect();
    differences.sort_by(|x, y| x.partial_cmp(y).expect("finite"));
    let pairs = differences.len();
    let estimate = median_with_infinities(differences.iter().copied()).expect("finite differences");
    let tail = (1.0 - confidence) / 2.0;
    let cumulative = u_cumulative(a.len(), b.len());
    // c = number of differences cut from each end; the largest with P(U ≤ c − 1) ≤ tail.
    let cut = (1..=pairs / 2).take_while(|&c| cumulative[c - 1] <= tail).last().unwrap_or(0);
    let (lower, upper) =
        if cut == 0 { (f64::NEG_INFINITY, f64::INFINITY) } else { (differences[cut - 1], differences[pairs - cut]) };
    Some(Shift { estimate, lower, upper, confidence })
}

/// The shift of ln(a) over ln(b) as a ratio a/b: estimate and bounds exponentiated.
pub fn ratio_interval(a: &[f64], b: &[f64], confidence: f64) -> Option<Shift> {
    if a.iter().chain(b).any(|&v| v <= 0.0) {
        return None;
    }
    let log = |v: &[f64]| v.iter().map(|x| x.ln()).collect::<Vec<_>>();
    let shift = shift_interval(&log(a), &log(b), confidence)?;
    Some(Shift { estimate: shift.estimate.exp(), lower: shift.lower.exp(), upper: shift.upper.exp(), confidence })
}

/// Whether positive samples `a` and `b` are equivalent within a factor of [`EQUIVALENCE_FACTOR`]
/// by two one-sided tests at [`EQUIVALENCE_ALPHA`]; `None` when no interval can be formed.
pub fn equivalent_ratio(a: &[f64], b: &[f64]) -> Option<(bool, Shift)> {
    let shift = ratio_interval(a, b, 1.0 - 2.0 * EQUIVALENCE_ALPHA)?;
    let inside = 1.0 / EQUIVALENCE_FACTOR < shift.lower && shift.upper < EQUIVALENCE_FACTOR;
    Some((inside, shift))
}

/// Holm's step-down adjustment of p-values for `p.len()` comparisons, in input order: the k-th
/// smallest is multiplied by (m − k + 1), made monotone, capped at 1. An adjusted p below 0.05
/// keeps the chance of any false finding among the m at 5% (Holm, 1979).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].partial_cmp(&p[j]).unwrap_or(std::cmp::Ordering::Equal));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// The clause every finding ends with once its section has several tests:
/// "; 0.041 after Holm's correction for 12 tests", and when the adjusted p no longer passes,
/// ", so not a finding on its own" after it. One wording, so reports read alike.
pub fn holm_clause(holm_p: f64, tests: usize) -> String {
    let verdict = if holm_p < SIGNIFICANCE { "" } else { ", so not a finding on its own" };
    format!("; {} after Holm's correction for {tests} tests{verdict}", format_sig(holm_p, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holm_clause_says_when_a_finding_does_not_survive() {
        assert_eq!(holm_clause(0.012, 4), "; 0.012 after Holm's correction for 4 tests");
        assert_eq!(holm_clause(0.41, 12), "; 0.41 after Holm's correction for 12 tests, so not a finding on its own");
    }

    #[test]
    fn five_against_five_cuts_two_differences_from_each_end() {
        // P(U ≤ 2) = 4/252 ≤ 0.025 < P(U ≤ 3) = 7/252: c = 3, the interval is [D₍₃₎, D₍₂₃₎].
        let a = [10.0, 11.0, 12.0, 13.0, 14.0];
        let b = [0.0, 0.1, 0.2, 0.3, 0.4];
        let s = shift_interval(&a, &b, 0.95).unwrap();
        let mut d: Vec<f64> = a.iter().flat_map(|x| b.iter().map(move |y| x - y)).collect();
        d.sort_by(|x, y| x.partial_cmp(y).unwrap());
        assert_eq!((s.lower, s.upper), (d[2], d[22]));
        assert_eq!(s.estimate, d[12]);
        // 90%: P(U ≤ 4) = 12/252 = 0.048 ≤ 0.05 < P(U ≤ 5) = 19/252: c = 5.
        let s90 = shift_interval(&a, &b, 0.90).unwrap();
        assert_eq!((s90.lower, s90.upper), (d[4], d[20]));
    }

    #[test]
    fn three_against_three_has_no_finite_95_percent_interval() {
        let s = shift_interval(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.95).unwrap();
        assert_eq!((s.lower, s.upper), (f64::NEG_INFINITY, f64::INFINITY));
        assert!(!s.within(1e9));
        assert_eq!(s.estimate, -3.0);
        assert!(shift_interval(&[1.0, f64::INFINITY], &[1.0], 0.95).is_none());
    }

    #[test]
    fn the_interval_covers_a_known_shift_at_about_its_rate() {
        // Samples of 10 drawn from a fixed pseudo-random sequence, the second shifted by 0.3:
        // over 2000 draws the 95% interval must contain 0.3 in 93–97% of them.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let trials = 2000;
        let mut covered = 0;
        for _ in 0..trials {
            let a: Vec<f64> = (0..10).map(|_| uniform() + 0.3).collect();
            let b: Vec<f64> = (0..10).map(|_| uniform()).collect();
            let s = shift_interval(&a, &b, 0.95).unwrap();
            covered += usize::from(s.lower <= 0.3 && 0.3 <= s.upper);
        }
        let rate = covered as f64 / trials as f64;
        assert!((0.93..=0.97).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn equivalence_needs_the_90_percent_interval_inside_the_factor() {
        // Ten seeds a side, ratios within 0.9–1.1: equivalent within 2×.
        let a: Vec<f64> = (0..10).map(|i| 1e-5 * (1.0 + 0.01 * i as f64)).collect();
        let b: Vec<f64> = (0..10).map(|i| 1e-5 * (0.95 + 0.01 * i as f64)).collect();
        let (inside, shift) = equivalent_ratio(&a, &b).unwrap();
        assert!(inside, "{shift:?}");
        assert!((shift.confidence - 0.9).abs() < 1e-12);
        // Spread over three orders of magnitude: no equivalence, though the medians are equal.
        let wide: Vec<f64> = (0..10).map(|i| 10f64.powf(-3.0 + 0.3 * i as f64)).collect();
        let (inside, _) = equivalent_ratio(&wide, &wide).unwrap();
        assert!(!inside);
        assert!(equivalent_ratio(&[0.0, 1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn holm_multiplies_by_the_remaining_count_and_stays_monotone() {
        let adjusted = holm(&[0.04, 0.01, 0.03, 0.5]);
        // Sorted 0.01, 0.03, 0.04, 0.5 → ×4, ×3, ×2, ×1 = 0.04, 0.09, 0.08 → 0.09 (monotone), 0.5.
        let expected = [0.09, 0.04, 0.09, 0.5];
        for (got, want) in adjusted.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.3, 0.9]), vec![0.6, 0.9]);
    }
}
