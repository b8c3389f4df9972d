//! How much does one rounding error matter? Runs recorded with the perturbation probe trained a
//! twin whose initial weights were one ulp away on the same minibatches; this section shows how
//! far the twin drifted from the run, per variant and depth. Where the drift reaches the size
//! of the weights' own change, single runs of two correct f32 implementations (or of one
//! implementation on two thread counts) cannot agree, and only distributions over seeds can be
//! compared — which is how the peer section compares them.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::plot::{median_curve, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::stats::{median, median_with_infinities};
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{groups, seeds_phrase, variants_of, Group, Variant, VaryingAxes};
use degradation_bench::record::RunRecord;
use polars::prelude::{Column, DataFrame};

/// The relative parameter distance that counts as "no longer the same run": 1e-3, about ten
/// thousand times a one-ulp start.
pub const APART: f64 = 1e-3;

/// One variant at one depth, medians over seeds.
#[derive(Debug, Clone)]
pub struct SensitivityRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub seeds: usize,
    /// Relative parameter distance at the first checkpoint and at the last.
    pub first_distance: Option<f64>,
    pub final_distance: Option<f64>,
    /// First checkpoint step at which the distance reached [`APART`]; `None` in the median when
    /// most seeds never did.
    pub steps_to_apart: Option<f64>,
    /// Seeds whose twin reached [`APART`].
    pub apart: usize,
    /// Loss-curve checkpoints of the runs (the resolution of the step counts).
    pub checkpoints: usize,
    /// |ΔL|/L of the last checkpoint's mean minibatch loss.
    pub final_loss_difference: Option<f64>,
}

fn distances(record: &RunRecord) -> Vec<f64> {
    record.result.perturbation_growth.iter().map(|p| p.param_distance.unwrap_or(f64::NAN)).collect()
}

fn steps_to_apart(record: &RunRecord) -> Option<usize> {
    record.result.perturbation_growth.iter().find(|p| p.param_distance.is_some_and(|d| d >= APART)).map(|p| p.step)
}

pub fn rows<'a>(groups: &[Group<'a>]) -> Vec<SensitivityRow<'a>> {
    groups
        .iter()
        .map(|g| {
            let records: Vec<&RunRecord> = g.runs.iter().map(|r| &r.record).collect();
            let first = median(records.iter().filter_map(|r| r.result.perturbation_growth.first()?.param_distance));
            let last = median(records.iter().filter_map(|r| r.result.perturbation_growth.last()?.param_distance));
            // A seed that never got apart counts as +∞, so the median is empty when most never did.
            let steps: Vec<f64> =
                records.iter().map(|r| steps_to_apart(r).map_or(f64::INFINITY, |s| s as f64)).collect();
            let middle = median_with_infinities(steps.iter().copied()).filter(|s| s.is_finite());
            SensitivityRow {
                variant: g.variant,
                depth: g.depth,
                seeds: g.seeds(),
                first_distance: first,
                final_distance: last,
                steps_to_apart: middle,
                apart: steps.iter().filter(|s| s.is_finite()).count(),
                checkpoints: records.iter().map(|r| r.result.perturbation_growth.len()).max().unwrap_or(0),
                final_loss_difference: median(
                    records.iter().filter_map(|r| r.result.perturbation_growth.last()?.loss_difference),
                ),
            }
        })
        .collect()
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let groups = groups(&runs, |r| !r.record.result.perturbation_growth.is_empty());
    if groups.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(groups.iter().flat_map(|g| g.runs.iter().copied()));
    let rows = rows(&groups);
    let mut section = Section::new("Sensitivity to one rounding error");
    section.summary.push(format!(
        "Each run here trained a twin beside it: the same network whose initial weights were moved by one unit \
         in the last place (a relative 6e-8 to 1.2e-7 each), on the same minibatches with its own optimizer. The \
         distance between the two, ‖θ_twin − θ‖/‖θ‖ over all parameters, shows how far one rounding error carries. \
         \"Apart\" is a distance of {} — ten thousand times the start. Two correct f32 implementations differ by \
         rounding from the first step on; where the twin gets apart, their single runs cannot agree either, and \
         only their spread over seeds can be compared.",
        format_sig(APART, 1)
    ));
    section.lead = lead(&rows, &axes);
    section.findings = findings(&rows, &axes);
    section.charts.extend(chart(&groups, &axes));
    section.tables.push(table(&rows, &axes)?);
    Ok(Some(section))
}

/// "after 50 steps", or "not apart" when most seeds never got there.
fn when_apart(row: &SensitivityRow) -> String {
    match row.steps_to_apart {
        Some(steps) => format!("after {steps:.0} steps"),
        None => "not apart by the end".to_string(),
    }
}

