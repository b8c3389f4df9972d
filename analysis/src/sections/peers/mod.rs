//! Does an independent implementation find the same losses? A peer (PyTorch, through
//! `peers/pytorch/parity.py run`) trains the same configurations with its own initialisation
//! and batch order; its runs sit beside ours in every table and chart, and this section says
//! per depth what the seeds can say about the two — by rank tests over seeds, since the two
//! implementations share no random numbers and can only be compared as distributions.
//!
//! A difference is a Mann–Whitney p below 0.05; "equivalent" needs an equivalence test (the 90%
//! interval of the loss ratio inside a factor of two, [`crate::equivalence`]); anything else is
//! "no difference detected", with the 95% interval of the ratio: the smallest differences the
//! seeds could have detected. Test accuracy is compared beside the loss, and the number of tests
//! is stated with Holm's adjusted p.
//!
//! The statistic is the robust final loss when every run of both groups has one, else the final
//! snapshot; a diverged run counts as +∞ (it ranks above every run that learned).

mod table;
mod words;

use crate::equivalence::{equivalent_ratio, holm, ratio_interval, Shift, EQUIVALENCE_FACTOR};
use crate::error::Result;
use crate::inputs::Inputs;
use crate::rank_test::{mann_whitney_u, smallest_p, RankTest, SIGNIFICANCE};
use crate::section::Section;
use crate::stats::{median, range_order};
use crate::variant::{groups, Group, Variant, VaryingAxes};

/// Which loss the two implementations are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// Median full-training-set loss over the last 10% of steps.
    Robust,
    /// The loss at the last step.
    Final,
}

/// What the comparison of losses at one depth says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The rank test finds a difference (p below [`SIGNIFICANCE`]).
    Differ,
    /// The 90% interval of peer ÷ ours lies within 1/[`EQUIVALENCE_FACTOR`]–[`EQUIVALENCE_FACTOR`].
    Equivalent,
    /// The seeds could have found a difference and found none, yet do not show equivalence.
    NoDifferenceDetected,
    /// Too few seeds for any test to be significant; the seed ranges overlap.
    OverlapUntestable,
    /// Too few seeds for any test to be significant; the seed ranges do not even overlap.
    ApartUntestable,
}

impl Verdict {
    pub fn text(self) -> String {
        match self {
            Verdict::Differ => format!("differ (p < {SIGNIFICANCE})"),
            Verdict::Equivalent => format!("equivalent within {EQUIVALENCE_FACTOR}× (90% interval)"),
            Verdict::NoDifferenceDetected => "no difference detected".into(),
            Verdict::OverlapUntestable => "seed ranges overlap (too few seeds to test)".into(),
            Verdict::ApartUntestable => "seed ranges apart (too few seeds to test)".into(),
        }
    }
}

/// Our runs and a peer's of one configuration at one depth.
#[derive(Debug, Clone)]
pub struct PeerComparison<'a> {
    /// This crate's variant; the peer's differs only by its implementation.
    pub ours: &'a Variant,
    pub peer: &'a Variant,
    pub depth: usize,
    pub statistic: Statistic,
    /// The compared losses, diverged runs as +∞.
    pub ours_losses: Vec<f64>,
    pub peer_losses: Vec<f64>,
    /// The peer's losses (first sample) against ours.
    pub test: RankTest,
    /// Peer ÷ ours with its 95% interval (Hodges–Lehmann on log loss); `None` with a diverged run.
    pub ratio_95: Option<Shift>,
    /// The equivalence test: whether the 90% interval lies within the factor, and that interval.
    pub equivalence: Option<(bool, Shift)>,
    /// Test accuracy of the runs that did not diverge, and the peer's against ours.
    pub ours_accuracy: Vec<f64>,
    pub peer_accuracy: Vec<f64>,
    pub accuracy_test: Option<RankTest>,
    /// Holm-adjusted p of the loss and accuracy tests, over every test of the section.
    pub holm_p: f64,
    pub accuracy_holm_p: Option<f64>,
}

