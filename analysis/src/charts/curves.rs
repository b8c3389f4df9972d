//! Training curves: loss vs step, one line per depth (median over seeds), a panel per variant
//! (in the spirit of ResNet's Fig. 6: plain and residual side by side).

use super::{median_profile, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::variant::{facet_label, natural_cmp, variant_label, VaryingAxes};
use degradation_bench::record::RunRecord;
use std::collections::BTreeMap;

/// More variants than this and only those of one facet are drawn.
const MAX_PANELS: usize = 12;

pub fn build(runs: &[RunRecord], axes: &VaryingAxes) -> Option<Chart> {
    // variant → depth → runs
    let mut groups: Vec<(String, BTreeMap<usize, Vec<&RunRecord>>)> = Vec::new();
    for run in runs.iter().filter(|r| r.loss_curve.len() >= 2) {
        let label = variant_label(run, axes);
        let index = match groups.iter().position(|(v, _)| *v == label) {
            Some(i) => i,
            None => {
                groups.push((label, BTreeMap::new()));
                groups.len() - 1
            }
        };
        groups[index].1.entry(run.depth).or_default().push(run);
    }
    if groups.is_empty() {
        return None;
    }
    groups.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    // A big grid would give hundreds of panels: keep the variants of the first facet.
    let all_variants = groups.len();
    let mut shown_facet = None;
    if groups.len() > MAX_PANELS {
        let first_facet = |g: &(String, BTreeMap<usize, Vec<&RunRecord>>)| {
            g.1.values().next().and_then(|runs| runs.first()).map(|r| facet_label(r, axes))
        };
        let facet = first_facet(&groups[0]);
        groups.retain(|g| first_facet(g) == facet);
        groups.truncate(MAX_PANELS);
        shown_facet = facet;
    }
    let mut depths: Vec<usize> = groups.iter().flat_map(|(_, d)| d.keys().copied()).collect();
    depths.sort_unstable();
    depths.dedup();

    let mut panels_lines = Vec::new();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (variant, by_depth) in &groups {
        let mut lines = Vec::new();
        for (depth, members) in by_depth {
            let steps: Vec<f64> = members[0].loss_curve.iter().map(|p| p.step as f64).collect();
            let curves: Vec<Vec<f64>> =
                members.iter().map(|r| r.loss_curve.iter().map(|p| p.loss.unwrap_or(f64::NAN)).collect()).collect();
            let refs: Vec<&[f64]> = curves.iter().map(|c| c.as_slice()).collect();
            let median = median_profile(&refs);
            let points: Vec<(f64, f64)> =
                steps.iter().zip(median).filter(|(_, y)| y.is_finite() && *y > 0.0).map(|(&x, y)| (x, y)).collect();
            xs.extend(points.iter().map(|p| p.0));
            ys.extend(points.iter().map(|p| p.1));
            let color_index = depths.iter().position(|d| d == depth).unwrap_or(0);
            let style = LineStyle {
                label: format!("depth {depth}"),
                color: sequential(color_index, depths.len()),
                dashed: false,
                marker: Marker::None,
            };
            lines.push(Line::new(style, points));
        }
        panels_lines.push((variant.clone(), lines));
    }
    let x = Axis::fit(Scale::Linear, xs)?;
    let y = Axis::fit(Scale::Log10, ys)?;
    let panels: Vec<Panel> = panels_lines
        .into_iter()
        .map(|(variant, lines)| Panel {
            title: variant,
            x: x.clone(),
            y: y.clone(),
            x_label: "training step".into(),
            y_label: "train loss (log scale)".into(),
            body: PanelBody::Lines(lines),
        })
        .collect();
    let mut figure = Figure::new("Training curves: loss vs step by depth", panels, 2);
    // The legend lists depths in order whatever panel they first appear in.
    figure.legend.sort_by_key(|s| s.label.trim_start_matches("depth ").parse::<usize>().unwrap_or(0));
    figure.legend_note = Some("Each line: median over seeds of the mean minibatch loss at each checkpoint.".into());
    Some(Chart {
        figure,
        file: "training_curves.svg".into(),
        caption: format!(
            "Training loss against step, one line per depth (median over seeds; darker = deeper), one panel per variant, \
             on a shared logarithmic loss axis. Degradation shows as deeper plain nets training more slowly or stalling \
             higher, while deeper residual nets train at least as fast as shallow ones.{}",
            match shown_facet {
                Some(facet) => format!(" Only the variants with {facet} are shown ({} variants in all).", all_variants),
                None => String::new(),
            }
        ),
    })
}
