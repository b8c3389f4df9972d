//! What the benches share: where results go, whether this run measures, a median with a
//! distribution-free interval, and the three products of a dense layer.
//!
//! These benches time themselves instead of going through criterion because they interleave
//! the alternatives they compare (A, B, A, B, …): on a machine shared with other work, a slow
//! minute then hits every alternative alike instead of whichever ran during it.

#![allow(dead_code)] // each bench target uses its own subset

pub mod cpu_time;
pub mod sampling;

use serde::Serialize;
use std::path::{Path, PathBuf};

/// The three products of a dense layer's train step: y = x·Wᵀ, ∂x = ∂y·W, ∂W = ∂yᵀ·x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    Forward,
    InputGrad,
    WeightGrad,
}

impl Product {
    pub const ALL: [Product; 3] = [Product::Forward, Product::InputGrad, Product::WeightGrad];

    pub fn name(self) -> &'static str {
        match self {
            Product::Forward => "forward",
            Product::InputGrad => "input_grad",
            Product::WeightGrad => "weight_grad",
        }
    }
}

/// Criterion's output directory, found the way criterion finds it: `CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the target directory `cargo metadata` names, else
/// `target/criterion`. Results written here sit beside the `mlp` bench's and its machine.json.
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let from_metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let output =
            std::process::Command::new(cargo).args(["metadata", "--format-version", "1", "--no-deps"]).output().ok()?;
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        Some(PathBuf::from(metadata.get("target_directory")?.as_str()?))
    });
    from_metadata.unwrap_or_else(|| PathBuf::from("target")).join("criterion")
}

/// How the bench binary was invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// `cargo bench`: measure and write results.
    Measure,
    /// `cargo bench -- --list`: print the ids only.
    List,
    /// `cargo test --benches` (no `--bench` flag): run every point once, briefly, write nothing.
    Smoke,
}

impl Invocation {
    pub fn from_args() -> Self {
        let has = |flag: &str| std::env::args().any(|a| a == flag);
        if has("--list") {
            Invocation::List
        } else if has("--bench") && !has("--test") {
            Invocation::Measure
        } else {
            Invocation::Smoke
        }
    }
}

/// The positional arguments after `cargo bench --bench X --`: substrings an id must contain
/// to run (all ids run when none is given).
pub fn filters() -> Vec<String> {
    std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect()
}

pub fn selected(id: &str, filters: &[String]) -> bool {
    filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str()))
}

/// Median of repeated measurements with a 95 % interval for it that assumes nothing about
/// their distribution (order statistics of the binomial(n, ½) count below the median), plus
/// the best decile and the best sample. Other work on the machine only ever makes a sample
/// worse, so on a shared machine the best decile is the closest robust estimate of what the
/// hardware does unhindered, and the median is what a user typically gets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// The 90th percentile of rates, the 10th of times.
    pub best_decile: f64,
    pub best: f64,
    pub samples: usize,
}

impl Summary {
    /// `higher_is_better` picks `best` as the maximum (rates) or the minimum (times).
    pub fn of(values: &[f64], higher_is_better: bool) -> Summary {
        assert!(!values.is_empty(), "a summary of no samples");
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) };
        // Normal approximation to the binomial: ranks n/2 ∓ 1.96·√n/2, clamped to the sample.
        let half_width = 0.98 * (n as f64).sqrt();
        let low_rank = ((n as f64 / 2.0 - half_width).floor().max(1.0) as usize).min(n) - 1;
        let high_rank = ((n as f64 / 2.0 + half_width).ceil() as usize).clamp(1, n) - 1;
        let decile = ((n - 1) as f64 * 0.1).round() as usize;
        let (best_decile, best) =
            if higher_is_better { (sorted[n - 1 - decile], sorted[n - 1]) } else { (sorted[decile], sorted[0]) };
        Summary { median, low: sorted[low_rank], high: sorted[high_rank], best_decile, best, samples: n }
    }
}

/// Writes `value` as pretty JSON to `dir/name`, creating `dir`.
pub fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}
