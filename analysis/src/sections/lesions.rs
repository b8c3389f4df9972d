//! Lesions (Veit et al., 2016): how much does a trained net depend on each single layer (plain)
//! or block (residual)? Each position is replaced by the identity in turn and the final training
//! loss re-evaluated on the whole training set. Stated in absolute losses, next to the chance
//! level: a ratio of two near-zero losses (×7.5 from 4e-6 to 3e-5) says nothing about whether
//! the lesioned net still fits the data.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::plot::{depth_legend, median_profile, sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::stats::median;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{centre_phrase, groups, variants_of, Group, Variant, VaryingAxes};
use polars::prelude::{Column, DataFrame};

/// Lines with at most this many points get markers (so a one-point line still shows).
const MARKER_MAX_POINTS: usize = 16;

/// One variant at one depth: medians over seeds.
#[derive(Debug, Clone)]
pub struct LesionRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub runs: usize,
    pub positions: usize,
    pub unlesioned_loss: Option<f64>,
    pub unlesioned_accuracy: Option<f64>,
    /// Per run the median over positions of the lesioned loss, then the median over seeds.
    pub lesion_median: Option<f64>,
    /// Per run the worst position, then the median over seeds.
    pub lesion_max: Option<f64>,
    pub nonfinite: usize,
}

pub fn rows<'a>(groups: &[Group<'a>]) -> Vec<LesionRow<'a>> {
    groups
        .iter()
        .map(|g| {
            let finite = |r: &&crate::variant::Run| -> Vec<f64> {
                r.record.result.lesion_train_losses.iter().flatten().copied().filter(|l| l.is_finite()).collect()
            };
            LesionRow {
                variant: g.variant,
                depth: g.depth,
                runs: g.runs.len(),
                positions: g.runs.iter().map(|r| r.record.result.lesion_train_losses.len()).max().unwrap_or(0),
                unlesioned_loss: median(g.runs.iter().filter_map(|r| r.record.result.final_train_loss)),
                unlesioned_accuracy: median(g.runs.iter().filter_map(|r| r.record.result.final_train_accuracy)),
                lesion_median: median(g.runs.iter().filter_map(|r| median(finite(r)))),
                lesion_max: median(g.runs.iter().filter_map(|r| finite(r).into_iter().reduce(f64::max))),
                nonfinite: g.runs.iter().map(|r| r.record.result.lesion_train_losses.len() - finite(r).len()).sum(),
            }
        })
        .collect()
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    // Lesions remove an MLP's hidden layers or blocks; conv runs never carry them (the core refuses).
    let groups =
        groups(&runs, |r| !r.variant.is_conv() && !r.record.result.lesion_train_losses.is_empty() && !r.record.result.diverged);
    if groups.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(groups.iter().flat_map(|g| g.runs.iter().copied()));
    let rows = rows(&groups);
    let mut section = Section::new("Lesions");
    section.summary.push(
        "Each hidden layer of a plain net, or each block of a residual one, is replaced by the identity in turn and the \
         final training loss re-evaluated on the whole training set. Losses are absolute, to be read against the chance \
         level (ln 10 ≈ 2.30 on the digits: a net that learned nothing); the lesioned accuracy is not recorded."
            .into(),
    );
    section.findings = findings(&rows, &axes);
    section.charts.extend(chart(&groups, &axes));
    section.tables.push(table(&rows, &axes)?);
    Ok(Some(section))
}

/// For each variant's deepest depth and each plain variant's best-trained depth: the
/// unlesioned loss, the typical and the worst lesioned loss, in absolute terms.
pub fn findings(rows: &[LesionRow], axes: &VaryingAxes) -> Vec<String> {
    let mut out = Vec::new();
    let mut variants: Vec<&Variant> = rows.iter().map(|r| r.variant).collect();
    variants.dedup();
    let describe = |r: &LesionRow, what: &str| -> Option<String> {
        let chance = r.variant.chance_loss().map(|c| format!(" (chance level {c:.2})")).unwrap_or_default();
        let accuracy = r.unlesioned_accuracy.map(|a| format!(", train accuracy {:.1}%", a * 100.0)).unwrap_or_default();
        Some(format!(
            "{} at depth {}: unlesioned train loss {}{accuracy}; with one {what} removed the loss is {} for the median \
             position and {} for the worst{chance}",
            r.variant.label(axes),
            r.depth,
            format_sig(r.unlesioned_loss?, 2),
            format_sig(r.lesion_median?, 2),
            format_sig(r.lesion_max?, 2)
        ))
    };
    for variant in &variants {
        let mine: Vec<&LesionRow> = rows.iter().filter(|r| r.variant == *variant).collect();
        let what = if variant.is_plain() { "layer" } else { "block" };
        let deepest = mine.iter().max_by_key(|r| r.depth);
        // For plain nets the best-trained depth is the one a lesion can break (the deepest may
        // sit at chance already).
        let best = mine
            .iter()
            .filter(|r| r.unlesioned_loss.is_some())
            .min_by(|a, b| a.unlesioned_loss.unwrap_or(f64::NAN).total_cmp(&b.unlesioned_loss.unwrap_or(f64::NAN)));
        if let Some(line) = deepest.and_then(|r| describe(r, what)) {
            out.push(format!("{line}."));
        }
        if variant.is_plain() {
            if let Some(b) = best.filter(|b| Some(b.depth) != deepest.map(|d| d.depth)) {
                if let Some(line) = describe(b, what) {
                    out.push(format!("{line}."));
                }
            }
        }
    }
    out
}

