//! Whether a benchmark's time is one number. A sample taken from two machine states (two
//! clusters), one that drifts while it is taken, or one spread too widely has no single time:
//! its median lands on one state or the other, and an efficiency computed from it can exceed
//! what the machine can do. Such a benchmark is *unstable*: the reports show its time with
//! that label, give it no efficiency, and leave it out of every mean, range and headline.
//!
//! With criterion's raw sample (`sample.json`; per-iteration time = `times[i] ÷ iters[i]`, in
//! the order criterion took them) a benchmark is unstable when
//! - **two clusters**: sorted, two neighbouring times lie more than [`CLUSTER_GAP`] apart with
//!   at least [`CLUSTER_SHARE`] of the samples (and at least 2) on each side;
//! - **drift**: the median of the last third differs from the median of the first third by
//!   more than [`DRIFT`];
//! - **spread**: the 90th percentile exceeds [`SPREAD`] × the 10th.
//!
//! With the estimates only (criterion's `estimates.json`), from the median's 95% interval:
//! - **edge**: the median sits in the outer [`EDGE_POSITION`] of its interval, and the
//!   interval reaches more than [`EDGE_REACH`] of the median beyond it on the far side — what a
//!   median that jumps between two clusters under resampling gives;
//! - **wide**: the interval spans more than [`WIDE`] of the median.
//!
//! The mean against the median and the standard deviation against the MAD are not used: a few
//! slow outliers (an interrupt, a page fault) move both a long way while the median, which the
//! reports use, stays put.

use crate::interval::Interval;
use crate::stats::{median_with_infinities, sorted_quantile};

/// Two neighbouring sorted times further apart than this (upper ÷ lower − 1) split two clusters.
pub const CLUSTER_GAP: f64 = 0.10;
/// The smaller of two clusters holds at least this share of the samples.
pub const CLUSTER_SHARE: f64 = 0.10;
/// Last third's median ÷ first third's median beyond 1 ± this: the sample drifted.
pub const DRIFT: f64 = 0.10;
/// q90 ÷ q10 above this: the sample is too spread to be one time.
pub const SPREAD: f64 = 1.5;
/// The median within this fraction of its interval's width from one end: at the edge.
pub const EDGE_POSITION: f64 = 0.10;
/// … when the interval reaches more than this fraction of the median beyond it on the far side.
pub const EDGE_REACH: f64 = 0.05;
/// An interval wider than this fraction of the median.
pub const WIDE: f64 = 0.25;
/// Fewer samples than this say nothing about drift (three thirds of at least three).
const DRIFT_MIN_SAMPLES: usize = 9;

/// One reason a benchmark's time is not one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instability {
    /// The sorted per-iteration times split at a gap of `gap` (upper ÷ lower neighbour − 1),
    /// `below` samples under it and `above` over it.
    TwoClusters { gap: f64, below: usize, above: usize },
    /// The last third's median ÷ the first third's.
    Drift { ratio: f64 },
    /// q90 ÷ q10 of the per-iteration times.
    Spread { q90_over_q10: f64 },
    /// The median's place in its interval (0 = lower bound, 1 = upper) and how far the interval
    /// reaches beyond it on the far side, as a fraction of the median.
    EdgeOfInterval { position: f64, reach: f64 },
    /// (upper − lower) ÷ median.
    WideInterval { width: f64 },
}

impl Instability {
    /// "two clusters 80% apart (7 and 3 samples)".
    pub fn describe(&self) -> String {
        match self {
            Instability::TwoClusters { gap, below, above } => {
                format!("two clusters {:.0}% apart ({below} and {above} samples)", gap * 100.0)
            }
            Instability::Drift { ratio } => {
                format!("drift {:+.0}% from the first third to the last", (ratio - 1.0) * 100.0)
            }
            Instability::Spread { q90_over_q10 } => format!("q90 ÷ q10 = {q90_over_q10:.2}"),
            Instability::EdgeOfInterval { position, reach } => format!(
                "median at the {} edge of its interval, which reaches {:.0}% beyond it",
                if *position < 0.5 { "lower" } else { "upper" },
                reach * 100.0
            ),
            Instability::WideInterval { width } => format!("interval {:.0}% of the median wide", width * 100.0),
        }
    }
}

