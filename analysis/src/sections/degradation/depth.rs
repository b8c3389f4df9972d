//! Is a variant worse deeper than at its best depth by more than seed noise? Each deeper depth
//! against the best, by [`crate::depth_tests`], wherever the two depths' seed counts let an
//! exact test reach p < 0.05: the clause the variant's findings line ends with, one sentence
//! for the lead, and the table of tests.

use super::LossRow;
use crate::depth_tests::{against_best_depth, DepthLosses, DepthTest, Tested};
use crate::error::{Error, Result};
use crate::rank_test::SIGNIFICANCE;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{Variant, VaryingAxes};
use polars::prelude::{Column, DataFrame};

/// One variant's tests, deeper depths in depth order.
pub struct VariantTests<'a> {
    pub variant: &'a Variant,
    pub tests: Vec<DepthTest>,
}

/// The tests of every variant that has any. `rows` are in (variant, depth) order; a depth
/// without a median (every run diverged) is left out, as the findings leave it out.
pub fn variant_tests<'a>(rows: &[LossRow<'a>]) -> Vec<VariantTests<'a>> {
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    variants
        .into_iter()
        .filter_map(|variant| {
            let mine: Vec<(usize, f64, Vec<f64>)> = rows
                .iter()
                .filter(|r| r.variant == variant)
                .filter_map(|r| Some((r.depth, r.median?, seed_losses(r))))
                .collect();
            let depths: Vec<DepthLosses> =
                mine.iter().map(|(depth, median, losses)| DepthLosses { depth: *depth, median: *median, losses }).collect();
            let tests = against_best_depth(&depths, Tested::ReachingSignificance);
            (!tests.is_empty()).then_some(VariantTests { variant, tests })
        })
        .collect()
}

/// Every seed's final loss, a diverged run as +∞ (it trained worse than any that finished).
fn seed_losses(row: &LossRow) -> Vec<f64> {
    row.losses.iter().copied().chain(std::iter::repeat_n(f64::INFINITY, row.diverged)).collect()
}

fn outcome(test: &DepthTest, corrected: bool) -> String {
    let p = format_sig(test.test.p_value, 2);
    let holm = if corrected { format!("; {} corrected", format_sig(test.holm_p, 2)) } else { String::new() };
    // With one test, Holm's p is the test's own: higher after correction is higher.
    match (test.test.p_value < SIGNIFICANCE, test.higher(), test.higher_after_holm()) {
        (true, true, true) => format!("higher at depth {} (p = {p}{holm})", test.depth),
        (true, true, false) => format!("higher at depth {} before correction only (p = {p}{holm})", test.depth),
        (true, false, _) => format!("lower at depth {} (p = {p}{holm})", test.depth),
        (false, _, _) => format!("depth {} within seed noise (p = {p})", test.depth),
    }
}

/// "; rank tests over seeds against depth 20, Holm-corrected over 2: higher at depth 56 (p = …;
/// … corrected), …", for the end of a variant's findings line.
pub fn clause(tests: &[DepthTest]) -> String {
    let Some(first) = tests.first() else { return String::new() };
    let corrected = tests.len() > 1;
    let outcomes: Vec<String> = tests.iter().map(|t| outcome(t, corrected)).collect();
    let correction = if corrected { format!(", Holm-corrected over {}", tests.len()) } else { String::new() };
    format!("; rank tests over seeds against depth {}{correction}: {}", first.best_depth, outcomes.join(", "))
}

