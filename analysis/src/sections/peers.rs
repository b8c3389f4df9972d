//! Does an independent implementation find the same losses? A peer (PyTorch, through
//! `peers/pytorch/parity.py run`) trains the same configurations with its own initialisation
//! and batch order; its runs sit beside ours in every table and chart, and this section says
//! per depth whether the two agree — by a rank test over seeds, since the two implementations
//! share no random numbers and can only be compared as distributions.
//!
//! The statistic is the robust final loss when every run of both groups has one, else the final
//! snapshot; a diverged run counts as +∞ (it ranks above every run that learned).

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::rank_test::{format_u, mann_whitney_u, method_text, smallest_p, RankTest, SIGNIFICANCE};
use crate::section::Section;
use crate::stats::median;
use crate::table::{format_ratio, format_sig, spec, Format, Table};
use crate::variant::{groups, peer_labels, Group, Variant, VaryingAxes};
use polars::prelude::{Column, DataFrame};

/// Which loss the two implementations are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// Median full-training-set loss over the last 10% of steps.
    Robust,
    /// The loss at the last step.
    Final,
}

/// What the comparison at one depth says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The rank test finds no difference, and it had the seeds to find one.
    Agree,
    /// Too few seeds for any test to be significant; the seed ranges overlap.
    OverlapUntestable,
    /// Too few seeds for any test to be significant; the seed ranges do not even overlap.
    ApartUntestable,
    /// The rank test finds a difference (p below [`SIGNIFICANCE`]).
    Differ,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Agree => "agree (no difference at p < 0.05)",
            Verdict::OverlapUntestable => "seed ranges overlap (too few seeds to test)",
            Verdict::ApartUntestable => "seed ranges apart (too few seeds to test)",
            Verdict::Differ => "differ (p < 0.05)",
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

    pub fn verdict(&self) -> Verdict {
        let range = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        };
        let ((a_lo, a_hi), (b_lo, b_hi)) = (range(&self.ours_losses), range(&self.peer_losses));
        let overlap = a_lo <= b_hi && b_lo <= a_hi;
        match (self.testable(), self.test.p_value < SIGNIFICANCE, overlap) {
            (true, true, _) => Verdict::Differ,
            (true, false, _) => Verdict::Agree,
            (false, _, true) => Verdict::OverlapUntestable,
            (false, _, false) => Verdict::ApartUntestable,
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
            .map(|r| if r.record.diverged { Some(f64::INFINITY) } else { r.record.final_train_loss })
            .collect(),
    }
}

/// Every peer group against our group of the same configuration and depth, by depth.
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
        if let Some(test) = mann_whitney_u(&peer_losses, &ours_losses) {
            out.push(PeerComparison {
                ours: ours.variant,
                peer: peer.variant,
                depth: peer.depth,
                statistic,
                ours_losses,
                peer_losses,
                test,
            });
        }
    }
    out.sort_by(|a, b| a.ours.cmp(b.ours).then(a.peer.cmp(b.peer)).then(a.depth.cmp(&b.depth)));
    out
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
    section.summary = summary(&comparisons);
    section.lead = lead(&comparisons, &axes);
    section.findings = findings(&comparisons, &axes);
    section.tables.push(table(&comparisons, &axes)?);
    Ok(Some(section))
}

fn summary(comparisons: &[PeerComparison]) -> Vec<String> {
    let peers = peer_labels(comparisons.iter().map(|c| c.peer));
    let statistic = if comparisons.iter().all(|c| c.statistic == Statistic::Robust) {
        "the robust final loss (median full-training-set loss over the last 10% of steps)"
    } else {
        "the robust final loss where both sides recorded it, else the final snapshot"
    };
    vec![format!(
        "{} trained the same configurations as this crate (same network definitions, data split, batch size, \
         optimizer and steps) from its own random initialisation and batch order, so single runs cannot be \
         compared, only their spread over seeds. Per configuration and depth the two are compared on {statistic} \
         by the Mann–Whitney U test (a diverged run ranks as +∞). \"Agree\" means the test, which had enough seeds \
         to find a difference, found none at p < {SIGNIFICANCE}; with 3 seeds a side the smallest possible p is 0.1, \
         so there the table can only say whether the seed ranges overlap. The degradation table and chart above \
         show both implementations side by side (the peer's lines dashed).",
        peers.join(" and ")
    )]
}

