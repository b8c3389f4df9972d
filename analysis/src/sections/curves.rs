//! How training proceeds: the loss against the step, one line per depth (median over seeds),
//! one panel per variant — plain and residual side by side, as in He et al.'s Fig. 6.

use crate::error::Result;
use crate::inputs::Inputs;
use crate::plot::{median_curve, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::variant::{centre_phrase, groups, variants_of, Group, VaryingAxes};

/// More variants than this and only those of one facet are drawn.
const MAX_PANELS: usize = 8;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let axes = VaryingAxes::of_runs(&runs);
    let groups = groups(&runs, |r| r.record.result.loss_curve.len() >= 2);
    let Some(chart) = chart(&groups, &axes) else {
        return Ok(None);
    };
    let mut section = Section::new("Training curves");
    section.charts.push(chart);
    Ok(Some(section))
}

fn chart(groups: &[Group], axes: &VaryingAxes) -> Option<Chart> {
    let mut variants = variants_of(groups);
    if variants.is_empty() {
        return None;
    }
    // A big grid would give dozens of panels: keep the variants of the first facet.
    let all_variants = variants.len();
    let mut shown_facet = None;
    if variants.len() > MAX_PANELS {
        let facet = variants[0].facet_label(axes);
        variants.retain(|v| v.facet_label(axes) == facet);
        variants.truncate(MAX_PANELS);
        shown_facet = Some(facet);
    }
    let shown: Vec<&Group> = groups.iter().filter(|g| variants.contains(&g.variant)).collect();
    let mut depths: Vec<usize> = shown.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();

    let mut panel_lines = Vec::new();
    let mut all_losses = Vec::new();
    for variant in &variants {
        let mut lines = Vec::new();
        for group in shown.iter().filter(|g| g.variant == *variant) {
            let steps: Vec<f64> = group.runs[0].record.result.loss_curve.iter().map(|p| p.step as f64).collect();
            let curves: Vec<Vec<f64>> = group
                .runs
                .iter()
                .map(|r| r.record.result.loss_curve.iter().map(|p| p.loss.unwrap_or(f64::NAN)).collect())
                .collect();
            let points = median_curve(&steps, &curves);
            all_losses.extend(points.iter().map(|p| p.1));
            let color = sequential(depths.iter().position(|d| *d == group.depth).unwrap_or(0), depths.len());
            let style =
                LineStyle { label: format!("depth {}", group.depth), color, dashed: false, marker: Marker::None };
            lines.push(Line::new(style, points));
        }
        panel_lines.push((variant.label(axes), lines));
    }
    // Losses share one axis so panels compare; steps get each panel's own range (a longer
    // experiment must not squeeze a shorter one into a third of its panel).
    let y = Axis::fit(Scale::Log10, all_losses)?;
    let mut step_ranges = Vec::new();
    let panels: Vec<Panel> = panel_lines
        .into_iter()
        .filter_map(|(title, lines)| {
            let x = Axis::fit(Scale::Linear, lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)))?;
            step_ranges.push((x.lo, x.hi));
            Some(Panel {
                title,
                x,
                y: y.clone(),
                x_label: "training step".into(),
                y_label: "train loss (log scale)".into(),
                body: PanelBody::Lines(lines),
            })
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    step_ranges.dedup();
    let mut figure = Figure::new("Training curves: loss vs step by depth", panels, 2);
    // The legend lists depths in order whatever panel they first appear in.
    figure.legend.sort_by_key(|s| s.label.trim_start_matches("depth ").parse::<usize>().unwrap_or(0));
    let centre = centre_phrase(groups);
    figure.legend_note = Some(format!("Each line: {centre}, mean minibatch loss at each checkpoint."));
    let steps =
        if step_ranges.len() > 1 { " Each panel has its own step axis (the runs differ in length)." } else { "" };
    Some(Chart {
        figure,
        file: "training_curves.svg".into(),
        caption: format!(
            "Training loss against step, one line per depth ({centre}; darker = deeper), one panel per variant, \
             on a shared logarithmic loss axis.{steps} Degradation shows as deeper plain nets training more slowly \
             or stalling higher, while deeper residual nets train at least as fast as shallow ones.{}",
            match shown_facet {
                Some(facet) => format!(" Only the variants with {facet} are shown ({all_variants} variants in all)."),
                None => String::new(),
            }
        ),
    })
}
