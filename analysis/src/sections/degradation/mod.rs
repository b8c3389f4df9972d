//! Does depth degrade plain nets, and do residual connections fix it? The final training loss
//! against depth, per variant: a table (median and interquartile range over seeds), a chart,
//! and findings computed from the typed rows.

mod depth;

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::rank_test::{smallest_p, SIGNIFICANCE};
use crate::stats::range_order;
use crate::plot::{overlap_sentence, palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::table::{format_ratio, format_sig, spec, Format, Table};
use crate::variant::{depth_axis_label, peer_labels, seeds_phrase_of, Run, Variant, VaryingAxes};
use polars::prelude::{col, len, lit, Column, DataFrame, DataType, IntoLazy, QuantileMethod, SortMultipleOptions};

/// More variants than this and the chart splits into panels by facet.
const MAX_LINES_IN_ONE_PANEL: usize = 8;

/// One variant at one depth, summarised over seeds.
#[derive(Debug, Clone)]
pub struct LossRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    /// Median final training loss over the runs that did not diverge.
    pub median: Option<f64>,
    pub q25: Option<f64>,
    pub q75: Option<f64>,
    /// Each run's final training loss (the runs that did not diverge).
    pub losses: Vec<f64>,
    pub test_accuracy_mean: Option<f64>,
    pub runs: usize,
    pub seeds: usize,
    pub diverged: usize,
}

