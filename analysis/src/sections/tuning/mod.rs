//! Does degradation survive tuning? A plain net that trains worse at depth 64 than at depth 16
//! with one learning rate may only need another. Where an experiment trains a grid of learning
//! rates, this section picks, for each variant and depth, the learning rate whose runs reach the
//! lowest median robust final *training* loss over seeds (the question is optimisation, so
//! training loss decides; test error is shown beside it), and asks of those best-of-grid runs:
//! is a deeper plain net worse than a shallower one, and do residual nets avoid it? DeepOBS
//! reports optimisers the same way: at the best learning rate of a grid, with the loss against
//! the learning rate beside it.
//!
//! The grid points and the best point per (variant, depth) are polars queries over one frame
//! of runs; the rank tests take the chosen runs' losses as columns.

use crate::depth_tests::{against_best_depth, DepthLosses, Tested};
use crate::equivalence::holm;
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::rank_test::{mann_whitney_u, RankTest, SIGNIFICANCE};
use crate::section::Section;
use crate::stats::median_ratio;
use crate::variant::{Run, Variant, VaryingAxes};
use degradation_bench::config::Arch;
use polars::prelude::*;

mod chart;
mod tables;
#[cfg(test)]
mod tests;
mod words;

/// Fewest learning rates for a grid: with one or two there is nothing to tune.
const MIN_GRID: usize = 3;

/// The variant with its learning rate taken out: the runs one learning-rate grid tunes.
fn untuned(variant: &Variant) -> Variant {
    Variant { lr: 0.0, ..variant.clone() }
}

/// A tuned variant as a reader says it: the usual label without the learning rate, the optimiser
/// named by its settings where optimisers differ.
fn label(variant: &Variant, axes: &VaryingAxes) -> String {
    let optimizer_varies = axes.optimizer || axes.momentum || axes.weight_decay;
    let base = variant.label(&VaryingAxes { optimizer: false, momentum: false, weight_decay: false, ..*axes });
    if optimizer_varies {
        format!("{base}, {}", variant.optimizer_settings())
    } else {
        base
    }
}

/// The best grid point of one tuned variant at one depth.
#[derive(Debug, Clone)]
struct Best {
    tuned: Variant,
    depth: usize,
    lr: f64,
    /// The grid's learning rates at this depth, ascending.
    grid: Vec<f64>,
    /// Each seed's robust final training loss at `lr`, a diverged run as +∞, in seed order.
    losses: Vec<f64>,
    loss_median: f64,
    test_error_median: Option<f64>,
}

impl Best {
    /// Where the best learning rate sits on the edge of its grid: a wider grid might do better.
    fn on_edge(&self) -> Option<&'static str> {
        match (self.grid.first(), self.grid.last()) {
            (Some(&lo), _) if self.lr == lo => Some("smallest"),
            (_, Some(&hi)) if self.lr == hi => Some("largest"),
            _ => None,
        }
    }
}

/// A test between two best-of-grid groups: `deeper` against `reference` (plain against residual,
/// or a deeper net against the best depth of the same variant).
#[derive(Debug, Clone)]
struct Comparison {
    what: String,
    depth: usize,
    reference: String,
    test: RankTest,
    /// Median of the first sample over the second's.
    ratio: f64,
    /// Holm's adjusted p within the tests of one finding line (same list, same `what`).
    holm_p: f64,
}

impl Comparison {
    fn higher(&self) -> bool {
        self.test.a_higher()
    }

    /// Higher, and still below [`SIGNIFICANCE`] after Holm's correction within its line.
    fn higher_after_holm(&self) -> bool {
        self.higher() && self.holm_p < SIGNIFICANCE
    }
}

