//! Probe profiles at initialisation against k: log₂‖∂L/∂h_k‖ (the gradient profile) and
//! log₂ RMS(h_k) (its forward counterpart). One panel per architecture (with the normalisation
//! when it varies), one line per depth, and theory as a dashed line of the same colour where it
//! gives a profile (see `stats::theory_log2_rms2_profile`).

use super::CONV_NOTE;
use crate::plot::{
    median_profile, overlap_sentence, palette, sequential, spread, Axis, Chart, Figure, Line, LineStyle, Marker, Panel,
    PanelBody, Scale,
};
use crate::stats::{log2_all, theory_log2_grad_profile, theory_log2_rms2_profile};
use crate::variant::{centre_of, seeds_phrase_of, Group, Run, VaryingAxes};
use plotters::style::RGBColor;

/// More sub-variants than this per panel and only one facet is drawn.
const MAX_SUBVARIANTS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// ‖∂L/∂h_k‖ at init.
    GradientNorm,
    /// RMS(h_k) at init.
    StateRms,
}

impl Probe {
    fn values(self, run: &Run) -> &[f64] {
        match self {
            Probe::GradientNorm => &run.record.result.state_grad_norms_init,
            Probe::StateRms => &run.record.result.state_rms_init,
        }
    }
}

pub fn profiles(groups: &[Group], axes: &VaryingAxes, probe: Probe) -> Option<Chart> {
    let mut groups: Vec<&Group> = groups.iter().filter(|g| g.runs.iter().any(|r| probe.values(r).len() >= 2)).collect();
    if groups.is_empty() {
        return None;
    }
    let panel_of = |g: &Group| g.variant.line_label(axes);
    let sub_of = |g: &Group| g.variant.facet_label(axes);
    let distinct = |values: Vec<String>| {
        let mut out: Vec<String> = Vec::new();
        for v in values {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    };
    let mut subs = distinct(groups.iter().map(|g| sub_of(g)).collect());
    // A big grid would put dozens of lines in a panel: keep one facet (one width, optimizer, …).
    let mut shown_facet = None;
    if subs.len() > MAX_SUBVARIANTS {
        let facet = subs[0].clone();
        groups.retain(|g| sub_of(g) == facet);
        subs = vec![facet.clone()];
        shown_facet = Some(facet);
    }
    let mut depths: Vec<usize> = groups.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    // Every depth of a usual grid (up to 8), fewer when sub-variants multiply the lines.
    let shown = spread(&depths, if subs.len() <= 1 { 8 } else { 2 });
    groups.retain(|g| shown.contains(&g.depth));
    let panel_names = distinct(groups.iter().map(|g| panel_of(g)).collect());

    let mut panel_lines: Vec<Vec<Line>> = vec![Vec::new(); panel_names.len()];
    let mut any_theory = false;
    for group in &groups {
        let profiles: Vec<&[f64]> = group.runs.iter().map(|r| probe.values(r)).collect();
        let median = log2_all(&median_profile(&profiles));
        let points: Vec<(f64, f64)> =
            median.iter().enumerate().filter(|(_, y)| y.is_finite()).map(|(k, &y)| (k as f64, y)).collect();
        if points.is_empty() {
            continue;
        }
        let panel = panel_names.iter().position(|p| *p == panel_of(group)).unwrap_or(0);
        let depth_index = shown.iter().position(|d| *d == group.depth).unwrap_or(0);
        let sub = sub_of(group);
        let (label, color) = if subs.len() <= 1 {
            (format!("depth {}", group.depth), sequential(depth_index, shown.len()))
        } else {
            let sub_index = subs.iter().position(|s| *s == sub).unwrap_or(0);
            let label = if shown.len() > 1 { format!("{sub}, depth {}", group.depth) } else { sub };
            (label, palette(sub_index * shown.len() + depth_index))
        };
        if let Some(theory) = theory_line(group, probe, &points, color) {
            any_theory = true;
            panel_lines[panel].push(theory);
        }
        let style = LineStyle { label, color, dashed: false, marker: Marker::None };
        panel_lines[panel].push(Line::new(style, points));
    }
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
    // Each panel gets its own k range (k runs to D in plain panels but to the number of blocks
    // in residual ones) and all share one y range, so a flat profile looks flat beside a steep one.
    let all_ys: Vec<f64> = panel_lines.iter().flatten().flat_map(|l| l.points.iter().map(|p| p.1)).collect();
    let shared_y = Axis::fit(Scale::Linear, all_ys)?;
    let panels: Vec<Panel> = panel_names
        .into_iter()
        .zip(panel_lines)
        .filter_map(|(name, lines)| {
            let ks = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
            Some(Panel {
                x_label: if name.starts_with("plain") { "k (layer)".into() } else { "k (block)".into() },
                title: name,
                x: Axis::fit(Scale::Linear, ks.chain([0.0]))?,
                y: shared_y.clone(),
                y_label: y_label.into(),
                body: PanelBody::Lines(lines),
            })
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    let overlaps = overlap_sentence(&panels);
    let centre = centre_of(seeds_phrase_of(groups.iter().map(|g| g.seeds())));
    let mut figure = Figure::new(title, panels, 2);
    if any_theory {
        figure.legend.push(LineStyle {
            label: "theory at init".into(),
            color: RGBColor(90, 90, 90),
            dashed: true,
            marker: Marker::None,
        });
        figure.legend_note = Some(format!(
            "Solid: {centre}. Dashed, same colour: the profile theory predicts, anchored at the measured value."
        ));
    } else {
        figure.legend_note = Some(format!("Solid: {centre}."));
    }
    let anchor = match probe {
        Probe::GradientNorm => "the output end (k = K), where the backward pass starts",
        Probe::StateRms => "the input end (k = 0), where the forward pass starts",
    };
    let theory_scope = match probe {
        Probe::GradientNorm => {
            "plain nets and residual nets with He branches (the core's mean-field profile: the \"+1\" and the \
             branch, ‖∂L/∂h‖² growing by 1 + 2α²·P(h > 0) per block towards the input)"
        }
        Probe::StateRms => {
            "plain nets and residual nets with He branches (the core's mean-field profile: the stem's output is \
             non-negative, so α = 1's first block triples RMS² and later ones tend to doubling; α = 1/√K grows it \
             about 5.2-fold in all, not e-fold)"
        }
    };
    Some(Chart {
        figure,
        file: file.into(),
        caption: format!(
            "{what}, against k (k counts layers in plain nets and blocks in residual ones); {centre}, one line per \
             depth, each panel on its own axes. Dashed lines: initialisation theory (ReLU, no normalisation) for \
             {theory_scope}, anchored at {anchor}. Theory \
             is for infinite width: at finite width the plain He profile drifts, more so as depth ÷ width grows \
             (Hanin, 2018).{}{overlaps}{}",
            match shown_facet {
                Some(facet) => format!(" Only the runs with {facet} are shown."),
                None => String::new(),
            },
            if groups.iter().any(|g| g.variant.is_conv()) { CONV_NOTE } else { "" }
        ),
    })
}

/// The theoretical profile through the measured anchor point, dashed, not in the legend.
fn theory_line(group: &Group, probe: Probe, points: &[(f64, f64)], color: RGBColor) -> Option<Line> {
    let (first, last) = (points.first()?, points.last()?);
    let line: Vec<(f64, f64)> = match probe {
        // log₂ RMS(h_k) = log₂ RMS(h_0) + ½ log₂(RMS²(h_k) ÷ RMS²(h_0))
        Probe::StateRms => {
            let profile = theory_log2_rms2_profile(group.variant, group.depth)?;
            profile.iter().enumerate().map(|(k, s)| (k as f64, first.1 + 0.5 * s)).collect()
        }
        // log₂‖∂L/∂h_k‖ = log₂‖∂L/∂h_K‖ + log₂(‖∂L/∂h_k‖ ÷ ‖∂L/∂h_K‖)
        Probe::GradientNorm => {
            let profile = theory_log2_grad_profile(group.variant, group.depth)?;
            profile.iter().enumerate().map(|(k, g)| (k as f64, last.1 + g)).collect()
        }
    };
    let style = LineStyle { label: "theory at init".into(), color, dashed: true, marker: Marker::None };
    let mut line = Line::new(style, line);
    line.in_legend = false;
    Some(line)
}
