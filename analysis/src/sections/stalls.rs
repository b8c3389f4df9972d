//! When and where does a net stall? From the instruments: for each run the first checkpoint
//! after which its training error stops improving (`instruments::progress`), the share of its
//! layers that barely move there, and per-layer heatmaps of the update ratio ‖ΔW‖/‖W‖ and the
//! distance from initialisation ‖W − W₀‖/‖W₀‖ over the steps, each setting's deepest plain and
//! residual nets side by side.
//!
//! The per-depth medians are a polars group_by/agg over one frame of runs.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::instruments::{
    instrumented_runs, progress, Progress, Stall, QUIET_UPDATE_RATIO, STALL_IMPROVEMENT_PP, STALL_WINDOW,
};
use crate::plot::{sequential, spread, Axis, Cell, Chart, Figure, LineStyle, Marker, Panel, PanelBody};
use crate::section::Section;
use crate::stats::median_with_infinities;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{contexts_of, groups, Group, Run, Variant, VaryingAxes};
use degradation_bench::record::InstrumentPoint;
use plotters::style::RGBColor;
use polars::prelude::*;

/// A heatmap has at most this many rows (bands of adjacent layers) and columns (checkpoints).
const MAX_ROWS: usize = 24;
const MAX_COLUMNS: usize = 24;
/// Tick labels per heatmap axis: more would collide on a 300-pixel panel.
const AXIS_LABELS: usize = 6;
/// At most this many settings get heatmaps; the table covers every one.
const MAX_CHARTS: usize = 8;
/// The longest title that fits the page at the title's font size.
const MAX_TITLE_CHARS: usize = 80;
/// A cell with no recorded value.
const MISSING: RGBColor = RGBColor(235, 235, 235);

/// A per-layer quantity of the instruments, drawn as a heatmap.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measure {
    UpdateRatio,
    DistanceFromInit,
}

impl Measure {
    fn values(self, point: &InstrumentPoint) -> &[f64] {
        match self {
            Measure::UpdateRatio => &point.update_ratios,
            Measure::DistanceFromInit => &point.distance_from_init,
        }
    }

    /// Colour bins' edges, in log₁₀ of the value.
    fn edges(self) -> &'static [f64] {
        match self {
            Measure::UpdateRatio => &[-5.0, -4.0, -3.0, -2.0, -1.0],
            Measure::DistanceFromInit => &[-3.0, -2.0, -1.0, 0.0],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Measure::UpdateRatio => "update ratio ‖ΔW‖/‖W‖ of each step",
            Measure::DistanceFromInit => "distance from initialisation ‖W − W₀‖/‖W₀‖",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Measure::UpdateRatio => "Update ratio per layer",
            Measure::DistanceFromInit => "Distance from init per layer",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Measure::UpdateRatio => "stall_update_ratio",
            Measure::DistanceFromInit => "stall_distance",
        }
    }
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = instrumented_runs(inputs);
    let groups = groups(&runs, |_| true);
    if groups.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(&runs);
    let mut section = Section::new("Where training stalls");
    let window = STALL_WINDOW * 100.0;
    section.summary.push(format!(
        "A run *stops improving* at the first checkpoint t whose training error e(t) is no more than \
         {STALL_IMPROVEMENT_PP} percentage point above the lowest training error of the checkpoints in the next \
         {window}% of the run's steps (at least the next checkpoint). Only checkpoints with that whole window inside \
         the run are candidates, so a run still improving in its last fifth *keeps improving*. A stop at an error of \
         {STALL_IMPROVEMENT_PP}% or less is the net fitting its training samples, not a stall; a stop followed by a \
         large fall (after a learning-rate decay, say) is a plateau, not the end: the table gives both numbers. \
         Quiet layers: the share of weight layers whose update at that checkpoint moved them by less than \
         {} of their norm (step 0 has no update: the first one's).",
        format_sig(QUIET_UPDATE_RATIO, 1)
    ));
    section.summary.push(
        "Statements are made only for depths with at least two seeds. The heatmaps show each setting's deepest \
         plain and residual nets: layer against step, the colour the median over seeds (and over the adjacent layers \
         of a row) of the per-layer value."
            .into(),
    );
    let summary = summarise(&groups)?;
    section.findings = findings(&groups, &summary, &axes);
    section.tables.push(table(&groups, &summary, &axes)?);
    for (n, context) in contexts_of(&groups).iter().enumerate().take(MAX_CHARTS) {
        let members: Vec<&Group> = groups.iter().filter(|g| g.variant.context() == *context).collect();
        let mut variants: Vec<&Variant> = members.iter().map(|g| g.variant).collect();
        variants.dedup();
        // Members are in natural order: each variant's last group is its deepest.
        let deepest: Vec<&Group> =
            variants.iter().filter_map(|v| members.iter().rev().find(|g| g.variant == *v).copied()).collect();
        for measure in [Measure::UpdateRatio, Measure::DistanceFromInit] {
            section.charts.extend(heatmap(n + 1, context, &deepest, measure, &axes));
        }
    }
    Ok(Some(section))
}

