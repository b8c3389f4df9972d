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

use crate::equivalence::holm;
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::plot::{sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::rank_test::{mann_whitney_u, smallest_p, RankTest, SIGNIFICANCE};
use crate::section::Section;
use crate::stats::median_with_infinities;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{Run, Variant, VaryingAxes};
use degradation_bench::config::Arch;
use polars::prelude::*;

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
        self.test.p_value < SIGNIFICANCE && self.test.probability_a_greater() > 0.5
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

/// "; all 5 hold after Holm's correction within the line's 6 tests"
fn holm_clause(mine: &[&Comparison]) -> String {
    if mine.len() < 2 {
        return String::new(); // one test: nothing to correct for
    }
    let (higher, holding) =
        (mine.iter().filter(|c| c.higher()).count(), mine.iter().filter(|c| c.higher_after_holm()).count());
    let which = if holding == higher { format!("all {holding}") } else { format!("{holding} of these {higher}") };
    format!("; {which} hold after Holm's correction within the line's {} tests", mine.len())
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs: Vec<Run> = inputs
        .training_runs()
        .into_iter()
        .filter(|r| r.record.robust_train_loss.is_some() || r.record.diverged)
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
    section.summary = summary(&best);
    let depth_tests = depth_comparisons(&best, &axes);
    let arch_tests = arch_comparisons(&best, &axes);
    section.findings = findings(&best, &depth_tests, &arch_tests, &axes);
    section.lead = section.findings.iter().take(2).cloned().collect();
    // At one learning rate at a time, the other sections' opening lines compare grid points,
    // not tuned nets: the best of the grid speaks for the experiment.
    section.lead_replaces_others = !section.lead.is_empty();
    section.tables.push(best_table(&best, &axes)?);
    section.tables.push(tests_table(&depth_tests, &arch_tests)?);
    section.charts.extend(sensitivity_charts(&grid, &tuned, &axes)?);
    Ok(Some(section))
}

/// One row per run: the index of its tuned variant, depth, learning rate, robust loss (+∞ when
/// diverged) and test error.
fn runs_frame(runs: &[Run], tuned: &[Variant]) -> Result<DataFrame> {
    let index = |r: &Run| tuned.binary_search(&untuned(&r.variant)).map_or(u32::MAX, |i| i as u32);
    let robust =
        |r: &Run| if r.record.diverged { f64::INFINITY } else { r.record.robust_train_loss.unwrap_or(f64::INFINITY) };
    DataFrame::new_infer_height(vec![
        Column::new("tuned".into(), runs.iter().map(index).collect::<Vec<_>>()),
        Column::new("depth".into(), runs.iter().map(|r| r.record.depth as u64).collect::<Vec<_>>()),
        Column::new("lr".into(), runs.iter().map(|r| r.record.lr).collect::<Vec<_>>()),
        Column::new("seed".into(), runs.iter().map(|r| r.record.seed).collect::<Vec<_>>()),
        Column::new("robust".into(), runs.iter().map(robust).collect::<Vec<_>>()),
        Column::new(
            "test_error".into(),
            runs.iter().map(|r| r.record.test_accuracy.map(|a| 1.0 - a)).collect::<Vec<_>>(),
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
            .filter(|r| r.record.depth == depth && r.record.lr == lr && untuned(&r.variant) == tuned)
            .collect();
        chosen_runs.sort_by_key(|r| r.record.seed);
        let losses = chosen_runs.iter().map(|r| robust_loss(r)).collect();
        out.push(Best { tuned, depth, lr, grid, losses, loss_median, test_error_median: test_errors.get(row) });
    }
    Ok(out)
}

/// The robust final training loss as the rank test takes it: a diverged run ranks above every
/// run that learned.
fn robust_loss(run: &Run) -> f64 {
    if run.record.diverged {
        f64::INFINITY
    } else {
        run.record.robust_train_loss.unwrap_or(f64::INFINITY)
    }
}

/// The median of `a` over the median of `b`, diverged runs (+∞) counted as values.
fn median_ratio(a: &[f64], b: &[f64]) -> f64 {
    let median = |v: &[f64]| median_with_infinities(v.iter().copied()).unwrap_or(f64::NAN);
    median(a) / median(b)
}

/// For each tuned variant: every depth deeper than its best depth against the best depth.
fn depth_comparisons(best: &[Best], axes: &VaryingAxes) -> Vec<Comparison> {
    let mut out = Vec::new();
    let mut variants: Vec<&Variant> = best.iter().map(|b| &b.tuned).collect();
    variants.dedup();
    for variant in variants {
        let mine: Vec<&Best> = best.iter().filter(|b| b.tuned == *variant).collect();
        let Some(top) = mine.iter().min_by(|a, b| a.loss_median.total_cmp(&b.loss_median).then(a.depth.cmp(&b.depth)))
        else {
            continue;
        };
        for deeper in mine.iter().filter(|b| b.depth > top.depth) {
            if let Some(test) = mann_whitney_u(&deeper.losses, &top.losses) {
                out.push(Comparison {
                    what: label(variant, axes),
                    depth: deeper.depth,
                    reference: format!("depth {}", top.depth),
                    test,
                    ratio: median_ratio(&deeper.losses, &top.losses),
                    holm_p: f64::NAN,
                });
            }
        }
    }
    adjust_per_line(&mut out);
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

fn summary(best: &[Best]) -> Vec<String> {
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

fn findings(best: &[Best], depth_tests: &[Comparison], arch_tests: &[Comparison], axes: &VaryingAxes) -> Vec<String> {
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

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn best_table(best: &[Best], axes: &VaryingAxes) -> Result<Table> {
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

fn tests_table(depth_tests: &[Comparison], arch_tests: &[Comparison]) -> Result<Table> {
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

/// Loss against learning rate, one line per depth, plain and residual side by side: one chart
/// per context (optimiser, data set, …).
fn sensitivity_charts(grid: &DataFrame, tuned: &[Variant], axes: &VaryingAxes) -> Result<Vec<Chart>> {
    let failed = Error::polars("tuning_grid");
    let index = grid.column("tuned").and_then(|c| c.u32().cloned()).map_err(&failed)?;
    let depths = grid.column("depth").and_then(|c| c.u64().cloned()).map_err(&failed)?;
    let lrs = grid.column("lr").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let losses = grid.column("loss_median").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let rows: Vec<(usize, usize, f64, f64)> = (0..grid.height())
        .filter_map(|i| Some((index.get(i)? as usize, depths.get(i)? as usize, lrs.get(i)?, losses.get(i)?)))
        .collect();
    let mut contexts: Vec<Variant> = rows.iter().map(|r| tuned[r.0].context()).collect();
    contexts.sort();
    contexts.dedup();
    let mut charts = Vec::new();
    for (n, context) in contexts.iter().enumerate() {
        let mut all_depths: Vec<usize> =
            rows.iter().filter(|r| tuned[r.0].context() == *context).map(|r| r.1).collect();
        all_depths.sort_unstable();
        all_depths.dedup();
        let mut panels = Vec::new();
        let mut members: Vec<usize> = rows.iter().filter(|r| tuned[r.0].context() == *context).map(|r| r.0).collect();
        members.dedup();
        let finite_losses = rows.iter().filter(|r| tuned[r.0].context() == *context && r.3.is_finite()).map(|r| r.3);
        let Some(y) = Axis::fit(Scale::Log10, finite_losses) else { continue };
        let Some(x) = Axis::fit(Scale::Log10, rows.iter().filter(|r| tuned[r.0].context() == *context).map(|r| r.2))
        else {
            continue;
        };
        for member in members {
            let lines = all_depths
                .iter()
                .enumerate()
                .filter_map(|(k, &depth)| {
                    let points: Vec<(f64, f64)> = rows
                        .iter()
                        .filter(|r| r.0 == member && r.1 == depth && r.3.is_finite())
                        .map(|r| (r.2, r.3))
                        .collect();
                    let style = LineStyle {
                        label: format!("depth {depth}"),
                        color: sequential(k, all_depths.len()),
                        dashed: false,
                        marker: Marker::Circle,
                    };
                    (!points.is_empty()).then(|| Line::new(style, points))
                })
                .collect();
            panels.push(Panel {
                title: tuned[member].arch_label(),
                x: x.clone(),
                y: y.clone(),
                x_label: "learning rate (log scale)".into(),
                y_label: "robust final train loss, median (log)".into(),
                body: PanelBody::Lines(lines),
            });
        }
        let others =
            context.facet_label(&VaryingAxes { optimizer: false, momentum: false, weight_decay: false, ..*axes });
        let facet: Vec<String> =
            [others, context.optimizer_settings()].into_iter().filter(|part| !part.is_empty()).collect();
        let title = format!("Loss against learning rate: {}", facet.join(", "));
        let columns = panels.len();
        charts.push(Chart {
            figure: Figure::new(title, panels, columns),
            file: format!("lr_sensitivity_{}.svg", n + 1),
            caption: "Median robust final training loss over seeds against the learning rate, one line per depth \
                      (darker is deeper), plain and residual nets side by side on shared axes. A point missing from \
                      a line is a grid point whose median run diverged."
                .into(),
        });
    }
    Ok(charts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank_test::Method;

    #[test]
    fn holm_runs_within_each_finding_line() {
        let test = |p_value: f64| RankTest { u: 25.0, p_value, method: Method::Exact, n_a: 5, n_b: 5 };
        let comparison = |what: &str, depth: usize, p: f64| Comparison {
            what: what.into(),
            depth,
            reference: "depth 2".into(),
            test: test(p),
            ratio: 2.0,
            holm_p: f64::NAN,
        };
        let mut tests =
            vec![comparison("plain", 8, 0.03), comparison("plain", 16, 0.0079), comparison("residual", 8, 0.03)];
        adjust_per_line(&mut tests);
        // plain: 0.0079 × 2 = 0.016, then max(0.016, 0.03 × 1) = 0.03; residual alone: 0.03.
        let adjusted: Vec<f64> = tests.iter().map(|c| c.holm_p).collect();
        for (got, want) in adjusted.iter().zip([0.03, 0.0158, 0.03]) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        let plain: Vec<&Comparison> = tests.iter().take(2).collect();
        assert_eq!(holm_clause(&plain), "; all 2 hold after Holm's correction within the line's 2 tests");
        tests[0].holm_p = 0.06; // as if a third test in the line had pushed it over
        let plain: Vec<&Comparison> = tests.iter().take(2).collect();
        assert_eq!(holm_clause(&plain), "; 1 of these 2 hold after Holm's correction within the line's 2 tests");
    }
    use crate::inputs::ResultSet;
    use crate::variant::tests::{synthetic_run, test_machine, typed};

    /// Five seeds at each of three learning rates. Plain: best at depth 4 (lr 1e-3), and every
    /// rate is worse at depth 16, best there at the grid's largest rate. Residual: as good at
    /// depth 16 as at depth 4.
    fn sweep() -> Vec<Run> {
        let mut runs = Vec::new();
        for (arch, depth, best) in
            [("plain", 4, 0.01), ("plain", 16, 0.5), ("residual", 4, 0.01), ("residual", 16, 0.01)]
        {
            for (k, lr) in [1e-4, 1e-3, 1e-2].into_iter().enumerate() {
                // Plain depth 16 improves with the rate; the others are best at 1e-3.
                let factor = if arch == "plain" && depth == 16 { [4.0, 2.0, 1.0][k] } else { [3.0, 1.0, 2.0][k] };
                for seed in 0..5u64 {
                    let mut record = synthetic_run(arch, depth, seed, Some(1.0));
                    record.lr = lr;
                    record.robust_train_loss = Some(best * factor * (1.0 + 0.01 * seed as f64));
                    runs.push(typed(record));
                }
            }
        }
        runs
    }

    fn inputs(runs: Vec<Run>) -> Inputs {
        let result = ResultSet {
            dir: "results".into(),
            machine: test_machine(),
            experiment: "tuned".into(),
            experiment_text: None,
            experiment_config: None,
            runs,
        };
        Inputs { results: vec![result], ..Inputs::default() }
    }

    #[test]
    fn picks_the_best_rate_per_depth_and_finds_degradation_that_survives_tuning() {
        let runs = sweep();
        let mut tuned: Vec<Variant> = runs.iter().map(|r| untuned(&r.variant)).collect();
        tuned.sort();
        tuned.dedup();
        assert_eq!(tuned.len(), 2, "plain and residual, the learning rate taken out");
        let grid = grid_points(runs_frame(&runs, &tuned).unwrap()).unwrap();
        assert_eq!(grid.height(), 12, "(2 archs × 2 depths) × 3 rates");
        let best = best_points(&grid, &runs, &tuned).unwrap();
        let picked: Vec<(bool, usize, f64)> = best.iter().map(|b| (b.tuned.is_plain(), b.depth, b.lr)).collect();
        assert_eq!(picked, [(true, 4, 1e-3), (true, 16, 1e-2), (false, 4, 1e-3), (false, 16, 1e-3)]);
        assert_eq!(best[1].losses.len(), 5);
        assert!((best[1].loss_median - 0.5 * 1.02).abs() < 1e-12, "median of the five seeds");
        assert_eq!(best[1].on_edge(), Some("largest"));
        assert_eq!(best[0].on_edge(), None);

        let axes = VaryingAxes::of(&tuned);
        let depth_tests = depth_comparisons(&best, &axes);
        // Plain: depth 16 against depth 4, every seed worse: U = 25, p = 2/252.
        let plain = depth_tests.iter().find(|c| c.what == "plain").unwrap();
        assert_eq!((plain.depth, plain.test.u), (16, 25.0));
        assert!(plain.higher());
        // Residual: equal losses at both depths, best at the shallower: no difference.
        let residual = depth_tests.iter().find(|c| c.what != "plain").unwrap();
        assert!(!residual.higher());

        let section = build(&inputs(runs)).unwrap().expect("a grid of three rates");
        let text = section.findings.join("\n");
        assert!(text.contains("plain: best at depth 4 (lr 0.00100"), "{text}");
        // One deeper depth, p = 2/252: Holm within the line of one test leaves it as it is.
        assert!((plain.holm_p - plain.test.p_value).abs() < 1e-15);
        assert!(text.contains("(1 of 1 deeper depths tested): degradation survives tuning"), "{text}");
        assert!(text.contains("no degradation detected"), "{text}");
        assert!(text.contains("Grid too narrow: for plain at depth 16"), "{text}");
        assert_eq!(section.charts.len(), 1);
    }

    #[test]
    fn a_single_learning_rate_is_no_grid() {
        let runs: Vec<Run> = sweep().into_iter().filter(|r| r.record.lr == 1e-3).collect();
        assert!(build(&inputs(runs)).unwrap().is_none());
    }
}
