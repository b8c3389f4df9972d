//! Charts of the mechanism probes (see `crate::mechanisms`): shattered gradients (ρ(1) vs
//! depth), lesions (loss vs lesioned position), residual-branch magnitudes (ratio vs block) and
//! longer training (loss vs depth at two training lengths).

use super::{
    median_profile, palette, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale,
};
use crate::mechanisms::{alpha, groups};
use crate::stats::median;
use crate::table::Table;
use degradation_bench::record::RunRecord;
use plotters::style::RGBColor;

const GREY: RGBColor = RGBColor(90, 90, 90);

/// Lines with at most this many points get markers (so a one-point line still shows).
const MARKER_MAX_POINTS: usize = 16;

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// A log axis when every value is positive and they span more than a decade, else linear.
fn fit_auto(values: &[f64]) -> Option<Axis> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    if lo > 0.0 && hi / lo > 10.0 {
        Axis::fit(Scale::Log10, finite)
    } else {
        Axis::fit(Scale::Linear, finite)
    }
}

/// ρ(1) against depth: a colour per variant, solid at init, dashed after training.
pub fn shattered(table: &Table) -> Option<Chart> {
    let variants = distinct((0..table.height()).filter_map(|i| table.text("variant", i)));
    let mut lines = Vec::new();
    let mut ys = Vec::new();
    let mut xs = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        for (column, phase, dashed) in [("rho1_init", "at init", false), ("rho1_end", "after training", true)] {
            let points: Vec<(f64, f64)> = (0..table.height())
                .filter(|&r| table.text("variant", r).as_deref() == Some(variant.as_str()))
                .filter_map(|r| Some((table.number("depth", r)?, table.number(column, r)?)))
                .collect();
            if points.is_empty() {
                continue;
            }
            xs.extend(points.iter().map(|p| p.0));
            ys.extend(points.iter().map(|p| p.1));
            let marker = if variant.starts_with("plain") || variant.contains("] plain") {
                Marker::Circle
            } else {
                Marker::Triangle
            };
            let style = LineStyle { label: format!("{variant}, {phase}"), color: palette(i), dashed, marker };
            lines.push(Line::new(style, points));
        }
    }
    if !lines.iter().any(|l| l.points.len() >= 2) {
        return None;
    }
    // Correlations up to 1 (and 0 for white noise) belong on the axis.
    ys.push(1.0);
    let y = fit_auto(&ys)?;
    let log_y = y.scale == Scale::Log10;
    let panel = Panel {
        title: "Lag-1 autocorrelation of ∂logit₀/∂t along an input line".into(),
        x: Axis::fit(Scale::Log2, xs)?,
        y,
        x_label: "depth (hidden weight layers, log scale)".into(),
        y_label: if log_y { "ρ(1) (log scale)".into() } else { "ρ(1)".into() },
        body: PanelBody::Lines(lines),
    };
    let mut figure = Figure::new("Shattered gradients: gradient autocorrelation vs depth", vec![panel], 1);
    figure.panel_size = (820, 560);
    figure.legend_note = Some("Median over seeds. Solid: at initialisation. Dashed: after training.".into());
    Some(Chart {
        figure,
        file: "shattered_gradients.svg".into(),
        caption: "Lag-1 autocorrelation ρ(1) of g(t) = ∂logit₀/∂t along a straight line of 256 inputs between two training \
                  samples, against depth (log scale); median over seeds, solid at initialisation and dashed after training. \
                  Published expectation (Balduzzi et al., 2017, \"The shattered gradients problem\"): in plain nets the \
                  gradient approaches white noise as depth grows (ρ(1) → 0; their analysis of ReLU nets gives a \
                  correlation decaying like 2^−D), while in residual nets it decays far more slowly (like 1/√K in the \
                  number of blocks K), so the residual line should stay near 1 and the plain one fall."
            .into(),
    })
}