/// A benchmark's stability verdict, with what it was judged from.
#[derive(Debug, Clone, PartialEq)]
pub struct Stability {
    /// Samples criterion took, when `sample.json` was kept.
    pub samples: Option<usize>,
    /// q90 ÷ q10 of the per-iteration times, when `sample.json` was kept.
    pub spread: Option<f64>,
    /// Empty: stable.
    pub problems: Vec<Instability>,
}

impl Stability {
    pub fn is_stable(&self) -> bool {
        self.problems.is_empty()
    }

    /// For a table cell: "stable; 100 samples, q90 ÷ q10 = 1.05", "stable by its interval (no
    /// sample kept)", "unstable: two clusters 80% apart (7 and 3 samples); 10 samples, q90 ÷
    /// q10 = 1.82".
    pub fn describe(&self) -> String {
        let kept = match (self.samples, self.spread) {
            (Some(n), Some(spread)) => format!("{n} samples, q90 ÷ q10 = {spread:.2}"),
            _ => "no sample kept".to_string(),
        };
        if self.is_stable() {
            return match self.samples {
                Some(_) => format!("stable; {kept}"),
                None => "stable by its interval (no sample kept)".to_string(),
            };
        }
        format!("unstable: {}", self.evidence())
    }

    /// What an unstable verdict rests on: "two clusters 80% apart (7 and 3 samples); 10
    /// samples, q90 ÷ q10 = 1.82", or its reasons with "no sample kept".
    pub fn evidence(&self) -> String {
        let kept = match (self.samples, self.spread) {
            (Some(n), Some(spread)) => format!("{n} samples, q90 ÷ q10 = {spread:.2}"),
            _ => "no sample kept".to_string(),
        };
        let reasons: Vec<String> = self.problems.iter().map(Instability::describe).collect();
        format!("{}; {kept}", reasons.join(", "))
    }

    /// Judged from criterion's raw sample: per-iteration times in the order they were taken.
    pub fn from_sample(per_iteration: &[f64]) -> Stability {
        let n = per_iteration.len();
        let mut sorted = per_iteration.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut problems = Vec::new();
        // The widest gap between neighbours that leaves enough samples on each side.
        let least = ((CLUSTER_SHARE * n as f64).ceil() as usize).max(2);
        let widest = (least..=n.saturating_sub(least))
            .map(|below| (sorted[below] / sorted[below - 1] - 1.0, below))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((gap, below)) = widest.filter(|(gap, _)| *gap > CLUSTER_GAP) {
            problems.push(Instability::TwoClusters { gap, below, above: n - below });
        }
        if n >= DRIFT_MIN_SAMPLES {
            let third = n / 3;
            let median = |times: &[f64]| median_with_infinities(times.iter().copied()).unwrap_or(f64::NAN);
            let ratio = median(&per_iteration[n - third..]) / median(&per_iteration[..third]);
            if (ratio - 1.0).abs() > DRIFT {
                problems.push(Instability::Drift { ratio });
            }
        }
        let spread = sorted_quantile(&sorted, 0.9).zip(sorted_quantile(&sorted, 0.1)).map(|(q90, q10)| q90 / q10);
        if let Some(q90_over_q10) = spread.filter(|s| *s > SPREAD) {
            problems.push(Instability::Spread { q90_over_q10 });
        }
        Stability { samples: Some(n), spread, problems }
    }

