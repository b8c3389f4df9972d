//! Across machines: GFLOP/s and efficiency (÷ each machine's own GEMM ceiling) vs width.

use super::{palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::tables::TimingRow;

pub fn build(rows: &[TimingRow]) -> Option<Chart> {
    let mut machines: Vec<String> = rows.iter().map(|r| r.machine_id.clone()).collect();
    machines.sort();
    machines.dedup();
    if machines.len() < 2 {
        return None;
    }
    let group = ["train_step", "backward", "forward"]
        .into_iter()
        .find(|g| rows.iter().any(|r| r.group == *g && r.gflops.is_some()))?;
    // The deepest depth every machine measured, so the lines compare the same network.
    let depth = rows
        .iter()
        .filter(|r| r.group == group)
        .map(|r| r.depth)
        .filter(|d| {
            machines.iter().all(|m| rows.iter().any(|r| r.group == group && &r.machine_id == m && r.depth == *d))
        })
        .max()?;
    let chosen: Vec<&TimingRow> = rows.iter().filter(|r| r.group == group && r.depth == depth).collect();

    let mut speed = Vec::new();
    let mut efficiency = Vec::new();
    for (mi, machine) in machines.iter().enumerate() {
        let color = palette(mi);
        for arch in ["plain", "residual"] {
            let mine: Vec<&&TimingRow> = chosen.iter().filter(|r| &r.machine_id == machine && r.arch == arch).collect();
            let marker = if arch == "plain" { Marker::Circle } else { Marker::Triangle };
            let label = format!("{machine} {arch}");
            let mut points: Vec<(f64, f64)> = mine.iter().filter_map(|r| Some((r.width as f64, r.gflops?))).collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !points.is_empty() {
                speed.push(Line::new(LineStyle { label: label.clone(), color, dashed: false, marker }, points));
            }
            // Efficiencies of different machines can coincide: nudge each machine sideways a little.
            let dodge = 2f64.powf((mi as f64 - (machines.len() as f64 - 1.0) / 2.0) * 0.05);
            let mut points: Vec<(f64, f64)> =
                mine.iter().filter_map(|r| Some((r.width as f64 * dodge, 100.0 * r.efficiency?))).collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !points.is_empty() {
                efficiency.push(Line::new(LineStyle { label, color, dashed: false, marker }, points));
            }
        }
        let mut ceiling: Vec<(f64, f64)> = chosen
            .iter()
            .filter(|r| &r.machine_id == machine && r.arch == "plain")
            .filter_map(|r| Some((r.width as f64, r.ceiling_gflops?)))
            .collect();
        ceiling.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !ceiling.is_empty() {
            let style =
                LineStyle { label: format!("{machine} GEMM ceiling"), color, dashed: true, marker: Marker::None };
            speed.push(Line::new(style, ceiling));
        }
    }
    if speed.is_empty() {
        return None;
    }
    let all = |lines: &[Line]| lines.iter().flat_map(|l| l.points.clone()).collect::<Vec<_>>();
    let speed_points = all(&speed);
    let efficiency_points = all(&efficiency);
    let mut panels = vec![Panel {
        title: format!("{group}, depth {depth}: speed"),
        x: Axis::fit(Scale::Log2, speed_points.iter().map(|p| p.0))?,
        y: Axis::fit(Scale::Log10, speed_points.iter().map(|p| p.1))?,
        x_label: "width (log scale)".into(),
        y_label: "GFLOP/s (log scale)".into(),
        body: PanelBody::Lines(speed),
    }];
    if !efficiency.is_empty() {
        panels.push(Panel {
            title: format!("{group}, depth {depth}: efficiency"),
            x: Axis::fit(Scale::Log2, efficiency_points.iter().map(|p| p.0))?,
            y: Axis::fit(Scale::Linear, efficiency_points.iter().map(|p| p.1).chain([0.0]))?,
            x_label: "width (log scale)".into(),
            y_label: "% of own GEMM ceiling".into(),
            body: PanelBody::Lines(efficiency),
        });
    }
    let mut figure = Figure::new("Across machines: speed and efficiency", panels, 2);
    figure.legend_note =
        Some("Colour: machine. Circles: plain, triangles: residual, dashed: that machine's GEMM ceiling.".into());
    Some(Chart {
        figure,
        file: "machines.svg".into(),
        caption: format!(
            "`{group}` at depth {depth} (the deepest depth every machine measured) against width: left, achieved GFLOP/s with \
             each machine's GEMM ceiling dashed; right, the same as a percentage of that machine's own ceiling, which is \
             the figure that travels between machines (nudged sideways per machine so equal values stay visible)."
        ),
    })
}