/// Train loss after lesioning position k against k/K: a panel per variant, a line per depth,
/// the unlesioned loss as a dashed line of the same colour.
pub fn lesions(runs: &[RunRecord]) -> Option<Chart> {
    let groups = groups(runs, |r| !r.lesion_train_losses.is_empty() && !r.diverged);
    if groups.is_empty() {
        return None;
    }
    let variants = distinct(groups.iter().map(|g| g.0.clone()));
    let mut depths: Vec<usize> = groups.iter().map(|g| g.1).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut ys = Vec::new();
    let mut panels_lines: Vec<Vec<Line>> = vec![Vec::new(); variants.len()];
    for (variant, depth, members) in &groups {
        let profiles: Vec<Vec<f64>> =
            members.iter().map(|r| r.lesion_train_losses.iter().map(|l| l.unwrap_or(f64::NAN)).collect()).collect();
        let refs: Vec<&[f64]> = profiles.iter().map(Vec::as_slice).collect();
        let profile = median_profile(&refs);
        let k_max = profile.len() as f64;
        let points: Vec<(f64, f64)> = profile
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite() && **y > 0.0)
            .map(|(k, &y)| ((k + 1) as f64 / k_max, y))
            .collect();
        let color = sequential(depths.iter().position(|d| d == depth).unwrap_or(0), depths.len());
        let panel = variants.iter().position(|v| v == variant).unwrap_or(0);
        let marker = if points.len() <= MARKER_MAX_POINTS { Marker::Circle } else { Marker::None };
        ys.extend(points.iter().map(|p| p.1));
        panels_lines[panel]
            .push(Line::new(LineStyle { label: format!("depth {depth}"), color, dashed: false, marker }, points));
        if let Some(base) = median(members.iter().filter_map(|r| r.final_train_loss)).filter(|b| *b > 0.0) {
            ys.push(base);
            let mut reference = Line::new(
                LineStyle { label: "unlesioned".into(), color, dashed: true, marker: Marker::None },
                vec![(0.0, base), (1.0, base)],
            );
            reference.in_legend = false;
            panels_lines[panel].push(reference);
        }
    }
    let y = Axis::fit(Scale::Log10, ys)?;
    let x = Axis::fit(Scale::Linear, [0.0, 1.0])?;
    let panels: Vec<Panel> = variants
        .iter()
        .zip(panels_lines)
        .map(|(variant, lines)| Panel {
            title: variant.clone(),
            x: x.clone(),
            y: y.clone(),
            x_label: if variant.starts_with("plain") || variant.contains("] plain") {
                "lesioned layer k/K (input side first)".into()
            } else {
                "lesioned block k/K (input side first)".into()
            },
            y_label: "train loss after lesion (log scale)".into(),
            body: PanelBody::Lines(lines),
        })
        .collect();
    let columns = panels.len().min(2);
    let mut figure = Figure::new("Lesions: training loss with one layer or block removed", panels, columns);
    figure.legend = depths
        .iter()
        .enumerate()
        .map(|(i, d)| LineStyle {
            label: format!("depth {d}"),
            color: sequential(i, depths.len()),
            dashed: false,
            marker: Marker::None,
        })
        .collect();
    figure.legend.push(LineStyle { label: "unlesioned".into(), color: GREY, dashed: true, marker: Marker::None });
    figure.legend_note = Some(
        "Solid: loss with position k replaced by the identity (median over seeds). Dashed, same colour: that depth's \
         unlesioned final train loss."
            .into(),
    );
    Some(Chart {
        figure,
        file: "lesions.svg".into(),
        caption: "Final training loss (whole training set, log scale) with one hidden layer (plain) or one residual block \
                  removed — replaced by the identity — against its normalised position k/K (K layers or blocks, k = 1 at \
                  the input side); one line per depth, the unlesioned loss of the same depth as a dashed line of its \
                  colour. Published expectation (Veit et al., 2016, \"Residual networks behave like ensembles of \
                  relatively shallow networks\"): residual nets survive the removal of single blocks with a small loss \
                  increase, while removing a layer of a plain net breaks it."
            .into(),
    })
}