/// Per variant: after how many steps the twins got apart, depth by depth.
pub fn lead(rows: &[SensitivityRow], axes: &VaryingAxes) -> Vec<String> {
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let parts: Vec<String> = variants
        .iter()
        .map(|v| {
            let mine: Vec<String> = rows
                .iter()
                .filter(|r| r.variant == *v)
                .map(|r| match r.steps_to_apart {
                    Some(steps) => format!("{steps:.0} at depth {}", r.depth),
                    None => format!("never at depth {}", r.depth),
                })
                .collect();
            format!("{}: {}", v.label(axes), mine.join(", "))
        })
        .collect();
    if parts.is_empty() {
        return Vec::new();
    }
    let interval = rows
        .iter()
        .flat_map(|r| r.variant.steps.checked_div(r.checkpoints))
        .next()
        .map_or(String::new(), |every| format!(" (checkpoints every {every} steps)"));
    vec![format!(
        "A one-ulp perturbation of the initial weights, the size of one rounding error, grows ten-thousandfold \
         (relative parameter distance {}) after a median number of steps{interval} — {}.",
        format_sig(APART, 1),
        parts.join("; ")
    )]
}

/// Plain against residual of the same context at each depth: when each twin got apart, and
/// how far apart each was at the first checkpoint.
pub fn findings(rows: &[SensitivityRow], axes: &VaryingAxes) -> Vec<String> {
    let mut out = Vec::new();
    for plain in rows.iter().filter(|r| r.variant.is_plain()) {
        let residuals = rows.iter().filter(|r| {
            !r.variant.is_plain() && r.depth == plain.depth && r.variant.context() == plain.variant.context()
        });
        for residual in residuals {
            let (Some(p), Some(q)) = (plain.first_distance, residual.first_distance) else { continue };
            out.push(format!(
                "Depth {}: {}'s twin is apart {} ({} at the first checkpoint), {}'s {} ({}).",
                plain.depth,
                plain.variant.label(axes),
                when_apart(plain),
                format_sig(p, 2),
                residual.variant.label(axes),
                when_apart(residual),
                format_sig(q, 2)
            ));
        }
    }
    out
}

fn chart(groups: &[Group], axes: &VaryingAxes) -> Option<Chart> {
    let variants = variants_of(groups);
    let mut depths: Vec<usize> = groups.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut panels = Vec::new();
    let mut all = Vec::new();
    let mut panel_lines = Vec::new();
    for variant in &variants {
        let mut lines = Vec::new();
        for group in groups.iter().filter(|g| g.variant == *variant) {
            let steps: Vec<f64> = group.runs[0].record.result.perturbation_growth.iter().map(|p| p.step as f64).collect();
            let profiles: Vec<Vec<f64>> = group.runs.iter().map(|r| distances(&r.record)).collect();
            let points = median_curve(&steps, &profiles);
            all.extend(points.iter().copied());
            let color = sequential(depths.iter().position(|d| *d == group.depth).unwrap_or(0), depths.len());
            let style =
                LineStyle { label: format!("depth {}", group.depth), color, dashed: false, marker: Marker::None };
            lines.push(Line::new(style, points));
        }
        panel_lines.push((variant.label(axes), lines));
    }
    let x = Axis::fit(Scale::Linear, all.iter().map(|p| p.0))?;
    let y = Axis::fit(Scale::Log10, all.iter().map(|p| p.1).chain([APART]))?;
    for (title, mut lines) in panel_lines {
        let style = LineStyle {
            label: format!("apart: {}", format_sig(APART, 1)),
            color: plotters::style::RGBColor(120, 120, 120),
            dashed: true,
            marker: Marker::None,
        };
        lines.push(Line::new(style, vec![(x.lo, APART), (x.hi, APART)]));
        panels.push(Panel {
            title,
            x: x.clone(),
            y: y.clone(),
            x_label: "training step".into(),
            y_label: "‖θ_twin − θ‖/‖θ‖ (log scale)".into(),
            body: PanelBody::Lines(lines),
        });
    }
    let seeds = seeds_phrase(groups);
    let mut figure = Figure::new("Sensitivity: a one-ulp perturbation during training", panels, 2);
    figure.legend.sort_by_key(|s| s.label.trim_start_matches("depth ").parse::<usize>().unwrap_or(usize::MAX));
    figure.legend_note = Some(format!("Each line: median over {seeds}."));
    Some(Chart {
        figure,
        file: "sensitivity.svg".into(),
        caption: format!(
            "Relative distance between each run and its twin (initial weights one ulp away, same minibatches) \
             against the training step, median over {seeds}, one line per depth (darker = deeper), one panel per \
             variant, on shared axes. The dashed line marks {}: the twin is no longer the same run.",
            format_sig(APART, 1)
        ),
    })
}

