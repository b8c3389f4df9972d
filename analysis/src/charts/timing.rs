//! Timing from criterion: time vs depth per width (plain solid, residual dashed), and the
//! residual connection's overhead as a depth × width heatmap.

use super::{sequential, Axis, Cell, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::criterion::LAYER_GROUPS;
use crate::tables::TimingRow;
use plotters::style::RGBColor;

fn distinct<T: Clone + Ord>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = values.collect();
    v.sort();
    v.dedup();
    v
}

fn groups_present(rows: &[TimingRow]) -> Vec<&'static str> {
    LAYER_GROUPS.iter().copied().filter(|g| rows.iter().any(|r| r.group == *g)).collect()
}

pub fn time_vs_depth(rows: &[TimingRow]) -> Option<Chart> {
    if rows.is_empty() {
        return None;
    }
    let machines = distinct(rows.iter().map(|r| r.machine_id.clone()));
    let widths = distinct(rows.iter().map(|r| r.width));
    let groups = groups_present(rows);
    let x = Axis::fit(Scale::Log2, rows.iter().map(|r| r.depth as f64))?;
    let y = Axis::fit(Scale::Log10, rows.iter().map(|r| r.median_ms))?;
    let mut panels = Vec::new();
    for machine in &machines {
        for group in &groups {
            let mut lines = Vec::new();
            for (wi, width) in widths.iter().enumerate() {
                for arch in ["plain", "residual"] {
                    let mut points: Vec<(f64, f64)> = rows
                        .iter()
                        .filter(|r| {
                            &r.machine_id == machine && r.group == *group && r.width == *width && r.arch == arch
                        })
                        .map(|r| (r.depth as f64, r.median_ms))
                        .collect();
                    if points.is_empty() {
                        continue;
                    }
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let style = LineStyle {
                        label: format!("w={width} {arch}"),
                        color: sequential(wi, widths.len()),
                        dashed: arch == "residual",
                        marker: if arch == "plain" { Marker::Circle } else { Marker::Triangle },
                    };
                    lines.push(Line::new(style, points));
                }
            }
            if lines.is_empty() {
                continue;
            }
            let title = if machines.len() > 1 { format!("{group} on {machine}") } else { group.to_string() };
            panels.push(Panel {
                title,
                x: x.clone(),
                y: y.clone(),
                x_label: "depth (log scale)".into(),
                y_label: "time per iteration (ms, log scale)".into(),
                body: PanelBody::Lines(lines),
            });
        }
    }
    if panels.is_empty() {
        return None;
    }
    let columns = groups.len().min(3);
    let mut figure = Figure::new("Time vs depth, plain vs residual", panels, columns);
    figure.panel_size = (520, 440);
    figure.legend_note = Some("Solid/circles: plain. Dashed/triangles: residual. Colour: width.".into());
    Some(Chart {
        figure,
        file: "timing_vs_depth.svg".into(),
        caption:
            "Median time per iteration (criterion) against depth, log–log, one colour per width; plain nets solid with \
                  circles, residual nets dashed with triangles. forward = inference forward pass, backward = forward + \
                  backward, train_step = forward + loss + backward + optimizer update. Lines that coincide mean the \
                  residual connection costs next to nothing."
                .into(),
    })
}

/// Blue (faster) – white (equal) – red (slower), saturating at ±`limit` percent.
fn diverging(v: f64, limit: f64) -> RGBColor {
    let t = (v / limit).clamp(-1.0, 1.0);
    let (r, g, b) = if t >= 0.0 { (214.0, 96.0, 77.0) } else { (67.0, 147.0, 195.0) };
    let a = t.abs();
    let mix = |c: f64| (255.0 + (c - 255.0) * a).round() as u8;
    RGBColor(mix(r), mix(g), mix(b))
}

pub fn overhead_heatmap(rows: &[TimingRow]) -> Option<Chart> {
    let with_overhead: Vec<&TimingRow> = rows.iter().filter(|r| r.residual_overhead_pct.is_some()).collect();
    let group =
        ["train_step", "backward", "forward"].into_iter().find(|g| with_overhead.iter().any(|r| r.group == *g))?;
    let chosen: Vec<&TimingRow> = with_overhead.into_iter().filter(|r| r.group == group).collect();
    let machines = distinct(chosen.iter().map(|r| r.machine_id.clone()));
    let depths = distinct(chosen.iter().map(|r| r.depth));
    let widths = distinct(chosen.iter().map(|r| r.width));
    let limit = chosen.iter().filter_map(|r| r.residual_overhead_pct).fold(5.0f64, |m, v| m.max(v.abs())).min(100.0);
    let panels: Vec<Panel> = machines
        .iter()
        .map(|machine| {
            let mut cells: Vec<Cell> = chosen
                .iter()
                .filter(|r| &r.machine_id == machine)
                .filter_map(|r| {
                    let v = r.residual_overhead_pct?;
                    Some(Cell {
                        column: widths.iter().position(|w| *w == r.width)?,
                        row: depths.iter().position(|d| *d == r.depth)?,
                        fill: diverging(v, limit),
                        text: format!("{v:+.1}%"),
                    })
                })
                .collect();
            // Say so where a combination was not measured, rather than leave a hole.
            for column in 0..widths.len() {
                for row in 0..depths.len() {
                    if !cells.iter().any(|c| c.column == column && c.row == row) {
                        cells.push(Cell { column, row, fill: RGBColor(240, 240, 240), text: "not measured".into() });
                    }
                }
            }
            Panel {
                title: if machines.len() > 1 { format!("{group} on {machine}") } else { group.to_string() },
                x: Axis::categorical(widths.iter().map(|w| w.to_string()).collect()),
                y: Axis::categorical(depths.iter().map(|d| d.to_string()).collect()),
                x_label: "width".into(),
                y_label: "depth".into(),
                body: PanelBody::Heatmap { cells },
            }
        })
        .collect();
    let mut figure = Figure::new(format!("Residual overhead ({group}): residual ÷ plain time − 1"), panels, 2);
    figure.panel_size = (560, 420);
    figure.legend_note =
        Some(format!("Red: residual slower; blue: faster; white: equal. Colour saturates at ±{limit:.0}%."));
    Some(Chart {
        figure,
        file: "residual_overhead.svg".into(),
        caption: format!(
            "What a residual connection costs in `{group}`: residual time ÷ plain time − 1, in percent, for each depth and \
             width (criterion medians). Values within a few percent of zero are measurement noise."
        ),
    })
}
