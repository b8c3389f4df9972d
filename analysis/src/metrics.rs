//! Per-run derived quantities: the variant a run belongs to, least-squares slopes of its
//! probe profiles, and what initialisation theory predicts for them.
//!
//! Theory at initialisation (infinite width, ReLU, no normalisation; the README's network
//! definitions): a w×w layer with weight variance σ² maps the second moment of a symmetric
//! pre-activation through ReLU by g = w·σ²/2, so g = 1 for He (σ² = 2/w) and g = ½ for Xavier
//! (σ² = 1/w). A plain net multiplies RMS² by g per layer; a residual block of L layers adds a
//! branch with second moment α²·g^L·RMS², so RMS² grows by (1 + α²g^L) per block (α = 1 with He
//! doubles it; α = 1/√K keeps the total bounded by e). The backward pass mirrors this: ‖∂L/∂h_k‖²
//! shrinks by the same factor per step towards the output, so the log₂‖∂L/∂h_k‖ slope is −½ of
//! the log₂RMS² slope.

use degradation_bench::config::{Activation, Arch, Init, Norm, ResidualScale};
use degradation_bench::record::RunRecord;

/// Which grid axes take more than one value among the runs analysed together; only those
/// appear in variant labels, so labels stay short (`plain`, `residual α=inv_sqrt_blocks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaryingAxes {
    pub machine: bool,
    pub experiment: bool,
    pub dataset: bool,
    pub width: bool,
    pub activation: bool,
    pub norm: bool,
    pub init: bool,
    pub block_layers: bool,
    pub optimizer: bool,
    pub steps: bool,
    pub residual_scale: bool,
}

impl VaryingAxes {
    pub fn of(runs: &[RunRecord]) -> Self {
        fn varies<T: PartialEq>(runs: &[RunRecord], key: impl Fn(&RunRecord) -> T) -> bool {
            let mut keys = runs.iter().map(key);
            match keys.next() {
                Some(first) => keys.any(|k| k != first),
                None => false,
            }
        }
        let residual: Vec<RunRecord> = runs.iter().filter(|r| r.arch != Arch::Plain).cloned().collect();
        VaryingAxes {
            machine: varies(runs, |r| r.machine_id.clone()),
            experiment: varies(runs, |r| r.experiment.clone()),
            dataset: varies(runs, |r| r.dataset),
            width: varies(runs, |r| r.width),
            activation: varies(runs, |r| r.activation),
            norm: varies(runs, |r| r.norm),
            init: varies(runs, |r| r.init),
            block_layers: varies(&residual, |r| r.block_layers),
            optimizer: varies(runs, |r| (r.optimizer, r.lr.to_bits())),
            steps: varies(runs, |r| r.steps),
            residual_scale: varies(&residual, |r| r.residual_scale),
        }
    }
}

/// The run's variant: arch, α for residual nets, then every other axis that varies.
pub fn variant_label(run: &RunRecord, axes: &VaryingAxes) -> String {
    let mut label = run.arch.to_string();
    if run.arch != Arch::Plain {
        if let Some(scale) = &run.residual_scale {
            label.push_str(&format!(" α={scale}"));
        }
    }
    let mut extras = Vec::new();
    if axes.activation {
        extras.push(run.activation.to_string());
    }
    if axes.norm {
        extras.push(format!("norm={}", run.norm));
    }
    if axes.init {
        extras.push(format!("init={}", run.init));
    }
    if axes.block_layers && run.arch != Arch::Plain {
        extras.push(format!("{}-layer blocks", run.block_layers));
    }
    if axes.width {
        extras.push(format!("w={}", run.width));
    }
    if axes.optimizer {
        extras.push(format!("{} lr={}", run.optimizer, run.lr));
    }
    if axes.steps {
        extras.push(format!("{} steps", run.steps));
    }
    if axes.dataset {
        extras.push(run.dataset.to_string());
    }
    if !extras.is_empty() {
        label = format!("{label}, {}", extras.join(", "));
    }
    let mut prefix = Vec::new();
    if axes.experiment {
        prefix.push(run.experiment.clone());
    }
    if axes.machine {
        prefix.push(run.machine_id.clone());
    }
    if prefix.is_empty() {
        label
    } else {
        format!("[{}] {label}", prefix.join(" "))
    }
}