pub fn table(rows: &[LesionRow], axes: &VaryingAxes) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("arch".into(), rows.iter().map(|r| r.variant.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("positions".into(), rows.iter().map(|r| r.positions as u64).collect::<Vec<_>>()),
        Column::new("runs".into(), rows.iter().map(|r| r.runs as u64).collect::<Vec<_>>()),
        Column::new("unlesioned_loss".into(), rows.iter().map(|r| r.unlesioned_loss).collect::<Vec<_>>()),
        Column::new("unlesioned_accuracy".into(), rows.iter().map(|r| r.unlesioned_accuracy).collect::<Vec<_>>()),
        Column::new("lesion_median".into(), rows.iter().map(|r| r.lesion_median).collect::<Vec<_>>()),
        Column::new("lesion_max".into(), rows.iter().map(|r| r.lesion_max).collect::<Vec<_>>()),
        Column::new(
            "lesion_median_increase".into(),
            rows.iter().map(|r| Some(r.lesion_median? - r.unlesioned_loss?)).collect::<Vec<_>>(),
        ),
        Column::new("lesion_nonfinite".into(), rows.iter().map(|r| r.nonfinite as u64).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("lesions"))?;
    Ok(Table {
        slug: "lesions".into(),
        title: "Lesions: training loss with one layer or block removed".into(),
        note: "Per run the median and the maximum over positions of the lesioned loss, then the median over seeds; the \
               increase is lesioned (median) − unlesioned, in loss units. Non-finite lesioned losses are left out of the \
               median and max and counted in the last column."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("positions", "positions", Format::Integer),
            spec("runs", "runs", Format::Integer),
            spec("unlesioned_loss", "unlesioned train loss", Format::Sig(3)),
            spec("unlesioned_accuracy", "unlesioned train accuracy", Format::Percent(1)),
            spec("lesion_median", "lesioned loss (median over positions)", Format::Sig(3)),
            spec("lesion_max", "lesioned loss (worst position)", Format::Sig(3)),
            spec("lesion_median_increase", "increase (median)", Format::Sig(3)),
            spec("lesion_nonfinite", "non-finite", Format::Integer),
        ],
    })
}

/// Train loss after lesioning position k against k/K: a panel per variant, a line per depth,
/// the unlesioned loss as a dashed line of the same colour.
pub fn chart(groups: &[Group], axes: &VaryingAxes) -> Option<Chart> {
    let variants = variants_of(groups);
    let mut depths: Vec<usize> = groups.iter().map(|g| g.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut ys = Vec::new();
    let mut panel_lines: Vec<Vec<Line>> = vec![Vec::new(); variants.len()];
    for g in groups {
        let profiles: Vec<Vec<f64>> = g
            .runs
            .iter()
            .map(|r| r.record.result.lesion_train_losses.iter().map(|l| l.unwrap_or(f64::NAN)).collect())
            .collect();
        let refs: Vec<&[f64]> = profiles.iter().map(Vec::as_slice).collect();
        let profile = median_profile(&refs);
        let k_max = profile.len() as f64;
        let points: Vec<(f64, f64)> = profile
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite() && **y > 0.0)
            .map(|(k, &y)| ((k + 1) as f64 / k_max, y))
            .collect();
        let color = sequential(depths.iter().position(|d| *d == g.depth).unwrap_or(0), depths.len());
        let panel = variants.iter().position(|v| *v == g.variant).unwrap_or(0);
        let marker = if points.len() <= MARKER_MAX_POINTS { Marker::Circle } else { Marker::None };
        ys.extend(points.iter().map(|p| p.1));
        panel_lines[panel]
            .push(Line::new(LineStyle { label: format!("depth {}", g.depth), color, dashed: false, marker }, points));
        if let Some(base) = median(g.runs.iter().filter_map(|r| r.record.result.final_train_loss)).filter(|b| *b > 0.0) {
            ys.push(base);
            let mut reference = Line::new(
                LineStyle { label: "unlesioned".into(), color, dashed: true, marker: Marker::None },
                vec![(0.0, base), (1.0, base)],
            );
            reference.in_legend = false;
            panel_lines[panel].push(reference);
        }
    }
    let x = Axis::fit(Scale::Linear, [0.0, 1.0])?;
    // Each panel on its own loss range: plain and residual nets sit decades apart.
    let panels: Vec<Panel> = variants
        .iter()
        .zip(panel_lines)
        .filter_map(|(variant, lines)| {
            let ys: Vec<f64> = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).collect();
            Some(Panel {
                title: variant.label(axes),
                x: x.clone(),
                y: Axis::fit(Scale::Log10, ys)?,
                x_label: if variant.is_plain() {
                    "lesioned layer k/K (input side first)".into()
                } else {
                    "lesioned block k/K (input side first)".into()
                },
                y_label: "train loss after lesion (log scale)".into(),
                body: PanelBody::Lines(lines),
            })
        })
        .collect();
    if panels.is_empty() || ys.is_empty() {
        return None;
    }
    let centre = centre_phrase(groups);
    let columns = panels.len().min(2);
    let mut figure = Figure::new("Lesions: training loss with one layer or block removed", panels, columns);
    figure.legend = depth_legend(&depths, "unlesioned");
    figure.legend_note = Some(format!(
        "Solid: loss with position k replaced by the identity ({centre}). Dashed, same colour: that depth's unlesioned loss."
    ));
    Some(Chart {
        figure,
        file: "lesions.svg".into(),
        caption: format!(
            "Final training loss (whole training set, log scale, each panel on its own range) with one hidden layer \
             (plain) or one residual block removed — replaced by the identity — against its normalised position k/K \
             (k = 1 at the input side); one line per depth ({centre}), the unlesioned loss of the same depth dashed in \
             its colour. Veit et al. (2016) report that residual nets survive the removal of single blocks with a \
             small loss increase while plain nets break; compare the absolute losses with the chance level ln 10 ≈ 2.30."
        ),
    })
}