    /// Judged from the median's confidence interval alone (criterion kept no sample).
    pub fn from_interval(median: &Interval) -> Stability {
        let mut problems = Vec::new();
        let width = median.upper - median.lower;
        if width > 0.0 {
            let position = (median.point - median.lower) / width;
            let reach =
                if position < 0.5 { median.upper / median.point - 1.0 } else { 1.0 - median.lower / median.point };
            let at_edge = !(EDGE_POSITION..=1.0 - EDGE_POSITION).contains(&position);
            if at_edge && reach > EDGE_REACH {
                problems.push(Instability::EdgeOfInterval { position, reach });
            }
        }
        if width / median.point > WIDE {
            problems.push(Instability::WideInterval { width: width / median.point });
        }
        Stability { samples: None, spread: None, problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic wobble of ±1.5% around `centre`, different for each index.
    fn around(centre: f64, i: usize) -> f64 {
        centre * (1.0 + 0.015 * ((i * 7 % 11) as f64 / 5.0 - 1.0))
    }

    #[test]
    fn a_bimodal_sample_is_flagged_and_a_unimodal_one_is_not() {
        // 10 samples: 7 near 267 ms and 3 near 150 ms, interleaved (a machine switching state).
        let bimodal: Vec<f64> = (0..10).map(|i| around(if i % 3 == 1 { 150.0 } else { 267.0 }, i)).collect();
        let verdict = Stability::from_sample(&bimodal);
        assert!(!verdict.is_stable(), "{verdict:?}");
        let Some(Instability::TwoClusters { gap, below, above }) = verdict.problems.first() else {
            panic!("{verdict:?}")
        };
        assert_eq!((*below, *above), (3, 7));
        assert!(*gap > 0.7, "{gap}");
        assert!(verdict.describe().starts_with("unstable: two clusters 7"), "{}", verdict.describe());
        assert!(verdict.describe().contains("10 samples"), "{}", verdict.describe());

        // 100 samples within ±1.5% of one time, plus two slow outliers: stable.
        let mut unimodal: Vec<f64> = (0..100).map(|i| around(2.0, i)).collect();
        unimodal[40] = 2.6;
        unimodal[80] = 3.0;
        let verdict = Stability::from_sample(&unimodal);
        assert!(verdict.is_stable(), "{verdict:?}");
        assert_eq!(verdict.samples, Some(100));
        assert!(verdict.spread.unwrap() < 1.05);
        assert!(verdict.describe().starts_with("stable; 100 samples, q90 ÷ q10 = 1.0"), "{}", verdict.describe());

        // One fast outlier alone is not a cluster (fewer than 10% of the samples).
        let mut one_fast = unimodal.clone();
        one_fast[3] = 1.0;
        assert!(Stability::from_sample(&one_fast).is_stable());
    }

    #[test]
    fn drift_and_spread_are_flagged() {
        // A steady climb from 44 to 52 ms over 24 samples: no gap, but the last third's median
        // is 12% above the first third's (50.8 against 45.2 ms).
        let climbing: Vec<f64> = (0..24).map(|i| 44.0 + 8.0 * i as f64 / 23.0).collect();
        let verdict = Stability::from_sample(&climbing);
        assert!(matches!(verdict.problems.as_slice(), [Instability::Drift { ratio }] if *ratio > 1.1), "{verdict:?}");
        // Times spread evenly over 1–3 with no gap and no trend: q90 ÷ q10 = 2.8 ÷ 1.2.
        let spread: Vec<f64> = (0..50).map(|i| 1.0 + 2.0 * ((i * 37) % 50) as f64 / 49.0).collect();
        let verdict = Stability::from_sample(&spread);
        assert!(matches!(verdict.problems.as_slice(), [Instability::Spread { .. }]), "{verdict:?}");
    }

    #[test]
    fn estimates_only_flag_a_median_at_the_edge_of_a_wide_interval() {
        // The Xeon's plain train step d16 w1024: median 267 ms in 147–272.
        let bimodal = Interval::new(266.8, 147.4, 272.3, 0.95).unwrap();
        let verdict = Stability::from_interval(&bimodal);
        assert!(
            matches!(verdict.problems[0], Instability::EdgeOfInterval { position, reach }
            if position > 0.9 && (reach - (1.0 - 147.4 / 266.8)).abs() < 1e-12),
            "{verdict:?}"
        );
        assert!(matches!(verdict.problems[1], Instability::WideInterval { .. }), "{verdict:?}");
        assert!(verdict.describe().contains("no sample kept"), "{}", verdict.describe());
        // A centred interval of ±2%: stable; a point at the edge of a narrow one (±1%) too.
        assert!(Stability::from_interval(&Interval::new(100.0, 98.0, 102.0, 0.95).unwrap()).is_stable());
        assert!(Stability::from_interval(&Interval::new(100.0, 99.95, 101.0, 0.95).unwrap()).is_stable());
        // Centred but 30% wide: unstable.
        let wide = Stability::from_interval(&Interval::new(100.0, 85.0, 115.0, 0.95).unwrap());
        assert!(matches!(wide.problems.as_slice(), [Instability::WideInterval { .. }]), "{wide:?}");
    }
}