/// One row per run: its variant (an index into `variants`), depth, seed, final training loss
/// (null where the run recorded none: a diverged run), test accuracy (null for a diverged run)
/// and whether it diverged.
fn runs_frame(runs: &[&Run], variants: &[&Variant]) -> Result<DataFrame> {
    let index = |r: &&Run| variants.binary_search(&&r.variant).map_or(u32::MAX, |i| i as u32);
    DataFrame::new_infer_height(vec![
        Column::new("variant".into(), runs.iter().map(index).collect::<Vec<_>>()),
        Column::new("depth".into(), runs.iter().map(|r| r.record.setup.depth as u64).collect::<Vec<_>>()),
        Column::new("seed".into(), runs.iter().map(|r| r.record.setup.seed).collect::<Vec<_>>()),
        Column::new("loss".into(), runs.iter().map(|r| r.record.result.final_train_loss).collect::<Vec<_>>()),
        Column::new(
            "test_accuracy".into(),
            runs.iter().map(|r| r.record.result.test_accuracy.filter(|_| !r.record.result.diverged)).collect::<Vec<_>>(),
        ),
        Column::new("diverged".into(), runs.iter().map(|r| r.record.result.diverged).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("degradation_runs"))
}

/// Seeds pooled per (variant, depth): the loss's median and quartiles (polars' linear rule, as
/// [`crate::stats::quantile`]) over the runs that have one, the mean test accuracy of the runs
/// that did not diverge, the counts, and the losses themselves in run order for the chart.
fn pool_seeds(runs: DataFrame) -> Result<DataFrame> {
    let loss = || col("loss");
    runs.lazy()
        .group_by([col("variant"), col("depth")])
        .agg([
            loss().median().alias("loss_median"),
            loss().quantile(lit(0.25), QuantileMethod::Linear).alias("loss_q25"),
            loss().quantile(lit(0.75), QuantileMethod::Linear).alias("loss_q75"),
            col("test_accuracy").drop_nulls().alias("test_accuracies"),
            len().cast(DataType::UInt64).alias("runs"),
            col("seed").n_unique().cast(DataType::UInt64).alias("seeds"),
            col("diverged").sum().cast(DataType::UInt64).alias("diverged"),
            loss().drop_nulls().alias("losses"),
        ])
        // The mean of the list, not the group's `mean()`: polars sums a group with Kahan
        // compensation and a list left to right, as this table always has; the two differ in
        // the last bits, and in one committed row (74.5% against 74.6%) in the third digit.
        .with_column(col("test_accuracies").list().mean().alias("test_accuracy_mean"))
        .sort(["variant", "depth"], SortMultipleOptions::default())
        .collect()
        .map_err(Error::polars("degradation"))
}

/// The pooled frame as typed rows for the findings and the chart.
fn loss_rows<'a>(pooled: &DataFrame, variants: &[&'a Variant]) -> Result<Vec<LossRow<'a>>> {
    let failed = Error::polars("degradation");
    let number = |name: &str| pooled.column(name).and_then(|c| c.f64().cloned()).map_err(&failed);
    let count = |name: &str| pooled.column(name).and_then(|c| c.u64().cloned()).map_err(&failed);
    let index = pooled.column("variant").and_then(|c| c.u32().cloned()).map_err(&failed)?;
    let (depths, runs, seeds, diverged) = (count("depth")?, count("runs")?, count("seeds")?, count("diverged")?);
    let (medians, q25, q75, accuracy) =
        (number("loss_median")?, number("loss_q25")?, number("loss_q75")?, number("test_accuracy_mean")?);
    let losses = pooled.column("losses").and_then(|c| c.list().cloned()).map_err(&failed)?;
    let mut rows = Vec::with_capacity(pooled.height());
    for row in 0..pooled.height() {
        let losses = match losses.get_as_series(row) {
            Some(values) => values.f64().map_err(&failed)?.into_no_null_iter().collect(),
            None => Vec::new(),
        };
        rows.push(LossRow {
            variant: variants[index.get(row).unwrap_or_default() as usize],
            depth: depths.get(row).unwrap_or_default() as usize,
            median: medians.get(row),
            q25: q25.get(row),
            q75: q75.get(row),
            losses,
            test_accuracy_mean: accuracy.get(row),
            runs: runs.get(row).unwrap_or_default() as usize,
            seeds: seeds.get(row).unwrap_or_default() as usize,
            diverged: diverged.get(row).unwrap_or_default() as usize,
        });
    }
    Ok(rows)
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    // A net that took no step has an initial loss, not a final one: a zero-step experiment
    // (probes at initialisation) has nothing to say about degradation.
    let trained: Vec<&Run> = runs.iter().filter(|run| run.record.setup.steps > 0).collect();
    if trained.is_empty() {
        return Ok(None);
    }
    let mut variants: Vec<&Variant> = trained.iter().map(|r| &r.variant).collect();
    variants.sort();
    variants.dedup();
    let axes = VaryingAxes::of_runs(&runs);
    let pooled = pool_seeds(runs_frame(&trained, &variants)?)?;
    let rows = loss_rows(&pooled, &variants)?;
    let seeds = seeds_phrase_of(rows.iter().map(|r| r.seeds));
    let mut section = Section::new("Degradation");
    section.summary.push(degradation_summary(&rows));
    let depth_tests = depth::variant_tests(&rows);
    section.lead = lead(&rows, &axes, &depth_tests);
    section.findings = findings(&rows, &axes, &depth_tests);
    section.charts.extend(chart(&rows, &axes, &seeds));
    section.tables.push(table(&pooled, &rows, &axes)?);
    if !depth_tests.is_empty() {
        section.tables.push(depth::table(&depth_tests, &rows, &axes)?);
    }
    Ok(Some(section))
}

fn degradation_summary(rows: &[LossRow]) -> String {
    let mut text = "The final training loss (cross-entropy on the training set at the last step) against depth. \
                    A net that degrades has a higher training loss when deeper, although a deeper net could \
                    represent the shallower one."
        .to_string();
    if let Some(chance) = rows.iter().find_map(|r| r.variant.chance_loss()) {
        text.push_str(&format!(
            " The chance level is {chance:.2} = ln 10: the loss of a net that outputs the uniform guess over the \
             10 classes, i.e. one that learned nothing."
        ));
    }
    text
}