/// What distinguishes lines within one chart panel: arch, α, and the normalisation when it varies.
pub fn line_label(run: &RunRecord, axes: &VaryingAxes) -> String {
    let mut label = run.arch.to_string();
    if run.arch != Arch::Plain {
        if let Some(scale) = &run.residual_scale {
            label.push_str(&format!(" α={scale}"));
        }
    }
    if axes.norm {
        label.push_str(&format!(", norm={}", run.norm));
    }
    label
}

/// Everything else that varies: one chart panel each when there are too many variants for one.
/// Empty when nothing else varies.
pub fn facet_label(run: &RunRecord, axes: &VaryingAxes) -> String {
    let mut parts = Vec::new();
    if axes.experiment {
        parts.push(run.experiment.clone());
    }
    if axes.machine {
        parts.push(run.machine_id.clone());
    }
    if axes.activation {
        parts.push(run.activation.to_string());
    }
    if axes.init {
        parts.push(format!("init={}", run.init));
    }
    if axes.block_layers {
        parts.push(format!("{}-layer blocks", run.block_layers));
    }
    if axes.width {
        parts.push(format!("w={}", run.width));
    }
    if axes.optimizer {
        parts.push(format!("{} lr={}", run.optimizer, run.lr));
    }
    if axes.steps {
        parts.push(format!("{} steps", run.steps));
    }
    if axes.dataset {
        parts.push(run.dataset.to_string());
    }
    parts.join(", ")
}

/// Orders labels as a person reads them: digit runs compare as numbers (`w=64` < `w=256`).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    }
    let (a, b) = (chunks(a), chunks(b));
    for (x, y) in a.iter().zip(&b) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// Position of each label among the distinct labels in natural order (a sort key for tables).
pub fn natural_rank(labels: &[String]) -> Vec<u32> {
    let mut distinct: Vec<&String> = labels.iter().collect();
    distinct.sort_by(|a, b| natural_cmp(a, b));
    distinct.dedup();
    labels.iter().map(|l| distinct.iter().position(|d| *d == l).unwrap_or(0) as u32).collect()
}

/// Least-squares slope of `values[k]` against k = 0, 1, …, skipping non-finite values.
/// `None` with fewer than two usable points.
pub fn fit_slope(values: &[f64]) -> Option<f64> {
    let points: Vec<(f64, f64)> =
        values.iter().enumerate().filter(|(_, y)| y.is_finite()).map(|(k, &y)| (k as f64, y)).collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(sxy / sxx)
}

/// log₂ of each value; non-positive values (a dead gradient) become NaN and drop out of fits.
pub fn log2_all(values: &[f64]) -> Vec<f64> {
    values.iter().map(|&v| if v > 0.0 { v.log2() } else { f64::NAN }).collect()
}

/// Gradient-flow summary of one probe (at init or at the end of training).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowStats {
    /// log₂(‖∂L/∂h₀‖ ÷ ‖∂L/∂h_K‖): how much larger the input-side gradient is.
    pub grad_ratio_log2: Option<f64>,
    /// Fitted slope of log₂‖∂L/∂h_k‖ per k.
    pub grad_slope: Option<f64>,
    /// Fitted slope of log₂ RMS(h_k) per k.
    pub rms_slope: Option<f64>,
}

pub fn flow_stats(state_grad_norms: &[f64], state_rms: &[f64]) -> FlowStats {
    let grad_ratio_log2 = match (state_grad_norms.first(), state_grad_norms.last()) {
        (Some(&first), Some(&last)) if state_grad_norms.len() >= 2 && first > 0.0 && last > 0.0 => {
            let ratio = (first / last).log2();
            ratio.is_finite().then_some(ratio)
        }
        _ => None,
    };
    FlowStats {
        grad_ratio_log2,
        grad_slope: fit_slope(&log2_all(state_grad_norms)),
        rms_slope: fit_slope(&log2_all(state_rms)),
    }
}

