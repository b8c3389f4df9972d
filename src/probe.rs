//! Per-layer statistics of one forward/backward pass: ‖∂L/∂W_l‖ for each hidden weight
//! layer, RMS of each hidden state h_k, ‖∂L/∂h_k‖, and residual-branch magnitudes.
//! Normalisation uses batch statistics without touching running statistics, so probing
//! never changes the network.

use crate::loss::{loss_and_grad, BatchTargets};
use crate::model::{Mlp, Mode, Real};
use crate::record::ProbeStats;

/// Runs one probe pass over `n` rows and returns its statistics, or `None` if any of them is
/// not finite (a diverged network): records keep only finite numbers.
pub fn probe<T: Real>(mlp: &mut Mlp<T>, inputs: &[T], targets: BatchTargets<'_>, n: usize) -> Option<ProbeStats> {
    let classes = mlp.config().output_dim;
    let logits = mlp.forward(inputs, n, Mode::Probe);
    let mut dlogits = vec![T::zero(); logits.len()];
    let value = loss_and_grad(logits, targets, n, classes, Some(&mut dlogits));
    if !value.loss.is_finite() {
        return None;
    }
    let mut state_grad_norms = Vec::new();
    mlp.backward(inputs, &dlogits, n, Some(&mut state_grad_norms));
    let stats = mlp.probe_stats(n, state_grad_norms);
    let all_finite = [&stats.weight_grad_norms, &stats.state_rms, &stats.state_grad_norms, &stats.branch_ratios]
        .iter()
        .all(|v| v.iter().all(|x| x.is_finite()));
    all_finite.then_some(stats)
}