/// Deepest depth of a variant's rows with a loss, and that loss.
fn deepest<'a>(rows: &'a [LossRow<'a>], variant: &Variant) -> Option<&'a LossRow<'a>> {
    rows.iter().filter(|r| r.variant == variant && r.median.is_some()).max_by_key(|r| r.depth)
}

/// The opening sentences: where plain nets stop learning, what residual nets reach at the
/// deepest depth, and what the rank tests between depths found.
fn lead(rows: &[LossRow], axes: &VaryingAxes, depth_tests: &[depth::VariantTests]) -> Vec<String> {
    let mut out = Vec::new();
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let Some(plain) = variants.iter().copied().find(|v| v.is_plain()) else {
        return out;
    };
    let plain_rows: Vec<&LossRow> = rows.iter().filter(|r| r.variant == plain && r.median.is_some()).collect();
    if plain_rows.len() < 2 {
        return out;
    }
    // With a peer's runs among the inputs, the opening speaks of this crate's (the peer section
    // says how the peer's compare).
    let name = match plain.configuration_label(axes).as_str() {
        "plain" => "Plain nets".to_string(),
        label => format!("Plain nets ({label})"),
    };
    let name = if axes.implementation { format!("{name} trained by this crate") } else { name };
    let loss = |r: &LossRow| format_sig(r.median.unwrap_or(f64::NAN), 3);
    let best = plain_rows.iter().min_by(|a, b| a.median.unwrap_or(f64::NAN).total_cmp(&b.median.unwrap_or(f64::NAN)));
    let stalled = plain.chance_loss().and_then(|chance| {
        plain_rows.iter().find(|r| r.median.is_some_and(|m| m >= 0.9 * chance)).map(|r| (r, chance))
    });
    let mut sentence = match best {
        Some(b) if b.depth != plain_rows[plain_rows.len() - 1].depth => {
            format!(
                "{name} train best at depth {} (median final training loss {}) and worse when deeper",
                b.depth,
                loss(b)
            )
        }
        _ => format!("{name} reach a median final training loss of {}", loss(plain_rows[plain_rows.len() - 1])),
    };
    match stalled {
        Some((r, chance)) => {
            let before = plain_rows.iter().rev().find(|x| x.depth < r.depth && Some(x.depth) != best.map(|b| b.depth));
            if let Some(x) = before {
                sentence.push_str(&format!(": {} at depth {}", loss(x), x.depth));
            }
            sentence.push_str(&format!(
                "; from depth {} they learn nothing — {}, the chance level {chance:.2} = ln 10 of a uniform guess over \
                 10 classes.",
                r.depth,
                loss(r)
            ));
        }
        None => {
            let last = plain_rows[plain_rows.len() - 1];
            sentence.push_str(&format!(": {} at depth {}.", loss(last), last.depth));
        }
    }
    out.push(sentence);
    let counterparts: Vec<&Variant> =
        variants.iter().copied().filter(|v| !v.is_plain() && v.context() == plain.context()).collect();
    let residuals: Vec<String> = counterparts
        .iter()
        .filter_map(|v| deepest(rows, v))
        .map(|r| {
            let arch = r.variant.arch_label();
            // A conv net's arch label is its name ("ResNet"), an MLP's "residual" with its α.
            let name =
                arch.strip_prefix("residual ").map_or(format!("{arch}s"), |scale| format!("residual nets ({scale})"));
            format!("{name} reach {} at depth {}", loss(r), r.depth)
        })
        .collect();
    if !residuals.is_empty() {
        out.push(format!("With the residual connection, {}.", residuals.join("; ")));
    }
    if let Some(caveat) = one_seed_caveat(rows, plain) {
        out.push(caveat);
    }
    let tested: Vec<&Variant> = std::iter::once(plain).chain(counterparts).collect();
    out.extend(depth::lead_sentence(depth_tests, &tested, axes));
    out
}

