//! The Mann–Whitney U test (Wilcoxon rank-sum): do two samples come from the same
//! distribution, against the alternative that one tends to be larger? Chosen for final losses
//! because it uses ranks only: plain nets' losses spread over orders of magnitude between seeds
//! and a diverged run can enter as +∞, which would wreck any test on means.
//!
//! U of the first sample counts the pairs (a, b) with a > b, ties counting ½; U_a + U_b = n_a·n_b.
//! The two-sided p-value is computed
//! - **exactly** when there are no ties and n_a·n_b ≤ [`EXACT_LIMIT`]: the null distribution of
//!   U (every assignment of the n_a + n_b ranks to the samples equally likely) by the counting
//!   recurrence N(m, n, u) = N(m − 1, n, u − n) + N(m, n − 1, u), and p = min(1, 2·min(P(U ≤ u),
//!   P(U ≥ u)));
//! - otherwise by the **normal approximation** with the tie correction of the variance,
//!   σ² = n_a n_b/12 · (n + 1 − Σ(t³ − t)/(n(n − 1))) over groups of t tied values, and a
//!   continuity correction of ½: z = (|U − n_a n_b/2| − ½)/σ, p = erfc(z/√2).
//!
//! Beyond `EXACT_LIMIT` (e.g. two samples of 100) the approximation is accurate to well under 1%
//! of p at the p-values that matter.

/// Largest n_a·n_b for the exact distribution (its table has n_a·n_b/2 + 1 entries per (m, n)).
pub const EXACT_LIMIT: usize = 10_000;

/// Two-sided p-values below this are reported as differences; the rest are within seed noise.
pub const SIGNIFICANCE: f64 = 0.05;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    NormalApproximation,
}

/// The outcome of a two-sided Mann–Whitney U test of sample `a` against sample `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// U of the first sample: #{(a, b): a > b} + ½·#{(a, b): a = b}.
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    pub method: Method,
    pub n_a: usize,
    pub n_b: usize,
}

impl RankTest {
    /// The common-language effect size U/(n_a n_b): the probability that a value of `a` exceeds
    /// one of `b` (ties counting ½). 1 means every `a` is above every `b`.
    pub fn probability_a_greater(&self) -> f64 {
        self.u / (self.n_a * self.n_b) as f64
    }

    /// `a` is higher than `b`: p below [`SIGNIFICANCE`], uncorrected, and `a` above in most pairs.
    pub fn a_higher(&self) -> bool {
        self.p_value < SIGNIFICANCE && self.probability_a_greater() > 0.5
    }
}

/// C(n, k) as a float (exact for the sample sizes of a sweep).
pub fn binomial(n: usize, k: usize) -> f64 {
    (0..k.min(n - k)).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

/// The smallest two-sided p-value an exact test of `n_a` against `n_b` values can give (every
/// value of one sample above every value of the other): 2/C(n_a + n_b, n_a). With 3 against 3
/// it is 0.1, so no difference between 3 seeds a side can ever be significant at 0.05.
pub fn smallest_p(n_a: usize, n_b: usize) -> f64 {
    (2.0 / binomial(n_a + n_b, n_a)).min(1.0)
}

/// Two-sided Mann–Whitney U test. Values may be ±∞ (a diverged run as +∞ loss); `None` if a
/// sample is empty or holds a NaN.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<RankTest> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|v| v.is_nan()) {
        return None;
    }
    let (n_a, n_b) = (a.len(), b.len());
    let n = n_a + n_b;
    // Pool, sort, and give tied groups their average rank (1-based).
    let mut pooled: Vec<(f64, bool)> = a.iter().map(|&v| (v, true)).chain(b.iter().map(|&v| (v, false))).collect();
    pooled.sort_by(|x, y| x.0.partial_cmp(&y.0).expect("no NaN"));
    let (mut rank_sum_a, mut tie_term, mut start) = (0.0, 0.0, 0);
    while start < n {
        let end = (start..n).find(|&i| pooled[i].0 != pooled[start].0).unwrap_or(n);
        let t = (end - start) as f64;
        let average_rank = (start + end + 1) as f64 / 2.0;
        rank_sum_a += average_rank * pooled[start..end].iter().filter(|(_, from_a)| *from_a).count() as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    let u = rank_sum_a - (n_a * (n_a + 1)) as f64 / 2.0;
    let pairs = (n_a * n_b) as f64;
    let (p_value, method) = if tie_term == 0.0 && n_a * n_b <= EXACT_LIMIT {
        (exact_two_sided(n_a, n_b, u.round() as usize), Method::Exact)
    } else {
        let n_f = n as f64;
        let variance = pairs / 12.0 * (n_f + 1.0 - tie_term / (n_f * (n_f - 1.0)));
        let p = if variance > 0.0 {
            let z = ((u - pairs / 2.0).abs() - 0.5).max(0.0) / variance.sqrt();
            libm::erfc(z / std::f64::consts::SQRT_2)
        } else {
            1.0 // every value tied: no evidence either way
        };
        (p.min(1.0), Method::NormalApproximation)
    };
    Some(RankTest { u, p_value, method, n_a, n_b })
}

