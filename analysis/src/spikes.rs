//! Loss spikes: how often a run's training loss jumps far above the best it had reached.
//! Under Adam deep plain nets climb back up by orders of magnitude and come down again, so a
//! single final snapshot can land on a spike or between two; the count says how spiky a
//! curve was, beside the robust final loss (the median over the last 10% of steps).

use degradation_bench::record::LossPoint;

/// A checkpoint is in a spike when its loss exceeds this many times the lowest loss of the
/// checkpoints before it: a decade, well above the scatter of the 50-step interval means of a
/// converged run and far below the jumps of 100–1000× that deep plain nets show under Adam.
pub const SPIKE_FACTOR: f64 = 10.0;

/// Number of spikes in a loss curve: maximal runs of consecutive checkpoints whose loss is more
/// than `SPIKE_FACTOR` × the running minimum of the earlier ones. A non-finite loss (`None`,
/// the run diverged) after a finite one counts as being in a spike.
pub fn loss_spikes(curve: &[LossPoint]) -> usize {
    let mut best = f64::INFINITY;
    let (mut spikes, mut in_spike) = (0, false);
    for point in curve {
        let above = match point.loss {
            Some(loss) => loss > SPIKE_FACTOR * best,
            None => best.is_finite(),
        };
        if above && !in_spike {
            spikes += 1;
        }
        in_spike = above;
        if let Some(loss) = point.loss {
            best = best.min(loss);
        }
    }
    spikes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(losses: &[Option<f64>]) -> Vec<LossPoint> {
        losses.iter().enumerate().map(|(i, &loss)| LossPoint { step: 50 * i, loss }).collect()
    }

    #[test]
    fn counts_excursions_not_points() {
        // Decreasing curve with noise below a decade: no spike.
        assert_eq!(loss_spikes(&curve(&[Some(2.3), Some(1.0), Some(1.5), Some(0.1), Some(0.3), Some(0.05)])), 0);
        // Two excursions, the first two checkpoints long: 1e-3 → 0.5, 0.2 (one spike), back to
        // 1e-3, then 1e-4 → 2e-3 (20×, a second spike).
        let spiky = [Some(2.3), Some(1e-3), Some(0.5), Some(0.2), Some(1e-3), Some(1e-4), Some(2e-3), Some(1e-4)];
        assert_eq!(loss_spikes(&curve(&spiky)), 2);
        // Exactly 10× the best is not a spike; just above is.
        assert_eq!(loss_spikes(&curve(&[Some(0.1), Some(1.0)])), 0);
        assert_eq!(loss_spikes(&curve(&[Some(0.1), Some(1.0001)])), 1);
        // Divergence after a finite loss counts once; a curve that starts non-finite does not.
        assert_eq!(loss_spikes(&curve(&[Some(2.3), Some(0.1), None])), 1);
        assert_eq!(loss_spikes(&curve(&[None])), 0);
        assert_eq!(loss_spikes(&[]), 0);
    }
}
