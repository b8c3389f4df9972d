//! Longer training (He et al., 2015, footnote 3: degradation persisted when the plain nets were
//! trained with 3× the iterations). The plain nets of an experiment named `degradation` against
//! the same depths in one named `longer`.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::plot::{palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::stats::median;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::Run;
use polars::prelude::{Column, DataFrame};

/// The experiment names the comparison looks for.
pub const SHORT_EXPERIMENT: &str = "degradation";
pub const LONG_EXPERIMENT: &str = "longer";

/// One depth at both lengths (plain nets, medians over seeds).
#[derive(Debug, Clone, PartialEq)]
pub struct LengthRow {
    pub depth: usize,
    pub loss_short: f64,
    pub loss_long: f64,
    pub runs_short: usize,
    pub runs_long: usize,
}

/// Training lengths (steps) of the two experiments and the rows at the depths both ran.
pub fn rows(runs: &[Run]) -> Option<(usize, usize, Vec<LengthRow>)> {
    let pick = |name: &str| -> Vec<&Run> {
        runs.iter().filter(|r| r.variant.experiment == name && r.variant.is_plain()).collect()
    };
    let (short, long) = (pick(SHORT_EXPERIMENT), pick(LONG_EXPERIMENT));
    let steps = |set: &[&Run]| set.iter().map(|r| r.variant.steps).max();
    let (short_steps, long_steps) = (steps(&short)?, steps(&long)?);
    let mut depths: Vec<usize> = short.iter().map(|r| r.record.setup.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let at = |set: &[&Run], depth: usize| -> (Option<f64>, usize) {
        let mine: Vec<&&Run> = set.iter().filter(|r| r.record.setup.depth == depth).collect();
        (median(mine.iter().filter_map(|r| r.record.result.final_train_loss)), mine.len())
    };
    let rows: Vec<LengthRow> = depths
        .into_iter()
        .filter_map(|depth| {
            let ((s, runs_short), (l, runs_long)) = (at(&short, depth), at(&long, depth));
            Some(LengthRow { depth, loss_short: s?, loss_long: l?, runs_short, runs_long })
        })
        .collect();
    (!rows.is_empty()).then_some((short_steps, long_steps, rows))
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let Some((short, long, rows)) = rows(&runs) else {
        return Ok(None);
    };
    let mut section = Section::new("Longer training");
    section.summary.push(format!(
        "Plain nets of the `{SHORT_EXPERIMENT}` experiment ({short} steps) and of the `{LONG_EXPERIMENT}` experiment \
         ({long} steps), at the depths both ran. He et al. (2015, footnote 3) report only that degradation persisted \
         when the plain nets were trained with 3× the iterations."
    ));
    section.findings = findings(short, long, &rows);
    section.charts.extend(chart(short, long, &rows));
    section.tables.push(table(short, long, &rows)?);
    Ok(Some(section))
}

/// Whether the deeper plain nets still train worse than the best depth after the longer run.
pub fn findings(short: usize, long: usize, rows: &[LengthRow]) -> Vec<String> {
    let best = |f: fn(&LengthRow) -> f64| rows.iter().min_by(|a, b| f(a).total_cmp(&f(b)));
    let (Some(best_short), Some(best_long)) = (best(|r| r.loss_short), best(|r| r.loss_long)) else {
        return Vec::new();
    };
    let deeper: Vec<&LengthRow> = rows.iter().filter(|r| r.depth > best_long.depth).collect();
    let mut line = format!(
        "Plain nets: lowest median final train loss at depth {} after {short} steps ({}), at depth {} after {long} \
         steps ({})",
        best_short.depth,
        format_sig(best_short.loss_short, 2),
        best_long.depth,
        format_sig(best_long.loss_long, 2)
    );
    if deeper.is_empty() {
        line.push_str("; no deeper depth to compare.");
        return vec![line];
    }
    let losses: Vec<String> = deeper
        .iter()
        .map(|r| format!("depth {} {} → {}", r.depth, format_sig(r.loss_short, 2), format_sig(r.loss_long, 2)))
        .collect();
    line.push_str(&format!("; deeper plain nets from {short} to {long} steps: {}", losses.join(", ")));
    let persists = deeper.iter().all(|r| r.loss_long > 2.0 * best_long.loss_long);
    let ratio = long as f64 / short.max(1) as f64;
    if persists {
        line.push_str(&format!(
            ". With {ratio:.1}× the steps every deeper plain net still has more than twice the best depth's loss: \
             degradation persists, as He et al. (2015, footnote 3) report for 3× the iterations."
        ));
    } else {
        line.push_str(&format!(
            ". With {ratio:.1}× the steps some deeper plain net comes within 2× of the best depth's loss: here longer \
             training reduces the degradation, unlike He et al.'s (2015, footnote 3) observation."
        ));
    }
    vec![line]
}

pub fn table(short: usize, long: usize, rows: &[LengthRow]) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("steps_short".into(), vec![short as u64; rows.len()]),
        Column::new("steps_long".into(), vec![long as u64; rows.len()]),
        Column::new("loss_short".into(), rows.iter().map(|r| r.loss_short).collect::<Vec<_>>()),
        Column::new("loss_long".into(), rows.iter().map(|r| r.loss_long).collect::<Vec<_>>()),
        Column::new("runs_short".into(), rows.iter().map(|r| r.runs_short as u64).collect::<Vec<_>>()),
        Column::new("runs_long".into(), rows.iter().map(|r| r.runs_long as u64).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("longer_training"))?;
    Ok(Table {
        slug: "longer_training".into(),
        title: "Longer training: plain nets at two training lengths".into(),
        note: "Final train loss: median over seeds, in absolute loss units.".into(),
        frame,
        columns: vec![
            spec("depth", "depth", Format::Integer),
            spec("loss_short", &format!("loss at {short} steps"), Format::Sig(3)),
            spec("loss_long", &format!("loss at {long} steps"), Format::Sig(3)),
            spec("runs_short", "runs (short)", Format::Integer),
            spec("runs_long", "runs (long)", Format::Integer),
        ],
    })
}

/// Median final train loss against depth at the two training lengths.
pub fn chart(short: usize, long: usize, rows: &[LengthRow]) -> Option<Chart> {
    if rows.len() < 2 {
        return None;
    }
    let lines: Vec<Line> = [(short, false), (long, true)]
        .into_iter()
        .enumerate()
        .map(|(i, (steps, is_long))| {
            let style = LineStyle {
                label: format!("plain, {steps} steps"),
                color: palette(i),
                dashed: false,
                marker: if is_long { Marker::Triangle } else { Marker::Circle },
            };
            let points = rows.iter().map(|r| (r.depth as f64, if is_long { r.loss_long } else { r.loss_short }));
            Line::new(style, points.collect())
        })
        .collect();
    let ys = rows.iter().flat_map(|r| [r.loss_short, r.loss_long]);
    let panel = Panel {
        title: "Median final training loss over seeds".into(),
        x: Axis::fit(Scale::Log2, rows.iter().map(|r| r.depth as f64))?,
        y: Axis::fit(Scale::Log10, ys)?,
        x_label: "depth (hidden weight layers, log scale)".into(),
        y_label: "final train loss (log scale)".into(),
        body: PanelBody::Lines(lines),
    };
    let figure = Figure::new("Longer training: plain nets at two training lengths", vec![panel], 1);
    Some(Chart {
        figure,
        file: "longer_training.svg".into(),
        caption: format!(
            "Median final training loss of the plain nets against depth, both axes logarithmic, after {short} and after \
             {long} steps. He et al. (2015, footnote 3) report that degradation persisted with 3× the iterations."
        ),
    })
}
