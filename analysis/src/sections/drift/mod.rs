//! Finite-width drift at initialisation (Hanin & Nica, 2019): for one input through a plain He
//! ReLU net of depth D and width n, Δ = ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖² is a sum of D independent
//! per-layer log gains, so its mean is D·m(n) and its variance D·v(n), with m and v the exact
//! moments of `degradation_bench::theory::relu_layer_log_gain`. Measured over seeds, per (D, n),
//! with intervals, against that prediction; a table, a chart and findings.
//!
//! Only zero-step runs of plain MLPs with ReLU, He init, no normalisation and batch size 1 are
//! used: the law is for one input at initialisation, and it is the only one of them it covers.

mod chart;

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::section::Section;
use crate::stats::{mean_t_interval, variance_chi_square_interval, Estimate};
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{groups, Group, Run, Variant, VaryingAxes};
use degradation_bench::config::{Activation, Arch, Family, Init, Norm};
use degradation_bench::theory::{relu_layer_log_gain, Moments};
use polars::prelude::{col, Column, DataFrame, IntoLazy, SortMultipleOptions};

/// Whether the per-input law applies to this run's probe at initialisation.
pub fn applies(run: &Run) -> bool {
    let v = &run.variant;
    run.record.setup.steps == 0
        && v.family == Family::Mlp
        && v.arch == Arch::Plain
        && v.activation == Activation::Relu
        && v.init == Init::He
        && v.norm == Norm::None
        && v.batch_size == 1
        && run.record.result.state_grad_norms_init.len() == run.record.setup.depth + 1
}

/// Δ = ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖² from the probe's norms (index k holds ‖∂L/∂h_k‖, k = 0..D);
/// `None` when either norm is zero (a dead layer, probability 2⁻ⁿ each) or not finite.
pub fn log_gradient_ratio(state_grad_norms: &[f64]) -> Option<f64> {
    let (first, last) = (*state_grad_norms.first()?, *state_grad_norms.last()?);
    let delta = 2.0 * (first / last).ln();
    (first > 0.0 && last > 0.0 && delta.is_finite()).then_some(delta)
}

/// One (variant, depth) cell: Δ's mean and variance over seeds, and what theory predicts.
#[derive(Debug, Clone)]
pub struct DriftRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    /// Runs with a usable Δ.
    pub runs: usize,
    pub mean: Option<Estimate>,
    pub variance: Option<Estimate>,
    /// D·m(n) and D·v(n).
    pub predicted: Moments,
}

impl DriftRow<'_> {
    pub fn depth_over_width(&self) -> f64 {
        self.depth as f64 / self.variant.width as f64
    }

    /// Measured ÷ predicted mean, with the measured interval divided by the exact prediction.
    pub fn mean_ratio(&self) -> Option<Estimate> {
        Some(self.mean?.divided_by(self.predicted.mean))
    }

    pub fn variance_ratio(&self) -> Option<Estimate> {
        Some(self.variance?.divided_by(self.predicted.variance))
    }
}

