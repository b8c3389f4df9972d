//! Training as He et al. (2015) draw it in Fig. 1 and Fig. 6: training error (thin, each seed)
//! and test error (bold) against the step, one colour per depth, plain nets in one panel and
//! residual nets beside them on one error axis, a chart per setting (data set, family,
//! optimiser, …); and every seed's final errors. From the runs' instruments; absent without.
//!
//! The final errors per variant and depth are a polars group_by/agg over one frame of runs.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::instruments::{error_curve, final_errors, instrumented_runs, samples_phrase, ErrorPoint};
use crate::plot::{median_profile, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::stats::{median, range_order};
use crate::table::{capitalised, spec, Format, Table};
use crate::variant::{contexts_of, groups, schedule_label, Group, Run, Variant, VaryingAxes};
use degradation_bench::config::LrSchedule;
use polars::prelude::*;

/// From this many seeds a depth's test error is drawn as their median; below, every seed.
const MEDIAN_FROM_SEEDS: usize = 5;
/// At most this many charts (settings); the table covers every one.
const MAX_CHARTS: usize = 8;
/// The longest title that fits the page at the title's font size.
const MAX_TITLE_CHARS: usize = 80;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = instrumented_runs(inputs);
    let groups = groups(&runs, |_| true);
    if groups.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(&runs);
    let contexts = contexts_of(&groups);
    let samples = samples_phrase(runs.iter().map(|r| &r.record));
    let mut section = Section::new("Training and test error during training");
    section.summary.push(format!(
        "The instruments evaluate the net at every checkpoint (step 0 is the initial net) in evaluation mode: the \
         training error on {samples} training samples and the test error on {samples} test samples (error = 1 − \
         accuracy, in %). Each chart is one setting, with plain nets in the first panel and residual \
         nets beside them on the same error axis, one colour per depth, as in He et al. (2015), Fig. 6. Below \
         {MEDIAN_FROM_SEEDS} seeds every seed's test error is drawn; from {MEDIAN_FROM_SEEDS}, their median. \
         Statements compare two depths (or plain and residual nets) only where each has at least two seeds, and \
         only when every seed of one ends above every seed of the other."
    ));
    if contexts.len() > MAX_CHARTS {
        section.summary.push(format!(
            "Charts for the first {MAX_CHARTS} of {} settings; the table covers all of them.",
            contexts.len()
        ));
    }
    for (n, context) in contexts.iter().enumerate().take(MAX_CHARTS) {
        let members: Vec<&Group> = groups.iter().filter(|g| g.variant.context() == *context).collect();
        section.charts.extend(chart(n + 1, context, &members, &axes, &samples));
    }
    section.findings = findings(&groups, &contexts, &axes);
    section.tables.push(table(&groups, &axes, &samples)?);
    Ok(Some(section))
}

/// The errors of one chart: a panel per variant (plain first), thin training error and bold
/// test error per depth, the error axis shared by every panel.
fn chart(n: usize, context: &Variant, members: &[&Group], axes: &VaryingAxes, samples: &str) -> Option<Chart> {
    let mut depths: Vec<usize> = members.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let colour = |depth: usize| sequential(depths.iter().position(|d| *d == depth).unwrap_or(0), depths.len());
    let mut variants: Vec<&Variant> = members.iter().map(|g| g.variant).collect();
    variants.dedup();
    let mut panels = Vec::new();
    for variant in variants {
        let (mut thin, mut bold) = (Vec::new(), Vec::new());
        for group in members.iter().filter(|g| g.variant == variant) {
            let style = LineStyle {
                label: variant.depth_line_label(group.depth),
                color: colour(group.depth),
                dashed: false,
                marker: Marker::None,
            };
            let curves: Vec<Vec<ErrorPoint>> = group.runs.iter().map(|r| error_curve(&r.record)).collect();
            for curve in &curves {
                let mut line =
                    Line::new(style.clone(), curve.iter().filter_map(|p| Some((p.step as f64, p.train?))).collect());
                (line.width, line.in_legend) = (1, false);
                thin.push(line);
            }
            for points in test_lines(group, &curves) {
                let mut line = Line::new(style.clone(), points);
                line.width = 3;
                bold.push(line);
            }
        }
        thin.extend(bold);
        panels.push((variant.arch_label(), thin));
    }
    let points = || panels.iter().flat_map(|(_, lines)| lines.iter().flat_map(|l| l.points.iter().copied()));
    // Zero on the axis, so a level reads as a height, as in the paper's figures.
    let y = Axis::fit(Scale::Linear, points().map(|p| p.1).chain([0.0]))?;
    let x = Axis::fit(Scale::Linear, points().map(|p| p.0))?;
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|(title, lines)| Panel {
            title,
            x: x.clone(),
            y: y.clone(),
            x_label: "training step".into(),
            y_label: "error (%)".into(),
            body: PanelBody::Lines(lines),
        })
        .collect();
    let setting = context.setting_label(axes);
    let title = format!("Training and test error: {setting}");
    let title =
        if title.chars().count() <= MAX_TITLE_CHARS { title } else { format!("Training and test error, setting {n}") };
    let columns = panels.len();
    let mut figure = Figure::new(title, panels, columns);
    let centre = match members.iter().map(|g| g.seeds() >= MEDIAN_FROM_SEEDS).collect::<Vec<_>>() {
        all if all.iter().all(|m| *m) => "the median over seeds".to_string(),
        all if all.iter().all(|m| !m) => "each seed".to_string(),
        _ => format!("the median over seeds where a depth has {MEDIAN_FROM_SEEDS} or more, else each seed"),
    };
    figure.legend_note =
        Some(format!("Thin: training error of each seed ({samples} training samples). Bold: test error, {centre}."));
    Some(Chart {
        figure,
        file: format!("error_curves_{n}.svg"),
        caption: format!(
            "Training error (thin lines, one per seed) and test error (bold, {centre}) against the training step, \
             {setting}: one colour per depth (darker is deeper), plain nets in the first panel and residual nets \
             beside them, every panel on the same error axis.{}",
            schedule_sentence(context, members)
        ),
    })
}