/// The lead compares medians; where a depth it draws on has a single run, its sentences
/// describe that run and test nothing, and the lead says so.
fn one_seed_caveat(rows: &[LossRow], plain: &Variant) -> Option<String> {
    let drawn_on: Vec<&LossRow> =
        rows.iter().filter(|r| r.median.is_some() && r.variant.context() == plain.context()).collect();
    let mut single: Vec<usize> = drawn_on.iter().filter(|r| r.losses.len() == 1).map(|r| r.depth).collect();
    single.sort_unstable();
    single.dedup();
    let which = match single.as_slice() {
        [] => return None,
        _ if drawn_on.iter().all(|r| r.losses.len() == 1) => "every depth has a single run".to_string(),
        [depth] => format!("depth {depth} has a single run in some variant"),
        depths => {
            let list: Vec<String> = depths.iter().map(|d| d.to_string()).collect();
            format!("depths {} have a single run in some variant", list.join(", "))
        }
    };
    Some(format!("So far {which}: these sentences describe runs, not a test of depth."))
}

/// Each variant's best depth, how far the deepest is from it and, where seeds allow, which deeper
/// depths are worse beyond seed noise; each plain variant against its residual counterparts
/// (same context) at the deepest depth both reached; divergences.
fn findings(rows: &[LossRow], axes: &VaryingAxes, depth_tests: &[depth::VariantTests]) -> Vec<String> {
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let losses = |v: &Variant| -> Vec<(usize, f64)> {
        rows.iter().filter(|r| r.variant == v).filter_map(|r| Some((r.depth, r.median?))).collect()
    };
    let mut out = Vec::new();
    for variant in &variants {
        let points = losses(variant);
        if points.len() < 2 {
            continue;
        }
        let (best_depth, best) = points.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
        let (deep_depth, deep) = points.iter().copied().max_by_key(|p| p.0).unwrap_or((0, 0.0));
        let mut line = format!(
            "{}: lowest median final train loss at depth {best_depth} ({})",
            variant.label(axes),
            format_sig(best, 3)
        );
        if deep_depth != best_depth && best > 0.0 {
            line.push_str(&format!(
                "; at depth {deep_depth} it is {} that ({})",
                format_ratio(deep / best),
                format_sig(deep, 3)
            ));
        }
        if let Some(tested) = depth_tests.iter().find(|t| t.variant == *variant) {
            line.push_str(&depth::clause(&tested.tests));
        }
        line.push('.');
        out.push(line);
    }
    for plain in variants.iter().filter(|v| v.is_plain()) {
        let plain_points = losses(plain);
        for residual in variants.iter().filter(|v| !v.is_plain() && v.context() == plain.context()) {
            let residual_points = losses(residual);
            let shared = plain_points
                .iter()
                .filter_map(|&(d, p)| Some((d, p, residual_points.iter().find(|r| r.0 == d)?.1)))
                .max_by_key(|s| s.0);
            let Some((depth, p, r)) = shared else { continue };
            if !(p > 0.0 && r > 0.0) {
                continue;
            }
            let relation = if p / r > 1.05 {
                format!("{} that of {}", format_ratio(p / r), residual.label(axes))
            } else if r / p > 1.05 {
                format!("{} lower than that of {}", format_ratio(r / p), residual.label(axes))
            } else {
                format!("about the same as that of {}", residual.label(axes))
            };
            // One seed a side measures no seed noise, and with a few seeds a side no rank test
            // can reach significance: the ratio is shown, but not as a finding.
            let row_of = |v: &Variant| rows.iter().find(|row| row.variant == v && row.depth == depth);
            let seeds = |v: &Variant| row_of(v).map_or(0, |row| row.seeds);
            let (n_plain, n_residual) = (seeds(plain), seeds(residual));
            let single = if n_plain < 2 || n_residual < 2 {
                " (one seed on a side: its spread over seeds is unmeasured, so this is no finding yet)".to_string()
            } else if smallest_p(n_plain, n_residual) >= SIGNIFICANCE {
                let losses = |v: &Variant| row_of(v).map_or(&[][..], |row| row.losses.as_slice());
                let ranges = if range_order(losses(plain), losses(residual)).is_some() {
                    "whose ranges lie apart, but too few for any rank test to reach p < 0.05: not a tested finding"
                } else {
                    "whose ranges overlap, and too few for any rank test to reach p < 0.05: within seed noise"
                };
                format!(" ({n_plain} and {n_residual} seeds {ranges})")
            } else {
                String::new()
            };
            out.push(format!(
                "At depth {depth}, the median final train loss of {} ({}) is {relation} ({}){single}.",
                plain.label(axes),
                format_sig(p, 3),
                format_sig(r, 3)
            ));
        }
    }
    let diverged: Vec<String> = rows
        .iter()
        .filter(|r| r.diverged > 0)
        .map(|r| format!("{} at depth {}: {} of {}", r.variant.label(axes), r.depth, r.diverged, r.runs))
        .collect();
    if diverged.is_empty() {
        out.push(format!("No run diverged ({} runs).", rows.iter().map(|r| r.runs).sum::<usize>()));
    } else {
        out.push(format!("Diverged runs: {}.", diverged.join("; ")));
    }
    out
}

