//! The section's prose: how the best of a grid was chosen and tested, and one finding per
//! variant, each saying how many of its tests hold after Holm's correction within its line.

use super::{label, Best, Comparison};
use crate::rank_test::{smallest_p, SIGNIFICANCE};
use crate::table::format_sig;
use crate::variant::{Variant, VaryingAxes};

/// "; all 5 hold after Holm's correction within the line's 6 tests"
pub(super) fn holm_clause(mine: &[&Comparison]) -> String {
    if mine.len() < 2 {
        return String::new(); // one test: nothing to correct for
    }
    let (higher, holding) =
        (mine.iter().filter(|c| c.higher()).count(), mine.iter().filter(|c| c.higher_after_holm()).count());
    let which = if holding == higher { format!("all {holding}") } else { format!("{holding} of these {higher}") };
    format!("; {which} hold after Holm's correction within the line's {} tests", mine.len())
}


pub(super) fn summary(best: &[Best]) -> Vec<String> {
    let seeds: Vec<usize> = best.iter().map(|b| b.losses.len()).collect();
    let (fewest, most) = (seeds.iter().copied().min().unwrap_or(0), seeds.iter().copied().max().unwrap_or(0));
    let mut text = format!(
        "Each variant was trained at every learning rate of a grid. At each depth the learning rate whose seeds reach \
         the lowest median robust final training loss is chosen (the robust loss is the median of the \
         full-training-set losses at the checkpoints of the last 10% of steps; a diverged run counts as +∞). The \
         question is optimisation, so training loss decides; the test error of the chosen runs is shown beside it. \
         The tests are two-sided Mann–Whitney U tests on the chosen runs' robust losses, at p < {SIGNIFICANCE}; \
         each finding below rests on the tests of its own line, and says how many of them hold after Holm's \
         correction within that line (the table gives every raw and adjusted p)."
    );
    if fewest > 0 {
        text.push_str(&format!(
            " With {fewest} seeds a side the smallest p a test can give is {}",
            format_sig(smallest_p(fewest, fewest), 2)
        ));
        text.push_str(if smallest_p(fewest, fewest) >= SIGNIFICANCE {
            ": no difference can be significant at this seed count, so every comparison reads \"no difference detected\"."
        } else {
            "."
        });
        if most != fewest {
            text.push_str(&format!(" (Groups have {fewest}–{most} seeds.)"));
        }
    }
    vec![text]
}

pub(super) fn findings(best: &[Best], depth_tests: &[Comparison], arch_tests: &[Comparison], axes: &VaryingAxes) -> Vec<String> {
    let mut out = Vec::new();
    let mut variants: Vec<&Variant> = best.iter().map(|b| &b.tuned).collect();
    variants.dedup();
    for variant in variants {
        let label = label(variant, axes);
        let mine: Vec<&Best> = best.iter().filter(|b| b.tuned == *variant).collect();
        let Some(top) = mine.iter().min_by(|a, b| a.loss_median.total_cmp(&b.loss_median).then(a.depth.cmp(&b.depth)))
        else {
            continue;
        };
        let tests: Vec<&Comparison> = depth_tests.iter().filter(|c| c.what == label).collect();
        let worse: Vec<String> = tests
            .iter()
            .filter(|c| c.higher())
            .map(|c| {
                format!("{} ({}× the loss, p = {})", c.depth, format_sig(c.ratio, 3), format_sig(c.test.p_value, 2))
            })
            .collect();
        let verdict = if worse.is_empty() {
            if tests.is_empty() {
                "no deeper depth was trained".to_string()
            } else {
                format!("no deeper depth is significantly worse ({} tested): no degradation detected", tests.len())
            }
        } else {
            format!(
                "worse at depth {} ({} of {} deeper depths tested{}): degradation survives tuning",
                worse.join(", "),
                worse.len(),
                tests.len(),
                holm_clause(&tests)
            )
        };
        out.push(format!(
            "{label}: best at depth {} (lr {}, robust loss {}); {verdict}.",
            top.depth,
            format_sig(top.lr, 3),
            format_sig(top.loss_median, 3)
        ));
    }
    let mut plains: Vec<&str> = arch_tests.iter().map(|c| c.what.as_str()).collect();
    plains.dedup();
    for plain in plains {
        let mine: Vec<&Comparison> = arch_tests.iter().filter(|c| c.what == plain).collect();
        let higher: Vec<String> = mine
            .iter()
            .filter(|c| c.higher())
            .map(|c| format!("{} (p = {})", c.depth, format_sig(c.test.p_value, 2)))
            .collect();
        out.push(format!(
            "{plain} against {}, each at its best learning rate: plain's loss is significantly higher at {} of {} depths{}.",
            mine[0].reference,
            higher.len(),
            mine.len(),
            if higher.is_empty() {
                String::new()
            } else {
                format!(" (depth {}{})", higher.join(", "), holm_clause(&mine))
            }
        ));
    }
    for b in best {
        if let Some(edge) = b.on_edge() {
            out.push(format!(
                "Grid too narrow: for {} at depth {} the best learning rate, {}, is the {edge} of its grid ({}–{}).",
                label(&b.tuned, axes),
                b.depth,
                format_sig(b.lr, 3),
                format_sig(b.grid[0], 3),
                format_sig(b.grid[b.grid.len() - 1], 3)
            ));
        }
    }
    out
}