/// The bold lines of one depth: the median test error over seeds from [`MEDIAN_FROM_SEEDS`]
/// seeds, every seed's below (their checkpoints are the same steps: one configuration).
fn test_lines(group: &Group, curves: &[Vec<ErrorPoint>]) -> Vec<Vec<(f64, f64)>> {
    if group.seeds() < MEDIAN_FROM_SEEDS {
        return curves.iter().map(|c| c.iter().filter_map(|p| Some((p.step as f64, p.test?))).collect()).collect();
    }
    let values: Vec<Vec<f64>> = curves.iter().map(|c| c.iter().map(|p| p.test.unwrap_or(f64::NAN)).collect()).collect();
    let refs: Vec<&[f64]> = values.iter().map(Vec::as_slice).collect();
    let steps = curves.iter().max_by_key(|c| c.len()).map(|c| c.iter().map(|p| p.step as f64).collect::<Vec<_>>());
    let median = median_profile(&refs);
    vec![steps.unwrap_or_default().into_iter().zip(median).filter(|(_, y)| y.is_finite()).collect()]
}

/// Where the schedule shows in the curves: the decays' steps and which depths warm up.
fn schedule_sentence(context: &Variant, members: &[&Group]) -> String {
    let mut text = String::new();
    let schedule = &context.lr_schedule;
    if !schedule.is_constant() {
        let steps: Vec<String> =
            schedule.decay_at.iter().map(|&at| LrSchedule::milestone(at, context.steps).to_string()).collect();
        text.push_str(&format!(
            " Schedule: {}, i.e. after step {} (a drop in the curves there is the rate's).",
            schedule_label(schedule),
            steps.join(" and ")
        ));
    }
    for group in members {
        if let Some(warm) = group.runs.first().map(|r| &r.record.setup.lr_schedule).filter(|s| s.warmup_steps > 0) {
            text.push_str(&format!(
                " {} runs its first {} steps at lr {} (warm-up).",
                group.variant.net_label(group.depth),
                warm.warmup_steps,
                warm.warmup_lr
            ));
        }
    }
    text
}

/// Two groups' final training errors as a sentence, where each has two seeds or more: an
/// ordering only when every seed of one ends above every seed of the other.
fn compare(a: &Group, b: &Group) -> Option<String> {
    let errors = |g: &Group| -> Vec<f64> { g.runs.iter().filter_map(|r| final_errors(&r.record).0).collect() };
    let (of_a, of_b) = (errors(a), errors(b));
    if of_a.len() < 2 || of_b.len() < 2 {
        return None;
    }
    let centre = |v: &[f64]| format!("{:.1}%", median(v.iter().copied()).unwrap_or(f64::NAN));
    let counts = match (of_a.len(), of_b.len()) {
        (x, y) if x == y => format!("{x} seeds each"),
        (x, y) => format!("{x} and {y} seeds"),
    };
    let medians = format!("medians {} and {}; {counts}", centre(&of_a), centre(&of_b));
    let (name_a, name_b) = (a.variant.net_label(a.depth), b.variant.net_label(b.depth));
    let relation = match range_order(&of_a, &of_b) {
        Some(std::cmp::Ordering::Greater) => "higher",
        Some(_) => "lower",
        None => return Some(format!(
            "the final training errors of {name_a} and {name_b} overlap across seeds ({medians}): no ordering"
        )),
    };
    Some(format!(
        "every seed of {name_a} ends with a {relation} training error than every seed of {name_b} ({medians})"
    ))
}

