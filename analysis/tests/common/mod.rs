//! Synthetic inputs shaped like real ones: a sweep results directory and a criterion tree.
//! Shared by the end-to-end tests and `examples/synthetic.rs` (which writes them for a look).
#![allow(dead_code)]

use degradation_bench::record::{LossPoint, MachineInfo, RunRecord};
use std::fs;
use std::path::Path;

/// Deterministic noise in [-1, 1) (an LCG; no RNG crate needed).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

pub fn machine(id: &str, cpu: &str) -> MachineInfo {
    MachineInfo {
        machine_id: id.into(),
        cpu_model: cpu.into(),
        logical_cores: 2,
        physical_cores: Some(1),
        simd_features: vec!["avx2".into(), "fma".into(), "avx512f".into()],
        caches: vec!["L1d 48K".into(), "L2 1024K".into(), "L3 32768K".into()],
        memory_bytes: 24 << 30,
        os: "Linux (Debian 13)".into(),
        rustc_version: "rustc 1.91.0".into(),
        crate_version: "0.1.0".into(),
        git_commit: Some("abc1234".into()),
        gemm_backend: "gemm 0.19 (f32)".into(),
        threads: 2,
        recorded_at: "2026-11-26T19:00:00Z".into(),
    }
}

/// A run shaped like the quick preset's: plain nets degrade past depth ~8, residual ones don't.
pub fn run(arch: &str, scale: Option<&str>, depth: usize, seed: u64, machine_id: &str) -> RunRecord {
    let mut noise = Noise::new(seed * 1000 + depth as u64 * 7 + if arch == "plain" { 0 } else { 1 });
    let blocks = if arch == "plain" { depth } else { depth / 2 };
    let log_depth = (depth as f64).log2();
    let final_loss = if arch == "plain" {
        // best near depth 8, then up to chance level (ln 10) at 128
        let x = log_depth - 3.0;
        let decades = if x < 0.0 { -0.3 * x } else { 0.96 * x };
        (0.01 * 10f64.powf(decades)).min(2.30) * (1.0 + 0.1 * noise.next())
    } else {
        3e-3 * 10f64.powf(-0.4 * log_depth) * (1.0 + 0.3 * noise.next())
    };
    let steps = 1500;
    let loss_curve: Vec<LossPoint> = (0..=30)
        .map(|i| {
            let step = i * steps / 30;
            let t = step as f64 / steps as f64;
            let loss = 2.3 * (final_loss / 2.3).powf(t.powf(0.6)) * (1.0 + 0.05 * noise.next());
            LossPoint { step, loss: Some(loss) }
        })
        .collect();
    let k_rms_slope = match (arch, scale) {
        ("plain", _) => 0.0,
        (_, Some("one")) => 0.5,
        _ => 0.5 * (1.0 + 1.0 / blocks as f64).log2(),
    };
    let rms: Vec<f64> = (0..=blocks).map(|k| 0.8 * 2f64.powf(k_rms_slope * k as f64 + 0.03 * noise.next())).collect();
    let grads: Vec<f64> =
        (0..=blocks).map(|k| 0.05 * 2f64.powf(-k_rms_slope * k as f64 + 0.05 * noise.next())).collect();
    // Built from JSON, as a runs.jsonl line is, so fields the core adds with defaults don't break it.
    serde_json::from_value(serde_json::json!({
        "run_id": format!("{arch}-{}-d{depth}-s{seed}", scale.unwrap_or("none")),
        "experiment": "quick", "dataset": "digits", "arch": arch, "depth": depth, "width": 64,
        "block_layers": 2, "activation": "relu", "norm": "none", "residual_scale": scale,
        "init": "he", "optimizer": "adam", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0,
        "batch_size": 64, "steps": steps, "seed": seed, "machine_id": machine_id,
        "final_train_loss": final_loss,
        "final_train_accuracy": 1.0 - final_loss.min(0.9),
        "test_loss": final_loss + 0.1,
        "test_accuracy": 0.97 - 0.3 * (final_loss / 2.3),
        "diverged": false,
        "diverged_at_step": null,
        "loss_curve": loss_curve,
        "weight_grad_norms_init": vec![0.1; depth],
        "weight_grad_norms_final": vec![0.01; depth],
        "state_rms_init": rms.clone(),
        "state_grad_norms_init": grads.clone(),
        "state_rms_final": rms.iter().map(|r| r * 1.5).collect::<Vec<_>>(),
        "state_grad_norms_final": grads.iter().map(|g| g * 0.01).collect::<Vec<_>>(),
        "wall_seconds": depth as f64 * 0.05,
        "steps_per_second": 3000.0 / depth as f64,
    }))
    .expect("a valid run record")
}