/// "depths 2, 4 and 8"
fn depth_list(depths: &[usize]) -> String {
    let parts: Vec<String> = depths.iter().map(usize::to_string).collect();
    match parts.len() {
        0 => String::new(),
        1 => format!("depth {}", parts[0]),
        n => format!("depths {} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

/// Per (ours, peer) pair of variants: at which depths the two agree, overlap, or differ.
pub fn lead(comparisons: &[PeerComparison], axes: &VaryingAxes) -> Vec<String> {
    let mut pairs: Vec<(&Variant, &Variant)> = Vec::new();
    for c in comparisons {
        if !pairs.contains(&(c.ours, c.peer)) {
            pairs.push((c.ours, c.peer));
        }
    }
    let mut out = Vec::new();
    for (ours, peer) in pairs {
        let mine: Vec<&PeerComparison> = comparisons.iter().filter(|c| c.ours == ours && c.peer == peer).collect();
        let at = |verdict: Verdict| -> Vec<usize> {
            mine.iter().filter(|c| c.verdict() == verdict).map(|c| c.depth).collect()
        };
        let mut clauses = Vec::new();
        for (verdict, words) in [
            (Verdict::Agree, "agree"),
            (Verdict::OverlapUntestable, "overlap in their seed ranges"),
            (Verdict::ApartUntestable, "have seed ranges apart (too few seeds to test)"),
            (Verdict::Differ, "differ significantly"),
        ] {
            let depths = at(verdict);
            if !depths.is_empty() {
                clauses.push(format!("{words} at {}", depth_list(&depths)));
            }
        }
        out.push(format!(
            "{} against this crate, {}: the losses {}.",
            peer.implementation_label(),
            ours.configuration_label(axes),
            clauses.join("; ")
        ));
    }
    out
}

/// One line per depth where the implementations differ significantly; then one line naming the
/// depths whose seed ranges lie apart but had too few seeds for any test to be significant
/// (not a finding: a difference not shown to exceed the seed noise).
pub fn findings(comparisons: &[PeerComparison], axes: &VaryingAxes) -> Vec<String> {
    let direction = |c: &PeerComparison| if c.test.probability_a_greater() >= 0.5 { "higher" } else { "lower" };
    let ratio = |c: &PeerComparison| c.ratio().map_or("no ratio".to_string(), format_ratio);
    let mut out: Vec<String> = comparisons
        .iter()
        .filter(|c| c.verdict() == Verdict::Differ)
        .map(|c| {
            format!(
                "Depth {}, {}: {}'s loss is {} (median {} against {}, {}; U = {}, p = {}).",
                c.depth,
                c.ours.configuration_label(axes),
                c.peer.implementation_label(),
                direction(c),
                format_sig(c.peer_median().unwrap_or(f64::NAN), 3),
                format_sig(c.ours_median().unwrap_or(f64::NAN), 3),
                ratio(c),
                format_u(c.test.u),
                format_sig(c.test.p_value, 2)
            )
        })
        .collect();
    let apart: Vec<String> = comparisons
        .iter()
        .filter(|c| c.verdict() == Verdict::ApartUntestable)
        .map(|c| {
            format!(
                "depth {} {} ({} {}, {}; p = {} is the smallest {} against {} seeds can give)",
                c.depth,
                c.ours.configuration_label(axes),
                c.peer.implementation_label(),
                direction(c),
                ratio(c),
                format_sig(c.test.p_value, 2),
                c.test.n_a,
                c.test.n_b
            )
        })
        .collect();
    if !apart.is_empty() {
        out.push(format!(
            "Seed ranges apart, but too few seeds to tell the difference from seed noise: {}.",
            apart.join("; ")
        ));
    }
    out
}

fn range_text(losses: &[f64]) -> String {
    let finite: Vec<f64> = losses.iter().copied().filter(|v| v.is_finite()).collect();
    let diverged = losses.len() - finite.len();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut text =
        if finite.is_empty() { String::new() } else { format!("{}–{}", format_sig(lo, 2), format_sig(hi, 2)) };
    if diverged > 0 {
        text.push_str(&format!(" ({diverged} diverged)"));
    }
    text
}

pub fn table(comparisons: &[PeerComparison], axes: &VaryingAxes) -> Result<Table> {
    let statistic = |c: &PeerComparison| match c.statistic {
        Statistic::Robust => "robust",
        Statistic::Final => "final",
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), comparisons.iter().map(|c| c.ours.configuration_label(axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), comparisons.iter().map(|c| c.depth as u64).collect::<Vec<_>>()),
        Column::new("peer".into(), comparisons.iter().map(|c| c.peer.implementation_label()).collect::<Vec<_>>()),
        Column::new("statistic".into(), comparisons.iter().map(statistic).collect::<Vec<_>>()),
        Column::new("n_ours".into(), comparisons.iter().map(|c| c.test.n_b as u64).collect::<Vec<_>>()),
        Column::new("n_peer".into(), comparisons.iter().map(|c| c.test.n_a as u64).collect::<Vec<_>>()),
        Column::new("ours_median".into(), comparisons.iter().map(|c| c.ours_median()).collect::<Vec<_>>()),
        Column::new("ours_range".into(), comparisons.iter().map(|c| range_text(&c.ours_losses)).collect::<Vec<_>>()),
        Column::new("peer_median".into(), comparisons.iter().map(|c| c.peer_median()).collect::<Vec<_>>()),
        Column::new("peer_range".into(), comparisons.iter().map(|c| range_text(&c.peer_losses)).collect::<Vec<_>>()),
        Column::new("peer_over_ours".into(), comparisons.iter().map(|c| c.ratio()).collect::<Vec<_>>()),
        Column::new("u_shown".into(), comparisons.iter().map(|c| format_u(c.test.u)).collect::<Vec<_>>()),
        Column::new("p_value".into(), comparisons.iter().map(|c| c.test.p_value).collect::<Vec<_>>()),
        Column::new("method".into(), comparisons.iter().map(|c| method_text(c.test.method)).collect::<Vec<_>>()),
        Column::new("verdict".into(), comparisons.iter().map(|c| c.verdict().text()).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("peer_agreement"))?;
    Ok(Table {
        slug: "peer_agreement".into(),
        title: "Agreement with an independent implementation, per depth".into(),
        note: "Loss: the robust final loss (median full-train-set loss over the last 10% of steps) where both sides \
               recorded it, else the final snapshot; median and range over seeds, diverged runs counted apart. U: \
               the (peer, ours) pairs of seeds in which the peer's loss is the higher, ties counting ½; p two-sided."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("peer", "peer", Format::Text),
            spec("statistic", "loss", Format::Text),
            spec("n_ours", "seeds (ours)", Format::Integer),
            spec("n_peer", "seeds (peer)", Format::Integer),
            spec("ours_median", "ours, median", Format::Sig(3)),
            spec("ours_range", "ours, range", Format::Text),
            spec("peer_median", "peer, median", Format::Sig(3)),
            spec("peer_range", "peer, range", Format::Text),
            spec("peer_over_ours", "peer ÷ ours", Format::Sig(2)),
            spec("u_shown", "U", Format::Text),
            spec("p_value", "p", Format::Sig(2)),
            spec("method", "method", Format::Text),
            spec("verdict", "verdict", Format::Text),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::ResultSet;
    use crate::variant::tests::{synthetic_run, test_machine, typed};
    use crate::variant::Run;

    fn run(arch: &str, depth: usize, seed: u64, robust: Option<f64>, peer: bool) -> Run {
        let mut record = synthetic_run(arch, depth, seed, robust.map(|r| r * 1.5));
        record.robust_train_loss = robust;
        record.implementation = peer.then(|| "pytorch 1.13.1".to_string());
        typed(record)
    }

    /// Depth 4, 5 seeds: interleaved (agree). Depth 8, 5 seeds: PyTorch above in every pair
    /// (differ). Depth 16, 3 seeds: overlapping ranges (untestable).
    fn sweep() -> Vec<Run> {
        let mut runs = Vec::new();
        for seed in 0..5u64 {
            let s = seed as f64;
            runs.push(run("plain", 4, seed, Some(0.1 + 0.2 * s), false));
            runs.push(run("plain", 4, seed, Some(0.2 + 0.2 * s), true));
            runs.push(run("plain", 8, seed, Some(0.1 + 0.01 * s), false));
            runs.push(run("plain", 8, seed, if seed == 4 { None } else { Some(1.0 + s) }, true));
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
                (4, Verdict::Agree),
                (8, Verdict::Differ),
                (16, Verdict::OverlapUntestable)
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
            ["PyTorch 1.13.1 against this crate, plain: the losses agree at depth 4; overlap in their seed ranges at \
              depth 16; have seed ranges apart (too few seeds to test) at depth 2; differ significantly at depth 8."]
        );
        let lines = findings(&all, &axes);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[1],
            "Seed ranges apart, but too few seeds to tell the difference from seed noise: depth 2 plain (PyTorch \
             1.13.1 lower, 0.10×; p = 0.10 is the smallest 3 against 3 seeds can give)."
        );
        assert!(
            lines[0].starts_with("Depth 8, plain: PyTorch 1.13.1's loss is higher (median 2.50 against 0.120, 21×"),
            "{}",
            lines[0]
        );
        let t = table(found, &axes).unwrap();
        assert_eq!(t.text("peer_range", 1).as_deref(), Some("1.0–4.0 (1 diverged)"));
        assert_eq!(t.text("verdict", 2).as_deref(), Some(Verdict::OverlapUntestable.text()));
    }

    #[test]
    fn falls_back_to_the_final_loss_and_needs_both_sides() {
        let older: Vec<Run> = sweep()
            .into_iter()
            .map(|mut r| {
                r.record.robust_train_loss = None;
                r
            })
            .collect();
        let groups_older = groups(&older, |_| true);
        assert!(comparisons(&groups_older).iter().all(|c| c.statistic == Statistic::Final));
        let only_ours: Vec<Run> = sweep().into_iter().filter(|r| r.variant.implementation.is_none()).collect();
        let result = ResultSet {
            dir: "results".into(),
            machine: test_machine(),
            experiment: "quick".into(),
            experiment_text: None,
            experiment_config: None,
            runs: only_ours,
        };
        assert!(build(&Inputs { results: vec![result], ..Inputs::default() }).unwrap().is_none());
    }
}
