//! Probe profiles at initialisation against k: log₂‖∂L/∂h_k‖ (the gradient profile) and
//! log₂ RMS(h_k) (its forward counterpart), a panel per architecture (and per normalisation
//! or activation when those vary), lines per depth, and the theoretical slope as a dashed
//! line of the same colour where theory gives one (see `stats`).

use super::{
    median_profile, palette, sequential, spread, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale,
};
use crate::stats::{log2_all, theory_rms2_slope};
use crate::variant::{facet_label, natural_cmp, VaryingAxes};

/// More sub-variants than this per panel and only one facet is drawn.
const MAX_SUBVARIANTS: usize = 6;
use degradation_bench::record::RunRecord;
use plotters::style::RGBColor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// ‖∂L/∂h_k‖ at init.
    GradientNorm,
    /// RMS(h_k) at init.
    StateRms,
}

impl Probe {
    fn values(self, run: &RunRecord) -> &[f64] {
        match self {
            Probe::GradientNorm => &run.state_grad_norms_init,
            Probe::StateRms => &run.state_rms_init,
        }
    }
}

fn panel_key(run: &RunRecord, axes: &VaryingAxes) -> String {
    let mut key = run.arch.clone();
    if axes.norm {
        key.push_str(&format!(", norm={}", run.norm));
    }
    if axes.activation {
        key.push_str(&format!(", {}", run.activation));
    }
    key
}

/// Everything else that varies, short: `α=one, init=he`.
fn sub_label(run: &RunRecord, axes: &VaryingAxes) -> String {
    let mut parts = Vec::new();
    if axes.experiment {
        parts.push(run.experiment.clone());
    }
    if axes.machine {
        parts.push(run.machine_id.clone());
    }
    if run.arch != "plain" && axes.residual_scale {
        if let Some(scale) = &run.residual_scale {
            parts.push(format!("α={scale}"));
        }
    }
    if axes.init {
        parts.push(format!("init={}", run.init));
    }
    if axes.block_layers && run.arch != "plain" {
        parts.push(format!("{}-layer blocks", run.block_layers));
    }
    if axes.width {
        parts.push(format!("w={}", run.width));
    }
    parts.join(", ")
}

struct Group<'a> {
    panel: String,
    sub: String,
    depth: usize,
    runs: Vec<&'a RunRecord>,
}

