//! Is the gap between plain and residual nets bigger than the scatter between seeds? One final
//! snapshot of a deep plain net's loss can land on a spike or between two, and its seeds spread
//! over orders of magnitude; so this section compares the robust final loss (the median
//! full-train-set loss over the last 10% of steps) of plain and residual nets at each depth by
//! a rank test over seeds, and counts the loss spikes beside it.
//!
//! It applies only where a (context, depth) has at least [`MIN_SEEDS`] seeds of both a plain
//! and a residual variant whose records carry the robust loss (older records do not).

use crate::equivalence::{holm, holm_clause};
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::rank_test::{format_u, mann_whitney_u, method_text, smallest_p, RankTest, SIGNIFICANCE};
use crate::section::Section;
use crate::spikes::{loss_spikes, SPIKE_FACTOR};
use crate::stats::median;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{groups, Group, Variant, VaryingAxes};
use polars::prelude::{Column, DataFrame};

/// Fewest seeds per side for a comparison: with 5 against 5 the smallest exact two-sided p is
/// 2/C(10, 5) ≈ 0.008, below [`SIGNIFICANCE`]; with 3 against 3 it is 0.1, so no difference
/// could ever be significant.
pub const MIN_SEEDS: usize = 5;

/// One variant at one depth, summarised over seeds.
#[derive(Debug, Clone)]
pub struct RobustRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub seeds: usize,
    pub diverged: usize,
    /// Median over the runs that did not diverge, as in the degradation table.
    pub final_median: Option<f64>,
    /// Median, min and max of the robust loss over the runs that did not diverge.
    pub robust_median: Option<f64>,
    pub robust_min: Option<f64>,
    pub robust_max: Option<f64>,
    /// Loss spikes summed over the group's runs.
    pub spikes: usize,
}

/// A plain variant against a residual one of the same context, at one depth.
#[derive(Debug, Clone)]
pub struct Comparison<'a> {
    pub plain: &'a Variant,
    pub residual: &'a Variant,
    pub depth: usize,
    /// The test of plain's robust losses (first sample) against residual's.
    pub test: RankTest,
    /// Holm's adjusted p over every comparison of the section.
    pub holm_p: f64,
}

impl Comparison<'_> {
    pub fn significant(&self) -> bool {
        self.test.p_value < SIGNIFICANCE
    }
}

/// Every plain group against every residual group of the same context and depth, where both
/// have at least [`MIN_SEEDS`] seeds with robust losses; ordered by depth.
pub fn comparisons<'a>(groups: &[Group<'a>]) -> Vec<Comparison<'a>> {
    let eligible = |g: &Group| g.seeds() >= MIN_SEEDS && g.robust_losses().is_some();
    let mut out = Vec::new();
    for plain in groups.iter().filter(|g| g.variant.is_plain() && eligible(g)) {
        let residuals = groups.iter().filter(|g| {
            !g.variant.is_plain() && g.depth == plain.depth && g.variant.context() == plain.variant.context()
        });
        for residual in residuals.filter(|g| eligible(g)) {
            let (Some(a), Some(b)) = (plain.robust_losses(), residual.robust_losses()) else { continue };
            if let Some(test) = mann_whitney_u(&a, &b) {
                let (plain, residual, depth) = (plain.variant, residual.variant, plain.depth);
                out.push(Comparison { plain, residual, depth, test, holm_p: f64::NAN });
            }
        }
    }
    out.sort_by(|x, y| x.depth.cmp(&y.depth).then(x.plain.cmp(y.plain)).then(x.residual.cmp(y.residual)));
    let adjusted = holm(&out.iter().map(|c| c.test.p_value).collect::<Vec<_>>());
    for (c, p) in out.iter_mut().zip(adjusted) {
        c.holm_p = p;
    }
    out
}

