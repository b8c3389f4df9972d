//! How signals and gradients flow through the depth at initialisation (and after training),
//! against what theory predicts: a table of per-k slopes, two profile charts, findings.

mod chart;

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::section::Section;
use crate::stats::{flow_stats, median, theory_rms2_slope};
use crate::table::{format_ratio, spec, Format, Table};
use crate::variant::{groups, Group, Variant, VaryingAxes};
use chart::Probe;
use polars::prelude::{Column, DataFrame};

/// Said wherever conv runs are among the probed: their k and why no theory line applies.
const CONV_NOTE: &str = " For conv nets (the ResNet paper's CIFAR family, depth 6n + 2) k counts the 3n two-conv \
                         blocks in plain and residual nets alike, and batch norm after every conv puts them outside \
                         the initialisation theory.";

/// When the probe was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Init,
    End,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::End => "end",
        }
    }
}

/// One variant at one depth and phase: medians over seeds of each run's flow statistics.
#[derive(Debug, Clone)]
pub struct FlowRow<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub phase: Phase,
    pub runs: usize,
    pub grad_ratio_log2: Option<f64>,
    pub grad_slope: Option<f64>,
    pub rms_slope: Option<f64>,
    pub theory_rms2_slope: Option<f64>,
}

pub fn rows<'a>(groups: &[Group<'a>]) -> Vec<FlowRow<'a>> {
    let mut out = Vec::new();
    for g in groups {
        for phase in [Phase::Init, Phase::End] {
            let stats: Vec<_> = g
                .runs
                .iter()
                .filter(|r| phase == Phase::Init || (r.record.setup.steps > 0 && !r.record.result.diverged))
                .map(|r| match phase {
                    Phase::Init => (&r.record.result.state_grad_norms_init, &r.record.result.state_rms_init),
                    Phase::End => (&r.record.result.state_grad_norms_final, &r.record.result.state_rms_final),
                })
                .filter(|(grads, rms)| !grads.is_empty() || !rms.is_empty())
                .map(|(grads, rms)| flow_stats(grads, rms))
                .collect();
            if stats.is_empty() {
                continue;
            }
            out.push(FlowRow {
                variant: g.variant,
                depth: g.depth,
                phase,
                runs: stats.len(),
                grad_ratio_log2: median(stats.iter().filter_map(|s| s.grad_ratio_log2)),
                grad_slope: median(stats.iter().filter_map(|s| s.grad_slope)),
                rms_slope: median(stats.iter().filter_map(|s| s.rms_slope)),
                theory_rms2_slope: (phase == Phase::Init).then(|| theory_rms2_slope(g.variant, g.depth)).flatten(),
            });
        }
    }
    out
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.training_runs();
    let groups = groups(&runs, |_| true);
    let axes = VaryingAxes::of_runs(&runs);
    let rows = rows(&groups);
    if rows.is_empty() {
        return Ok(None);
    }
    let mut section = Section::new("Gradient flow");
    section.summary.push(
        "Probes at initialisation (and at the end of training) record, for each hidden state h_k (k = 0 … K; K = depth \
         for plain nets, the number of blocks for residual ones), its RMS and the norm of the loss gradient ‖∂L/∂h_k‖. \
         A signal that neither vanishes nor explodes gives a flat profile. Each run's slope is a least-squares fit of \
         log₂ values against k; tables and charts show medians over seeds."
            .into(),
    );
    section.summary.push(
        "The residual connection adds an identity path: ∂h_k/∂h_{k−1} = 1 + α·∂v_k/∂h_{k−1}, so the gradient always has \
         a route through every block. The \"+1\" alone does not keep the signal flat: with α = 1 and no normalisation \
         each block also adds a branch of the stream's own size, doubling the stream's variance per block (after the \
         first, which triples it); α = 1/√K bounds the total growth to a factor between 2 and e²."
            .into(),
    );
    if runs.iter().any(|r| r.variant.is_conv()) {
        section.summary.push(CONV_NOTE.trim_start().to_string());
    }
    section.findings = findings(&rows, &axes);
    let probes = groups.iter().filter(|g| g.runs.iter().any(|r| r.record.result.state_rms_init.len() >= 2));
    let probed: Vec<Group> = probes.cloned().collect();
    section.charts.extend(chart::profiles(&probed, &axes, Probe::GradientNorm));
    section.charts.extend(chart::profiles(&probed, &axes, Probe::StateRms));
    section.tables.push(table(&rows, &axes)?);
    Ok(Some(section))
}