/// min(1, 2·min(P(U ≤ u), P(U ≥ u))) under the null, from the exact distribution of U.
fn exact_two_sided(n_a: usize, n_b: usize, u: usize) -> f64 {
    let counts = u_distribution(n_a, n_b);
    let total: f64 = counts.iter().sum();
    let lower: f64 = counts[..=u].iter().sum();
    let upper: f64 = counts[u..].iter().sum();
    (2.0 * lower.min(upper) / total).min(1.0)
}

/// P(U ≤ u) under the null for u = 0..=n_a·n_b, with no ties: exact up to [`EXACT_LIMIT`] pairs,
/// by the normal approximation with continuity correction beyond. For the shift intervals of
/// [`crate::equivalence`].
pub fn u_cumulative(n_a: usize, n_b: usize) -> Vec<f64> {
    let pairs = n_a * n_b;
    if pairs <= EXACT_LIMIT {
        let counts = u_distribution(n_a, n_b);
        let total: f64 = counts.iter().sum();
        let mut sum = 0.0;
        return counts
            .iter()
            .map(|c| {
                sum += c;
                sum / total
            })
            .collect();
    }
    let mean = pairs as f64 / 2.0;
    let sd = (pairs as f64 * (n_a + n_b + 1) as f64 / 12.0).sqrt();
    (0..=pairs).map(|u| 0.5 * libm::erfc(-(u as f64 + 0.5 - mean) / sd / std::f64::consts::SQRT_2)).collect()
}

/// N(n_a, n_b, u) for u = 0..=n_a·n_b: how many of the C(n_a + n_b, n_a) rank assignments give
/// U = u. Built over m = 0..=n_a with rows for n = 0..=n_b; counts are exact in f64 up to 2⁵³
/// (C(60, 30) ≈ 1.2·10¹⁷ exceeds it only in the last digits, far below what a p-value needs).
fn u_distribution(n_a: usize, n_b: usize) -> Vec<f64> {
    let size = n_a * n_b + 1;
    // previous[n][u] = N(m − 1, n, u); current[n][u] = N(m, n, u).
    let mut previous: Vec<Vec<f64>> = (0..=n_b).map(|_| one_at_zero(size)).collect();
    for _m in 1..=n_a {
        let mut current: Vec<Vec<f64>> = Vec::with_capacity(n_b + 1);
        current.push(one_at_zero(size)); // N(m, 0, u): only u = 0
        for n in 1..=n_b {
            // The largest of the m + n values belongs to a (it beats all n of b: U − n before it)
            // or to b (it adds nothing to U).
            let row: Vec<f64> =
                (0..size).map(|u| if u >= n { previous[n][u - n] } else { 0.0 } + current[n - 1][u]).collect();
            current.push(row);
        }
        previous = current;
    }
    previous.swap_remove(n_b)
}

fn one_at_zero(size: usize) -> Vec<f64> {
    let mut row = vec![0.0; size];
    row[0] = 1.0;
    row
}

/// How a p-value was computed, in words for tables and captions.
pub fn method_text(method: Method) -> &'static str {
    match method {
        Method::Exact => "exact",
        Method::NormalApproximation => "normal approximation",
    }
}