pub fn table(rows: &[SensitivityRow], axes: &VaryingAxes) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("seeds".into(), rows.iter().map(|r| r.seeds as u64).collect::<Vec<_>>()),
        Column::new("first_distance".into(), rows.iter().map(|r| r.first_distance).collect::<Vec<_>>()),
        Column::new("final_distance".into(), rows.iter().map(|r| r.final_distance).collect::<Vec<_>>()),
        Column::new("apart".into(), rows.iter().map(|r| format!("{} of {}", r.apart, r.seeds)).collect::<Vec<_>>()),
        Column::new("steps_to_apart".into(), rows.iter().map(|r| r.steps_to_apart).collect::<Vec<_>>()),
        Column::new("final_loss_difference".into(), rows.iter().map(|r| r.final_loss_difference).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("sensitivity"))?;
    Ok(Table {
        slug: "sensitivity".into(),
        title: "How far a one-ulp perturbation of the initial weights carries".into(),
        note: format!(
            "Distances: ‖θ_twin − θ‖/‖θ‖, median over seeds, at the first checkpoint and the last. Apart: seeds whose \
             twin reached {}; steps to apart: median first checkpoint at which it did (empty when most seeds never \
             did). Loss difference: |L_twin − L|/L of the last checkpoint's mean minibatch loss, median over seeds.",
            format_sig(APART, 1)
        ),
        frame,
        columns: vec![
            spec("depth", "depth", Format::Integer),
            spec("variant", "variant", Format::Text),
            spec("seeds", "seeds", Format::Integer),
            spec("first_distance", "distance, first checkpoint", Format::Sig(2)),
            spec("final_distance", "distance, last step", Format::Sig(2)),
            spec("apart", "apart", Format::Text),
            spec("steps_to_apart", "steps to apart (median)", Format::Sig(3)),
            spec("final_loss_difference", "final loss difference", Format::Sig(2)),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::{synthetic_run, typed};
    use crate::variant::Run;
    use degradation_bench::record::PerturbationPoint;

    /// Distance 1e-7 · growth^k at checkpoints k = 1..=5 (steps 100..500).
    fn run(arch: &str, seed: u64, growth: f64) -> Run {
        let mut record = synthetic_run(arch, 8, seed, Some(0.1));
        record.setup.steps = 500;
        record.result.perturbation_growth = (1..=5)
            .map(|k| PerturbationPoint {
                step: 100 * k,
                param_distance: Some(1e-7 * growth.powi(k as i32 - 1)),
                loss_difference: Some(1e-6 * growth.powi(k as i32 - 1)),
            })
            .collect();
        typed(record)
    }

    #[test]
    fn seeds_that_never_get_apart_count_in_the_median_step() {
        // Plain: two of three apart at step 500, so the median step is 500. Residual: one of
        // three, so most never got apart and there is no median step.
        let runs = vec![
            run("plain", 0, 10.0),
            run("plain", 1, 10.0),
            run("plain", 2, 2.0),
            run("residual", 0, 10.0),
            run("residual", 1, 2.0),
            run("residual", 2, 2.0),
        ];
        let rows = rows(&groups(&runs, |_| true));
        assert_eq!((rows[0].apart, rows[0].steps_to_apart), (2, Some(500.0)));
        assert_eq!((rows[1].apart, rows[1].steps_to_apart), (1, None));
    }

    #[test]
    fn distances_steps_to_apart_lead_and_findings() {
        // Plain: ×10 per checkpoint (1e-7 … 1e-3: apart at step 500) for seeds 0, 1; ×100 for
        // seed 2 (apart at step 300). Residual: ×2 per checkpoint, never apart.
        let runs = vec![run("plain", 0, 10.0), run("plain", 1, 10.0), run("plain", 2, 100.0), run("residual", 0, 2.0)];
        let groups = groups(&runs, |_| true);
        let rows = rows(&groups);
        let plain = &rows[0];
        assert_eq!((plain.seeds, plain.apart), (3, 3));
        assert_eq!(plain.steps_to_apart, Some(500.0));
        assert!((plain.final_distance.unwrap() - 1e-3).abs() < 1e-12);
        assert!((plain.first_distance.unwrap() - 1e-7).abs() < 1e-18);
        let residual = &rows[1];
        assert_eq!((residual.apart, residual.steps_to_apart), (0, None));
        assert!((residual.final_distance.unwrap() - 1.6e-6).abs() < 1e-15);
        let axes = VaryingAxes::of_runs(&runs);
        assert_eq!(
            findings(&rows, &axes),
            ["Depth 8: plain's twin is apart after 500 steps (1.0e-7 at the first checkpoint), residual α=1/√K's not \
              apart by the end (1.0e-7)."]
        );
        assert_eq!(
            lead(&rows, &axes),
            ["A one-ulp perturbation of the initial weights, the size of one rounding error, grows ten-thousandfold \
              (relative parameter distance 0.001) after a median number of steps (checkpoints every 100 steps) — plain: \
              500 at depth 8; residual α=1/√K: never at depth 8."]
        );
        assert!(chart(&groups, &axes).is_some());
        assert_eq!(table(&rows, &axes).unwrap().text("apart", 0).as_deref(), Some("3 of 3"));
    }
}