/// The rows of the groups that take part in a comparison, by depth then variant.
pub fn rows<'a>(groups: &[Group<'a>], comparisons: &[Comparison]) -> Vec<RobustRow<'a>> {
    let compared =
        |g: &Group| comparisons.iter().any(|c| c.depth == g.depth && (c.plain == g.variant || c.residual == g.variant));
    let mut rows: Vec<RobustRow> = groups
        .iter()
        .filter(|g| compared(g))
        .map(|g| {
            let learned = g.runs.iter().filter(|r| !r.record.result.diverged);
            let robust: Vec<f64> = learned.clone().filter_map(|r| r.record.result.robust_train_loss).collect();
            RobustRow {
                variant: g.variant,
                depth: g.depth,
                seeds: g.seeds(),
                diverged: g.runs.iter().filter(|r| r.record.result.diverged).count(),
                final_median: median(learned.filter_map(|r| r.record.result.final_train_loss)),
                robust_median: median(robust.iter().copied()),
                robust_min: robust.iter().copied().min_by(f64::total_cmp),
                robust_max: robust.iter().copied().max_by(f64::total_cmp),
                spikes: g.runs.iter().map(|r| loss_spikes(&r.record.result.loss_curve)).sum(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.depth.cmp(&b.depth).then(a.variant.cmp(b.variant)));
    rows
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let groups = groups(&runs, |_| true);
    let comparisons = comparisons(&groups);
    if comparisons.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(&runs);
    let rows = rows(&groups, &comparisons);
    let mut section = Section::new("Robust final loss and significance");
    section.summary = summary(&comparisons);
    section.lead = lead(&comparisons, &axes);
    section.findings = findings(&comparisons, &axes);
    section.tables.push(loss_table(&rows, &axes)?);
    section.tables.push(test_table(&comparisons, &axes)?);
    Ok(Some(section))
}

fn summary(comparisons: &[Comparison]) -> Vec<String> {
    let mut out = vec![format!(
        "The final training loss is one snapshot, and a deep plain net's loss under Adam can jump by orders of \
         magnitude and come back between two checkpoints. The robust final loss is the median of the \
         full-training-set loss over the last 10% of steps, which one spike cannot move. A loss spike is a \
         stretch of checkpoints whose loss is more than {SPIKE_FACTOR}× the lowest the run had reached before."
    )];
    let mut text = "Plain and residual nets are compared at each depth by the Mann–Whitney U test on the robust \
                    losses of their seeds (a diverged run ranks as +∞): U counts the (plain, residual) pairs of \
                    seeds in which plain's loss is the higher, ties counting ½, so P(plain > residual) = \
                    U/(n_plain·n_residual). The p-value is two-sided, exact when no two losses tie."
        .to_string();
    let sizes = |c: &Comparison| (c.test.n_a, c.test.n_b);
    if comparisons.iter().all(|c| sizes(c) == sizes(&comparisons[0])) {
        let (a, b) = sizes(&comparisons[0]);
        let smallest = smallest_p(a, b);
        text.push_str(&format!(
            " With {a} against {b} seeds, p = 2/C({}, {a}) ≈ {} is the smallest a test can give (every plain run \
             on one side of every residual run).",
            a + b,
            format_sig(smallest, 2)
        ));
    }
    text.push_str(&format!(
        " Differences with p < {SIGNIFICANCE} are listed as findings; a larger p means the difference is within \
         seed noise. The section runs {}; the table gives Holm's adjusted p, which keeps the chance of any \
         false finding among them at 5%, and a finding whose adjusted p is not below {SIGNIFICANCE} says so.",
        if comparisons.len() == 1 { "1 test".to_string() } else { format!("{} tests", comparisons.len()) }
    ));
    out.push(text);
    out
}

/// "higher than residual α=1/√K's in every pair", or "lower … in 80% of pairs".
fn relation(c: &Comparison, axes: &VaryingAxes) -> String {
    let p_greater = c.test.probability_a_greater();
    let (direction, share) = if p_greater >= 0.5 { ("higher", p_greater) } else { ("lower", 1.0 - p_greater) };
    let pairs = if share >= 1.0 { "every pair".to_string() } else { format!("{:.0}% of pairs", 100.0 * share) };
    format!("{direction} than {}'s in {pairs}", c.residual.label(axes))
}

fn statistics(c: &Comparison) -> String {
    format!("U = {}, p = {}, {}", format_u(c.test.u), format_sig(c.test.p_value, 2), method_text(c.test.method))
}

/// One line per significant difference; then one line naming the comparisons within seed noise.
pub fn findings(comparisons: &[Comparison], axes: &VaryingAxes) -> Vec<String> {
    let mut out: Vec<String> = comparisons
        .iter()
        .filter(|c| c.significant())
        .map(|c| {
            let holm = holm_clause(c.holm_p, comparisons.len());
            format!(
                "Depth {}: {}'s robust loss is {} ({}{holm}).",
                c.depth,
                c.plain.label(axes),
                relation(c, axes),
                statistics(c)
            )
        })
        .collect();
    let noise: Vec<String> = comparisons
        .iter()
        .filter(|c| !c.significant())
        .map(|c| {
            format!("depth {}, {} vs {} ({})", c.depth, c.plain.label(axes), c.residual.label(axes), statistics(c))
        })
        .collect();
    if !noise.is_empty() {
        out.push(format!("Within seed noise (p ≥ {SIGNIFICANCE}): {}.", noise.join("; ")));
    }
    out
}

/// Per pair of variants: the depths where plain is significantly higher, lower, and within noise.
pub fn lead(comparisons: &[Comparison], axes: &VaryingAxes) -> Vec<String> {
    let mut pairs: Vec<(&Variant, &Variant)> = Vec::new();
    for c in comparisons {
        if !pairs.contains(&(c.plain, c.residual)) {
            pairs.push((c.plain, c.residual));
        }
    }
    // "depth 16 (p = 0.3)", "depths 32 (p = 1.1e-5) and 64 (p = 1.1e-5)"
    let depths = |list: &[&Comparison]| -> String {
        let parts: Vec<String> =
            list.iter().map(|c| format!("{} (p = {})", c.depth, format_sig(c.test.p_value, 2))).collect();
        match parts.len() {
            1 => format!("depth {}", parts[0]),
            n => format!("depths {} and {}", parts[..n - 1].join(", "), parts[n - 1]),
        }
    };
    let mut out = Vec::new();
    for (plain, residual) in pairs {
        let mine: Vec<&Comparison> =
            comparisons.iter().filter(|c| c.plain == plain && c.residual == residual).collect();
        let sizes: Vec<usize> = mine.iter().flat_map(|c| [c.test.n_a, c.test.n_b]).collect();
        let (fewest, most) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
        let seeds = if fewest == most { format!("{most}") } else { format!("{fewest}–{most}") };
        let higher: Vec<&Comparison> =
            mine.iter().copied().filter(|c| c.test.a_higher()).collect();
        let lower: Vec<&Comparison> =
            mine.iter().copied().filter(|c| c.significant() && c.test.probability_a_greater() < 0.5).collect();
        let noise: Vec<&Comparison> = mine.iter().copied().filter(|c| !c.significant()).collect();
        let mut clauses = Vec::new();
        if !higher.is_empty() {
            clauses.push(format!("significantly higher at {}", depths(&higher)));
        }
        if !lower.is_empty() {
            clauses.push(format!("significantly lower at {}", depths(&lower)));
        }
        if !noise.is_empty() {
            clauses.push(format!("within seed noise at {}", depths(&noise)));
        }
        out.push(format!(
            "With {seeds} seeds a side, the robust final loss (median over the last 10% of steps) of {} against {} \
             (Mann–Whitney U test): {}.",
            plain.label(axes),
            residual.label(axes),
            clauses.join("; ")
        ));
    }
    out
}

pub fn loss_table(rows: &[RobustRow], axes: &VaryingAxes) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("seeds".into(), rows.iter().map(|r| r.seeds as u64).collect::<Vec<_>>()),
        Column::new("final_loss_median".into(), rows.iter().map(|r| r.final_median).collect::<Vec<_>>()),
        Column::new("robust_loss_median".into(), rows.iter().map(|r| r.robust_median).collect::<Vec<_>>()),
        Column::new("robust_loss_min".into(), rows.iter().map(|r| r.robust_min).collect::<Vec<_>>()),
        Column::new("robust_loss_max".into(), rows.iter().map(|r| r.robust_max).collect::<Vec<_>>()),
        Column::new("loss_spikes".into(), rows.iter().map(|r| r.spikes as u64).collect::<Vec<_>>()),
        Column::new("diverged".into(), rows.iter().map(|r| r.diverged as u64).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("robust_loss"))?;
    Ok(Table {
        slug: "robust_loss".into(),
        title: "Robust final loss by depth and variant".into(),
        note: format!(
            "Final train loss: the loss at the last step, median over seeds. Robust loss: the median \
             full-training-set loss over the last 10% of steps; median, min and max over seeds. Diverged runs have \
             neither and are left out of these columns (the rank test counts them as +∞). Loss spikes: stretches \
             of checkpoints above {SPIKE_FACTOR}× the run's lowest loss so far, summed over the seeds."
        ),
        frame,
        columns: vec![
            spec("depth", "depth", Format::Integer),
            spec("variant", "variant", Format::Text),
            spec("seeds", "seeds", Format::Integer),
            spec("final_loss_median", "final train loss (median)", Format::Sig(3)),
            spec("robust_loss_median", "robust loss (median)", Format::Sig(3)),
            spec("robust_loss_min", "robust min", Format::Sig(3)),
            spec("robust_loss_max", "robust max", Format::Sig(3)),
            spec("loss_spikes", "loss spikes (total)", Format::Integer),
            spec("diverged", "diverged", Format::Integer),
        ],
    })
}

pub fn test_table(comparisons: &[Comparison], axes: &VaryingAxes) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("depth".into(), comparisons.iter().map(|c| c.depth as u64).collect::<Vec<_>>()),
        Column::new("plain".into(), comparisons.iter().map(|c| c.plain.label(axes)).collect::<Vec<_>>()),
        Column::new("residual".into(), comparisons.iter().map(|c| c.residual.label(axes)).collect::<Vec<_>>()),
        Column::new("n_plain".into(), comparisons.iter().map(|c| c.test.n_a as u64).collect::<Vec<_>>()),
        Column::new("n_residual".into(), comparisons.iter().map(|c| c.test.n_b as u64).collect::<Vec<_>>()),
        Column::new("u".into(), comparisons.iter().map(|c| c.test.u).collect::<Vec<_>>()),
        Column::new("u_shown".into(), comparisons.iter().map(|c| format_u(c.test.u)).collect::<Vec<_>>()),
        Column::new("p_value".into(), comparisons.iter().map(|c| c.test.p_value).collect::<Vec<_>>()),
        Column::new("p_holm".into(), comparisons.iter().map(|c| c.holm_p).collect::<Vec<_>>()),
        Column::new("method".into(), comparisons.iter().map(|c| method_text(c.test.method)).collect::<Vec<_>>()),
        Column::new(
            "p_plain_greater".into(),
            comparisons.iter().map(|c| c.test.probability_a_greater()).collect::<Vec<_>>(),
        ),
    ])
    .map_err(Error::polars("robust_rank_test"))?;
    Ok(Table {
        slug: "robust_rank_test".into(),
        title: "Plain vs residual: Mann–Whitney U test on the robust final loss".into(),
        note: "U: the (plain, residual) pairs of seeds in which plain's robust loss is the higher, ties counting ½; a \
               diverged run counts as +∞. p: two-sided. P(plain > residual) = U/(n_plain·n_residual): 1 when every \
               plain run is above every residual run, ½ when the two are interleaved."
            .into(),
        frame,
        columns: vec![
            spec("depth", "depth", Format::Integer),
            spec("plain", "plain", Format::Text),
            spec("residual", "residual", Format::Text),
            spec("n_plain", "n plain", Format::Integer),
            spec("n_residual", "n residual", Format::Integer),
            spec("u_shown", "U", Format::Text),
            spec("p_value", "p (two-sided)", Format::Sig(2)),
            spec("p_holm", "p (Holm)", Format::Sig(2)),
            spec("method", "method", Format::Text),
            spec("p_plain_greater", "P(plain > residual)", Format::Sig(2)),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    
    use crate::rank_test::Method;
    use crate::variant::tests::{synthetic_run, typed};
    use crate::variant::Run;
    use degradation_bench::record::LossPoint;

    /// A run with a robust loss (`None`: the run diverged).
    fn run(arch: &str, depth: usize, seed: u64, robust: Option<f64>) -> Run {
        let mut record = synthetic_run(arch, depth, seed, robust.map(|r| r * 1.5));
        record.result.robust_train_loss = robust;
        typed(record)
    }

    /// Depth 4: plain and residual interleave. Depth 8: plain above residual in 24 of 25 pairs,
    /// one plain run diverged, one has a spike.
    fn sweep() -> Vec<Run> {
        let mut runs = Vec::new();
        let depth4 = ([0.1, 0.3, 0.5, 0.7, 0.9], [0.2, 0.4, 0.6, 0.8, 1.0]);
        let depth8 = ([Some(0.5), Some(0.6), Some(0.7), Some(0.8), None], [0.1, 0.2, 0.3, 0.4, 0.55]);
        for seed in 0..5 {
            runs.push(run("plain", 4, seed as u64, Some(depth4.0[seed])));
            runs.push(run("residual", 4, seed as u64, Some(depth4.1[seed])));
            runs.push(run("plain", 8, seed as u64, depth8.0[seed]));
            runs.push(run("residual", 8, seed as u64, Some(depth8.1[seed])));
        }
        // 2.0, 0.1, then 5.0 > 10 × 0.1: one spike.
        let spiky = runs.iter_mut().find(|r| r.variant.is_plain() && r.record.setup.depth == 8).unwrap();
        spiky.record.result.loss_curve = [2.0, 0.1, 5.0, 0.09]
            .iter()
            .enumerate()
            .map(|(i, &loss)| LossPoint { step: 50 * i, loss: Some(loss) })
            .collect();
        runs
    }

    fn inputs(runs: Vec<Run>) -> Inputs {
        Inputs::of_runs("quick", runs)
    }

    #[test]
    fn rank_test_per_depth_with_a_diverged_run_ranked_last() {
        let runs = sweep();
        let groups = groups(&runs, |_| true);
        let found = comparisons(&groups);
        assert_eq!(found.len(), 2);
        // Depth 4: plain's 0.1, 0.3, 0.5, 0.7, 0.9 beat 0, 1, 2, 3, 4 residual runs: U = 10.
        // P(U ≤ 10) for 5 vs 5 is 87/252, so p = 2·87/252 = 0.690.
        assert_eq!((found[0].depth, found[0].test.u, found[0].test.method), (4, 10.0, Method::Exact));
        assert!((found[0].test.p_value - 174.0 / 252.0).abs() < 1e-12);
        // Depth 8: the diverged run (+∞) beats all 5, 0.6–0.8 all 5, 0.5 all but 0.55: U = 24.
        // P(U ≥ 24) = 2/252, so p = 4/252 = 0.0159; P(plain > residual) = 24/25.
        assert_eq!((found[1].depth, found[1].test.u, found[1].test.n_a), (8, 24.0, 5));
        assert!((found[1].test.p_value - 4.0 / 252.0).abs() < 1e-12);
        // Holm over the two: the smaller p doubled (8/252 = 0.032, still a finding), the larger kept.
        assert!((found[1].holm_p - 8.0 / 252.0).abs() < 1e-12);
        assert!((found[0].holm_p - 174.0 / 252.0).abs() < 1e-12);

        let rows = rows(&groups, &found);
        let plain8 = rows.iter().find(|r| r.depth == 8 && r.variant.is_plain()).unwrap();
        assert_eq!((plain8.seeds, plain8.diverged, plain8.spikes), (5, 1, 1));
        assert_eq!((plain8.robust_min, plain8.robust_max), (Some(0.5), Some(0.8)));
        assert!((plain8.robust_median.unwrap() - 0.65).abs() < 1e-12);
        assert!((plain8.final_median.unwrap() - 0.975).abs() < 1e-12);

        let axes = VaryingAxes::of_runs(&runs);
        let lines = findings(&found, &axes);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0],
            "Depth 8: plain's robust loss is higher than residual α=1/√K's in 96% of pairs (U = 24, p = 0.016, \
             exact; 0.032 after Holm's correction for 2 tests)."
        );
        assert_eq!(
            lines[1],
            "Within seed noise (p ≥ 0.05): depth 4, plain vs residual α=1/√K (U = 10, p = 0.69, exact)."
        );
        assert_eq!(
            lead(&found, &axes),
            ["With 5 seeds a side, the robust final loss (median over the last 10% of steps) of plain against \
              residual α=1/√K (Mann–Whitney U test): significantly higher at depth 8 (p = 0.016); within seed noise \
              at depth 4 (p = 0.69)."]
        );
        assert!((smallest_p(10, 10) - 1.0825e-5).abs() < 1e-8);
    }

    #[test]
    fn no_section_without_robust_losses_or_enough_seeds() {
        assert!(build(&inputs(sweep())).unwrap().is_some());
        let older: Vec<Run> = sweep()
            .into_iter()
            .map(|mut r| {
                r.record.result.robust_train_loss = None;
                r
            })
            .collect();
        assert!(build(&inputs(older)).unwrap().is_none());
        let four_seeds: Vec<Run> = sweep().into_iter().filter(|r| r.record.setup.seed < 4).collect();
        assert!(build(&inputs(four_seeds)).unwrap().is_none());
    }
}