impl PeerComparison<'_> {
    pub fn ours_median(&self) -> Option<f64> {
        median(self.ours_losses.iter().copied())
    }

    pub fn peer_median(&self) -> Option<f64> {
        median(self.peer_losses.iter().copied())
    }

    /// Peer median ÷ our median.
    pub fn ratio(&self) -> Option<f64> {
        Some(self.peer_median()? / self.ours_median()?)
    }

    /// Whether any test of these sample sizes could reach [`SIGNIFICANCE`].
    pub fn testable(&self) -> bool {
        smallest_p(self.test.n_a, self.test.n_b) < SIGNIFICANCE
    }

    pub fn accuracy_differs(&self) -> bool {
        self.accuracy_test.is_some_and(|t| t.p_value < SIGNIFICANCE)
    }

    pub fn verdict(&self) -> Verdict {
        let overlap = range_order(&self.ours_losses, &self.peer_losses).is_none();
        let equivalent = self.equivalence.is_some_and(|(inside, _)| inside);
        match (self.testable(), self.test.p_value < SIGNIFICANCE, equivalent, overlap) {
            (true, true, _, _) => Verdict::Differ,
            (_, _, true, _) => Verdict::Equivalent,
            (true, false, false, _) => Verdict::NoDifferenceDetected,
            (false, _, false, true) => Verdict::OverlapUntestable,
            (false, _, false, false) => Verdict::ApartUntestable,
        }
    }
}

/// The compared losses of a group: robust ones when `statistic` is robust, final ones otherwise;
/// a diverged run as +∞. `None` when a run that learned lacks the loss.
fn losses(group: &Group, statistic: Statistic) -> Option<Vec<f64>> {
    match statistic {
        Statistic::Robust => group.robust_losses(),
        Statistic::Final => group
            .runs
            .iter()
            .map(|r| if r.record.result.diverged { Some(f64::INFINITY) } else { r.record.result.final_train_loss })
            .collect(),
    }
}

/// Test accuracies of the runs that did not diverge and recorded one.
fn accuracies(group: &Group) -> Vec<f64> {
    group.runs.iter().filter(|r| !r.record.result.diverged).filter_map(|r| r.record.result.test_accuracy).collect()
}

/// Every peer group against our group of the same configuration and depth, by depth, with
/// Holm's adjustment over all their loss and accuracy tests.
pub fn comparisons<'a>(groups: &[Group<'a>]) -> Vec<PeerComparison<'a>> {
    let mut out = Vec::new();
    for peer in groups.iter().filter(|g| g.variant.implementation.is_some()) {
        let ours_variant = peer.variant.ours();
        let Some(ours) = groups.iter().find(|g| *g.variant == ours_variant && g.depth == peer.depth) else {
            continue;
        };
        let statistic = if peer.robust_losses().is_some() && ours.robust_losses().is_some() {
            Statistic::Robust
        } else {
            Statistic::Final
        };
        let (Some(ours_losses), Some(peer_losses)) = (losses(ours, statistic), losses(peer, statistic)) else {
            continue;
        };
        let Some(test) = mann_whitney_u(&peer_losses, &ours_losses) else {
            continue;
        };
        let (ours_accuracy, peer_accuracy) = (accuracies(ours), accuracies(peer));
        out.push(PeerComparison {
            ours: ours.variant,
            peer: peer.variant,
            depth: peer.depth,
            statistic,
            ratio_95: ratio_interval(&peer_losses, &ours_losses, 0.95),
            equivalence: equivalent_ratio(&peer_losses, &ours_losses),
            accuracy_test: mann_whitney_u(&peer_accuracy, &ours_accuracy),
            ours_losses,
            peer_losses,
            test,
            ours_accuracy,
            peer_accuracy,
            holm_p: f64::NAN,
            accuracy_holm_p: None,
        });
    }
    out.sort_by(|a, b| a.ours.cmp(b.ours).then(a.peer.cmp(b.peer)).then(a.depth.cmp(&b.depth)));
    let p_values: Vec<f64> = out
        .iter()
        .flat_map(|c| std::iter::once(c.test.p_value).chain(c.accuracy_test.map(|t| t.p_value)))
        .collect();
    let mut adjusted = holm(&p_values).into_iter();
    for c in &mut out {
        c.holm_p = adjusted.next().expect("one per loss test");
        if c.accuracy_test.is_some() {
            c.accuracy_holm_p = adjusted.next();
        }
    }
    out
}