pub const QUICK_TOML: &str = r#"name = "quick"
dataset = "digits"
archs = ["plain", "residual"]
depths = [2, 4, 8, 16, 32, 64, 128]
widths = [64]
activations = ["relu"]
norms = ["none"]
residual_scales = ["inv_sqrt_blocks"]
block_layers = 2
inits = ["he"]
seeds = [0, 1, 2]
steps = 1500
batch_size = 64
checkpoints = 30

[optimizer]
kind = "adam"
lr = 0.001
"#;

/// Writes a quick-preset-like results directory.
pub fn write_results(dir: &Path, machine_id: &str) {
    fs::create_dir_all(dir).unwrap();
    let mut lines = String::new();
    for depth in [2, 4, 8, 16, 32, 64, 128] {
        for seed in 0..3 {
            for (arch, scale) in [("plain", None), ("residual", Some("inv_sqrt_blocks"))] {
                let record = run(arch, scale, depth, seed, machine_id);
                lines.push_str(&serde_json::to_string(&record).unwrap());
                lines.push('\n');
            }
        }
    }
    fs::write(dir.join("runs.jsonl"), lines).unwrap();
    let machine = machine(machine_id, "AMD EPYC 9R14 (synthetic)");
    fs::write(dir.join("machine.json"), serde_json::to_string_pretty(&machine).unwrap()).unwrap();
    fs::write(dir.join("experiment.toml"), QUICK_TOML).unwrap();
}

fn write_bench(root: &Path, group: &str, function: &str, param: &str, median_ns: f64, flops: f64) {
    let dir = root.join(group).join(function).join(param).join("new");
    fs::create_dir_all(&dir).unwrap();
    let estimates = serde_json::json!({
        "mean": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": median_ns, "upper_bound": median_ns},
                 "point_estimate": median_ns * 1.02, "standard_error": median_ns * 0.01},
        "median": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": median_ns, "upper_bound": median_ns},
                   "point_estimate": median_ns, "standard_error": median_ns * 0.01},
    });
    fs::write(dir.join("estimates.json"), estimates.to_string()).unwrap();
    let id = format!("{group}/{function}/{param}");
    let benchmark = serde_json::json!({
        "group_id": group, "function_id": function, "value_str": param,
        "throughput": {"Elements": flops as u64}, "full_id": id, "directory_name": id, "title": id,
    });
    fs::write(dir.join("benchmark.json"), benchmark.to_string()).unwrap();
}

/// Writes a criterion tree like the quick bench grid; `speed` scales every GFLOP/s.
pub fn write_criterion(root: &Path, machine_id: &str, cpu: &str, speed: f64) {
    let batch = 128.0;
    let ceiling = |w: f64| {
        speed
            * if w <= 64.0 {
                60.0
            } else if w <= 256.0 {
                100.0
            } else {
                105.0
            }
    };
    for width in [64usize, 256, 1024] {
        let w = width as f64;
        let flops = 2.0 * batch * w * w;
        write_bench(root, "gemm_ceiling", "f32", &format!("w{width}"), flops / ceiling(w), flops);
        for depth in [4usize, 16, 64] {
            for (group, factor, efficiency) in
                [("forward", 1.0, 0.8), ("backward", 3.0, 0.75), ("train_step", 3.0, 0.7)]
            {
                let efficiency = if width == 64 { efficiency * 0.6 } else { efficiency * 1.1 };
                let flops = factor * 2.0 * batch * w * w * depth as f64;
                let plain_ns = flops / (ceiling(w) * efficiency);
                let overhead = if width == 64 { 1.08 } else { 1.02 } + 0.01 * (depth as f64).log2() / 6.0;
                write_bench(root, group, "plain", &format!("d{depth}_w{width}"), plain_ns, flops);
                write_bench(root, group, "residual", &format!("d{depth}_w{width}"), plain_ns * overhead, flops);
            }
        }
    }
    let machine = machine(machine_id, cpu);
    fs::write(root.join("machine.json"), serde_json::to_string_pretty(&machine).unwrap()).unwrap();
}

