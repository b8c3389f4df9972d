//! The headline: final training loss vs depth, log–log, one line per variant, IQR bars.
//! With many variants (a grid over widths, optimizers, …) one panel per facet (the axes other
//! than arch, α and normalisation), with the same lines and colours in every panel.

use super::{palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::table::Table;
use crate::variant::natural_cmp;

/// More variants than this and the chart splits into panels by facet.
const MAX_LINES_IN_ONE_PANEL: usize = 8;

struct Point {
    variant: String,
    facet: String,
    line: String,
    depth: f64,
    median: f64,
    iqr: Option<(f64, f64)>,
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// From the degradation table (variant, facet, line, depth, loss_median, loss_q25, loss_q75).
pub fn build(table: &Table) -> Option<Chart> {
    let points: Vec<Point> = (0..table.height())
        .filter_map(|row| {
            Some(Point {
                variant: table.text("variant", row)?,
                facet: table.text("facet", row).unwrap_or_default(),
                line: table.text("line", row).unwrap_or_default(),
                depth: table.number("depth", row)?,
                median: table.number("loss_median", row)?,
                iqr: table.number("loss_q25", row).zip(table.number("loss_q75", row)),
            })
        })
        .collect();
    let variants = distinct(points.iter().map(|p| p.variant.clone()));
    if variants.is_empty() {
        return None;
    }
    let faceted = variants.len() > MAX_LINES_IN_ONE_PANEL;
    // In one panel a line is a variant; in facets it is the arch/α/norm part, coloured alike everywhere.
    let line_of = |p: &Point| if faceted { p.line.clone() } else { p.variant.clone() };
    let lines_named = distinct(points.iter().map(line_of));
    let facets = if faceted {
        let mut facets = distinct(points.iter().map(|p| p.facet.clone()));
        facets.sort_by(|a, b| natural_cmp(a, b));
        facets
    } else {
        vec![String::new()]
    };

    let xs: Vec<f64> = points.iter().map(|p| p.depth).collect();
    let ys: Vec<f64> =
        points.iter().flat_map(|p| [Some(p.median), p.iqr.map(|i| i.0), p.iqr.map(|i| i.1)]).flatten().collect();
    let x = Axis::fit(Scale::Log2, xs)?;
    let y = Axis::fit(Scale::Log10, ys)?;
    let n = lines_named.len() as f64;
    let mut panels = Vec::new();
    for facet in &facets {
        let mut lines = Vec::new();
        for (i, name) in lines_named.iter().enumerate() {
            // Dodge each line sideways by a few percent of an octave so the bars don't overlap.
            let dodge = 2f64.powf((i as f64 - (n - 1.0) / 2.0) * 0.06);
            let mine: Vec<&Point> =
                points.iter().filter(|p| line_of(p) == *name && (!faceted || p.facet == *facet)).collect();
            if mine.is_empty() {
                continue;
            }
            let style = LineStyle {
                label: name.clone(),
                color: palette(i),
                dashed: false,
                marker: if name.starts_with("plain") || name.contains("] plain") {
                    Marker::Circle
                } else {
                    Marker::Triangle
                },
            };
            let mut line = Line::new(style, mine.iter().map(|p| (p.depth * dodge, p.median)).collect());
            line.error_bars =
                mine.iter().filter_map(|p| p.iqr.map(|(low, high)| (p.depth * dodge, low, high))).collect();
            lines.push(line);
        }
        panels.push(Panel {
            title: if faceted { facet.clone() } else { "Median final training loss over seeds".into() },
            x: x.clone(),
            y: y.clone(),
            x_label: "depth (hidden weight layers, log scale)".into(),
            y_label: "final train loss (log scale)".into(),
            body: PanelBody::Lines(lines),
        });
    }
    // One depth per variant is no curve (e.g. an init-only experiment): no chart.
    let any_curve =
        panels.iter().any(|p| matches!(&p.body, PanelBody::Lines(lines) if lines.iter().any(|l| l.points.len() >= 2)));
    if !any_curve {
        return None;
    }
    let columns = if panels.len() > 4 { 3 } else { panels.len().min(2) };
    let single = panels.len() == 1;
    let mut figure = Figure::new("Degradation: training loss vs depth", panels, columns);
    if single {
        figure.panel_size = (820, 560);
    }
    figure.legend_note = Some("Markers: median over seeds. Bars: interquartile range. Diverged runs excluded.".into());
    let split = if faceted {
        " With this many variants there is one panel per setting of the other grid axes, on shared axes."
    } else {
        ""
    };
    Some(Chart {
        figure,
        file: "degradation.svg".into(),
        caption: format!(
            "Final training loss against depth, both axes logarithmic: one line per variant, the median over seeds, \
             with bars spanning the interquartile range (points are nudged sideways so bars do not overlap). \
             A plain net that degrades shows its loss rising with depth; a residual net keeps it flat or falling.{split}"
        ),
    })
}
