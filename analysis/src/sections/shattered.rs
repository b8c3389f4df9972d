//! Shattered gradients (Balduzzi et al., 2017): does the gradient with respect to the input
//! decorrelate with depth? The lag-1 autocorrelation ρ(1) of g(t) = ∂logit₀/∂t along a line of
//! inputs x(t) = x_a + t·(x_b − x_a), at initialisation and after training.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::plot::{
    fit_auto, overlap_sentence, palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale,
};
use crate::section::Section;
use crate::stats::median;
use crate::table::{capitalised, format_sig, spec, Format, Table};
use crate::variant::{centre_of, depth_axis_label, groups, seeds_phrase, Group, Run, Variant, VaryingAxes};
use polars::prelude::{Column, DataFrame};

/// One variant at one depth: medians over seeds of ρ(1) and ρ(4).
#[derive(Debug, Clone)]
pub struct AcfRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub runs: usize,
    pub rho1_init: Option<f64>,
    pub rho1_end: Option<f64>,
    pub rho4_init: Option<f64>,
    pub rho4_end: Option<f64>,
}

pub fn rows<'a>(groups: &[Group<'a>]) -> Vec<AcfRow<'a>> {
    let lag = |g: &Group, k: usize, end: bool| {
        median(g.runs.iter().filter_map(|r| {
            let acf = if end { &r.record.result.shattered_acf_final } else { &r.record.result.shattered_acf_init };
            acf.get(k).copied()
        }))
    };
    groups
        .iter()
        .map(|g| AcfRow {
            variant: g.variant,
            depth: g.depth,
            runs: g.runs.len(),
            rho1_init: lag(g, 1, false),
            rho1_end: lag(g, 1, true),
            rho4_init: lag(g, 4, false),
            rho4_end: lag(g, 4, true),
        })
        .collect()
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let groups = groups(&runs, |r| r.record.result.shattered_acf_init.len() > 1 || r.record.result.shattered_acf_final.len() > 1);
    if groups.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(groups.iter().flat_map(|g| g.runs.iter().copied()));
    let rows = rows(&groups);
    let seeds = seeds_phrase(&groups);
    let probe = InputPath::of(&runs);
    let mut section = Section::new("Shattered gradients");
    section.summary.push(format!(
        "g(t) = ∂logit₀/∂t along {}; ρ(k) is its sample autocorrelation at lag k. ρ near 1: a smooth gradient; near \
         0: white noise (shattered). Each point rests on {seeds} and {} per run, so read differences of a few \
         hundredths as noise.",
        probe.path, probe.per_run
    ));
    section.findings = findings(&rows, &axes, &format!("{seeds}, {} per run", probe.per_run));
    section.charts.extend(chart(&rows, &axes, &seeds, &probe));
    section.tables.push(table(&rows, &axes)?);
    Ok(Some(section))
}

/// Each plain variant against its residual counterparts: ρ(1) at the shallowest and the deepest
/// depth both have, at init (and after training), and whether the direction matches Balduzzi
/// et al. (plain decorrelates with depth, residual far less).
pub fn findings(rows: &[AcfRow], axes: &VaryingAxes, seeds: &str) -> Vec<String> {
    let at = |v: &Variant, depth: usize| rows.iter().find(|r| r.variant == v && r.depth == depth);
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let mut out = Vec::new();
    for plain in variants.iter().filter(|v| v.is_plain()) {
        for residual in variants.iter().filter(|v| !v.is_plain() && v.context() == plain.context()) {
            let shared: Vec<usize> = rows
                .iter()
                .filter(|r| r.variant == *plain && r.rho1_init.is_some())
                .filter(|r| at(residual, r.depth).is_some_and(|x| x.rho1_init.is_some()))
                .map(|r| r.depth)
                .collect();
            let (Some(&shallow), Some(&deep)) = (shared.iter().min(), shared.iter().max()) else { continue };
            let rho = |v: &Variant, d: usize| at(v, d).and_then(|r| r.rho1_init).unwrap_or(f64::NAN);
            let (p0, p1, r0, r1) = (rho(plain, shallow), rho(plain, deep), rho(residual, shallow), rho(residual, deep));
            let mut line = format!(
                "At init, ρ(1) of {} goes from {} at depth {shallow} to {} at depth {deep}; that of {} from {} to {}",
                plain.label(axes),
                format_sig(p0, 2),
                format_sig(p1, 2),
                residual.label(axes),
                format_sig(r0, 2),
                format_sig(r1, 2)
            );
            let end = |v: &Variant| at(v, deep).and_then(|r| r.rho1_end);
            if let (Some(pe), Some(re)) = (end(plain), end(residual)) {
                line.push_str(&format!(
                    "; after training at depth {deep}: {} (plain) and {} (residual)",
                    format_sig(pe, 2),
                    format_sig(re, 2)
                ));
            }
            let direction = if deep == shallow {
                "one depth only: no trend to compare".to_string()
            } else if p1 < p0 && (r0 - r1) < (p0 - p1) {
                "the direction Balduzzi et al. (2017) predict — the plain gradient decorrelates faster with depth"
                    .to_string()
            } else {
                "not the direction Balduzzi et al. (2017) predict".to_string()
            };
            line.push_str(&format!(" ({seeds}): {direction}."));
            out.push(line);
        }
    }
    out
}

