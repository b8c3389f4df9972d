//! Residual-branch magnitude: per block k, ‖α·v_k‖ ÷ ‖h_{k−1}‖ — how large a correction each
//! residual branch adds to its input, at initialisation and after training.
//!
//! He et al. (2015, Fig. 7) compare the standard deviations of layer responses of plain and
//! residual nets; this is a different, related measurement. With α = 1/√K imposed the ratio
//! falls with depth by construction (α shrinks as K grows), so the informative number is the
//! ratio ÷ α.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::plot::{depth_legend, median_profile, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::stats::median;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{centre_phrase, groups, variants_of, Group, Run, Variant, VaryingAxes};
use polars::prelude::{col, Column, DataFrame, IntoLazy, SortMultipleOptions};

/// Lines with at most this many points get markers (so a one-point line still shows).
const MARKER_MAX_POINTS: usize = 16;

#[derive(Debug, Clone)]
pub struct BranchRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub blocks: usize,
    pub runs: usize,
    pub alpha: Option<f64>,
    /// Per run the median over blocks, then the median over seeds.
    pub ratio_init: Option<f64>,
    pub ratio_end: Option<f64>,
}

impl BranchRow<'_> {
    pub fn init_over_alpha(&self) -> Option<f64> {
        Some(self.ratio_init? / self.alpha.filter(|a| *a > 0.0)?)
    }
    pub fn end_over_alpha(&self) -> Option<f64> {
        Some(self.ratio_end? / self.alpha.filter(|a| *a > 0.0)?)
    }
}

/// One row per group. Each run's ratio is its median over blocks; the seeds are pooled by a
/// polars `group_by` median (a diverged run has no ratio after training).
pub fn rows<'a>(groups: &[Group<'a>]) -> Result<Vec<BranchRow<'a>>> {
    let failed = Error::polars("branch");
    let runs: Vec<(u32, &Run)> =
        groups.iter().enumerate().flat_map(|(i, g)| g.runs.iter().map(move |r| (i as u32, *r))).collect();
    let block_median = |ratios: &[f64]| median(ratios.iter().copied());
    let pooled = DataFrame::new_infer_height(vec![
        Column::new("group".into(), runs.iter().map(|r| r.0).collect::<Vec<_>>()),
        Column::new(
            "init".into(),
            runs.iter().map(|(_, r)| block_median(&r.record.result.branch_ratios_init)).collect::<Vec<_>>(),
        ),
        Column::new(
            "end".into(),
            runs.iter()
                .map(|(_, r)| block_median(&r.record.result.branch_ratios_final).filter(|_| !r.record.result.diverged))
                .collect::<Vec<_>>(),
        ),
    ])
    .map_err(&failed)?
    .lazy()
    .group_by([col("group")])
    .agg([col("init").median(), col("end").median()])
    .sort(["group"], SortMultipleOptions::default())
    .collect()
    .map_err(&failed)?;
    let median_of = |name: &str| pooled.column(name).and_then(|c| c.f64().cloned()).map_err(&failed);
    let (init, end) = (median_of("init")?, median_of("end")?);
    Ok(groups
        .iter()
        .enumerate()
        .map(|(i, g)| BranchRow {
            variant: g.variant,
            depth: g.depth,
            blocks: g.variant.blocks(g.depth),
            runs: g.runs.len(),
            alpha: g.variant.alpha(g.depth),
            ratio_init: init.get(i),
            ratio_end: end.get(i),
        })
        .collect())
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let groups = groups(&runs, |r| !r.record.result.branch_ratios_init.is_empty() || !r.record.result.branch_ratios_final.is_empty());
    if groups.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(groups.iter().flat_map(|g| g.runs.iter().copied()));
    let rows = rows(&groups)?;
    // A zero-step experiment has no "after training": its end probes repeat the initial ones.
    let trained = groups.iter().any(|g| g.runs.iter().any(|r| r.record.setup.steps > 0));
    let mut section = Section::new("Residual-branch magnitude");
    section.summary.push(
        "For each residual block k, the norm of what the branch adds (α·v_k) divided by the norm of the block's input \
         h_{k−1}, over the probe batch. He et al. (2015, Fig. 7) compare the standard deviations of layer responses of \
         plain and residual nets, which is not what is measured here. With α = 1/√K the ratio falls with depth by \
         construction, because α itself does; the ratio ÷ α says whether the branch's own output v_k shrinks relative \
         to the stream."
            .into(),
    );
    section.findings = findings(&rows, &axes, trained);
    section.charts.extend(chart(&groups, &axes, trained));
    section.tables.push(table(&rows, &axes, trained)?);
    Ok(Some(section))
}