/// One sentence for the lead: which of `variants` are worse deeper by more than seed noise.
pub fn lead_sentence(all: &[VariantTests], variants: &[&Variant], axes: &VaryingAxes) -> Option<String> {
    let parts: Vec<String> = variants
        .iter()
        .filter_map(|v| all.iter().find(|t| t.variant == *v))
        .map(|VariantTests { variant, tests }| {
            let best = tests[0].best_depth;
            let worse: Vec<usize> = tests.iter().filter(|t| t.higher_after_holm()).map(|t| t.depth).collect();
            let label = variant.label(axes);
            if worse.is_empty() {
                let tested: Vec<usize> = tests.iter().map(|t| t.depth).collect();
                format!("{label}: no difference from depth {best} detected at {}", depths(&tested))
            } else {
                format!("{label} worse at {} than at depth {best}", depths(&worse))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "Tested over seeds (exact Mann–Whitney U, p < {SIGNIFICANCE} after Holm's correction within each variant): {}.",
            parts.join("; ")
        )
    })
}

/// "depth 8" or "depths 8 and 16".
fn depths(list: &[usize]) -> String {
    match list {
        [one] => format!("depth {one}"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|d| d.to_string()).collect();
            format!("depths {} and {last}", init.join(", "))
        }
        [] => String::new(),
    }
}

/// Every test, one row each.
pub fn table(all: &[VariantTests], rows: &[LossRow], axes: &VaryingAxes) -> Result<Table> {
    let flat: Vec<(&Variant, &DepthTest)> = all.iter().flat_map(|v| v.tests.iter().map(move |t| (v.variant, t))).collect();
    let seeds = |variant: &Variant, depth: usize| {
        rows.iter().find(|r| r.variant == variant && r.depth == depth).map_or(0, |r| r.runs as u64)
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), flat.iter().map(|(v, _)| v.label(axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), flat.iter().map(|(_, t)| t.depth as u64).collect::<Vec<_>>()),
        Column::new("best_depth".into(), flat.iter().map(|(_, t)| t.best_depth as u64).collect::<Vec<_>>()),
        Column::new("runs".into(), flat.iter().map(|(v, t)| seeds(v, t.depth)).collect::<Vec<_>>()),
        Column::new("best_runs".into(), flat.iter().map(|(v, t)| seeds(v, t.best_depth)).collect::<Vec<_>>()),
        Column::new("median_ratio".into(), flat.iter().map(|(_, t)| t.ratio.is_finite().then_some(t.ratio)).collect::<Vec<_>>()),
        Column::new("u".into(), flat.iter().map(|(_, t)| t.test.u).collect::<Vec<_>>()),
        Column::new("p_value".into(), flat.iter().map(|(_, t)| t.test.p_value).collect::<Vec<_>>()),
        Column::new("p_holm".into(), flat.iter().map(|(_, t)| t.holm_p).collect::<Vec<_>>()),
        Column::new(
            "verdict".into(),
            flat.iter()
                .map(|(_, t)| match (t.higher_after_holm(), t.higher()) {
                    (true, _) => "higher",
                    (false, true) => "higher before correction only",
                    (false, false) => "no difference detected",
                })
                .collect::<Vec<_>>(),
        ),
    ])
    .map_err(Error::polars("depth_tests"))?;
    Ok(Table {
        slug: "depth_tests".into(),
        title: "Deeper against the best depth: rank tests over seeds".into(),
        note: format!(
            "Two-sided Mann–Whitney U tests (exact where the counts allow) of one variant's final training losses at \
             a depth against those at its best depth (lowest median), a diverged run as +∞. Only pairs whose run \
             counts let the test reach p < {SIGNIFICANCE} are tested (decided from the counts, before any loss is \
             read): with 3 and 3 seeds the smallest p is 0.1. Median ratio: the depth's median over the best \
             depth's (empty where a median is +∞). p (Holm): adjusted within one variant's tests; the verdict reads \
             it."
        ),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("best_depth", "against depth", Format::Integer),
            spec("runs", "runs", Format::Integer),
            spec("best_runs", "runs at that depth", Format::Integer),
            spec("median_ratio", "median ratio", Format::Sig(3)),
            spec("u", "U", Format::Sig(3)),
            spec("p_value", "p", Format::Sig(2)),
            spec("p_holm", "p (Holm)", Format::Sig(2)),
            spec("verdict", "verdict", Format::Text),
        ],
    })
}