pub fn table(rows: &[AcfRow], axes: &VaryingAxes) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("arch".into(), rows.iter().map(|r| r.variant.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("runs".into(), rows.iter().map(|r| r.runs as u64).collect::<Vec<_>>()),
        Column::new("rho1_init".into(), rows.iter().map(|r| r.rho1_init).collect::<Vec<_>>()),
        Column::new("rho1_end".into(), rows.iter().map(|r| r.rho1_end).collect::<Vec<_>>()),
        Column::new("rho4_init".into(), rows.iter().map(|r| r.rho4_init).collect::<Vec<_>>()),
        Column::new("rho4_end".into(), rows.iter().map(|r| r.rho4_end).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("shattered_gradients"))?;
    Ok(Table {
        slug: "shattered_gradients".into(),
        title: "Shattered gradients: autocorrelation of the input gradient along a line".into(),
        note:
            "ρ(k): sample autocorrelation of g(t) = ∂logit₀/∂t at lag k of 256 evenly spaced points; median over seeds."
                .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("runs", "runs", Format::Integer),
            spec("rho1_init", "ρ(1) at init", Format::Sig(3)),
            spec("rho1_end", "ρ(1) after training", Format::Sig(3)),
            spec("rho4_init", "ρ(4) at init", Format::Sig(3)),
            spec("rho4_end", "ρ(4) after training", Format::Sig(3)),
        ],
    })
}

/// ρ(1) against depth: a colour per variant, solid at init, dashed after training.
pub fn chart(rows: &[AcfRow], axes: &VaryingAxes, seeds: &str, probe: &InputPath) -> Option<Chart> {
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let (mut lines, mut xs, mut ys) = (Vec::new(), Vec::new(), vec![1.0]);
    for (i, variant) in variants.iter().enumerate() {
        for (end, phase) in [(false, "at init"), (true, "after training")] {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.variant == *variant)
                .filter_map(|r| Some((r.depth as f64, if end { r.rho1_end? } else { r.rho1_init? })))
                .collect();
            if points.is_empty() {
                continue;
            }
            xs.extend(points.iter().map(|p| p.0));
            ys.extend(points.iter().map(|p| p.1));
            let marker = if variant.is_plain() { Marker::Circle } else { Marker::Triangle };
            let style = LineStyle {
                label: format!("{}, {phase}", variant.label(axes)),
                color: palette(i),
                dashed: end,
                marker,
            };
            lines.push(Line::new(style, points));
        }
    }
    if !lines.iter().any(|l| l.points.len() >= 2) {
        return None;
    }
    let y = fit_auto(&ys)?;
    let log_y = y.scale == Scale::Log10;
    let panel = Panel {
        title: "Lag-1 autocorrelation of ∂logit₀/∂t along an input line".into(),
        x: Axis::fit(Scale::Log2, xs)?,
        y,
        x_label: depth_axis_label(variants.iter().copied()),
        y_label: if log_y { "ρ(1) (log scale)".into() } else { "ρ(1)".into() },
        body: PanelBody::Lines(lines),
    };
    let overlaps = overlap_sentence(std::slice::from_ref(&panel));
    let centre = centre_of(seeds.to_string());
    let mut figure = Figure::new("Shattered gradients: gradient autocorrelation vs depth", vec![panel], 1);
    figure.legend_note = Some(format!(
        "{}, {} per run. Solid: at initialisation. Dashed: after training.",
        capitalised(&centre),
        probe.per_run
    ));
    Some(Chart {
        figure,
        file: "shattered_gradients.svg".into(),
        caption: format!(
            "Lag-1 autocorrelation ρ(1) of g(t) = ∂logit₀/∂t along {}, against depth (log scale); {centre}, {} per \
             run, solid at initialisation and dashed after training. Balduzzi et al. (2017, \"The shattered gradients problem\") show that in plain ReLU nets \
             the gradient approaches white noise as depth grows (ρ → 0), while in residual nets it decorrelates far \
             more slowly.{overlaps}",
            probe.path, probe.per_run
        ),
    })
}

/// How the runs walked their inputs: older records hold one straight line between two training
/// samples; newer ones average ρ over several arcs of fixed angle (`shattered_lines`).
pub struct InputPath {
    pub path: String,
    pub per_run: String,
}

impl InputPath {
    fn of(runs: &[Run]) -> InputPath {
        let lines = runs.iter().map(|r| r.record.result.shattered_lines).max().unwrap_or(0);
        if lines == 0 {
            InputPath {
                path: "a straight line of 256 inputs between two training samples".into(),
                per_run: "one input line".into(),
            }
        } else {
            InputPath {
                path: "an arc of 256 inputs of constant norm turning by π/4 from one training sample towards another \
                       (at initialisation the net is positively homogeneous, so ρ depends on angles only)"
                    .into(),
                per_run: format!("ρ averaged over {lines} arcs"),
            }
        }
    }
}