/// One group's stalls over its seeds.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    /// Seeds that stop improving, of the seeds with a training-error curve.
    stalled: usize,
    seeds: usize,
    /// Medians over the stalled seeds.
    step: Option<f64>,
    at: Option<f64>,
    error: Option<f64>,
    quiet: Option<f64>,
    later_fall: Option<f64>,
}

/// Per group, in order: a polars frame of every run's stall, grouped by group and aggregated.
fn summarise(groups: &[Group]) -> Result<Vec<Summary>> {
    let failed = Error::polars("stalls");
    let rows: Vec<(u32, &Run, Progress)> = (groups.iter().enumerate())
        .flat_map(|(i, g)| g.runs.iter().map(move |r| (i as u32, *r, progress(&r.record))))
        .collect();
    let stall = |f: &dyn Fn(&Stall, &Run) -> f64| -> Vec<Option<f64>> {
        rows.iter().map(|(_, r, p)| p.stall().map(|s| f(s, r))).collect()
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("group".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
        // Null where the run has no curve (diverged): counted in neither.
        Column::new(
            "stalled".into(),
            rows.iter().map(|r| (r.2 != Progress::NoCurve).then_some(r.2.stall().is_some())).collect::<Vec<_>>(),
        ),
        Column::new("step".into(), stall(&|s, _| s.step as f64)),
        Column::new("at".into(), stall(&|s, r| s.step as f64 / r.record.setup.steps.max(1) as f64)),
        Column::new("error".into(), stall(&|s, _| s.error / 100.0)),
        Column::new(
            "quiet".into(),
            rows.iter().map(|r| r.2.stall().and_then(|s| s.quiet_fraction)).collect::<Vec<_>>(),
        ),
        Column::new("later_fall".into(), stall(&|s, _| s.later_fall / 100.0)),
    ])
    .map_err(&failed)?;
    let medians = ["step", "at", "error", "quiet", "later_fall"].map(|name| col(name).median());
    let summary = frame
        .lazy()
        .group_by([col("group")])
        .agg(
            [col("stalled").sum().alias("stalled_seeds"), col("stalled").count().alias("seeds")]
                .into_iter()
                .chain(medians)
                .collect::<Vec<_>>(),
        )
        .sort(["group"], SortMultipleOptions::default())
        .collect()
        .map_err(&failed)?;
    let number = |name: &str, row: usize| summary.column(name).ok()?.get(row).ok()?.extract::<f64>();
    Ok((0..summary.height())
        .map(|row| Summary {
            stalled: number("stalled_seeds", row).unwrap_or(0.0) as usize,
            seeds: number("seeds", row).unwrap_or(0.0) as usize,
            step: number("step", row),
            at: number("at", row),
            error: number("error", row),
            quiet: number("quiet", row),
            later_fall: number("later_fall", row),
        })
        .collect())
}