pub fn build(runs: &[RunRecord], axes: &VaryingAxes, probe: Probe) -> Option<Chart> {
    let mut groups: Vec<Group> = Vec::new();
    for run in runs.iter().filter(|r| probe.values(r).len() >= 2) {
        let (panel, sub) = (panel_key(run, axes), sub_label(run, axes));
        match groups.iter_mut().find(|g| g.panel == panel && g.sub == sub && g.depth == run.depth) {
            Some(group) => group.runs.push(run),
            None => groups.push(Group { panel, sub, depth: run.depth, runs: vec![run] }),
        }
    }
    if groups.is_empty() {
        return None;
    }
    groups.sort_by(|a, b| {
        natural_cmp(&a.panel, &b.panel).then_with(|| natural_cmp(&a.sub, &b.sub)).then(a.depth.cmp(&b.depth))
    });
    let distinct_subs = |groups: &[Group]| {
        let mut subs: Vec<String> = groups.iter().map(|g| g.sub.clone()).collect();
        subs.sort_by(|a, b| natural_cmp(a, b));
        subs.dedup();
        subs
    };
    let mut subs = distinct_subs(&groups);
    // A big grid would put dozens of lines in a panel: keep one facet (one width, optimizer, …).
    let mut shown_facet = None;
    if subs.len() > MAX_SUBVARIANTS {
        let facet = facet_label(groups[0].runs[0], axes);
        if !facet.is_empty() {
            groups.retain(|g| facet_label(g.runs[0], axes) == facet);
            subs = distinct_subs(&groups);
            shown_facet = Some(facet);
        }
    }
    let mut depths: Vec<usize> = groups.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    // Keep the chart readable: a handful of depths, fewer when sub-variants multiply the lines.
    let shown = spread(&depths, if subs.len() <= 1 { 7 } else { 2 });
    groups.retain(|g| shown.contains(&g.depth));

    let mut panel_names: Vec<String> = groups.iter().map(|g| g.panel.clone()).collect();
    panel_names.dedup();
    let mut panel_lines: Vec<Vec<Line>> = vec![Vec::new(); panel_names.len()];
    // k runs to D in plain panels but D/2 in residual ones: each panel gets its own k axis.
    let mut panel_ks: Vec<Vec<f64>> = vec![Vec::new(); panel_names.len()];
    let mut ys = Vec::new();
    let mut any_theory = false;
    for group in &groups {
        let profiles: Vec<&[f64]> = group.runs.iter().map(|r| probe.values(r)).collect();
        let median = log2_all(&median_profile(&profiles));
        let points: Vec<(f64, f64)> =
            median.iter().enumerate().filter(|(_, y)| y.is_finite()).map(|(k, &y)| (k as f64, y)).collect();
        if points.is_empty() {
            continue;
        }
        let panel = panel_names.iter().position(|p| *p == group.panel).unwrap_or(0);
        panel_ks[panel].extend(points.iter().map(|p| p.0));
        ys.extend(points.iter().map(|p| p.1));
        let depth_index = shown.iter().position(|d| *d == group.depth).unwrap_or(0);
        let (label, color) = if subs.len() <= 1 {
            (format!("depth {}", group.depth), sequential(depth_index, shown.len()))
        } else {
            let sub_index = subs.iter().position(|s| *s == group.sub).unwrap_or(0);
            let label =
                if shown.len() > 1 { format!("{}, depth {}", group.sub, group.depth) } else { group.sub.clone() };
            (label, palette(sub_index * shown.len() + depth_index))
        };
        if let Some(theory) = theory_line(group.runs[0], probe, &points, color) {
            any_theory = true;
            ys.extend(theory.points.iter().map(|p| p.1));
            panel_lines[panel].push(theory);
        }
        let style = LineStyle { label, color, dashed: false, marker: Marker::None };
        panel_lines[panel].push(Line::new(style, points));
    }
    let y = Axis::fit(Scale::Linear, ys)?;
    let (y_label, title, file, what) = match probe {
        Probe::GradientNorm => (
            "log₂ ‖∂L/∂h_k‖",
            "Gradient profile at initialisation",
            "gradient_profile.svg",
            "log₂ of the gradient norm ‖∂L/∂h_k‖ (Frobenius over the batch) at each hidden state h_k at initialisation",
        ),
        Probe::StateRms => (
            "log₂ RMS(h_k)",
            "State RMS profile at initialisation",
            "state_rms_profile.svg",
            "log₂ of the RMS of each hidden state h_k at initialisation (the forward counterpart of the gradient profile)",
        ),
    };
    let panels: Vec<Panel> = panel_names
        .into_iter()
        .zip(panel_lines)
        .zip(panel_ks)
        .filter_map(|((name, lines), ks)| {
            Some(Panel {
                x_label: if name.starts_with("plain") { "k (layer)".into() } else { "k (block)".into() },
                title: name,
                x: Axis::fit(Scale::Linear, ks.into_iter().chain([0.0]))?,
                y: y.clone(),
                y_label: y_label.into(),
                body: PanelBody::Lines(lines),
            })
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    let columns = if panels.len() <= 4 { 2 } else { 3 };
    let mut figure = Figure::new(title, panels, columns);
    if any_theory {
        figure.legend.push(LineStyle {
            label: "theory at init".into(),
            color: RGBColor(90, 90, 90),
            dashed: true,
            marker: Marker::None,
        });
        figure.legend_note = Some(
            "Solid: median over seeds. Dashed, same colour: the slope theory predicts, drawn from the measured value at the \
             anchor end."
                .into(),
        );
    } else {
        figure.legend_note = Some("Median over seeds.".into());
    }
    let anchor = match probe {
        Probe::GradientNorm => "the output end (k = K), where the backward pass starts",
        Probe::StateRms => "the input end (k = 0), where the forward pass starts",
    };
    Some(Chart {
        figure,
        file: file.into(),
        caption: format!(
            "{what}, against k (k counts layers in plain nets and blocks in residual ones); median over seeds, one line per depth. \
             Dashed lines show the slope initialisation theory predicts (ReLU, no normalisation), anchored at {anchor}; \
             a flat line is a signal that neither vanishes nor explodes.{}",
            match shown_facet {
                Some(facet) => format!(" Only the runs with {facet} are shown."),
                None => String::new(),
            }
        ),
    })
}

/// The theoretical profile through the measured anchor point, dashed, not in the legend.
fn theory_line(run: &RunRecord, probe: Probe, points: &[(f64, f64)], color: RGBColor) -> Option<Line> {
    let rms2_slope = theory_rms2_slope(run)?;
    let (first, last) = (points.first()?, points.last()?);
    let line: Vec<(f64, f64)> = match probe {
        // log₂ RMS(h_k) = log₂ RMS(h_0) + k · slope(RMS²)/2
        Probe::StateRms => {
            (0..=last.0 as usize).map(|k| (k as f64, first.1 + (k as f64 - first.0) * rms2_slope / 2.0)).collect()
        }
        // log₂‖∂L/∂h_k‖ = log₂‖∂L/∂h_K‖ + (K − k) · slope(RMS²)/2
        Probe::GradientNorm => {
            (0..=last.0 as usize).map(|k| (k as f64, last.1 + (last.0 - k as f64) * rms2_slope / 2.0)).collect()
        }
    };
    let style = LineStyle { label: "theory at init".into(), color, dashed: true, marker: Marker::None };
    let mut line = Line::new(style, line);
    line.in_legend = false;
    Some(line)
}
