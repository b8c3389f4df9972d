//! What a run measured, as the results format keeps it: loss curves, probe statistics, the
//! perturbed twin's distances and where the run's time went. Training fills these in; they
//! live here, below training, so that a change to the trainer is never silently a change to
//! the format.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads a list of per-layer values in which a non-finite value was written as `null` (how JSON
/// writes NaN and ±∞): it comes back as NaN, so every record the sweep writes reads back, and
/// writes back to the same line. A layer whose gradient overflowed is a measurement, not a
/// broken file.
pub fn values_with_nulls<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
    let values: Vec<Option<f64>> = Vec::deserialize(deserializer)?;
    Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// One point of a loss curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: usize,
    /// Mean training loss over the minibatches since the previous checkpoint; `None` if it was not finite.
    pub loss: Option<f64>,
}

/// Per-layer statistics of one forward/backward pass (as the run records keep them).
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

/// The twin against the run at one checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerturbationPoint {
    pub step: usize,
    /// ‖θ_twin − θ‖ / ‖θ‖ over all parameters; `None` when not finite.
    pub param_distance: Option<f64>,
    /// |L_twin − L| / L of the mean minibatch loss since the previous checkpoint; `None` when
    /// either loss is not finite.
    pub loss_difference: Option<f64>,
}

/// The instruments at one checkpoint (Cockpit-style): how well the net fits the training and
/// the test set, and where in depth it is still learning. Step 0 is the initial network.
/// Recorded only for runs that ask for them (`instruments = true` in the experiment file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentPoint {
    pub step: usize,
    /// Loss on the first `instrument_samples` training samples (all of a smaller set), in
    /// evaluation mode (batch norm on its running statistics); `None` when not finite.
    pub train_loss: Option<f64>,
    /// 1 − accuracy on those samples (classification only).
    pub train_error: Option<f64>,
    /// Loss and 1 − accuracy on the first `instrument_samples` test samples.
    pub test_loss: Option<f64>,
    pub test_error: Option<f64>,
    /// ‖∂L/∂W_l‖ of this step's minibatch, per hidden weight layer, input side first (empty at step 0).
    #[serde(deserialize_with = "values_with_nulls")]
    pub weight_grad_norms: Vec<f64>,
    /// ‖ΔW_l‖ ÷ ‖W_l‖ of this step's update, per hidden weight layer (empty at step 0).
    #[serde(deserialize_with = "values_with_nulls")]
    pub update_ratios: Vec<f64>,
    /// ‖W_l − W_l(0)‖ ÷ ‖W_l(0)‖ per hidden weight layer.
    #[serde(deserialize_with = "values_with_nulls")]
    pub distance_from_init: Vec<f64>,
}

/// Seconds spent in each part of one run. The parts do not overlap, and together they cover
/// the run from the start of `train` to its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    /// Building the network, optimizer, batch order and buffers.
    pub setup: f64,
    /// The training steps (gather, forward, loss, backward, update) and the loss curve's
    /// bookkeeping: what `steps_per_second` counts.
    pub steps: f64,
    /// Full-training-set evaluations at the checkpoints of the last 10% of steps (the robust loss).
    pub tail_evaluation: f64,
    /// The final evaluation on the training and the test set.
    pub final_evaluation: f64,
    /// Gradient and state probes at initialisation and at the end.
    pub probes: f64,
    /// Shattered gradients and lesions (zero unless asked for).
    pub mechanisms: f64,
    /// The perturbed twin's steps and distances (zero unless asked for).
    pub twin: f64,
    /// The instruments' evaluations and norms at the checkpoints (zero unless asked for, and
    /// then left out of the line, so older files re-serialise unchanged).
    #[serde(default, skip_serializing_if = "is_zero_seconds")]
    pub instruments: f64,
}

impl TimeSplit {
    /// The parts with their names, in the order above (the names are the JSON field names).
    pub fn parts(&self) -> [(&'static str, f64); 8] {
        [
            ("setup", self.setup),
            ("steps", self.steps),
            ("tail_evaluation", self.tail_evaluation),
            ("final_evaluation", self.final_evaluation),
            ("probes", self.probes),
            ("mechanisms", self.mechanisms),
            ("twin", self.twin),
            ("instruments", self.instruments),
        ]
    }

    pub fn total(&self) -> f64 {
        self.parts().iter().map(|(_, s)| s).sum()
    }

    /// Adds `other` part by part (a sweep's totals over its runs).
    pub fn add(&mut self, other: &TimeSplit) {
        self.setup += other.setup;
        self.steps += other.steps;
        self.tail_evaluation += other.tail_evaluation;
        self.final_evaluation += other.final_evaluation;
        self.probes += other.probes;
        self.mechanisms += other.mechanisms;
        self.twin += other.twin;
        self.instruments += other.instruments;
    }
}

fn is_zero_seconds(seconds: &f64) -> bool {
    *seconds == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_sums_every_part() {
        let one = TimeSplit {
            setup: 1.0,
            steps: 2.0,
            tail_evaluation: 4.0,
            final_evaluation: 8.0,
            probes: 16.0,
            mechanisms: 32.0,
            twin: 64.0,
            instruments: 128.0,
        };
        let mut sum = one;
        sum.add(&one);
        for ((name, twice), (_, once)) in sum.parts().into_iter().zip(one.parts()) {
            assert_eq!(twice, 2.0 * once, "{name}");
        }
        assert_eq!(one.total(), 255.0);
    }
}