/// Writes a results directory of `experiment` with the given runs (the quick preset's TOML,
/// renamed), for the mechanism-probe and longer-training sections.
pub fn write_runs(dir: &Path, experiment: &str, runs: &[RunRecord]) {
    fs::create_dir_all(dir).unwrap();
    let lines: String = runs.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    fs::write(dir.join("runs.jsonl"), lines).unwrap();
    let machine = machine(&runs[0].machine_id, "AMD EPYC 9R14 (synthetic)");
    fs::write(dir.join("machine.json"), serde_json::to_string_pretty(&machine).unwrap()).unwrap();
    fs::write(dir.join("experiment.toml"), QUICK_TOML.replace("name = \"quick\"", &format!("name = \"{experiment}\"")))
        .unwrap();
}

/// A run of the mechanisms preset: plain gradients decorrelate with depth (ρ(1) = 1 − depth/256),
/// residual ones stay at 0.97; a lesion multiplies a plain net's loss by 1000 and a residual
/// one's by 2; branch ratios are 1.2/√K at init and 1.5/√K at the end.
pub fn mechanisms_run(arch: &str, depth: usize) -> RunRecord {
    let scale = (arch != "plain").then_some("inv_sqrt_blocks");
    let mut r = run(arch, scale, depth, 0, "m1");
    r.experiment = "mechanisms".into();
    r.run_id = format!("{}-mechanisms", r.run_id);
    let rho = if arch == "plain" { 1.0 - depth as f64 / 256.0 } else { 0.97 };
    r.result.shattered_acf_init = vec![1.0, rho, rho * rho];
    r.result.shattered_acf_final = vec![1.0, 0.99, 0.98];
    let loss = r.result.final_train_loss.unwrap();
    let positions = if arch == "plain" { depth } else { depth / 2 };
    let factor = if arch == "plain" { 1000.0 } else { 2.0 };
    r.result.lesion_train_losses = vec![Some(loss * factor); positions];
    if arch != "plain" {
        let alpha = 1.0 / (positions as f64).sqrt();
        r.result.branch_ratios_init = vec![1.2 * alpha; positions];
        r.result.branch_ratios_final = vec![1.5 * alpha; positions];
    }
    r
}

/// Rows of a CSV file as header → field maps (RFC 4180 quoting, as the report writes it).
pub fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parse = |line: &str| -> Vec<String> {
        let (mut fields, mut field, mut quoted, mut chars) =
            (Vec::new(), String::new(), false, line.chars().peekable());
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                (c, _) => field.push(c),
            }
        }
        fields.push(field);
        fields
    };
    let mut lines = text.lines();
    let header = parse(lines.next().expect("a header line"));
    lines
        .map(|l| {
            let fields = parse(l);
            assert_eq!(fields.len(), header.len(), "{}: {l}", path.display());
            header.iter().cloned().zip(fields).collect()
        })
        .collect()
}

pub fn number(row: &std::collections::HashMap<String, String>, column: &str) -> Option<f64> {
    let text = row.get(column).unwrap_or_else(|| panic!("no column {column} in {row:?}"));
    (!text.is_empty()).then(|| text.parse().unwrap_or_else(|e| panic!("{column} = {text:?}: {e}")))
}

/// An SVG the report wrote: a whole document, at most 1000 px wide (a repository page), with
/// every expected text.
pub fn check_svg(path: &Path, texts: &[&str]) {
    let svg = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{} is not a whole SVG", path.display());
    let width: f64 = svg
        .split_once("width=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{}: no width", path.display()));
    assert!(width <= 1000.0, "{}: {width} px wide", path.display());
    for text in texts {
        assert!(svg.contains(text), "{} lacks {text:?}", path.display());
    }
}

pub fn median(values: Vec<f64>) -> f64 {
    degradation_analysis::stats::median_with_infinities(values).expect("values, none NaN")
}
