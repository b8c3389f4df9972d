//! Δ's mean and variance against D/n: one row of panels per width (mean left, variance right),
//! the measured values with their 95% intervals and the prediction dashed. All mean panels share
//! one pair of axes and all variance panels another, so the widths compare at a glance: where
//! theory holds, each width's points lie on its line and the lines nearly coincide (the drift
//! depends on D/n alone to first order).

use super::DriftRow;
use crate::plot::{palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::variant::{Variant, VaryingAxes};
use degradation_bench::theory::{relu_layer_log_gain, Moments};
use plotters::style::RGBColor;

/// Points along each theory curve (smooth on the log D/n axis).
const THEORY_POINTS: usize = 48;

/// Which moment a panel shows.
#[derive(Clone, Copy)]
enum Moment {
    Mean,
    Variance,
}

impl Moment {
    fn of(self, moments: &Moments) -> f64 {
        match self {
            Moment::Mean => moments.mean,
            Moment::Variance => moments.variance,
        }
    }

    fn measured(self, row: &DriftRow) -> Option<crate::stats::Estimate> {
        match self {
            Moment::Mean => row.mean,
            Moment::Variance => row.variance,
        }
    }
}

pub fn drift_chart(rows: &[DriftRow], axes: &VaryingAxes) -> Option<Chart> {
    let mut variants: Vec<&Variant> = Vec::new();
    for row in rows {
        if !variants.contains(&row.variant) {
            variants.push(row.variant);
        }
    }
    let x = Axis::fit(Scale::Log2, rows.iter().map(DriftRow::depth_over_width))?;
    let panel_lines = |variant: &Variant, moment: Moment| -> Vec<Line> {
        let mut cells: Vec<&DriftRow> = rows.iter().filter(|r| r.variant == variant).collect();
        cells.sort_by_key(|r| r.depth);
        let (Some(first), Some(last)) = (cells.first(), cells.last()) else {
            return Vec::new();
        };
        let (lo, hi, n) = (first.depth as f64, last.depth as f64, variant.width as f64);
        let layer = moment.of(&relu_layer_log_gain(variant.width));
        let curve: Vec<(f64, f64)> = (0..THEORY_POINTS)
            .map(|i| {
                let depth = lo * (hi / lo).powf(i as f64 / (THEORY_POINTS - 1) as f64);
                (depth / n, depth * layer)
            })
            .collect();
        let theory_style = LineStyle {
            label: "theory: D·m(n), D·v(n)".into(),
            color: RGBColor(90, 90, 90),
            dashed: true,
            marker: Marker::None,
        };
        let measured_style = LineStyle {
            label: "measured, with 95% interval".into(),
            color: palette(0),
            dashed: false,
            marker: Marker::Circle,
        };
        let estimates: Vec<(f64, crate::stats::Estimate)> =
            cells.iter().filter_map(|r| Some((r.depth_over_width(), moment.measured(r)?))).collect();
        let mut measured = Line::new(measured_style, estimates.iter().map(|(x, e)| (*x, e.point)).collect());
        measured.error_bars = estimates.iter().map(|(x, e)| (*x, e.lower, e.upper)).collect();
        vec![Line::new(theory_style, curve), measured]
    };
    let values = |lines: &[Vec<Line>]| -> Vec<f64> {
        lines
            .iter()
            .flatten()
            .flat_map(|l| l.points.iter().map(|p| p.1).chain(l.error_bars.iter().flat_map(|b| [b.1, b.2])))
            .collect()
    };
    let means: Vec<Vec<Line>> = variants.iter().map(|v| panel_lines(v, Moment::Mean)).collect();
    let variances: Vec<Vec<Line>> = variants.iter().map(|v| panel_lines(v, Moment::Variance)).collect();
    let mean_axis = Axis::fit(Scale::Linear, values(&means))?;
    let variance_axis = Axis::fit(Scale::Log10, values(&variances))?;
    let mut panels = Vec::new();
    for ((variant, mean_lines), variance_lines) in variants.iter().zip(means).zip(variances) {
        let facet = variant.facet_label(&VaryingAxes { width: false, ..*axes });
        let name =
            if facet.is_empty() { format!("n = {}", variant.width) } else { format!("n = {}, {facet}", variant.width) };
        panels.push(Panel {
            title: format!("mean of Δ, {name}"),
            x: x.clone(),
            y: mean_axis.clone(),
            x_label: "D/n (log scale)".into(),
            y_label: "mean of Δ".into(),
            body: PanelBody::Lines(mean_lines),
        });
        panels.push(Panel {
            title: format!("variance of Δ, {name}"),
            x: x.clone(),
            y: variance_axis.clone(),
            x_label: "D/n (log scale)".into(),
            y_label: "variance of Δ (log scale)".into(),
            body: PanelBody::Lines(variance_lines),
        });
    }
    let mut figure = Figure::new("Finite-width drift of the gradient at initialisation", panels, 2);
    figure.legend_note = Some(
        "Δ = ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖², one input per untrained net. Bars: 95% intervals (Student-t for the mean, \
         chi-square for the variance)."
            .into(),
    );
    let runs: Vec<usize> = rows.iter().map(|r| r.runs).collect();
    let (fewest, most) = (runs.iter().min().copied().unwrap_or(0), runs.iter().max().copied().unwrap_or(0));
    let nets = if fewest == most { format!("{most} nets") } else { format!("{fewest}–{most} nets") };
    Some(Chart {
        figure,
        file: "drift.svg".into(),
        caption: format!(
            "Mean (left) and variance (right) over {nets} per cell of Δ = ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖² at \
             initialisation, one input per net, against depth ÷ width D/n (log scale); one row per width. Points: \
             measured, with 95% intervals (Student-t for the mean, chi-square for the variance). Dashed: the \
             prediction D·m(n) and D·v(n) from the per-layer moments of theory::relu_layer_log_gain(n). The mean \
             panels share one pair of axes and the variance panels another (log scale, where the prediction is a \
             line of slope one)."
        ),
    })
}
