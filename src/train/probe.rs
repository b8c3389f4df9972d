//! Per-layer statistics of one forward/backward pass: ‖∂L/∂W_l‖ for each hidden weight
//! layer, RMS of each hidden state h_k, ‖∂L/∂h_k‖, and residual-branch magnitudes.
//! Normalisation uses batch statistics without touching running statistics, so probing
//! never changes the network.

use crate::model::{Mode, Network, Real};
use crate::record::ProbeStats;
use crate::train::loss::{loss_and_grad, BatchTargets};
use ndarray::{Array2, ArrayView2};

/// Runs one probe pass over the rows of `inputs` and returns its statistics, or `None` if
/// any of them is not finite (a diverged network): records keep only finite numbers.
pub fn probe<T: Real, N: Network<T>>(
    net: &mut N,
    inputs: ArrayView2<'_, T>,
    targets: BatchTargets<'_>,
) -> Option<ProbeStats> {
    let n = inputs.nrows();
    let logits = net.forward(inputs, Mode::Probe);
    let mut dlogits = Array2::zeros(logits.raw_dim());
    let value = loss_and_grad(logits, targets, Some(dlogits.view_mut()));
    if !value.loss.is_finite() {
        return None;
    }
    let mut state_grad_norms = Vec::new();
    net.backward(inputs, dlogits.view(), Some(&mut state_grad_norms));
    let stats = ProbeStats {
        weight_grad_norms: net.weight_grad_norms(),
        state_rms: net.state_rms(n),
        state_grad_norms,
        branch_ratios: net.branch_ratios(n),
    };
    let all_finite = [&stats.weight_grad_norms, &stats.state_rms, &stats.state_grad_norms, &stats.branch_ratios]
        .iter()
        .all(|v| v.iter().all(|x| x.is_finite()));
    all_finite.then_some(stats)
}