/// For each variant's shallowest and deepest depth with two seeds or more: whether and where it
/// stops improving, at what error, how many layers are quiet there, and what comes after.
fn findings(groups: &[Group], summary: &[Summary], axes: &VaryingAxes) -> Vec<String> {
    let mut out = Vec::new();
    let pct = |v: Option<f64>| format_sig(100.0 * v.unwrap_or(f64::NAN), 2);
    for (i, group) in groups.iter().enumerate() {
        let ends = groups.iter().filter(|g| g.variant == group.variant).map(|g| g.depth);
        let (lo, hi) = (ends.clone().min().unwrap_or(0), ends.max().unwrap_or(0));
        let s = summary[i];
        if s.seeds < 2 || (group.depth != lo && group.depth != hi) {
            continue;
        }
        let net = group.variant.net_label(group.depth);
        let facet = group.variant.facet_and_implementation_label(axes);
        let net = if facet.is_empty() { net } else { format!("{net} ({facet})") };
        if s.stalled == 0 {
            out.push(format!(
                "{net}: every seed ({}) keeps improving by more than {STALL_IMPROVEMENT_PP} point per {}% of the run.",
                s.seeds,
                STALL_WINDOW * 100.0
            ));
            continue;
        }
        let what = match s.error {
            Some(e) if 100.0 * e <= STALL_IMPROVEMENT_PP => "stops improving, having fit its training samples",
            _ => "stops improving",
        };
        let after = match s.later_fall {
            Some(fall) if 100.0 * fall > STALL_IMPROVEMENT_PP => {
                format!("the error later falls another {} points (a plateau, not the end)", pct(Some(fall)))
            }
            _ => format!("it never falls by more than {STALL_IMPROVEMENT_PP} point after"),
        };
        out.push(format!(
            "{net}: in {} of {} seeds the training error {what}, at a median step {:.0} ({}% of the run) and {}% \
             error; there a median {}% of the layers move by less than {} of their norm per update, and {after}.",
            s.stalled,
            s.seeds,
            s.step.unwrap_or(f64::NAN),
            pct(s.at),
            pct(s.error),
            pct(s.quiet),
            format_sig(QUIET_UPDATE_RATIO, 1),
        ));
    }
    out
}

fn table(groups: &[Group], rows: &[Summary], axes: &VaryingAxes) -> Result<Table> {
    let each_seed = |g: &Group| -> String {
        let mut runs = g.runs.clone();
        runs.sort_by_key(|r| r.record.setup.seed);
        let cells: Vec<String> = (runs.iter().map(|r| progress(&r.record)))
            .map(|p| match p {
                Progress::Stalled(s) => format!("{} ({}%)", s.step, format_sig(s.error, 2)),
                Progress::KeptImproving => "keeps improving".into(),
                Progress::NoCurve => "–".into(),
            })
            .collect();
        cells.join(", ")
    };
    let column = |name: &str, f: &dyn Fn(&Summary) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), groups.iter().map(|g| g.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("net".into(), groups.iter().map(|g| g.variant.net_label(g.depth)).collect::<Vec<_>>()),
        Column::new("depth".into(), groups.iter().map(|g| g.depth as u64).collect::<Vec<_>>()),
        Column::new("stalled".into(), rows.iter().map(|s| format!("{} of {}", s.stalled, s.seeds)).collect::<Vec<_>>()),
        column("stall_step_median", &|s| s.step),
        column("stall_at_median", &|s| s.at),
        column("error_at_stall_median", &|s| s.error),
        column("quiet_layers_median", &|s| s.quiet),
        column("later_fall_median", &|s| s.later_fall),
        Column::new("each_seed".into(), groups.iter().map(each_seed).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("stalls"))?;
    Ok(Table {
        slug: "stalls".into(),
        title: "Where the training error stops improving".into(),
        note: format!(
            "Stalled: seeds that stop improving (see above) of the seeds with a training-error curve. Medians over \
             the stalled seeds: the step, as a share of the run, the training error there, the share of layers with \
             an update ratio below {} there, and how much lower (percentage points) the error gets afterwards. Each \
             seed in seed order: its step (training error there), or \"keeps improving\".",
            format_sig(QUIET_UPDATE_RATIO, 1)
        ),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("net", "net", Format::Text),
            spec("stalled", "stalled", Format::Text),
            spec("stall_step_median", "step (median)", Format::Integer),
            spec("stall_at_median", "of the run", Format::Percent(0)),
            spec("error_at_stall_median", "train error there", Format::Percent(1)),
            spec("quiet_layers_median", "quiet layers", Format::Percent(0)),
            spec("later_fall_median", "falls later by", Format::Percent(1)),
            spec("each_seed", "each seed: step (train error)", Format::Text),
        ],
    })
}