/// Per setting: each variant's deepest depth against its shallowest, and plain against each
/// residual variant at the deepest depth both have.
fn findings(groups: &[Group], contexts: &[Variant], axes: &VaryingAxes) -> Vec<String> {
    let mut out = Vec::new();
    for context in contexts {
        let members: Vec<&Group> = groups.iter().filter(|g| g.variant.context() == *context).collect();
        let prefix = match context.facet_and_implementation_label(axes) {
            facet if facet.is_empty() => String::new(),
            facet => format!("{facet}: "),
        };
        let mut variants: Vec<&Variant> = members.iter().map(|g| g.variant).collect();
        variants.dedup();
        for variant in &variants {
            let mine: Vec<&&Group> = members.iter().filter(|g| g.variant == *variant).collect();
            if let (Some(shallow), Some(deep)) = (mine.first(), mine.last()) {
                if deep.depth > shallow.depth {
                    out.extend(compare(deep, shallow).map(|s| capitalised(&format!("{prefix}{s}."))));
                }
            }
        }
        let plain: Vec<&&Group> = members.iter().filter(|g| g.variant.is_plain()).collect();
        for residual in variants.iter().filter(|v| !v.is_plain()) {
            let shared = plain
                .iter()
                .rev()
                .find_map(|p| members.iter().find(|g| g.variant == *residual && g.depth == p.depth).map(|r| (p, r)));
            if let Some((p, r)) = shared {
                out.extend(compare(p, r).map(|s| capitalised(&format!("{prefix}at depth {}, {s}.", p.depth))));
            }
        }
    }
    out
}

