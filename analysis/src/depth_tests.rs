//! Is a net worse deeper than at its best depth by more than the scatter between seeds? Within
//! one variant, each depth deeper than the one of lowest median loss is tested against it by
//! the two-sided Mann–Whitney U test over seeds, with Holm's correction over the variant's
//! tests. The tuning section asks this of best-of-grid runs, the degradation section of each
//! variant's runs; one rule, so the two read alike.

use crate::equivalence::holm;
use crate::rank_test::{mann_whitney_u, smallest_p, RankTest, SIGNIFICANCE};
use crate::stats::median_ratio;

/// One depth of one variant: the median that ranks the depths, and every seed's loss (a
/// diverged run as +∞).
#[derive(Debug, Clone, Copy)]
pub struct DepthLosses<'a> {
    pub depth: usize,
    pub median: f64,
    pub losses: &'a [f64],
}

/// A deeper depth's losses against the best depth's.
#[derive(Debug, Clone)]
pub struct DepthTest {
    pub depth: usize,
    pub best_depth: usize,
    pub test: RankTest,
    /// The deeper depth's median over the best depth's, diverged runs counted as +∞.
    pub ratio: f64,
    /// Holm's adjusted p within the variant's tests.
    pub holm_p: f64,
}

impl DepthTest {
    /// Higher at p < [`SIGNIFICANCE`], before correction.
    pub fn higher(&self) -> bool {
        self.test.a_higher()
    }

    /// Higher, and still below [`SIGNIFICANCE`] after Holm's correction within its variant.
    pub fn higher_after_holm(&self) -> bool {
        self.higher() && self.holm_p < SIGNIFICANCE
    }
}

/// Which deeper depths enter the family of tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tested {
    /// Every deeper depth.
    Every,
    /// Those whose seed counts, with the best depth's, let an exact test reach p <
    /// [`SIGNIFICANCE`]. Decided from the counts alone, before any loss is read: a pair that
    /// cannot reach it is no test, and would only weaken Holm's correction of the others.
    ReachingSignificance,
}

/// One variant's depths (in depth order): each deeper than the best (lowest median; the
/// shallower on a tie) against the best, Holm-adjusted over the returned tests.
pub fn against_best_depth(depths: &[DepthLosses], tested: Tested) -> Vec<DepthTest> {
    let Some(best) = depths.iter().min_by(|a, b| a.median.total_cmp(&b.median).then(a.depth.cmp(&b.depth))) else {
        return Vec::new();
    };
    let mut tests: Vec<DepthTest> = depths
        .iter()
        .filter(|d| d.depth > best.depth)
        .filter(|d| tested == Tested::Every || smallest_p(d.losses.len(), best.losses.len()) < SIGNIFICANCE)
        .filter_map(|deeper| {
            let test = mann_whitney_u(deeper.losses, best.losses)?;
            Some(DepthTest {
                depth: deeper.depth,
                best_depth: best.depth,
                test,
                ratio: median_ratio(deeper.losses, best.losses),
                holm_p: f64::NAN,
            })
        })
        .collect();
    let adjusted = holm(&tests.iter().map(|t| t.test.p_value).collect::<Vec<_>>());
    for (test, p) in tests.iter_mut().zip(adjusted) {
        test.holm_p = p;
    }
    tests
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::median_with_infinities;

    fn at(depth: usize, losses: &[f64]) -> DepthLosses<'_> {
        let median = median_with_infinities(losses.iter().copied()).unwrap();
        DepthLosses { depth, median, losses }
    }

    #[test]
    fn deeper_depths_are_tested_against_the_best_and_corrected_together() {
        let (shallow, best, deep, deepest) =
            ([0.9, 1.0, 1.1, 1.2, 1.3], [0.1, 0.2, 0.3, 0.4, 0.5], [0.6, 0.7, 0.8, 0.9, 1.0], [0.35, 0.45, 0.55]);
        let depths = [at(2, &shallow), at(4, &best), at(8, &deep), at(16, &deepest)];
        let every = against_best_depth(&depths, Tested::Every);
        assert_eq!(every.iter().map(|t| (t.depth, t.best_depth)).collect::<Vec<_>>(), [(8, 4), (16, 4)]);
        // 5 against 5, every value above: the exact two-sided p is 2/C(10, 5) = 2/252.
        assert!((every[0].test.p_value - 2.0 / 252.0).abs() < 1e-12);
        assert!(every[0].higher() && (every[0].ratio - 0.8 / 0.3).abs() < 1e-12);
        // Holm over two tests: the smaller p doubled.
        assert!((every[0].holm_p - 4.0 / 252.0).abs() < 1e-12 && every[0].higher_after_holm());
        assert!(!every[1].higher());
        // 3 against 5 seeds can reach 2/C(8, 3) = 0.036; 3 against 3 (0.1) could not.
        let reaching = against_best_depth(&depths, Tested::ReachingSignificance);
        assert_eq!(reaching.len(), 2);
        let few = [at(4, &best[..3]), at(8, &deep[..3]), at(16, &deepest)];
        assert!(against_best_depth(&few, Tested::ReachingSignificance).is_empty());
        assert_eq!(against_best_depth(&few, Tested::Every).len(), 2);
    }

    #[test]
    fn a_diverged_run_counts_as_the_highest_loss() {
        let inf = f64::INFINITY;
        let (best, diverging) = ([0.1, 0.2, 0.3, 0.4], [0.5, inf, inf, inf]);
        let tests = against_best_depth(&[at(4, &best), at(8, &diverging)], Tested::ReachingSignificance);
        assert_eq!(tests.len(), 1);
        assert!(tests[0].higher() && tests[0].ratio.is_infinite());
        // Every value above the best depth's (ties among the +∞ only): as low as 4 against 4 goes.
        assert!(tests[0].test.p_value < 0.05, "{:?}", tests[0].test);
        // One test: Holm changes nothing.
        assert_eq!(tests[0].holm_p, tests[0].test.p_value);
    }
}
