//! The variant a run belongs to (arch, α, norm, init, …) and how it is shown: labels over
//! the axes that vary, in natural order.

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
        let residual: Vec<RunRecord> = runs.iter().filter(|r| r.arch != "plain").cloned().collect();
        VaryingAxes {
            machine: varies(runs, |r| r.machine_id.clone()),
            experiment: varies(runs, |r| r.experiment.clone()),
            dataset: varies(runs, |r| r.dataset.clone()),
            width: varies(runs, |r| r.width),
            activation: varies(runs, |r| r.activation.clone()),
            norm: varies(runs, |r| r.norm.clone()),
            init: varies(runs, |r| r.init.clone()),
            block_layers: varies(&residual, |r| r.block_layers),
            optimizer: varies(runs, |r| (r.optimizer.clone(), r.lr.to_bits())),
            steps: varies(runs, |r| r.steps),
            residual_scale: varies(&residual, |r| r.residual_scale.clone()),
        }
    }
}

/// The run's variant: arch, α for residual nets, then every other axis that varies.
pub fn variant_label(run: &RunRecord, axes: &VaryingAxes) -> String {
    let mut label = run.arch.clone();
    if run.arch != "plain" {
        if let Some(scale) = &run.residual_scale {
            label.push_str(&format!(" α={scale}"));
        }
    }
    let mut extras = Vec::new();
    if axes.activation {
        extras.push(run.activation.clone());
    }
    if axes.norm {
        extras.push(format!("norm={}", run.norm));
    }
    if axes.init {
        extras.push(format!("init={}", run.init));
    }
    if axes.block_layers && run.arch != "plain" {
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
        extras.push(run.dataset.clone());
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
    let mut label = run.arch.clone();
    if run.arch != "plain" {
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
        parts.push(run.activation.clone());
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
        parts.push(run.dataset.clone());
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
    fn labels_show_only_varying_axes() {
        let plain = synthetic_run("plain", 4, 0, Some(0.1));
        let mut res = synthetic_run("residual", 4, 0, Some(0.1));
        let axes = VaryingAxes::of(&[plain.clone(), res.clone()]);
        assert_eq!(variant_label(&plain, &axes), "plain");
        assert_eq!(variant_label(&res, &axes), "residual α=inv_sqrt_blocks");
        res.norm = "layer".into();
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
}