/// How many tests the section ran: one on loss per comparison, one on accuracy where recorded.
pub fn test_count(comparisons: &[PeerComparison]) -> usize {
    comparisons.iter().map(|c| 1 + usize::from(c.accuracy_test.is_some())).sum()
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let groups = groups(&runs, |_| true);
    let comparisons = comparisons(&groups);
    if comparisons.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(&runs);
    let mut section = Section::new("An independent implementation");
    section.summary = words::summary(&comparisons);
    section.lead = words::lead(&comparisons, &axes);
    section.findings = words::findings(&comparisons, &axes);
    section.tables.push(table::table(&comparisons, &axes)?);
    Ok(Some(section))
}

#[cfg(test)]
mod tests {
    use super::table::table;
    use super::words::{findings, lead};
    use super::*;
    
    use crate::variant::tests::{synthetic_run, typed};
    use crate::variant::Run;

    fn run(arch: &str, depth: usize, seed: u64, robust: Option<f64>, peer: bool) -> Run {
        let mut record = synthetic_run(arch, depth, seed, robust.map(|r| r * 1.5));
        record.result.robust_train_loss = robust;
        record.implementation = peer.then(|| "pytorch 1.13.1".to_string());
        typed(record)
    }

    /// Depth 4, 5 seeds: interleaved over a decade (no difference detected, no equivalence).
    /// Depth 8, 5 seeds: PyTorch above in every pair (differ). Depth 16, 3 seeds: overlapping
    /// ranges (untestable). Depth 32, 10 seeds: within 2% (equivalent), but PyTorch's test
    /// accuracy higher in every pair.
    fn sweep() -> Vec<Run> {
        let mut runs = Vec::new();
        for seed in 0..5u64 {
            let s = seed as f64;
            runs.push(run("plain", 4, seed, Some(0.1 + 0.2 * s), false));
            runs.push(run("plain", 4, seed, Some(0.2 + 0.2 * s), true));
            runs.push(run("plain", 8, seed, Some(0.1 + 0.01 * s), false));
            runs.push(run("plain", 8, seed, if seed == 4 { None } else { Some(1.0 + s) }, true));
        }
        for seed in 0..10u64 {
            let s = seed as f64;
            runs.push(run("plain", 32, seed, Some(1.0 + 0.01 * s), false));
            let mut peer = run("plain", 32, seed, Some(1.005 + 0.01 * s), true);
            peer.record.result.test_accuracy = Some(0.95 + 0.002 * s);
            runs.push(peer);
        }
        for seed in 0..3u64 {
            runs.push(run("plain", 16, seed, Some(1.0 + seed as f64), false));
            runs.push(run("plain", 16, seed, Some(2.5 + seed as f64), true));
            // Depth 2: PyTorch's three below ours, which 3 seeds a side cannot make significant.
            runs.push(run("plain", 2, seed, Some(1.0 + seed as f64), false));
            runs.push(run("plain", 2, seed, Some(0.1 + 0.1 * seed as f64), true));
        }
        runs
    }

