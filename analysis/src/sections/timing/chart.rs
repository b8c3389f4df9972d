//! The timing section's chart: time per iteration against depth, with criterion's intervals.

use crate::bench::{MachineTimes, NetworkTime, Op};
use crate::plot::{sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use degradation_bench::config::Arch;
use plotters::style::RGBColor;

/// Rings around unstable benchmarks, in a red the viridis width colours never take.
const UNSTABLE: RGBColor = RGBColor(214, 39, 40);

/// Time against depth, one panel per operation and machine, one colour per width, plain solid
/// and residual dashed, each point with its confidence interval as an error bar.
pub(super) fn time_chart(machines: &[(String, MachineTimes)], short_labels: &[String]) -> Option<Chart> {
    let all: Vec<&NetworkTime> = machines.iter().flat_map(|(_, t)| t.networks.values()).collect();
    let x = Axis::fit(Scale::Log2, all.iter().map(|n| n.key.depth as f64))?;
    let y = Axis::fit(Scale::Log10, all.iter().flat_map(|n| [n.time_ns.lower / 1e6, n.time_ns.upper / 1e6]))?;
    let mut widths: Vec<usize> = all.iter().map(|n| n.key.width).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut panels = Vec::new();
    let mut any_unstable = false;
    for ((_, times), label) in machines.iter().zip(short_labels) {
        for op in Op::ALL {
            let mut lines = Vec::new();
            for (wi, &width) in widths.iter().enumerate() {
                for &arch in Arch::ALL {
                    let points: Vec<&NetworkTime> = times
                        .networks
                        .values()
                        .filter(|n| n.key.op == op && n.key.width == width && n.key.arch == arch)
                        .collect();
                    if points.is_empty() {
                        continue;
                    }
                    let style = LineStyle {
                        label: format!("width {width} {}", arch.as_str()),
                        color: sequential(wi, widths.len()),
                        dashed: arch == Arch::Residual,
                        marker: if arch == Arch::Plain { Marker::Circle } else { Marker::Triangle },
                    };
                    let mut line =
                        Line::new(style, points.iter().map(|n| (n.key.depth as f64, n.time_ns.point / 1e6)).collect());
                    line.error_bars = points
                        .iter()
                        .map(|n| (n.key.depth as f64, n.time_ns.lower / 1e6, n.time_ns.upper / 1e6))
                        .collect();
                    lines.push(line);
                }
            }
            if lines.is_empty() {
                continue;
            }
            let unstable: Vec<(f64, f64)> = times
                .networks
                .values()
                .filter(|n| n.key.op == op && !n.is_stable())
                .map(|n| (n.key.depth as f64, n.time_ns.point / 1e6))
                .collect();
            if !unstable.is_empty() {
                any_unstable = true;
                let style = LineStyle {
                    label: "unstable benchmark (see the table)".into(),
                    color: UNSTABLE,
                    dashed: false,
                    marker: Marker::Ring,
                };
                lines.push(Line::new(style, unstable));
            }
            let title = if machines.len() > 1 { format!("{}, {label}", op.group()) } else { op.group().to_string() };
            panels.push(Panel {
                title,
                x: x.clone(),
                y: y.clone(),
                x_label: "depth (log scale)".into(),
                y_label: "ms per iteration (log scale)".into(),
                body: PanelBody::Lines(lines),
            });
        }
    }
    if panels.is_empty() {
        return None;
    }
    let mut figure = Figure::new("Time per iteration against depth, with 95% intervals", panels, 3);
    figure.panel_size = (300, 300);
    figure.legend_note =
        Some("Solid, circles: plain. Dashed, triangles: residual. Colour: width. Bars: 95% CI.".into());
    Some(Chart {
        figure,
        file: "timing_vs_depth.svg".into(),
        caption: format!(
            "Criterion's median time per iteration against depth (log–log), one colour per width, with its 95% \
             confidence interval as an error bar. Plain (solid) and residual (dashed) lines of one width lie on top of \
             each other where their times agree; the overhead section gives their ratio.{}",
            if any_unstable {
                " A red ring marks a benchmark the stability check found unstable (two clusters, drift or a wide \
                 spread): its median is shown but is not a reliable time."
            } else {
                ""
            }
        ),
    })
}