/// ‖α·v_k‖ ÷ ‖h_{k−1}‖ against k/K: panels per variant × (init, after training), a line per
/// depth, α dashed in the init panels.
pub fn branch(runs: &[RunRecord]) -> Option<Chart> {
    let groups = groups(runs, |r| !r.branch_ratios_init.is_empty() || !r.branch_ratios_final.is_empty());
    if groups.is_empty() {
        return None;
    }
    let variants = distinct(groups.iter().map(|g| g.0.clone()));
    let mut depths: Vec<usize> = groups.iter().map(|g| g.1).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut ys = Vec::new();
    let mut panel_lines: Vec<Vec<Line>> = vec![Vec::new(); variants.len() * 2];
    for (variant, depth, members) in &groups {
        let color = sequential(depths.iter().position(|d| d == depth).unwrap_or(0), depths.len());
        let v = variants.iter().position(|x| x == variant).unwrap_or(0);
        for (phase, values) in [
            (0, members.iter().map(|r| r.branch_ratios_init.as_slice()).collect::<Vec<_>>()),
            (1, members.iter().filter(|r| !r.diverged).map(|r| r.branch_ratios_final.as_slice()).collect()),
        ] {
            let profile = median_profile(&values);
            let k_max = profile.len() as f64;
            let points: Vec<(f64, f64)> = profile
                .iter()
                .enumerate()
                .filter(|(_, y)| y.is_finite() && **y > 0.0)
                .map(|(k, &y)| ((k + 1) as f64 / k_max, y))
                .collect();
            if points.is_empty() {
                continue;
            }
            ys.extend(points.iter().map(|p| p.1));
            let marker = if points.len() <= MARKER_MAX_POINTS { Marker::Circle } else { Marker::None };
            panel_lines[v * 2 + phase]
                .push(Line::new(LineStyle { label: format!("depth {depth}"), color, dashed: false, marker }, points));
            if phase == 0 {
                if let Some(a) = alpha(members[0]) {
                    ys.push(a);
                    let mut line = Line::new(
                        LineStyle { label: "α".into(), color, dashed: true, marker: Marker::None },
                        vec![(0.0, a), (1.0, a)],
                    );
                    line.in_legend = false;
                    panel_lines[v * 2].push(line);
                }
            }
        }
    }
    let y = Axis::fit(Scale::Log10, ys)?;
    let x = Axis::fit(Scale::Linear, [0.0, 1.0])?;
    let mut panels = Vec::new();
    for (i, lines) in panel_lines.into_iter().enumerate() {
        if lines.is_empty() {
            continue;
        }
        let phase = if i % 2 == 0 { "at init" } else { "after training" };
        panels.push(Panel {
            title: format!("{}, {phase}", variants[i / 2]),
            x: x.clone(),
            y: y.clone(),
            x_label: "block k/K (input side first)".into(),
            y_label: "‖α·v_k‖ ÷ ‖h_{k−1}‖ (log scale)".into(),
            body: PanelBody::Lines(lines),
        });
    }
    if panels.is_empty() {
        return None;
    }
    let columns = panels.len().min(2);
    let mut figure = Figure::new("Residual-branch magnitude per block", panels, columns);
    figure.legend = depths
        .iter()
        .enumerate()
        .map(|(i, d)| LineStyle {
            label: format!("depth {d}"),
            color: sequential(i, depths.len()),
            dashed: false,
            marker: Marker::None,
        })
        .collect();
    figure.legend.push(LineStyle { label: "α = 1/√K".into(), color: GREY, dashed: true, marker: Marker::None });
    figure.legend_note = Some("Median over seeds. Dashed, same colour: the branch scale α of that depth.".into());
    Some(Chart {
        figure,
        file: "branch_ratios.svg".into(),
        caption: "Per residual block k, the norm of the branch's contribution ‖α·v_k‖ divided by the norm of the block's \
                  input ‖h_{k−1}‖ (log scale), against the normalised block index k/K; one line per depth, median over \
                  seeds, at initialisation (left, with the branch scale α dashed) and after training (right). Published \
                  observation (He et al., 2015, Fig. 7): residual functions' responses are generally small, and smaller \
                  for deeper nets — the residual branches make small corrections to an identity."
            .into(),
    })
}

/// Median final train loss against depth at the two training lengths (plain nets).
pub fn longer(table: &Table) -> Option<Chart> {
    let steps = |c: &str| table.number(c, 0).map_or(0, |s| s as u64);
    let mut lines = Vec::new();
    let mut ys = Vec::new();
    let mut xs = Vec::new();
    for (i, (column, steps_column)) in
        [("loss_short", "steps_short"), ("loss_long", "steps_long")].into_iter().enumerate()
    {
        let points: Vec<(f64, f64)> =
            (0..table.height()).filter_map(|r| Some((table.number("depth", r)?, table.number(column, r)?))).collect();
        xs.extend(points.iter().map(|p| p.0));
        ys.extend(points.iter().map(|p| p.1));
        let style = LineStyle {
            label: format!("plain, {} steps", steps(steps_column)),
            color: palette(i),
            dashed: false,
            marker: if i == 0 { Marker::Circle } else { Marker::Triangle },
        };
        lines.push(Line::new(style, points));
    }
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
    let mut figure = Figure::new("Longer training: plain nets at two training lengths", vec![panel], 1);
    figure.panel_size = (820, 560);
    Some(Chart {
        figure,
        file: "longer_training.svg".into(),
        caption: format!(
            "Median final training loss of the plain nets against depth, both axes logarithmic, after {} and after {} \
             steps. Published observation (He et al., 2015, footnote 3): training the deeper plain nets longer does not \
             close their gap to the best depth.",
            steps("steps_short"),
            steps("steps_long")
        ),
    })
}