/// Per (variant, depth): count, mean and sample variance of Δ (a polars group_by over one frame
/// of per-run values), with their intervals and the prediction.
pub fn rows<'a>(groups: &[Group<'a>]) -> Result<Vec<DriftRow<'a>>> {
    let failed = Error::polars("drift");
    let per_run: Vec<(u32, f64)> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            g.runs.iter().filter_map(move |r| Some((i as u32, log_gradient_ratio(&r.record.result.state_grad_norms_init)?)))
        })
        .collect();
    let frame = DataFrame::new_infer_height(vec![
        Column::new("group".into(), per_run.iter().map(|p| p.0).collect::<Vec<_>>()),
        Column::new("delta".into(), per_run.iter().map(|p| p.1).collect::<Vec<_>>()),
    ])
    .map_err(&failed)?;
    let summary = frame
        .lazy()
        .group_by([col("group")])
        .agg([
            col("delta").count().alias("runs"),
            col("delta").mean().alias("mean"),
            col("delta").var(1).alias("variance"),
        ])
        .sort(["group"], SortMultipleOptions::default())
        .collect()
        .map_err(&failed)?;
    let number = |name: &str, row: usize| summary.column(name).ok()?.get(row).ok()?.extract::<f64>();
    let mut out = Vec::new();
    for row in 0..summary.height() {
        let Some(group) = number("group", row).and_then(|g| groups.get(g as usize)) else { continue };
        let runs = number("runs", row).unwrap_or(0.0) as usize;
        let (mean, variance) = (number("mean", row), number("variance", row));
        let layer = relu_layer_log_gain(group.variant.width);
        let d = group.depth as f64;
        out.push(DriftRow {
            variant: group.variant,
            depth: group.depth,
            runs,
            mean: mean.zip(variance).and_then(|(m, v)| mean_t_interval(m, v, runs)),
            variance: variance.and_then(|v| variance_chi_square_interval(v, runs)),
            predicted: Moments { mean: d * layer.mean, variance: d * layer.variance },
        });
    }
    Ok(out)
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let applicable: Vec<Run> = runs.iter().filter(|r| applies(r)).cloned().collect();
    if applicable.is_empty() {
        return Ok(None);
    }
    let groups = groups(&applicable, |_| true);
    let rows = rows(&groups)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of_runs(&applicable);
    let mut section = Section::new("Finite-width drift at initialisation");
    section.summary.push(
        "Each network is probed once at initialisation, untrained, with a single input (batch size 1). For a plain \
         He-initialised ReLU net without normalisation, Δ = ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖² (natural log of squared \
         norms; h₀ is the stem's output and h_D the last hidden state, so the D hidden w×w layers lie between them) \
         is a sum of D independent per-layer terms, each the log of (2/n)·χ² with a Binomial(n, ½) number of degrees \
         of freedom (Hanin & Nica, 2019). Its mean is D·m(n) and its variance D·v(n), with m(n) ≈ −5/(2n) and \
         v(n) ≈ 5/n to first order (exact values from the core's theory::relu_layer_log_gain): the gradient \
         reaching the input side shrinks and spreads in proportion to depth ÷ width, although at infinite width \
         its expected square is the same at every layer. Δ < 0 means ‖∂L/∂h₀‖ < ‖∂L/∂h_D‖."
            .into(),
    );
    let left_out = runs.iter().filter(|r| r.record.setup.steps == 0 && !applies(r)).count();
    let scope = if left_out > 0 {
        format!(
            " {left_out} other zero-step runs are left out: with a batch the probe's norm sums over inputs and \
             averages part of the spread away, and normalisation, other inits and residual connections change the law."
        )
    } else {
        String::new()
    };
    section.summary.push(format!(
        "Only zero-step runs of plain ReLU MLPs with He init, no normalisation and batch size 1 are shown, where this \
         law applies.{scope} Intervals are 95%: Student-t for the mean, chi-square for the variance (exact when Δ is \
         normal, which a sum of D independent terms nearly is; heavier tails would make it too narrow). Measured ÷ \
         predicted divides the measured interval by the prediction, which has no sampling error. Theory treats each \
         layer's backward pass as independent of its forward pass, exact only as n → ∞."
    ));
    section.findings = findings(&rows);
    section.lead = lead(&rows);
    section.charts.extend(chart::drift_chart(&rows, &axes));
    section.tables.push(table(&rows, &axes)?);
    Ok(Some(section))
}

/// "−9.67 (−11.3 to −8.03)": a point with its interval, `digits` significant digits.
fn with_interval(e: &Estimate, digits: usize) -> String {
    format!("{} ({} to {})", format_sig(e.point, digits), format_sig(e.lower, digits), format_sig(e.upper, digits))
}

/// "0.915, 95% interval 0.758 to 1.07": a ratio for prose.
fn ratio_text(e: &Estimate) -> String {
    format!("{}, 95% interval {} to {}", format_sig(e.point, 3), format_sig(e.lower, 3), format_sig(e.upper, 3))
}

/// "width 32, depth 128 (D/n = 4)".
fn cell_label(row: &DriftRow) -> String {
    format!("width {}, depth {} (D/n = {})", row.variant.width, row.depth, format_sig(row.depth_over_width(), 3))
}

/// The cell with the largest D/n (the deepest of them on a tie): where the drift is largest.
fn widest_drift<'r, 'a>(rows: &'r [DriftRow<'a>]) -> Option<&'r DriftRow<'a>> {
    rows.iter()
        .filter(|r| r.mean.is_some() && r.variance.is_some())
        .max_by(|a, b| a.depth_over_width().total_cmp(&b.depth_over_width()).then(a.depth.cmp(&b.depth)))
}

/// Which statistic a finding is about.
#[derive(Clone, Copy)]
enum Statistic {
    Mean,
    Variance,
}

impl Statistic {
    fn name(self) -> &'static str {
        match self {
            Statistic::Mean => "mean",
            Statistic::Variance => "variance",
        }
    }

    fn measured(self, row: &DriftRow) -> Option<Estimate> {
        match self {
            Statistic::Mean => row.mean,
            Statistic::Variance => row.variance,
        }
    }

    fn predicted(self, row: &DriftRow) -> f64 {
        match self {
            Statistic::Mean => row.predicted.mean,
            Statistic::Variance => row.predicted.variance,
        }
    }

    fn ratio(self, row: &DriftRow) -> Option<Estimate> {
        match self {
            Statistic::Mean => row.mean_ratio(),
            Statistic::Variance => row.variance_ratio(),
        }
    }
}

