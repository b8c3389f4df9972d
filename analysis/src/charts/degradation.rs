//! The headline: final training loss vs depth, log–log, one line per variant, IQR bars.

use super::{palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::render::Table;

/// From the degradation table (variant, depth, loss_median, loss_q25, loss_q75).
pub fn build(table: &Table) -> Option<Chart> {
    let mut variants: Vec<String> = Vec::new();
    for row in 0..table.height() {
        let variant = table.text("variant", row)?;
        if !variants.contains(&variant) {
            variants.push(variant);
        }
    }
    let n = variants.len() as f64;
    let mut lines = Vec::new();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (i, variant) in variants.iter().enumerate() {
        // Dodge each variant sideways by a few percent of an octave so the bars don't overlap.
        let dodge = 2f64.powf((i as f64 - (n - 1.0) / 2.0) * 0.06);
        let mut points = Vec::new();
        let mut bars = Vec::new();
        for row in 0..table.height() {
            if table.text("variant", row).as_deref() != Some(variant) {
                continue;
            }
            let (Some(depth), Some(median)) = (table.number("depth", row), table.number("loss_median", row)) else {
                continue;
            };
            let x = depth * dodge;
            points.push((x, median));
            xs.push(x);
            ys.push(median);
            if let (Some(low), Some(high)) = (table.number("loss_q25", row), table.number("loss_q75", row)) {
                bars.push((x, low, high));
                ys.extend([low, high]);
            }
        }
        if points.is_empty() {
            continue;
        }
        let style = LineStyle {
            label: variant.clone(),
            color: palette(i),
            dashed: false,
            marker: if variant.starts_with("plain") { Marker::Circle } else { Marker::Triangle },
        };
        let mut line = Line::new(style, points);
        line.error_bars = bars;
        lines.push(line);
    }
    // One depth per variant is no curve (e.g. an init-only experiment): no chart.
    if !lines.iter().any(|l| l.points.len() >= 2) {
        return None;
    }
    let panel = Panel {
        title: "Median final training loss over seeds".into(),
        x: Axis::fit(Scale::Log2, xs)?,
        y: Axis::fit(Scale::Log10, ys)?,
        x_label: "depth (hidden weight layers, log scale)".into(),
        y_label: "final train loss (log scale)".into(),
        body: PanelBody::Lines(lines),
    };
    let mut figure = Figure::new("Degradation: training loss vs depth", vec![panel], 1);
    figure.panel_size = (820, 560);
    figure.legend_note = Some("Markers: median over seeds. Bars: interquartile range. Diverged runs excluded.".into());
    Some(Chart {
        figure,
        file: "degradation.svg".into(),
        caption:
            "Final training loss against depth, both axes logarithmic: one line per variant, the median over seeds, \
                  with bars spanning the interquartile range (points are nudged sideways so bars do not overlap). \
                  A plain net that degrades shows its loss rising with depth; a residual net keeps it flat or falling."
                .into(),
    })
}
