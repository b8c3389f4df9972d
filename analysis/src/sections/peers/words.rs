//! The section's prose: what was compared, per-depth verdicts, and the findings, each saying no
//! more than its test can.

use super::{test_count, PeerComparison, Statistic, Verdict};
use crate::equivalence::{holm_clause, Shift, EQUIVALENCE_ALPHA, EQUIVALENCE_FACTOR};
use crate::rank_test::{format_u, SIGNIFICANCE};
use crate::stats::median;
use crate::table::{format_ratio, format_sig};
use crate::variant::{peer_labels, Variant, VaryingAxes};

/// "0.52–1.9×", or "any ratio" when the seeds bound it on neither side.
pub fn ratio_interval_text(shift: &Shift) -> String {
    match (shift.lower > 0.0, shift.upper.is_finite()) {
        (true, true) => format!("{}–{}×", format_sig(shift.lower, 2), format_sig(shift.upper, 2)),
        (true, false) => format!("above {}×", format_sig(shift.lower, 2)),
        (false, true) => format!("below {}×", format_sig(shift.upper, 2)),
        (false, false) => "any ratio".into(),
    }
}

pub fn summary(comparisons: &[PeerComparison]) -> Vec<String> {
    let peers = peer_labels(comparisons.iter().map(|c| c.peer));
    let statistic = if comparisons.iter().all(|c| c.statistic == Statistic::Robust) {
        "the robust final loss (median full-training-set loss over the last 10% of steps)"
    } else {
        "the robust final loss where both sides recorded it, else the final snapshot"
    };
    let tests = test_count(comparisons);
    let confidence = 100.0 * (1.0 - 2.0 * EQUIVALENCE_ALPHA);
    vec![
        format!(
            "{} trained the same configurations as this crate (same network definitions, data split, batch size, \
             optimizer and steps) from its own random initialisation and batch order, so single runs cannot be \
             compared, only their spread over seeds. Per configuration and depth the two are compared on \
             {statistic} by the Mann–Whitney U test (a diverged run ranks as +∞) and, beside it, on test accuracy. \
             The degradation table and chart above show both implementations side by side (the peer's lines dashed).",
            peers.join(" and ")
        ),
        format!(
            "A p above {SIGNIFICANCE} does not show that two implementations agree, only that no difference was \
             detected. Equivalence is tested separately, by two one-sided tests at {EQUIVALENCE_ALPHA} on the log \
             loss: the two are called equivalent when the {confidence:.0}% interval of the ratio peer ÷ ours \
             (Hodges–Lehmann, distribution-free) lies within 1/{EQUIVALENCE_FACTOR}–{EQUIVALENCE_FACTOR}×. Where \
             neither a difference nor equivalence is shown, the 95% interval of the ratio says how large a \
             difference the seeds could have missed. With 3 seeds a side the smallest possible p is 0.1, so there \
             the table can only say whether the seed ranges overlap."
        ),
        format!(
            "This section runs {tests} tests. If the implementations were identical, about {} of them would come \
             out below {SIGNIFICANCE} by chance; the table therefore also gives Holm's adjusted p, which keeps the \
             chance of any false finding among all {tests} at 5%.",
            format_sig(tests as f64 * SIGNIFICANCE, 2)
        ),
    ]
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

/// Per (ours, peer) pair of variants: at which depths the losses differ, are equivalent, show no
/// detected difference, or cannot be tested.
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
            (Verdict::Equivalent, format!("are equivalent within {EQUIVALENCE_FACTOR}×")),
            (Verdict::NoDifferenceDetected, "show no detected difference, but no equivalence either,".into()),
            (Verdict::OverlapUntestable, "overlap in their seed ranges".into()),
            (Verdict::ApartUntestable, "have seed ranges apart (too few seeds to test)".into()),
            (Verdict::Differ, "differ significantly".into()),
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

/// One line per depth where the losses differ significantly, then one per accuracy difference;
/// then the depths where no difference was detected, with the ratios the seeds rule out; then
/// the depths whose seed ranges lie apart but had too few seeds for any test to be significant.
pub fn findings(comparisons: &[PeerComparison], axes: &VaryingAxes) -> Vec<String> {
    let tests = test_count(comparisons);
    let direction = |p_greater: f64| if p_greater >= 0.5 { "higher" } else { "lower" };
    let ratio = |c: &PeerComparison| c.ratio().map_or("no ratio".to_string(), format_ratio);
    let mut out: Vec<String> = comparisons
        .iter()
        .filter(|c| c.verdict() == Verdict::Differ)
        .map(|c| {
            format!(
                "Depth {}, {}: {}'s loss is {} (median {} against {}, {}; U = {}, p = {}{}).",
                c.depth,
                c.ours.configuration_label(axes),
                c.peer.implementation_label(),
                direction(c.test.probability_a_greater()),
                format_sig(c.peer_median().unwrap_or(f64::NAN), 3),
                format_sig(c.ours_median().unwrap_or(f64::NAN), 3),
                ratio(c),
                format_u(c.test.u),
                format_sig(c.test.p_value, 2),
                holm_clause(c.holm_p, tests)
            )
        })
        .collect();
    for c in comparisons.iter().filter(|c| c.accuracy_differs()) {
        let test = c.accuracy_test.expect("accuracy_differs checks it");
        let percent = |v: &[f64]| format!("{:.1}%", 100.0 * median(v.iter().copied()).unwrap_or(f64::NAN));
        out.push(format!(
            "Depth {}, {}: {}'s test accuracy is {} (median {} against {}; U = {}, p = {}{}).",
            c.depth,
            c.ours.configuration_label(axes),
            c.peer.implementation_label(),
            direction(test.probability_a_greater()),
            percent(&c.peer_accuracy),
            percent(&c.ours_accuracy),
            format_u(test.u),
            format_sig(test.p_value, 2),
            holm_clause(c.accuracy_holm_p.unwrap_or(f64::NAN), tests)
        ));
    }
    let undetected: Vec<String> = comparisons
        .iter()
        .filter(|c| c.verdict() == Verdict::NoDifferenceDetected)
        .map(|c| {
            let bound = c.ratio_95.as_ref().map_or("unbounded (a diverged run)".into(), ratio_interval_text);
            format!("depth {} {} (peer ÷ ours {bound})", c.depth, c.ours.configuration_label(axes))
        })
        .collect();
    if !undetected.is_empty() {
        out.push(format!(
            "No difference detected, and equivalence within {EQUIVALENCE_FACTOR}× not shown either, at {}: the \
             95% intervals in brackets are the ratios consistent with the seeds; a larger difference would have \
             been detected.",
            undetected.join("; ")
        ));
    }
    let apart: Vec<String> = comparisons
        .iter()
        .filter(|c| c.verdict() == Verdict::ApartUntestable)
        .map(|c| {
            format!(
                "depth {} {} ({} {}, {}; p = {} is the smallest {} against {} seeds can give)",
                c.depth,
                c.ours.configuration_label(axes),
                c.peer.implementation_label(),
                direction(c.test.probability_a_greater()),
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