/// Predicted slope of log₂ RMS²(h_k) per k at initialisation, where theory gives one
/// (ReLU, no normalisation, He or Xavier); see the module docs.
pub fn theory_rms2_slope(run: &RunRecord) -> Option<f64> {
    if run.activation != Activation::Relu || run.norm != Norm::None {
        return None;
    }
    let gain = match run.init {
        Init::He => 1.0,
        Init::Xavier => 0.5,
    };
    if run.arch == Arch::Plain {
        return Some(f64::log2(gain));
    }
    let blocks = (run.depth / run.block_layers.max(1)).max(1) as f64;
    let alpha2 = match run.residual_scale? {
        ResidualScale::One => 1.0,
        ResidualScale::InvSqrtBlocks => 1.0 / blocks,
        ResidualScale::Rezero => 0.0,
    };
    let branch = alpha2 * f64::powi(gain, run.block_layers as i32);
    Some((1.0 + branch).log2())
}

/// Predicted slope of log₂‖∂L/∂h_k‖ per k at initialisation: −½ of the RMS² slope.
pub fn theory_grad_slope(run: &RunRecord) -> Option<f64> {
    theory_rms2_slope(run).map(|s| -0.5 * s)
}

/// Median of the finite values; `None` if there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    quantile(values, 0.5)
}