/// The median over seeds and over a band of adjacent layers of log₁₀ of a measure, at up to
/// [`MAX_COLUMNS`] checkpoints (steps > 0): (steps, first layer of each band, value[band][column]).
type Grid = (Vec<usize>, Vec<usize>, Vec<Vec<Option<f64>>>);

fn grid(group: &Group, measure: Measure) -> Option<Grid> {
    let first = &group.runs.first()?.record.result.instruments;
    let recorded: Vec<usize> =
        first.iter().filter(|p| p.step > 0 && !measure.values(p).is_empty()).map(|p| p.step).collect();
    let steps = spread(&recorded, MAX_COLUMNS);
    let layers = group.runs.iter().flat_map(|r| r.record.result.instruments.iter().map(|p| measure.values(p).len())).max()?;
    if steps.is_empty() || layers == 0 {
        return None;
    }
    let bands = layers.min(MAX_ROWS);
    let band = |b: usize| (b * layers / bands)..((b + 1) * layers / bands);
    let values = (0..bands)
        .map(|b| {
            steps
                .iter()
                .map(|&step| {
                    let points = group.runs.iter().filter_map(|r| r.record.result.instruments.iter().find(|p| p.step == step));
                    let logs = points.flat_map(|p| measure.values(p).get(band(b)).unwrap_or_default());
                    median_with_infinities(logs.map(|v| v.log10()).filter(|v| !v.is_nan()))
                })
                .collect()
        })
        .collect();
    Some((steps, (0..bands).map(|b| band(b).start + 1).collect(), values))
}