/// The pooled frame's numbers beside each row's variant, spelled out.
pub fn table(pooled: &DataFrame, rows: &[LossRow], axes: &VaryingAxes) -> Result<Table> {
    let failed = Error::polars("degradation");
    let numbers = ["depth", "loss_median", "loss_q25", "loss_q75", "test_accuracy_mean", "runs", "seeds", "diverged"];
    let numbers = pooled.select(numbers).map_err(&failed)?;
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("arch".into(), rows.iter().map(|r| r.variant.arch.as_str()).collect::<Vec<_>>()),
        Column::new(
            "residual_scale".into(),
            rows.iter().map(|r| r.variant.residual_scale.map(|s| s.as_str())).collect::<Vec<_>>(),
        ),
        Column::new("norm".into(), rows.iter().map(|r| r.variant.norm.as_str()).collect::<Vec<_>>()),
        Column::new("width".into(), rows.iter().map(|r| r.variant.width as u64).collect::<Vec<_>>()),
    ])
    .and_then(|labels| labels.hstack(numbers.columns()))
    .map_err(&failed)?;
    Ok(Table {
        slug: "degradation".into(),
        title: "Degradation: final training loss by depth".into(),
        note: "Final train loss: median over seeds, with the interquartile range (25th–75th percentile, linear \
               interpolation) over seeds; with one seed the three coincide. Diverged runs (non-finite loss) have no \
               loss and are left out of the median, IQR and accuracy; they are counted in the last column. Test \
               accuracy: mean over the runs that did not diverge."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("loss_median", "final train loss (median)", Format::Sig(3)),
            spec("loss_q25", "IQR low (q25)", Format::Sig(3)),
            spec("loss_q75", "IQR high (q75)", Format::Sig(3)),
            spec("test_accuracy_mean", "test accuracy (mean)", Format::Percent(1)),
            spec("runs", "runs", Format::Integer),
            spec("diverged", "diverged", Format::Integer),
        ],
    })
}

/// Final loss against depth, log–log, one line per variant with IQR bars; one panel per facet
/// when there are too many variants for one.
/// Fewest seeds for which a point's spread is drawn as its interquartile range; with fewer,
/// every seed is drawn (three seeds' quartiles would hide the worst one).
const MIN_SEEDS_FOR_SPREAD: usize = 5;