/// Holm's adjustment within each line's family: the comparisons sharing `what`.
fn adjust_per_line(comparisons: &mut [Comparison]) {
    let mut lines: Vec<String> = comparisons.iter().map(|c| c.what.clone()).collect();
    lines.sort();
    lines.dedup();
    for line in lines {
        let members: Vec<usize> = (0..comparisons.len()).filter(|&i| comparisons[i].what == line).collect();
        let adjusted = holm(&members.iter().map(|&i| comparisons[i].test.p_value).collect::<Vec<_>>());
        for (i, p) in members.into_iter().zip(adjusted) {
            comparisons[i].holm_p = p;
        }
    }
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs: Vec<Run> = inputs
        .training_runs()
        .into_iter()
        .filter(|r| r.record.result.robust_train_loss.is_some() || r.record.result.diverged)
        .collect();
    let mut tuned: Vec<Variant> = runs.iter().map(|r| untuned(&r.variant)).collect();
    tuned.sort();
    tuned.dedup();
    let runs_frame = runs_frame(&runs, &tuned)?;
    let grid = grid_points(runs_frame)?;
    let best = best_points(&grid, &runs, &tuned)?;
    if best.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of(&tuned);
    let mut section = Section::new("Degradation at the best learning rate of a grid");
    section.summary = words::summary(&best);
    let depth_tests = depth_comparisons(&best, &axes);
    let arch_tests = arch_comparisons(&best, &axes);
    section.findings = words::findings(&best, &depth_tests, &arch_tests, &axes);
    section.lead = section.findings.iter().take(2).cloned().collect();
    // At one learning rate at a time, the other sections' opening lines compare grid points,
    // not tuned nets: the best of the grid speaks for the experiment.
    section.lead_replaces_others = !section.lead.is_empty();
    section.tables.push(tables::best_table(&best, &axes)?);
    section.tables.push(tables::tests_table(&depth_tests, &arch_tests)?);
    section.charts.extend(chart::sensitivity_charts(&grid, &tuned, &axes)?);
    Ok(Some(section))
}

/// One row per run: the index of its tuned variant, depth, learning rate, robust loss (+∞ when
/// diverged) and test error.
fn runs_frame(runs: &[Run], tuned: &[Variant]) -> Result<DataFrame> {
    let index = |r: &Run| tuned.binary_search(&untuned(&r.variant)).map_or(u32::MAX, |i| i as u32);
    let robust =
        |r: &Run| if r.record.result.diverged { f64::INFINITY } else { r.record.result.robust_train_loss.unwrap_or(f64::INFINITY) };
    DataFrame::new_infer_height(vec![
        Column::new("tuned".into(), runs.iter().map(index).collect::<Vec<_>>()),
        Column::new("depth".into(), runs.iter().map(|r| r.record.setup.depth as u64).collect::<Vec<_>>()),
        Column::new("lr".into(), runs.iter().map(|r| r.record.setup.lr).collect::<Vec<_>>()),
        Column::new("seed".into(), runs.iter().map(|r| r.record.setup.seed).collect::<Vec<_>>()),
        Column::new("robust".into(), runs.iter().map(robust).collect::<Vec<_>>()),
        Column::new(
            "test_error".into(),
            runs.iter().map(|r| r.record.result.test_accuracy.map(|a| 1.0 - a)).collect::<Vec<_>>(),
        ),
    ])
    .map_err(Error::polars("tuning_runs"))
}

/// Seeds pooled per (tuned variant, depth, learning rate), only where the grid at that depth has
/// at least [`MIN_GRID`] learning rates.
fn grid_points(runs: DataFrame) -> Result<DataFrame> {
    let grid_size =
        col("lr").count().over([col("tuned"), col("depth")]).map_err(Error::polars("tuning_grid"))?.alias("grid_size");
    runs.lazy()
        .group_by([col("tuned"), col("depth"), col("lr")])
        .agg([
            col("robust").median().alias("loss_median"),
            col("test_error").median().alias("test_error_median"),
            col("seed").count().alias("seeds"),
        ])
        .with_column(grid_size)
        .filter(col("grid_size").gt_eq(lit(MIN_GRID as u32)))
        .sort(["tuned", "depth", "lr"], SortMultipleOptions::default())
        .collect()
        .map_err(Error::polars("tuning_grid"))
}

