//! Loss against learning rate, DeepOBS-style: one panel per setting, plain and residual side
//! by side on shared axes, one line per depth.

use crate::error::{Error, Result};
use crate::plot::{sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::variant::{Variant, VaryingAxes};
use polars::prelude::*;


/// Loss against learning rate, one line per depth, plain and residual side by side: one chart
/// per context (optimiser, data set, …).
pub(super) fn sensitivity_charts(grid: &DataFrame, tuned: &[Variant], axes: &VaryingAxes) -> Result<Vec<Chart>> {
    let failed = Error::polars("tuning_grid");
    let index = grid.column("tuned").and_then(|c| c.u32().cloned()).map_err(&failed)?;
    let depths = grid.column("depth").and_then(|c| c.u64().cloned()).map_err(&failed)?;
    let lrs = grid.column("lr").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let losses = grid.column("loss_median").and_then(|c| c.f64().cloned()).map_err(&failed)?;
    let rows: Vec<(usize, usize, f64, f64)> = (0..grid.height())
        .filter_map(|i| Some((index.get(i)? as usize, depths.get(i)? as usize, lrs.get(i)?, losses.get(i)?)))
        .collect();
    let mut contexts: Vec<Variant> = rows.iter().map(|r| tuned[r.0].context()).collect();
    contexts.sort();
    contexts.dedup();
    let mut charts = Vec::new();
    for (n, context) in contexts.iter().enumerate() {
        let mut all_depths: Vec<usize> =
            rows.iter().filter(|r| tuned[r.0].context() == *context).map(|r| r.1).collect();
        all_depths.sort_unstable();
        all_depths.dedup();
        let mut panels = Vec::new();
        let mut members: Vec<usize> = rows.iter().filter(|r| tuned[r.0].context() == *context).map(|r| r.0).collect();
        members.dedup();
        let finite_losses = rows.iter().filter(|r| tuned[r.0].context() == *context && r.3.is_finite()).map(|r| r.3);
        let Some(y) = Axis::fit(Scale::Log10, finite_losses) else { continue };
        let Some(x) = Axis::fit(Scale::Log10, rows.iter().filter(|r| tuned[r.0].context() == *context).map(|r| r.2))
        else {
            continue;
        };
        for member in members {
            let lines = all_depths
                .iter()
                .enumerate()
                .filter_map(|(k, &depth)| {
                    let points: Vec<(f64, f64)> = rows
                        .iter()
                        .filter(|r| r.0 == member && r.1 == depth && r.3.is_finite())
                        .map(|r| (r.2, r.3))
                        .collect();
                    let style = LineStyle {
                        label: format!("depth {depth}"),
                        color: sequential(k, all_depths.len()),
                        dashed: false,
                        marker: Marker::Circle,
                    };
                    (!points.is_empty()).then(|| Line::new(style, points))
                })
                .collect();
            panels.push(Panel {
                title: tuned[member].arch_label(),
                x: x.clone(),
                y: y.clone(),
                x_label: "learning rate (log scale)".into(),
                y_label: "robust final train loss, median (log)".into(),
                body: PanelBody::Lines(lines),
            });
        }
        let others =
            context.facet_label(&VaryingAxes { optimizer: false, momentum: false, weight_decay: false, ..*axes });
        let facet: Vec<String> =
            [others, context.optimizer_settings()].into_iter().filter(|part| !part.is_empty()).collect();
        let title = format!("Loss against learning rate: {}", facet.join(", "));
        let columns = panels.len();
        charts.push(Chart {
            figure: Figure::new(title, panels, columns),
            file: format!("lr_sensitivity_{}.svg", n + 1),
            caption: "Median robust final training loss over seeds against the learning rate, one line per depth \
                      (darker is deeper), plain and residual nets side by side on shared axes. A point missing from \
                      a line is a grid point whose median run diverged."
                .into(),
        });
    }
    Ok(charts)
}
