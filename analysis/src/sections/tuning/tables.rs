//! The section's two tables: the best learning rate per variant and depth with every seed,
//! and every rank test with its raw and Holm-adjusted p.

use super::{label, Best, Comparison};
use crate::error::{Error, Result};
use crate::rank_test::SIGNIFICANCE;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::VaryingAxes;
use polars::prelude::*;


fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

pub(super) fn best_table(best: &[Best], axes: &VaryingAxes) -> Result<Table> {
    let seeds_text = |b: &Best| {
        b.losses
            .iter()
            .map(|&l| if l.is_finite() { format_sig(l, 2) } else { "diverged".into() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), best.iter().map(|b| label(&b.tuned, axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), best.iter().map(|b| b.depth as u64).collect::<Vec<_>>()),
        Column::new("best_lr".into(), best.iter().map(|b| b.lr).collect::<Vec<_>>()),
        Column::new("grid_edge".into(), best.iter().map(|b| b.on_edge().unwrap_or("")).collect::<Vec<_>>()),
        Column::new("seeds".into(), best.iter().map(|b| b.losses.len() as u64).collect::<Vec<_>>()),
        Column::new("robust_loss_median".into(), best.iter().map(|b| finite(b.loss_median)).collect::<Vec<_>>()),
        Column::new("robust_loss_seeds".into(), best.iter().map(seeds_text).collect::<Vec<_>>()),
        Column::new("test_error_median".into(), best.iter().map(|b| b.test_error_median).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("best_of_grid"))?;
    Ok(Table {
        slug: "best_of_grid".into(),
        title: "Best learning rate per variant and depth".into(),
        note: "Best lr: the grid's learning rate with the lowest median robust final training loss over seeds. Grid \
               edge: the best lr is the smallest or largest of the grid (a wider grid might do better). Robust loss \
               (median, and each seed in seed order): the median full-training-set loss over the last 10% of steps. \
               Test error: 1 − test accuracy, median over the same runs."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("best_lr", "best lr", Format::Sig(3)),
            spec("grid_edge", "grid edge", Format::Text),
            spec("seeds", "seeds", Format::Integer),
            spec("robust_loss_median", "robust loss (median)", Format::Sig(3)),
            spec("robust_loss_seeds", "each seed", Format::Text),
            spec("test_error_median", "test error (median)", Format::Percent(1)),
        ],
    })
}

pub(super) fn tests_table(depth_tests: &[Comparison], arch_tests: &[Comparison]) -> Result<Table> {
    let all: Vec<(&str, &Comparison)> = depth_tests
        .iter()
        .map(|c| ("deeper vs best depth", c))
        .chain(arch_tests.iter().map(|c| ("plain vs residual", c)))
        .collect();
    let frame = DataFrame::new_infer_height(vec![
        Column::new("question".into(), all.iter().map(|(q, _)| *q).collect::<Vec<_>>()),
        Column::new("variant".into(), all.iter().map(|(_, c)| c.what.clone()).collect::<Vec<_>>()),
        Column::new("depth".into(), all.iter().map(|(_, c)| c.depth as u64).collect::<Vec<_>>()),
        Column::new("against".into(), all.iter().map(|(_, c)| c.reference.clone()).collect::<Vec<_>>()),
        Column::new("median_ratio".into(), all.iter().map(|(_, c)| finite(c.ratio)).collect::<Vec<_>>()),
        Column::new("u".into(), all.iter().map(|(_, c)| c.test.u).collect::<Vec<_>>()),
        Column::new("p_value".into(), all.iter().map(|(_, c)| c.test.p_value).collect::<Vec<_>>()),
        Column::new("p_holm".into(), all.iter().map(|(_, c)| c.holm_p).collect::<Vec<_>>()),
        Column::new(
            "verdict".into(),
            all.iter()
                .map(|(_, c)| match (c.test.p_value < SIGNIFICANCE, c.higher()) {
                    (true, true) => "higher",
                    (true, false) => "lower",
                    (false, _) => "no difference detected",
                })
                .collect::<Vec<_>>(),
        ),
    ])
    .map_err(Error::polars("best_of_grid_tests"))?;
    Ok(Table {
        slug: "best_of_grid_tests".into(),
        title: "Rank tests between best-of-grid runs".into(),
        note: format!(
            "Two-sided Mann–Whitney U tests on the robust final training losses of the chosen runs (diverged = +∞). \
             Median ratio: the first group's median over the second's. Verdict at p < {SIGNIFICANCE}, uncorrected; \
             p (Holm): adjusted within the tests of one finding line (one variant's deeper depths, or one plain \
             variant against residual); {} tests in all.",
            all.len()
        ),
        frame,
        columns: vec![
            spec("question", "question", Format::Text),
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("against", "against", Format::Text),
            spec("median_ratio", "median ratio", Format::Sig(3)),
            spec("u", "U", Format::Sig(3)),
            spec("p_value", "p", Format::Sig(2)),
            spec("p_holm", "p (Holm)", Format::Sig(2)),
            spec("verdict", "verdict", Format::Text),
        ],
    })
}