/// One heatmap per setting and measure: a panel per net, layers up, steps across.
fn heatmap(n: usize, context: &Variant, deepest: &[&Group], measure: Measure, axes: &VaryingAxes) -> Option<Chart> {
    let edges = measure.edges();
    let bins = edges.len() + 1;
    // Small values dark: quiet layers stand out.
    let colour = |v: f64| sequential(bins - 1 - edges.iter().filter(|&&e| v >= e).count(), bins);
    let labelled = |names: Vec<String>| -> Vec<String> {
        let keep = spread(&(0..names.len()).collect::<Vec<_>>(), AXIS_LABELS);
        names.into_iter().enumerate().map(|(i, s)| if keep.contains(&i) { s } else { String::new() }).collect()
    };
    let mut panels = Vec::new();
    for group in deepest {
        let Some((steps, first_layers, values)) = grid(group, measure) else { continue };
        let cells = (values.iter().enumerate())
            .flat_map(|(row, line)| {
                line.iter().enumerate().map(move |(column, v)| Cell {
                    column,
                    row,
                    fill: v.map_or(MISSING, colour),
                    text: String::new(),
                })
            })
            .collect();
        panels.push(Panel {
            title: group.variant.net_label(group.depth),
            x: Axis::categorical(labelled(steps.iter().map(usize::to_string).collect())),
            y: Axis::categorical(labelled(first_layers.iter().map(usize::to_string).collect())),
            x_label: "training step".into(),
            y_label: "layer (1 = input side)".into(),
            body: PanelBody::Heatmap { cells },
        });
    }
    if panels.is_empty() {
        return None;
    }
    let bound = |e: f64| format_sig(10f64.powf(e), 1);
    let legend = (0..bins)
        .map(|i| LineStyle {
            label: match i {
                0 => format!("< {}", bound(edges[0])),
                i if i == bins - 1 => format!("≥ {}", bound(edges[i - 1])),
                i => format!("{} – {}", bound(edges[i - 1]), bound(edges[i])),
            },
            color: sequential(bins - 1 - i, bins),
            dashed: false,
            marker: Marker::None,
        })
        .collect();
    let setting = context.setting_label(axes);
    let name = measure.name();
    let columns = panels.len();
    let title = format!("{}: {setting}", measure.title());
    let title =
        if title.chars().count() <= MAX_TITLE_CHARS { title } else { format!("{}, setting {n}", measure.title()) };
    let mut figure = Figure::new(title, panels, columns);
    figure.legend = legend;
    figure.legend_note =
        Some(format!("Colour: the {name}, median over seeds and over the layers of a row. Grey: not recorded."));
    Some(Chart {
        figure,
        file: format!("{}_{n}.svg", measure.file()),
        caption: format!(
            "The {name} per weight layer (rows, input side at the bottom; a row groups adjacent layers when there are \
             more than {MAX_ROWS}) against the training step, {setting}, for the deepest net of each architecture; \
             median over seeds. Layers whose colour darkens barely move."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::tests::{fig6, inputs};
    use crate::variant::tests::synthetic;

    #[test]
    fn absent_without_instruments() {
        assert!(build(&inputs(vec![synthetic("plain", 4, 0, Some(0.1))])).unwrap().is_none());
    }

    #[test]
    fn the_deep_plain_net_stalls_where_its_layers_go_quiet() {
        // A fourth seed of plain-56 diverged: it has a curve to draw but no stall to count.
        let mut runs = fig6(3);
        let mut diverged = runs[3].record.clone();
        (diverged.setup.seed, diverged.result.diverged) = (3, true);
        runs.insert(6, crate::variant::tests::typed(diverged));
        let section = build(&inputs(runs)).unwrap().expect("runs with instruments");
        let table = &section.tables[0];
        assert_eq!(table.height(), 4);
        let plain_56 = 1;
        assert_eq!(table.text("net", plain_56).as_deref(), Some("plain-56"));
        assert_eq!(table.text("stalled", plain_56).as_deref(), Some("3 of 3"));
        assert_eq!(table.number("stall_step_median", plain_56), Some(30.0));
        assert!((table.number("error_at_stall_median", plain_56).unwrap() - 0.46).abs() < 1e-9);
        assert_eq!(table.number("quiet_layers_median", plain_56), Some(1.0));
        assert_eq!(table.text("each_seed", plain_56).as_deref(), Some("30 (45%), 30 (46%), 30 (47%), –"));
        assert_eq!(table.text("stalled", 3).as_deref(), Some("0 of 3"));
        assert_eq!(table.text("each_seed", 3).as_deref(), Some("keeps improving, keeps improving, keeps improving"));
        assert_eq!(table.number("stall_step_median", 3), None);

        let text = section.findings.join("\n");
        assert!(
            text.contains(
                "plain-56: in 3 of 3 seeds the training error stops improving, at a median step 30 (30% of the run) \
                 and 46% error; there a median 100% of the layers"
            ),
            "{text}"
        );
        assert!(text.contains("ResNet-56: every seed (3) keeps improving"), "{text}");

        // Two heatmaps (update ratio, distance), each the deepest plain net beside the deepest ResNet.
        let files: Vec<&str> = section.charts.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["stall_update_ratio_1.svg", "stall_distance_1.svg"]);
        let figure = &section.charts[0].figure;
        let titles: Vec<&str> = figure.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["plain-56", "ResNet-56"]);
        let PanelBody::Heatmap { cells } = &figure.panels[0].body else { panic!("a heatmap") };
        assert_eq!(cells.len(), 24 * 10, "54 layers in 24 bands, 10 checkpoints after step 0");
        // Bins from dark (< 1e-5) to light: 1e-5 is the second darkest, 1e-2 the second lightest.
        let quiet = cells.iter().filter(|c| c.fill == sequential(4, 6)).map(|c| c.column).min();
        assert_eq!(quiet, Some(2), "updates of 1e-5 from step 30, the third column");
        assert!(cells.iter().all(|c| c.column >= 2 || c.fill == sequential(1, 6)), "1e-2 before step 30");
        assert_eq!(figure.legend.len(), 6);
        assert_eq!(figure.legend[0].label, "< 1e-5");
        // Tick labels are thinned so that they cannot collide.
        for axis in [&figure.panels[0].x, &figure.panels[0].y] {
            assert!(axis.categories.iter().filter(|c| !c.is_empty()).count() <= AXIS_LABELS, "{axis:?}");
        }
        let svg = figure.to_svg().unwrap();
        assert!(svg.contains("\nplain-56\n</text>"));
    }

    #[test]
    fn one_seed_supports_no_statement() {
        let section = build(&inputs(fig6(1))).unwrap().unwrap();
        assert!(section.findings.is_empty(), "{:?}", section.findings);
        assert_eq!(section.tables[0].height(), 4);
    }
}