/// Per statistic: in how many cells the prediction lies inside the measured interval, and each
/// cell where it does not (a difference inside the interval is not reported as one).
pub fn findings(rows: &[DriftRow]) -> Vec<String> {
    let mut out = Vec::new();
    for statistic in [Statistic::Mean, Statistic::Variance] {
        let judged: Vec<(&DriftRow, Estimate, Estimate)> =
            rows.iter().filter_map(|r| Some((r, statistic.measured(r)?, statistic.ratio(r)?))).collect();
        if judged.is_empty() {
            continue;
        }
        let inside = judged.iter().filter(|(r, m, _)| m.contains(statistic.predicted(r))).count();
        let (lo, hi) = judged
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, _, q)| (lo.min(q.point), hi.max(q.point)));
        let name = statistic.name();
        out.push(format!(
            "The predicted {name} of Δ lies inside the measured {name}'s 95% interval in {inside} of {} cells; \
             measured ÷ predicted ranges from {} to {}.",
            judged.len(),
            format_sig(lo, 2),
            format_sig(hi, 2)
        ));
        let outside: Vec<&(&DriftRow, Estimate, Estimate)> =
            judged.iter().filter(|(r, m, _)| !m.contains(statistic.predicted(r))).collect();
        if outside.is_empty() {
            continue;
        }
        let above = outside.iter().filter(|(_, _, q)| q.lower > 1.0).count();
        let all = match outside.len() {
            1 => "the one cell".to_string(),
            2 => "both cells".to_string(),
            n => format!("all {n} cells"),
        };
        let direction = match above {
            a if a == outside.len() => format!("above 1 in {all}"),
            0 => format!("below 1 in {all}"),
            a => format!("above 1 in {a} and below 1 in {}", outside.len() - a),
        };
        let cells: Vec<String> = outside
            .iter()
            .map(|(r, m, q)| {
                format!(
                    "{}: {} against {} predicted, ×{}",
                    cell_label(r),
                    with_interval(m, 3),
                    format_sig(statistic.predicted(r), 3),
                    with_interval(q, 3)
                )
            })
            .collect();
        out.push(format!(
            "Where the prediction lies outside the {name}'s interval, measured ÷ predicted is {direction} (at 95%, \
             about {} of {} cells would lie outside by chance alone): {}.",
            format_sig(0.05 * judged.len() as f64, 2),
            judged.len(),
            cells.join("; ")
        ));
    }
    out
}

/// The largest-D/n cell's numbers against theory, then how many cells agree.
pub fn lead(rows: &[DriftRow]) -> Vec<String> {
    let Some(row) = widest_drift(rows) else {
        return Vec::new();
    };
    let (Some(mean), Some(variance), Some(mean_ratio), Some(variance_ratio)) =
        (row.mean, row.variance, row.mean_ratio(), row.variance_ratio())
    else {
        return Vec::new();
    };
    let mut out = vec![format!(
        "At initialisation, with one input per untrained plain He ReLU net of depth {} and width {} (D/n = {}), \
         ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖² has mean {} over {} nets against {} predicted by finite-width theory (measured \
         ÷ predicted {}) and variance {} against {} ({}).",
        row.depth,
        row.variant.width,
        format_sig(row.depth_over_width(), 3),
        format_sig(mean.point, 3),
        row.runs,
        format_sig(row.predicted.mean, 3),
        ratio_text(&mean_ratio),
        format_sig(variance.point, 3),
        format_sig(row.predicted.variance, 3),
        ratio_text(&variance_ratio),
    )];
    let count = |statistic: Statistic| {
        let judged: Vec<_> =
            rows.iter().filter_map(|r| Some((statistic.predicted(r), statistic.measured(r)?))).collect();
        (judged.iter().filter(|(p, m)| m.contains(*p)).count(), judged.len())
    };
    let ((mean_in, mean_of), (var_in, var_of)) = (count(Statistic::Mean), count(Statistic::Variance));
    if rows.len() > 1 {
        out.push(format!(
            "Over all {} depth × width cells the prediction lies inside the 95% interval in {mean_in} of {mean_of} \
             for the mean and {var_in} of {var_of} for the variance.",
            rows.len()
        ));
    }
    out
}

/// One of a row's estimates (measured or measured ÷ predicted), for the table's columns.
type Pick<'f> = &'f dyn Fn(&DriftRow) -> Option<Estimate>;