/// Linear-interpolation quantile (the same rule as polars' `QuantileMethod::Linear`).
pub fn quantile(values: impl IntoIterator<Item = f64>, q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let position = q * (v.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    Some(v[low] + (v[high] - v[low]) * (position - low as f64))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use degradation_bench::record::LossPoint;

    /// A synthetic run whose probes follow exact geometric profiles. Built from JSON, as a
    /// runs.jsonl line is, so fields the core adds with defaults don't break it.
    pub fn synthetic_run(arch: &str, depth: usize, seed: u64, final_loss: Option<f64>) -> RunRecord {
        let blocks = if arch == "plain" { depth } else { depth / 2 };
        let loss_curve: Vec<LossPoint> = (0..=4)
            .map(|i| LossPoint { step: i * 25, loss: Some(2.3 / (1.0 + i as f64 * depth as f64 / 16.0)) })
            .collect();
        // ‖∂L/∂h_k‖ = 2^(−0.25·k), RMS(h_k) = 3 · 2^(0.5·k)
        let state_rms: Vec<f64> = (0..=blocks).map(|k| 3.0 * f64::powf(2.0, 0.5 * k as f64)).collect();
        let state_grads: Vec<f64> = (0..=blocks).map(|k| f64::powf(2.0, -0.25 * k as f64)).collect();
        serde_json::from_value(serde_json::json!({
            "run_id": format!("{arch}-d{depth}-s{seed}"),
            "experiment": "quick", "dataset": "digits", "arch": arch, "depth": depth, "width": 64,
            "block_layers": 2, "activation": "relu", "norm": "none",
            "residual_scale": (arch != "plain").then_some("inv_sqrt_blocks"),
            "init": "he", "optimizer": "adam", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0,
            "batch_size": 64, "steps": 100, "seed": seed, "machine_id": "m1",
            "final_train_loss": final_loss,
            "final_train_accuracy": final_loss.map(|_| 0.9),
            "test_loss": final_loss,
            "test_accuracy": final_loss.map(|_| 0.8 + 0.01 * seed as f64),
            "diverged": final_loss.is_none(),
            "diverged_at_step": final_loss.is_none().then_some(50),
            "loss_curve": loss_curve,
            "weight_grad_norms_init": vec![1.0; depth],
            "weight_grad_norms_final": vec![1.0; depth],
            "state_rms_init": state_rms,
            "state_grad_norms_init": state_grads,
            "state_rms_final": vec![1.0; blocks + 1],
            "state_grad_norms_final": vec![1.0; blocks + 1],
            "wall_seconds": 1.0, "steps_per_second": 100.0,
        }))
        .expect("a valid run record")
    }

    #[test]
    fn slope_of_exact_lines() {
        let line: Vec<f64> = (0..10).map(|k| 1.5 - 0.75 * k as f64).collect();
        assert!((fit_slope(&line).unwrap() + 0.75).abs() < 1e-12);
        assert_eq!(fit_slope(&[1.0]), None);
        // Non-finite points drop out without bending the fit.
        let with_gap = [0.0, 2.0, f64::NAN, 6.0, f64::NEG_INFINITY, 10.0];
        assert!((fit_slope(&with_gap).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn flow_stats_of_geometric_profiles() {
        let run = synthetic_run("plain", 8, 0, Some(0.1));
        let stats = flow_stats(&run.state_grad_norms_init, &run.state_rms_init);
        assert!((stats.grad_slope.unwrap() + 0.25).abs() < 1e-12);
        assert!((stats.rms_slope.unwrap() - 0.5).abs() < 1e-12);
        // h_0 to h_8: 2^0 / 2^-2 → log₂ ratio 2.
        assert!((stats.grad_ratio_log2.unwrap() - 2.0).abs() < 1e-12);
        let dead = flow_stats(&[0.0, 1.0], &[1.0]);
        assert_eq!(dead.grad_ratio_log2, None);
        assert_eq!(dead.rms_slope, None);
    }

    #[test]
    fn theory_matches_the_textbook_cases() {
        let mut run = synthetic_run("plain", 16, 0, Some(0.1));
        assert_eq!(theory_rms2_slope(&run), Some(0.0));
        run.init = Init::Xavier;
        assert_eq!(theory_rms2_slope(&run), Some(-1.0));
        assert_eq!(theory_grad_slope(&run), Some(0.5));
        run.norm = Norm::Layer;
        assert_eq!(theory_rms2_slope(&run), None);

        let mut res = synthetic_run("residual", 16, 0, Some(0.1));
        res.residual_scale = Some(ResidualScale::One);
        assert_eq!(theory_rms2_slope(&res), Some(1.0));
        res.residual_scale = Some(ResidualScale::InvSqrtBlocks);
        // K = 8 blocks: log₂(1 + 1/8) per block, bounded in total by log₂ e.
        let slope = theory_rms2_slope(&res).unwrap();
        assert!((slope - (1.125f64).log2()).abs() < 1e-12);
        assert!(slope * 8.0 < std::f64::consts::E.log2());
        res.activation = Activation::Tanh;
        assert_eq!(theory_rms2_slope(&res), None);
    }

    #[test]
    fn labels_show_only_varying_axes() {
        let plain = synthetic_run("plain", 4, 0, Some(0.1));
        let mut res = synthetic_run("residual", 4, 0, Some(0.1));
        let axes = VaryingAxes::of(&[plain.clone(), res.clone()]);
        assert_eq!(variant_label(&plain, &axes), "plain");
        assert_eq!(variant_label(&res, &axes), "residual α=inv_sqrt_blocks");
        res.norm = Norm::Layer;
        let axes = VaryingAxes::of(&[plain.clone(), res.clone()]);
        assert_eq!(variant_label(&plain, &axes), "plain, norm=none");
        assert_eq!(variant_label(&res, &axes), "residual α=inv_sqrt_blocks, norm=layer");
        assert_eq!(line_label(&res, &axes), "residual α=inv_sqrt_blocks, norm=layer");
        assert_eq!(facet_label(&res, &axes), "");
        res.width = 256;
        let axes = VaryingAxes::of(&[plain.clone(), res.clone()]);
        assert_eq!(facet_label(&res, &axes), "w=256");
        assert_eq!(facet_label(&plain, &axes), "w=64");
    }

    #[test]
    fn natural_order_reads_numbers() {
        let mut v = vec!["w=256", "w=64", "w=16", "plain", "residual α=one"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["plain", "residual α=one", "w=16", "w=64", "w=256"]);
        let labels: Vec<String> = ["b2", "b10", "b2", "a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(natural_rank(&labels), [1, 2, 1, 0]);
    }

    #[test]
    fn quantiles_interpolate_linearly() {
        let v = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert_eq!(median(v), Some(2.5));
        assert_eq!(quantile(v, 0.25), Some(1.75));
        assert_eq!(quantile(v, 0.75), Some(3.25));
        assert_eq!(median([f64::NAN]), None);
    }
}