    #[test]
    fn verdicts_per_depth_from_the_rank_test_and_the_seed_counts() {
        let runs = sweep();
        let groups = groups(&runs, |_| true);
        let found = comparisons(&groups);
        let shape: Vec<(usize, Verdict)> = found.iter().map(|c| (c.depth, c.verdict())).collect();
        assert_eq!(
            shape,
            [
                (2, Verdict::ApartUntestable),
                (4, Verdict::NoDifferenceDetected),
                (8, Verdict::Differ),
                (16, Verdict::OverlapUntestable),
                (32, Verdict::Equivalent)
            ]
        );
        let found = &found[1..];
        // Depth 4: PyTorch's 0.2, 0.4, …, 1.0 beat 1, 2, 3, 4, 5 of ours: U = 15, p = 0.69.
        assert_eq!((found[0].test.u, found[0].statistic), (15.0, Statistic::Robust));
        assert!((found[0].test.p_value - 174.0 / 252.0).abs() < 1e-12);
        // Depth 8: every PyTorch run (one diverged, +∞) above every one of ours: U = 25.
        assert_eq!(found[1].test.u, 25.0);
        assert!((found[1].test.p_value - 2.0 / 252.0).abs() < 1e-12);
        assert_eq!(found[1].peer_losses.iter().filter(|v| v.is_infinite()).count(), 1);
        // Medians leave the diverged run out (as the degradation table does): 2.5 against 0.12.
        assert!((found[1].ratio().unwrap() - 2.5 / 0.12).abs() < 1e-9);
        // Depth 16: 3 against 3 can never reach p < 0.05.
        assert!(!found[2].testable());

        let axes = VaryingAxes::of_runs(&runs);
        let all = comparisons(&groups);
        assert_eq!(
            lead(&all, &axes),
            ["PyTorch 1.13.1 against this crate, plain: the losses are equivalent within 2× at depth 32; show no \
              detected difference, but no equivalence either, at depth 4; overlap in their seed ranges at depth 16; \
              have seed ranges apart (too few seeds to test) at depth 2; differ significantly at depth 8."]
        );
        // Ten tests: one on loss per depth, one on accuracy per depth (depth 8's peer runs all
        // recorded accuracy but one; every group has some).
        assert_eq!(test_count(&all), 10);
        let lines = findings(&all, &axes);
        assert_eq!(lines.len(), 4, "{lines:?}");
        // p = 2/252 is the second smallest of ten: ×9 = 0.071 after Holm, no longer below 0.05.
        assert!(
            lines[0].starts_with("Depth 8, plain: PyTorch 1.13.1's loss is higher (median 2.50 against 0.120, 21×"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("0.071 after Holm's correction for 10 tests, so not a finding on its own)."));
        // Depth 32: every peer accuracy above ours, p = 2/C(20, 10); ×10 still below 0.05.
        assert_eq!(
            lines[1],
            "Depth 32, plain: PyTorch 1.13.1's test accuracy is higher (median 95.9% against 84.5%; U = 100, \
             p = 1.1e-5; 1.1e-4 after Holm's correction for 10 tests)."
        );
        // Depth 4: the 3rd smallest and 3rd largest of the 25 pairwise ratios, 0.2/0.5 and 0.6/0.1.
        assert_eq!(
            lines[2],
            "No difference detected, and equivalence within 2× not shown either, at depth 4 plain (peer ÷ ours \
             0.40–6.0×): the 95% intervals in brackets are the ratios consistent with the seeds; a larger \
             difference would have been detected."
        );
        assert_eq!(
            lines[3],
            "Seed ranges apart, but too few seeds to tell the difference from seed noise: depth 2 plain (PyTorch \
             1.13.1 lower, 0.10×; p = 0.10 is the smallest 3 against 3 seeds can give)."
        );
        let t = table(found, &axes).unwrap();
        assert_eq!(t.text("peer_range", 1).as_deref(), Some("1.0–4.0 (1 diverged)"));
        assert_eq!(t.text("verdict", 2), Some(Verdict::OverlapUntestable.text()));
        assert_eq!(t.text("ratio_90", 3).as_deref(), Some("0.98–1.0×"));
    }

    #[test]
    fn falls_back_to_the_final_loss_and_needs_both_sides() {
        let older: Vec<Run> = sweep()
            .into_iter()
            .map(|mut r| {
                r.record.result.robust_train_loss = None;
                r
            })
            .collect();
        let groups_older = groups(&older, |_| true);
        assert!(comparisons(&groups_older).iter().all(|c| c.statistic == Statistic::Final));
        let only_ours: Vec<Run> = sweep().into_iter().filter(|r| r.variant.implementation.is_none()).collect();
        assert!(build(&Inputs::of_runs("quick", only_ours)).unwrap().is_none());
    }
}