pub fn chart(rows: &[LossRow], axes: &VaryingAxes, seeds: &str) -> Option<Chart> {
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let faceted = variants.len() > MAX_LINES_IN_ONE_PANEL;
    let line_name = |v: &Variant| if faceted { v.line_label(axes) } else { v.label(axes) };
    let mut line_names: Vec<String> = Vec::new();
    let mut facets: Vec<String> = Vec::new();
    for v in &variants {
        let name = line_name(v);
        if !line_names.contains(&name) {
            line_names.push(name);
        }
        let facet = if faceted { v.facet_label(axes) } else { String::new() };
        if !facets.contains(&facet) {
            facets.push(facet);
        }
    }
    let chance = variants.iter().find_map(|v| v.chance_loss());
    let plotted: Vec<&LossRow> = rows.iter().filter(|r| r.median.is_some()).collect();
    let x = Axis::fit(Scale::Log2, plotted.iter().map(|r| r.depth as f64))?;
    let ys =
        plotted.iter().flat_map(|r| [r.median, r.q25, r.q75].into_iter().flatten().chain(r.losses.iter().copied()));
    let y = Axis::fit(Scale::Log10, ys.chain(chance))?;
    let mut panels = Vec::new();
    for facet in &facets {
        let mut lines = Vec::new();
        for (i, name) in line_names.iter().enumerate() {
            let mine: Vec<&&LossRow> = plotted
                .iter()
                .filter(|r| line_name(r.variant) == *name && (!faceted || r.variant.facet_label(axes) == *facet))
                .collect();
            let Some(first) = mine.first() else { continue };
            let marker = if first.variant.is_plain() { Marker::Circle } else { Marker::Triangle };
            // A peer implementation's line: dashed, in the colour of ours for the same configuration.
            let ours = first.variant.ours();
            let colour = line_names.iter().position(|n| *n == line_name(&ours)).unwrap_or(i);
            let dashed = first.variant.implementation.is_some();
            let style = LineStyle { label: name.clone(), color: palette(colour), dashed, marker };
            let mut line = Line::new(style, mine.iter().filter_map(|r| Some((r.depth as f64, r.median?))).collect());
            // From MIN_SEEDS_FOR_SPREAD seeds a point gets its interquartile range; below, every seed.
            let (spread, few): (Vec<&&&LossRow>, Vec<&&&LossRow>) =
                mine.iter().partition(|r| r.seeds >= MIN_SEEDS_FOR_SPREAD);
            line.error_bars = spread.iter().filter_map(|r| Some((r.depth as f64, r.q25?, r.q75?))).collect();
            line.observations = few
                .iter()
                .filter(|r| r.seeds > 1)
                .flat_map(|r| r.losses.iter().map(|&l| (r.depth as f64, l)))
                .collect();
            lines.push(line);
        }
        if let Some(chance) = chance {
            let style = LineStyle {
                label: format!("chance level, ln 10 = {chance:.2}"),
                color: plotters::style::RGBColor(120, 120, 120),
                dashed: true,
                marker: Marker::None,
            };
            let (lo, hi) = (x.lo.exp2(), x.hi.exp2());
            lines.push(Line::new(style, vec![(lo, chance), (hi, chance)]));
        }
        panels.push(Panel {
            title: if faceted { facet.clone() } else { format!("Median final training loss over {seeds}") },
            x: x.clone(),
            y: y.clone(),
            x_label: depth_axis_label(variants.iter().copied()),
            y_label: "final train loss (log scale)".into(),
            body: PanelBody::Lines(lines),
        });
    }
    // One depth per variant is no curve (e.g. an init-only experiment): no chart.
    let any_curve = panels
        .iter()
        .any(|p| matches!(&p.body, PanelBody::Lines(lines) if lines.iter().any(|l| l.points.len() >= 2 && l.style.marker != Marker::None)));
    if !any_curve {
        return None;
    }
    let overlaps = overlap_sentence(&panels);
    let columns = panels.len().min(2);
    let mut figure = Figure::new("Degradation: training loss vs depth", panels, columns);
    let (any_few, any_spread) = (
        plotted.iter().any(|r| r.seeds > 1 && r.seeds < MIN_SEEDS_FOR_SPREAD),
        plotted.iter().any(|r| r.seeds >= MIN_SEEDS_FOR_SPREAD),
    );
    let how = match (any_few, any_spread) {
        (true, true) => format!(
            "small circles: each seed where a point has fewer than {MIN_SEEDS_FOR_SPREAD}; bars: the interquartile \
             range where it has more"
        ),
        (true, false) => "small circles: each seed".to_string(),
        (false, true) => "bars: the interquartile range".to_string(),
        (false, false) => String::new(),
    };
    let spread = if seeds == "one seed" {
        "Markers: one seed per point, so no spread is shown.".to_string()
    } else {
        format!("Markers: median over {seeds}; {how}. Diverged runs excluded.")
    };
    figure.legend_note = Some(spread);
    let split = if faceted {
        " With this many variants there is one panel per setting of the other grid axes, on shared axes."
    } else {
        ""
    };
    let peers = peer_labels(variants.iter().copied());
    let peer_lines = if peers.is_empty() {
        String::new()
    } else {
        format!(
            " Dashed lines with markers: {}'s runs of the same configurations, in the colour of this crate's.",
            peers.join(" and ")
        )
    };
    let centre = if seeds == "one seed" {
        "the final loss of its one seed".to_string()
    } else {
        format!("the median over {seeds} ({how})")
    };
    Some(Chart {
        figure,
        file: "degradation.svg".into(),
        caption: format!(
            "Final training loss against depth, both axes logarithmic: one line per variant, {centre}. \
             The dashed line is the chance level. A plain net that degrades shows its loss rising with depth \
             towards chance; a residual net keeps it low.{peer_lines}{split}{overlaps}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::{synthetic_run, typed};

    fn row<'a>(variant: &'a Variant, depth: usize, median: f64, seeds: usize) -> LossRow<'a> {
        let losses = vec![median; seeds];
        LossRow {
            variant,
            depth,
            median: Some(median),
            q25: Some(median),
            q75: Some(median),
            losses,
            test_accuracy_mean: None,
            runs: seeds,
            seeds,
            diverged: 0,
        }
    }

    #[test]
    fn a_ratio_no_rank_test_could_call_significant_is_no_finding() {
        let runs = [typed(synthetic_run("plain", 8, 0, Some(1.0))), typed(synthetic_run("residual", 8, 0, Some(0.1)))];
        let axes = VaryingAxes::of_runs(&runs);
        let (plain, residual) = (&runs[0].variant, &runs[1].variant);
        // 3 against 3 seeds: the smallest two-sided p is 2/20 = 0.1; 4 against 4: 2/70 = 0.029.
        for (seeds, unmeasured) in [(1, true), (3, true), (4, false)] {
            let rows = [
                row(plain, 4, 0.5, seeds),
                row(plain, 8, 1.0, seeds),
                row(residual, 4, 0.2, seeds),
                row(residual, 8, 0.1, seeds),
            ];
            let text = findings(&rows, &axes, &[]).join("\n");
            assert!(text.contains("At depth 8, the median final train loss of plain (1.00) is 10× that of"), "{text}");
            let untested = text.contains("no finding yet") || text.contains("not a tested finding");
            assert_eq!(untested, unmeasured, "{text}");
        }
    }

    #[test]
    fn few_seeds_read_as_apart_or_within_noise() {
        assert_eq!(range_order(&[1.0, 1.2], &[0.1, 0.3, 0.2]), Some(std::cmp::Ordering::Greater));
        assert_eq!(range_order(&[0.1, 0.3, 0.2], &[1.0, 1.2]), Some(std::cmp::Ordering::Less));
        assert_eq!(range_order(&[1.0, 0.25], &[0.1, 0.3, 0.2]), None);
        assert_eq!(range_order(&[], &[0.1]), None);
        let runs = [typed(synthetic_run("plain", 8, 0, Some(1.0))), typed(synthetic_run("residual", 8, 0, Some(0.1)))];
        let axes = VaryingAxes::of_runs(&runs);
        let (plain, residual) = (&runs[0].variant, &runs[1].variant);
        let mut overlapping = row(plain, 8, 0.5, 3);
        overlapping.losses = vec![0.05, 0.5, 0.9];
        let rows = [row(plain, 4, 0.4, 3), overlapping, row(residual, 4, 0.2, 3), row(residual, 8, 0.1, 3)];
        let text = findings(&rows, &axes, &[]).join("\n");
        assert!(text.contains("(3 and 3 seeds whose ranges overlap, and too few for any rank test"), "{text}");
        assert!(text.contains("within seed noise"), "{text}");
    }

    #[test]
    fn deeper_depths_are_tested_where_the_seeds_allow() {
        let runs = [typed(synthetic_run("plain", 8, 0, Some(1.0))), typed(synthetic_run("residual", 8, 0, Some(0.1)))];
        let axes = VaryingAxes::of_runs(&runs);
        let (plain, residual) = (&runs[0].variant, &runs[1].variant);
        let spread = |variant, depth, losses: &[f64]| {
            let mut r = row(variant, depth, crate::stats::median(losses.iter().copied()).unwrap(), losses.len());
            r.losses = losses.to_vec();
            r
        };
        let rows = [
            spread(plain, 4, &[0.20, 0.21, 0.22, 0.23, 0.24]),
            spread(plain, 8, &[0.45, 0.50, 0.40, 0.55, 0.48]),
            spread(plain, 16, &[0.9, 1.1, 1.0]), // 3 against 5 seeds can reach p = 0.036: tested
            spread(residual, 4, &[0.30, 0.10, 0.20, 0.25, 0.15]),
            spread(residual, 8, &[0.22, 0.12, 0.19, 0.27, 0.21]),
            spread(residual, 16, &[0.5]), // 1 against 5 cannot: left out
        ];
        let tests = depth::variant_tests(&rows);
        let text = findings(&rows, &axes, &tests).join("\n");
        // 5 against 5, every loss above: p = 2/252; Holm over the line's two tests doubles it.
        assert!(
            text.contains(
                "rank tests over seeds against depth 4, Holm-corrected over 2: higher at depth 8 (p = 0.0079; 0.016 \
                 corrected), higher at depth 16 (p = 0.036; 0.036 corrected)."
            ),
            "{text}"
        );
        assert!(text.contains("rank tests over seeds against depth 4: depth 8 within seed noise (p = "), "{text}");
        assert!(!text.contains("depth 16 within"), "{text}");
        let lead = lead(&rows, &axes, &tests).join(" ");
        let expected = format!(
            "plain worse at depths 8 and 16 than at depth 4; {}: no difference from depth 4 detected at depth 8.",
            residual.label(&axes)
        );
        assert!(lead.ends_with(&expected), "{lead}");
        let table = depth::table(&tests, &rows, &axes).unwrap();
        assert_eq!(table.frame.height(), 3);
    }

    #[test]
    fn the_lead_says_when_its_depths_rest_on_single_runs() {
        let runs = [typed(synthetic_run("plain", 8, 0, Some(1.0))), typed(synthetic_run("residual", 8, 0, Some(0.1)))];
        let axes = VaryingAxes::of_runs(&runs);
        let (plain, residual) = (&runs[0].variant, &runs[1].variant);
        let lead_of = |plain_seeds: [usize; 2], residual_seeds: [usize; 2]| {
            let rows = [
                row(plain, 4, 0.5, plain_seeds[0]),
                row(plain, 8, 1.0, plain_seeds[1]),
                row(residual, 4, 0.2, residual_seeds[0]),
                row(residual, 8, 0.1, residual_seeds[1]),
            ];
            lead(&rows, &axes, &[]).join(" ")
        };
        let all_single = lead_of([1, 1], [1, 1]);
        assert!(all_single.contains("worse when deeper"), "{all_single}");
        assert!(all_single.ends_with("So far every depth has a single run: these sentences describe runs, not a test of depth."));
        let one_single = lead_of([3, 3], [3, 1]);
        assert!(one_single.ends_with("So far depth 8 has a single run in some variant: these sentences describe runs, not a test of depth."));
        assert!(!lead_of([3, 3], [3, 3]).contains("single run"));
    }
}