/// Per variant and depth: every seed's final training and test error, and their medians.
fn table(groups: &[Group], axes: &VaryingAxes, samples: &str) -> Result<Table> {
    let failed = Error::polars("final_errors");
    let rows: Vec<(u32, &Run)> =
        groups.iter().enumerate().flat_map(|(i, g)| g.runs.iter().map(move |r| (i as u32, *r))).collect();
    let frame = DataFrame::new_infer_height(vec![
        Column::new("group".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
        Column::new("seed".into(), rows.iter().map(|r| r.1.record.setup.seed).collect::<Vec<_>>()),
        Column::new(
            "train".into(),
            rows.iter().map(|r| final_errors(&r.1.record).0.map(|e| e / 100.0)).collect::<Vec<_>>(),
        ),
        Column::new(
            "test".into(),
            rows.iter().map(|r| final_errors(&r.1.record).1.map(|e| e / 100.0)).collect::<Vec<_>>(),
        ),
    ])
    .map_err(&failed)?;
    let by_seed =
        |name: &str| col(name).sort_by([col("seed")], SortMultipleOptions::default()).alias(format!("{name}_seeds"));
    let summary = frame
        .lazy()
        .group_by([col("group")])
        .agg([
            col("seed").n_unique().alias("seeds"),
            col("train").median().alias("train_error_median"),
            col("test").median().alias("test_error_median"),
            by_seed("train"),
            by_seed("test"),
        ])
        .sort(["group"], SortMultipleOptions::default())
        .collect()
        .map_err(&failed)?;
    let seeds_text = |name: &str| -> Result<Vec<String>> {
        let lists = summary.column(name).and_then(|c| c.list().cloned()).map_err(&failed)?;
        (0..summary.height())
            .map(|row| {
                let Some(values) = lists.get_as_series(row) else { return Ok(String::new()) };
                let cells: Vec<String> = (values.f64().map_err(&failed)?.iter())
                    .map(|v| match v {
                        Some(v) => format!("{:.2}%", 100.0 * v),
                        None => "–".to_string(),
                    })
                    .collect();
                Ok(cells.join(", "))
            })
            .collect()
    };
    let index = summary.column("group").and_then(|c| c.u32().cloned()).map_err(&failed)?;
    let group_of = |row: usize| &groups[index.get(row).unwrap_or(0) as usize];
    let rows = 0..summary.height();
    let mut columns = vec![
        Column::new("variant".into(), rows.clone().map(|r| group_of(r).variant.label(axes)).collect::<Vec<_>>()),
        Column::new(
            "net".into(),
            rows.clone().map(|r| group_of(r).variant.net_label(group_of(r).depth)).collect::<Vec<_>>(),
        ),
        Column::new("depth".into(), rows.clone().map(|r| group_of(r).depth as u64).collect::<Vec<_>>()),
        Column::new("steps".into(), rows.map(|r| group_of(r).variant.steps as u64).collect::<Vec<_>>()),
    ];
    for name in ["seeds", "train_error_median", "test_error_median"] {
        columns.push(summary.column(name).map_err(&failed)?.clone());
    }
    columns.push(Column::new("train_error_seeds".into(), seeds_text("train_seeds")?));
    columns.push(Column::new("test_error_seeds".into(), seeds_text("test_seeds")?));
    Ok(Table {
        slug: "final_errors".into(),
        title: "Final training and test error per seed".into(),
        note: format!(
            "At the last checkpoint, in evaluation mode: training error on {samples} training samples, test error on \
             {samples} test samples. Each seed in seed order (– where a run recorded none); \
             medians over seeds."
        ),
        frame: DataFrame::new_infer_height(columns).map_err(&failed)?,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("net", "net", Format::Text),
            spec("steps", "steps", Format::Integer),
            spec("seeds", "seeds", Format::Integer),
            spec("train_error_median", "train error (median)", Format::Percent(2)),
            spec("train_error_seeds", "train error, each seed", Format::Text),
            spec("test_error_median", "test error (median)", Format::Percent(2)),
            spec("test_error_seeds", "test error, each seed", Format::Text),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::tests::{fig6, inputs};
    use crate::variant::tests::synthetic;

    fn lines(panel: &Panel) -> &[Line] {
        match &panel.body {
            PanelBody::Lines(lines) => lines,
            PanelBody::Heatmap { .. } => panic!("a line panel"),
        }
    }

    #[test]
    fn absent_without_instruments() {
        let runs = vec![synthetic("plain", 4, 0, Some(0.1)), synthetic("residual", 4, 0, Some(0.1))];
        assert!(build(&inputs(runs)).unwrap().is_none());
    }

    #[test]
    fn plain_and_resnet_panels_share_the_error_axis_and_every_seed_is_drawn_below_five() {
        let section = build(&inputs(fig6(3))).unwrap().expect("runs with instruments");
        assert_eq!(section.charts.len(), 1, "one setting");
        let chart = &section.charts[0];
        assert_eq!(chart.file, "error_curves_1.svg");
        let panels = &chart.figure.panels;
        let titles: Vec<&str> = panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["plain", "ResNet"]);
        assert_eq!(panels[0].y, panels[1].y, "one error axis for both panels");
        assert!(panels[0].y.lo <= 0.0 && panels[0].y.hi >= 90.0, "{:?}", panels[0].y);
        // Per depth: three thin training lines, then three bold test lines (3 seeds < 5).
        let plain = lines(&panels[0]);
        assert_eq!(plain.iter().map(|l| l.width).collect::<Vec<_>>(), [[1; 6], [3; 6]].concat());
        assert_eq!(plain[0].points.len(), 11);
        assert!((plain[4].points[10].1 - 46.0).abs() < 1e-9, "plain-56 seed 1 ends at 45% + 1 point");
        let legend: Vec<&str> = chart.figure.legend.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(legend, ["plain-20", "plain-56", "ResNet-20", "ResNet-56"]);
        assert!(chart.caption.contains("after step 50 and 75"), "{}", chart.caption);
        let svg = chart.figure.to_svg().unwrap();
        assert!(svg.contains("\nplain-56\n</text>") && svg.contains("\nerror (%)\n</text>"));

        let text = section.findings.join("\n");
        assert!(
            text.contains(
                "Every seed of plain-56 ends with a higher training error than every seed of plain-20 \
                           (medians 46.0% and 11.0%; 3 seeds each)."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "At depth 56, every seed of plain-56 ends with a higher training error than every seed of ResNet-56"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ResNet-56 and ResNet-20 overlap across seeds (medians 6.0% and 6.0%; 3 seeds each): no ordering"
            ),
            "{text}"
        );

        let table = &section.tables[0];
        assert_eq!(table.height(), 4);
        assert_eq!(table.text("net", 1).as_deref(), Some("plain-56"));
        assert_eq!(table.number("seeds", 1), Some(3.0));
        assert!((table.number("train_error_median", 1).unwrap() - 0.46).abs() < 1e-9);
        assert_eq!(table.text("train_error_seeds", 1).as_deref(), Some("45.00%, 46.00%, 47.00%"));
        assert!(table.to_markdown().unwrap().contains("| plain | plain-56 | 100 | 3 | 46.00% |"));
    }

    #[test]
    fn five_seeds_draw_the_median_and_one_seed_supports_no_statement() {
        let section = build(&inputs(fig6(5))).unwrap().unwrap();
        let plain = lines(&section.charts[0].figure.panels[0]);
        assert_eq!(plain.iter().filter(|l| l.width == 3).count(), 2, "one median test line per depth");
        // Test error is 5 points above training: the median of seeds 0–4 of plain-56 ends at 52%.
        assert!((plain.last().unwrap().points[10].1 - 52.0).abs() < 1e-9);
        let section = build(&inputs(fig6(1))).unwrap().unwrap();
        assert!(section.findings.is_empty(), "{:?}", section.findings);
        assert_eq!(section.charts.len(), 1);
    }
}