pub fn table(rows: &[DriftRow], axes: &VaryingAxes) -> Result<Table> {
    let setting = |r: &DriftRow| r.variant.facet_label(&VaryingAxes { width: false, ..*axes });
    let shows_setting = rows.iter().any(|r| !setting(r).is_empty());
    let estimate =
        |f: Pick, part: fn(&Estimate) -> f64| rows.iter().map(|r| f(r).as_ref().map(part)).collect::<Vec<_>>();
    let shown =
        |f: Pick, digits: usize| rows.iter().map(|r| f(r).map(|e| with_interval(&e, digits))).collect::<Vec<_>>();
    let (mean, variance): (Pick, Pick) = (&|r| r.mean, &|r| r.variance);
    let (mean_ratio, variance_ratio): (Pick, Pick) = (&|r| r.mean_ratio(), &|r| r.variance_ratio());
    let frame = DataFrame::new_infer_height(vec![
        Column::new("setting".into(), rows.iter().map(setting).collect::<Vec<_>>()),
        Column::new("width".into(), rows.iter().map(|r| r.variant.width as u64).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("depth_over_width".into(), rows.iter().map(DriftRow::depth_over_width).collect::<Vec<_>>()),
        Column::new("runs".into(), rows.iter().map(|r| r.runs as u64).collect::<Vec<_>>()),
        Column::new("mean".into(), estimate(mean, |e| e.point)),
        Column::new("mean_lower".into(), estimate(mean, |e| e.lower)),
        Column::new("mean_upper".into(), estimate(mean, |e| e.upper)),
        Column::new("mean_shown".into(), shown(mean, 3)),
        Column::new("predicted_mean".into(), rows.iter().map(|r| r.predicted.mean).collect::<Vec<_>>()),
        Column::new("mean_ratio".into(), estimate(mean_ratio, |e| e.point)),
        Column::new("mean_ratio_lower".into(), estimate(mean_ratio, |e| e.lower)),
        Column::new("mean_ratio_upper".into(), estimate(mean_ratio, |e| e.upper)),
        Column::new("mean_ratio_shown".into(), shown(mean_ratio, 3)),
        Column::new("variance".into(), estimate(variance, |e| e.point)),
        Column::new("variance_lower".into(), estimate(variance, |e| e.lower)),
        Column::new("variance_upper".into(), estimate(variance, |e| e.upper)),
        Column::new("variance_shown".into(), shown(variance, 3)),
        Column::new("predicted_variance".into(), rows.iter().map(|r| r.predicted.variance).collect::<Vec<_>>()),
        Column::new("variance_ratio".into(), estimate(variance_ratio, |e| e.point)),
        Column::new("variance_ratio_lower".into(), estimate(variance_ratio, |e| e.lower)),
        Column::new("variance_ratio_upper".into(), estimate(variance_ratio, |e| e.upper)),
        Column::new("variance_ratio_shown".into(), shown(variance_ratio, 3)),
    ])
    .map_err(Error::polars("drift"))?;
    let mut columns = Vec::new();
    if shows_setting {
        columns.push(spec("setting", "setting", Format::Text));
    }
    columns.extend([
        spec("width", "width n", Format::Integer),
        spec("depth", "depth D", Format::Integer),
        spec("depth_over_width", "D/n", Format::Sig(3)),
        spec("runs", "runs", Format::Integer),
        spec("mean_shown", "mean Δ (95% CI)", Format::Text),
        spec("predicted_mean", "theory D·m(n)", Format::Sig(3)),
        spec("mean_ratio_shown", "mean ÷ theory (95% CI)", Format::Text),
        spec("variance_shown", "variance Δ (95% CI)", Format::Text),
        spec("predicted_variance", "theory D·v(n)", Format::Sig(3)),
        spec("variance_ratio_shown", "variance ÷ theory (95% CI)", Format::Text),
    ]);
    Ok(Table {
        slug: "drift".into(),
        title: "Finite-width drift at initialisation: Δ = ln‖∂L/∂h₀‖² − ln‖∂L/∂h_D‖² against theory".into(),
        note: "One input per net, at initialisation. Mean and sample variance over seeds of Δ (natural log of \
               squared norms); 95% intervals: Student-t for the mean, chi-square for the variance. Theory: D·m(n) and \
               D·v(n), the per-layer moments of theory::relu_layer_log_gain(n) times the D hidden layers between h₀ \
               and h_D. A ratio's interval is the measured interval divided by the prediction."
            .into(),
        frame,
        columns,
    })
}

#[cfg(test)]
mod tests;