/// Per variant, shallowest against deepest: the ratio and the ratio ÷ α, at init and (when the
/// runs trained) after training.
pub fn findings(rows: &[BranchRow], axes: &VaryingAxes, trained: bool) -> Vec<String> {
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |v| format_sig(v, 2));
    let mut out = Vec::new();
    for variant in variants {
        let mine: Vec<&BranchRow> = rows.iter().filter(|r| r.variant == variant).collect();
        let (Some(shallow), Some(deep)) = (mine.first(), mine.last()) else { continue };
        if shallow.depth == deep.depth {
            continue;
        }
        if !trained {
            out.push(format!(
                "{}: median ‖α·v‖ ÷ ‖h‖ at initialisation is {} at depth {} and {} at depth {} (÷ α: {} and {}).",
                variant.label(axes),
                fmt(shallow.ratio_init),
                shallow.depth,
                fmt(deep.ratio_init),
                deep.depth,
                fmt(shallow.init_over_alpha()),
                fmt(deep.init_over_alpha()),
            ));
            continue;
        }
        out.push(format!(
            "{}: median ‖α·v‖ ÷ ‖h‖ after training is {} at depth {} and {} at depth {} (÷ α: {} and {}); at init {} and {} \
             (÷ α: {} and {}).",
            variant.label(axes),
            fmt(shallow.ratio_end),
            shallow.depth,
            fmt(deep.ratio_end),
            deep.depth,
            fmt(shallow.end_over_alpha()),
            fmt(deep.end_over_alpha()),
            fmt(shallow.ratio_init),
            fmt(deep.ratio_init),
            fmt(shallow.init_over_alpha()),
            fmt(deep.init_over_alpha()),
        ));
    }
    out
}

