//! Serde record types written by the sweep and read by the analysis crate.
//! These are the results format: field names are a contract (see README "Results format").

use serde::{Deserialize, Serialize};

// Defined beside the code that produces them (training, probes); their serde form is part of
// this format.
pub use crate::probe::ProbeStats;
pub use crate::train::LossPoint;

/// One finished training run: a line of `runs.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub experiment: String,
    pub dataset: String,
    pub arch: String,
    pub depth: usize,
    pub width: usize,
    pub block_layers: usize,
    pub activation: String,
    pub norm: String,
    /// `None` for plain runs.
    pub residual_scale: Option<String>,
    pub init: String,
    pub optimizer: String,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub steps: usize,
    pub seed: u64,
    pub machine_id: String,

    /// Losses are `None` (JSON null) when the run diverged.
    pub final_train_loss: Option<f64>,
    pub final_train_accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub diverged: bool,
    pub diverged_at_step: Option<usize>,
    pub loss_curve: Vec<LossPoint>,
    /// Full-training-set loss at the checkpoints in the last 10% of steps, and their median: a
    /// final loss that one loss spike cannot decide (absent from older files).
    #[serde(default)]
    pub tail_train_losses: Vec<LossPoint>,
    #[serde(default)]
    pub robust_train_loss: Option<f64>,

    pub weight_grad_norms_init: Vec<f64>,
    pub weight_grad_norms_final: Vec<f64>,
    pub state_rms_init: Vec<f64>,
    pub state_grad_norms_init: Vec<f64>,
    pub state_rms_final: Vec<f64>,
    pub state_grad_norms_final: Vec<f64>,
    #[serde(default)]
    pub branch_ratios_init: Vec<f64>,
    #[serde(default)]
    pub branch_ratios_final: Vec<f64>,
    /// Autocorrelation ρ(0..=16) of ∂logit₀/∂θ along arcs of inputs, averaged over
    /// `shattered_lines` arcs (empty unless asked for; see `mechanisms`).
    #[serde(default)]
    pub shattered_acf_init: Vec<f64>,
    #[serde(default)]
    pub shattered_acf_final: Vec<f64>,
    /// 0 in older files, whose ρ came from one straight line between two samples.
    #[serde(default)]
    pub shattered_lines: usize,
    /// Final training loss with hidden layer / block k replaced by the identity (empty unless asked for).
    #[serde(default)]
    pub lesion_train_losses: Vec<Option<f64>>,

    pub wall_seconds: f64,
    pub steps_per_second: f64,
}

/// The hardware and build fingerprint written as `machine.json` beside every result set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// Stable short hash of the hardware fields (not of threads, commit or date).
    pub machine_id: String,
    pub cpu_model: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub simd_features: Vec<String>,
    /// Cache levels as reported by sysfs, e.g. "L1d 48K", "L2 1024K".
    pub caches: Vec<String>,
    pub memory_bytes: u64,
    pub os: String,
    pub rustc_version: String,
    pub crate_version: String,
    pub git_commit: Option<String>,
    pub gemm_backend: String,
    pub threads: usize,
    /// UTC time the fingerprint was taken, RFC 3339.
    pub recorded_at: String,
}