/// The best grid point per (tuned variant, depth): lowest median loss, the smaller learning rate
/// on a tie.
fn best_points(grid: &DataFrame, runs: &[Run], tuned: &[Variant]) -> Result<Vec<Best>> {
    let by_loss = || SortMultipleOptions::default();
    let best_of = |name: &str| col(name).sort_by([col("loss_median"), col("lr")], by_loss()).first().alias(name);
    let chosen = grid
        .clone()
        .lazy()
        .group_by([col("tuned"), col("depth")])
        .agg([best_of("lr"), best_of("loss_median"), best_of("test_error_median"), col("lr").alias("grid")])
        .sort(["tuned", "depth"], SortMultipleOptions::default())
        .collect()
        .map_err(Error::polars("tuning_best"))?;
    let failed = Error::polars("tuning_best");
    let index = chosen.column("tuned").and_then(|c| c.u32().cloned()).map_err(&failed)?;
    let depths = chosen.column("depth").and_then(|c| c.u64().cloned()).map_err(&failed)?;
    let lrs = chosen.column("lr").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let medians = chosen.column("loss_median").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let test_errors = chosen.column("test_error_median").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let grids = chosen.column("grid").and_then(|c| c.list().cloned()).map_err(&failed)?;
    let mut out = Vec::new();
    for row in 0..chosen.height() {
        let (Some(i), Some(depth), Some(lr), Some(loss_median)) =
            (index.get(row), depths.get(row), lrs.get(row), medians.get(row))
        else {
            continue;
        };
        let tuned = tuned[i as usize].clone();
        let depth = depth as usize;
        let grid_values = grids.get_as_series(row).ok_or_else(|| failed(PolarsError::NoData("empty grid".into())))?;
        let mut grid: Vec<f64> = grid_values.f64().map_err(&failed)?.into_no_null_iter().collect();
        grid.sort_by(f64::total_cmp);
        let mut chosen_runs: Vec<&Run> = runs
            .iter()
            .filter(|r| r.record.setup.depth == depth && r.record.setup.lr == lr && untuned(&r.variant) == tuned)
            .collect();
        chosen_runs.sort_by_key(|r| r.record.setup.seed);
        let losses = chosen_runs.iter().map(|r| robust_loss(r)).collect();
        out.push(Best { tuned, depth, lr, grid, losses, loss_median, test_error_median: test_errors.get(row) });
    }
    Ok(out)
}

/// The robust final training loss as the rank test takes it: a diverged run ranks above every
/// run that learned.
fn robust_loss(run: &Run) -> f64 {
    if run.record.result.diverged {
        f64::INFINITY
    } else {
        run.record.result.robust_train_loss.unwrap_or(f64::INFINITY)
    }
}

/// For each tuned variant: every depth deeper than its best depth against the best depth.
fn depth_comparisons(best: &[Best], axes: &VaryingAxes) -> Vec<Comparison> {
    let mut out = Vec::new();
    let mut variants: Vec<&Variant> = best.iter().map(|b| &b.tuned).collect();
    variants.dedup();
    for variant in variants {
        let depths: Vec<DepthLosses> = best
            .iter()
            .filter(|b| b.tuned == *variant)
            .map(|b| DepthLosses { depth: b.depth, median: b.loss_median, losses: &b.losses })
            .collect();
        out.extend(against_best_depth(&depths, Tested::Every).into_iter().map(|t| Comparison {
            what: label(variant, axes),
            depth: t.depth,
            reference: format!("depth {}", t.best_depth),
            test: t.test,
            ratio: t.ratio,
            holm_p: t.holm_p,
        }));
    }
    out
}

/// Plain against each residual variant of the same context at every depth both have.
fn arch_comparisons(best: &[Best], axes: &VaryingAxes) -> Vec<Comparison> {
    let mut out = Vec::new();
    for plain in best.iter().filter(|b| b.tuned.arch == Arch::Plain) {
        let residuals = best.iter().filter(|b| {
            b.tuned.arch == Arch::Residual && b.depth == plain.depth && b.tuned.context() == plain.tuned.context()
        });
        for residual in residuals {
            if let Some(test) = mann_whitney_u(&plain.losses, &residual.losses) {
                out.push(Comparison {
                    what: label(&plain.tuned, axes),
                    depth: plain.depth,
                    reference: label(&residual.tuned, axes),
                    test,
                    ratio: median_ratio(&plain.losses, &residual.losses),
                    holm_p: f64::NAN,
                });
            }
        }
    }
    adjust_per_line(&mut out);
    out
}