pub fn table(rows: &[BranchRow], axes: &VaryingAxes, trained: bool) -> Result<Table> {
    let mut frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("arch".into(), rows.iter().map(|r| r.variant.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("blocks".into(), rows.iter().map(|r| r.blocks as u64).collect::<Vec<_>>()),
        Column::new("runs".into(), rows.iter().map(|r| r.runs as u64).collect::<Vec<_>>()),
        Column::new("alpha".into(), rows.iter().map(|r| r.alpha).collect::<Vec<_>>()),
        Column::new("ratio_init".into(), rows.iter().map(|r| r.ratio_init).collect::<Vec<_>>()),
        Column::new("ratio_end".into(), rows.iter().map(|r| r.ratio_end).collect::<Vec<_>>()),
        Column::new("init_over_alpha".into(), rows.iter().map(BranchRow::init_over_alpha).collect::<Vec<_>>()),
        Column::new("end_over_alpha".into(), rows.iter().map(BranchRow::end_over_alpha).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("branch_ratios"))?;
    let mut columns = vec![
        spec("variant", "variant", Format::Text),
        spec("depth", "depth", Format::Integer),
        spec("blocks", "blocks K", Format::Integer),
        spec("runs", "runs", Format::Integer),
        spec("alpha", "α", Format::Sig(3)),
        spec("ratio_init", "ratio at init", Format::Sig(3)),
        spec("ratio_end", "ratio after training", Format::Sig(3)),
        spec("init_over_alpha", "init ÷ α", Format::Sig(3)),
        spec("end_over_alpha", "after training ÷ α", Format::Sig(3)),
    ];
    if !trained {
        frame = frame.drop_many(["ratio_end", "end_over_alpha"]);
        columns.retain(|c| !matches!(c.name.as_str(), "ratio_end" | "end_over_alpha"));
    }
    Ok(Table {
        slug: "branch_ratios".into(),
        title: "Residual-branch magnitude: ‖α·v_k‖ ÷ ‖h_{k−1}‖".into(),
        note: "Per run the median over blocks, then the median over seeds. α is the branch scale at initialisation \
               (1/√K for α=1/√K with K blocks, 1 for α=1); ÷ α removes the part of the ratio that α imposes."
            .into(),
        frame,
        columns,
    })
}

/// ‖α·v_k‖ ÷ ‖h_{k−1}‖ against k/K: panels per variant × (init, after training), a line per
/// depth, α dashed in the init panels. Without training, the init panels only.
pub fn chart(groups: &[Group], axes: &VaryingAxes, trained: bool) -> Option<Chart> {
    let variants = variants_of(groups);
    let mut depths: Vec<usize> = groups.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut ys = Vec::new();
    let mut panel_lines: Vec<Vec<Line>> = vec![Vec::new(); variants.len() * 2];
    for g in groups {
        let color = sequential(depths.iter().position(|d| *d == g.depth).unwrap_or(0), depths.len());
        let v = variants.iter().position(|x| *x == g.variant).unwrap_or(0);
        let init: Vec<&[f64]> = g.runs.iter().map(|r| r.record.result.branch_ratios_init.as_slice()).collect();
        let end: Vec<&[f64]> =
            g.runs.iter().filter(|r| !r.record.result.diverged).map(|r| r.record.result.branch_ratios_final.as_slice()).collect();
        let phases = if trained { vec![(0, init), (1, end)] } else { vec![(0, init)] };
        for (phase, values) in phases {
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
            let style = LineStyle { label: format!("depth {}", g.depth), color, dashed: false, marker };
            panel_lines[v * 2 + phase].push(Line::new(style, points));
            if let (0, Some(a)) = (phase, g.variant.alpha(g.depth).filter(|a| *a > 0.0)) {
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
    let y = Axis::fit(Scale::Log10, ys)?;
    let x = Axis::fit(Scale::Linear, [0.0, 1.0])?;
    let mut panels = Vec::new();
    for (i, lines) in panel_lines.into_iter().enumerate() {
        if lines.is_empty() {
            continue;
        }
        let phase = if i % 2 == 0 { "at init" } else { "after training" };
        panels.push(Panel {
            title: format!("{}, {phase}", variants[i / 2].label(axes)),
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
    let centre = centre_phrase(groups);
    let columns = panels.len().min(2);
    let mut figure = Figure::new("Residual-branch magnitude per block", panels, columns);
    figure.legend = depth_legend(&depths, "α of that depth");
    figure.legend_note = Some(format!("Solid: {centre}. Dashed, same colour: the branch scale α of that depth."));
    Some(Chart {
        figure,
        file: "branch_ratios.svg".into(),
        caption: format!(
            "Per residual block k, ‖α·v_k‖ ÷ ‖h_{{k−1}}‖ (log scale) against the normalised block index k/K; one line \
             per depth ({centre}), {}, on a shared axis. With α = 1/√K the ratio falls with depth by construction; \
             compare each line with its α.",
            if trained {
                "at initialisation (left, with α dashed) and after training (right)"
            } else {
                "at initialisation (α dashed); the runs took no step"
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::{synthetic_run, typed};
    use crate::variant::Run;

    fn residual_runs(steps: usize) -> Vec<Run> {
        let mut runs = Vec::new();
        for depth in [8, 32] {
            for seed in 0..3 {
                let mut record = synthetic_run("residual", depth, seed, Some(0.1));
                record.setup.steps = steps;
                record.result.branch_ratios_init = vec![0.5; depth / 2];
                record.result.branch_ratios_final = vec![if steps == 0 { 0.5 } else { 0.25 }; depth / 2];
                runs.push(typed(record));
            }
        }
        runs
    }

    #[test]
    fn seeds_pool_by_the_median_of_each_run_over_blocks_and_a_diverged_run_has_no_end() {
        let mut runs = residual_runs(100);
        // Depth 8, seeds 0–2: block medians 0.5, 0.3, 0.2 at init; seed 2 diverged.
        runs[1].record.result.branch_ratios_init = vec![0.1, 0.3, 0.9, 0.3];
        runs[2].record.result.branch_ratios_init = vec![0.2, 0.2, 0.2, 0.4];
        runs[0].record.result.branch_ratios_final = vec![0.2, 0.4, 0.4, 0.2];
        runs[2].record.result.diverged = true;
        let runs: Vec<Run> = runs.into_iter().map(|r| typed(r.record)).collect();
        let groups = groups(&runs, |_| true);
        let rows = rows(&groups).unwrap();
        assert_eq!((rows[0].depth, rows[0].runs), (8, 3));
        assert_eq!(rows[0].ratio_init, Some(0.3));
        // Seeds 0 and 1 only: block medians 0.3 and 0.25.
        assert_eq!(rows[0].ratio_end, Some(0.275));
        assert_eq!((rows[1].depth, rows[1].ratio_init, rows[1].ratio_end), (32, Some(0.5), Some(0.25)));
    }

    #[test]
    fn a_zero_step_experiment_shows_initialisation_only() {
        for (steps, trained) in [(0, false), (100, true)] {
            let runs = residual_runs(steps);
            let groups = groups(&runs, |_| true);
            let axes = VaryingAxes::of_runs(&runs);
            let rows = rows(&groups).unwrap();
            let text = findings(&rows, &axes, trained).join(" ");
            assert_eq!(text.contains("after training"), trained, "{text}");
            let expected = if trained { "after training is 0.25 at depth 8" } else { "initialisation is 0.50 at depth 8" };
            assert!(text.contains(expected), "{text}");
            let table = table(&rows, &axes, trained).unwrap();
            assert_eq!(table.columns.iter().any(|c| c.name == "ratio_end"), trained);
            assert_eq!(table.frame.column("end_over_alpha").is_ok(), trained);
            let chart = chart(&groups, &axes, trained).unwrap();
            assert_eq!(chart.figure.panels.len(), if trained { 2 } else { 1 });
            assert_eq!(chart.caption.contains("after training"), trained);
        }
    }
}
