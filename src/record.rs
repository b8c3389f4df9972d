//! Serde record types written by the sweep and read by the analysis crate.
//! These are the results format: field names are a contract (see README "Results format").

use serde::{Deserialize, Serialize};

/// One point of a loss curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: usize,
    /// Mean training loss over the minibatches since the previous checkpoint; `None` if it was not finite.
    pub loss: Option<f64>,
}

/// Per-layer statistics of one forward/backward pass (see `probe`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    /// ‖∂L/∂W_l‖ (Frobenius) for each hidden weight layer, input side first.
    pub weight_grad_norms: Vec<f64>,
    /// RMS of each hidden state h_k over batch and units, k = 0..K.
    pub state_rms: Vec<f64>,
    /// ‖∂L/∂h_k‖ (Frobenius over the batch), k = 0..K.
    pub state_grad_norms: Vec<f64>,
    /// ‖α_k·v_k‖ ÷ ‖h_{k−1}‖ per residual block (empty for plain nets).
    #[serde(default)]
    pub branch_ratios: Vec<f64>,
}

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
    /// Autocorrelation ρ(0..=16) of ∂logit₀/∂t along a line of inputs (empty unless asked for).
    #[serde(default)]
    pub shattered_acf_init: Vec<f64>,
    #[serde(default)]
    pub shattered_acf_final: Vec<f64>,
    /// Final training loss with hidden layer / block k replaced by the identity (empty unless asked for).
    #[serde(default)]
    pub lesion_train_losses: Vec<Option<f64>>,

    pub wall_seconds: f64,
    pub steps_per_second: f64,
    /// The implementation that trained the run when it is not this crate, e.g. "pytorch 2.15.0"
    /// (peers/pytorch/parity.py run); absent for this crate's own runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
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