/// U is a whole or half count of pairs: `24`, `47.5`.
pub fn format_u(u: f64) -> String {
    if u.fract() == 0.0 {
        format!("{u:.0}")
    } else {
        format!("{u:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, relative: f64) -> bool {
        (a - b).abs() <= relative * b.abs()
    }

    #[test]
    fn cumulative_distribution_exact_and_approximate() {
        // Five and five: P(U ≤ 2) = 4/252, and the distribution is symmetric about 12.5.
        let exact = u_cumulative(5, 5);
        assert_eq!(exact.len(), 26);
        assert!(close(exact[2], 4.0 / 252.0, 1e-12));
        assert!(close(exact[12], 0.5, 1e-12));
        assert!(close(exact[25], 1.0, 1e-12));
        // Beyond the exact limit the normal approximation: 101 × 100 pairs, P(U ≤ mean) ≈ ½ and
        // the 2.5% point about 1.96 σ below the mean.
        let approx = u_cumulative(101, 100);
        let (mean, sd) = (5050.0, (10_100.0_f64 * 202.0 / 12.0).sqrt());
        assert!((approx[5050] - 0.5).abs() < 0.01);
        let lower = (mean - 1.96 * sd) as usize;
        assert!((approx[lower] - 0.025).abs() < 0.002, "{}", approx[lower]);
    }

    #[test]
    fn complete_separation_has_the_smallest_exact_p() {
        // Three against three, all of a below all of b: U = 0, and 1 of the C(6, 3) = 20 rank
        // assignments is that extreme on each side, so p = 2/20.
        let t = mann_whitney_u(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert_eq!((t.u, t.method), (0.0, Method::Exact));
        assert!(close(t.p_value, 0.1, 1e-12), "{}", t.p_value);
        // Ten against ten: p = 2/C(20, 10) = 2/184756.
        let low: Vec<f64> = (0..10).map(f64::from).collect();
        let high: Vec<f64> = (10..20).map(f64::from).collect();
        let t = mann_whitney_u(&high, &low).unwrap();
        assert_eq!(t.u, 100.0);
        assert_eq!(t.probability_a_greater(), 1.0);
        assert!(close(t.p_value, 2.0 / 184_756.0, 1e-12), "{}", t.p_value);
    }

    #[test]
    fn exact_p_matches_the_textbook_table_for_five_and_five() {
        // n_a = n_b = 5: the null counts of U = 0..=5 are 1, 1, 2, 3, 5, 7 out of C(10, 5) = 252
        // (the partitions of u into at most 5 parts of size ≤ 5). a = {1, 2, 4, 5, 8} against
        // b = {3, 6, 7, 9, 10}: rank sum 20, U = 20 − 15 = 5, P(U ≤ 5) = 19/252, p = 38/252.
        let t = mann_whitney_u(&[1.0, 4.0, 2.0, 8.0, 5.0], &[3.0, 6.0, 7.0, 9.0, 10.0]).unwrap();
        assert_eq!(t.u, 5.0);
        assert!(close(t.p_value, 38.0 / 252.0, 1e-12), "{}", t.p_value);
        // The tables' two-sided 5% critical value for 5 and 5 is U = 2: P(U ≤ 2) = 4/252, so
        // p = 0.032 < 0.05, while U = 3 gives 2·7/252 = 0.056 > 0.05.
        let at_2 = mann_whitney_u(&[1.0, 2.0, 3.0, 4.0, 7.0], &[5.0, 6.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(at_2.u, 2.0);
        assert!(close(at_2.p_value, 8.0 / 252.0, 1e-12));
        let at_3 = mann_whitney_u(&[1.0, 2.0, 3.0, 4.0, 8.0], &[5.0, 6.0, 7.0, 9.0, 10.0]).unwrap();
        assert_eq!(at_3.u, 3.0);
        assert!(close(at_3.p_value, 14.0 / 252.0, 1e-12));
    }

    #[test]
    fn ties_use_the_corrected_normal_approximation() {
        // a = {1, 2, 2, 3}, b = {2, 3, 4, 5}. Pooled ranks: 1 → 1; the three 2s → 3; the two
        // 3s → 5.5; 4 → 7; 5 → 8. Rank sum of a = 1 + 3 + 3 + 5.5 = 12.5, U = 12.5 − 10 = 2.5.
        // Ties: one group of 3 and one of 2, Σ(t³ − t) = 24 + 6 = 30; n = 8, so
        // σ² = 16/12 · (9 − 30/56) = 11.2857…, z = (|2.5 − 8| − 0.5)/σ = 5/3.3594 = 1.48835,
        // p = erfc(z/√2) = 0.13667.
        let t = mann_whitney_u(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((t.u, t.method), (2.5, Method::NormalApproximation));
        assert!(close(t.p_value, 0.13667, 1e-3), "{}", t.p_value);
        // All values tied: no evidence.
        assert_eq!(mann_whitney_u(&[1.0, 1.0], &[1.0, 1.0, 1.0]).unwrap().p_value, 1.0);
    }

    #[test]
    fn symmetric_and_consistent_with_the_approximation_for_large_samples() {
        let a: Vec<f64> = (0..30).map(|i| (i * 7 % 30) as f64 + 0.5).collect();
        let b: Vec<f64> = (0..30).map(|i| (i * 11 % 30) as f64 + 3.25).collect();
        let (ab, ba) = (mann_whitney_u(&a, &b).unwrap(), mann_whitney_u(&b, &a).unwrap());
        assert_eq!(ab.u + ba.u, 900.0);
        assert!(close(ab.p_value, ba.p_value, 1e-12));
        assert_eq!(ab.method, Method::Exact);
        // At 30 against 30 the normal approximation (continuity-corrected) is within 1% of the
        // exact p: compute it by hand from U.
        let z = ((ab.u - 450.0).abs() - 0.5) / (900.0 * 61.0 / 12.0f64).sqrt();
        let approx = libm::erfc(z / std::f64::consts::SQRT_2);
        assert!(close(ab.p_value, approx, 0.01), "exact {} vs normal {approx}", ab.p_value);
        // Above EXACT_LIMIT the approximation is used.
        let big: Vec<f64> = (0..101).map(f64::from).collect();
        let other: Vec<f64> = (0..101).map(|i| f64::from(i) + 0.5).collect();
        assert_eq!(mann_whitney_u(&big, &other).unwrap().method, Method::NormalApproximation);
    }

    #[test]
    fn infinities_rank_last_and_nan_is_refused() {
        // A diverged run as +∞ loss ranks above every finite one.
        let t = mann_whitney_u(&[f64::INFINITY, 10.0, 11.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(t.u, 9.0);
        assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_none());
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
    }
}