/// At init, at each variant's deepest depth: the input/output gradient ratio and the fitted
/// RMS² slope next to theory.
pub fn findings(rows: &[FlowRow], axes: &VaryingAxes) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: Vec<&Variant> = Vec::new();
    for row in rows.iter().rev().filter(|r| r.phase == Phase::Init) {
        if seen.contains(&row.variant) {
            continue;
        }
        seen.push(row.variant);
        let mut parts = Vec::new();
        if let Some(ratio) = row.grad_ratio_log2 {
            parts.push(format!("‖∂L/∂h₀‖ is {} ‖∂L/∂h_K‖ (log₂ ratio {ratio:+.2})", format_ratio(ratio.exp2())));
        }
        if let Some(slope) = row.rms_slope.map(|s| 2.0 * s) {
            let theory = match row.theory_rms2_slope {
                Some(t) => format!(" (theory {t:+.3})"),
                None => String::new(),
            };
            parts.push(format!("log₂RMS² changes by {slope:+.3} per k{theory}"));
        }
        if !parts.is_empty() {
            out.push(format!("At init, {} at depth {}: {}.", row.variant.label(axes), row.depth, parts.join("; ")));
        }
    }
    out.reverse();
    out
}

pub fn table(rows: &[FlowRow], axes: &VaryingAxes) -> Result<Table> {
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), rows.iter().map(|r| r.variant.label(axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("phase".into(), rows.iter().map(|r| r.phase.as_str()).collect::<Vec<_>>()),
        Column::new("runs".into(), rows.iter().map(|r| r.runs as u64).collect::<Vec<_>>()),
        Column::new("grad_ratio_log2".into(), rows.iter().map(|r| r.grad_ratio_log2).collect::<Vec<_>>()),
        Column::new("grad_slope".into(), rows.iter().map(|r| r.grad_slope).collect::<Vec<_>>()),
        Column::new("rms_slope".into(), rows.iter().map(|r| r.rms_slope).collect::<Vec<_>>()),
        Column::new("rms2_slope".into(), rows.iter().map(|r| r.rms_slope.map(|s| 2.0 * s)).collect::<Vec<_>>()),
        Column::new("theory_rms2_slope".into(), rows.iter().map(|r| r.theory_rms2_slope).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("gradient_flow"))?;
    Ok(Table {
        slug: "gradient_flow".into(),
        title: "Gradient flow: per-k slopes at initialisation and after training".into(),
        note: "Slopes are per layer (plain) or per block (residual), medians over seeds of per-run least-squares fits. \
               log₂(‖∂L/∂h₀‖ ÷ ‖∂L/∂h_K‖) > 0 means the gradient grows towards the input. Theory (init, ReLU, no \
               normalisation), fitted over the same k: plain He 0, plain Xavier −1, ReZero 0 (α = 0 at init); \
               residual nets with He branches the slope of the core's mean-field profile (src/theory.rs), in which the \
               stem's non-negative output makes α=1's first block triple RMS² and later ones tend to doubling, and \
               α=1/√K grow RMS² about 5.2-fold in all as K grows (not e-fold). Blank where theory gives no slope."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("phase", "probe", Format::Text),
            spec("runs", "runs", Format::Integer),
            spec("grad_ratio_log2", "log₂(‖∂L/∂h₀‖/‖∂L/∂h_K‖)", Format::Signed(2)),
            spec("grad_slope", "slope log₂‖∂L/∂h_k‖ per k", Format::Signed(3)),
            spec("rms_slope", "slope log₂RMS(h_k) per k", Format::Signed(3)),
            spec("rms2_slope", "slope log₂RMS² per k", Format::Signed(3)),
            spec("theory_rms2_slope", "theory log₂RMS² per k", Format::Signed(3)),
        ],
    })
}
