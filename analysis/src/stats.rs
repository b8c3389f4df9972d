//! Statistics that know no topic: quantiles, least-squares slopes, and what initialisation
//! theory predicts for the probes.
//!
//!
//! Theory at initialisation (infinite width, ReLU, no normalisation; the README's network
//! definitions): a w×w layer with weight variance σ² maps the second moment of a symmetric
//! pre-activation through ReLU by g = w·σ²/2, so g = 1 for He (σ² = 2/w) and g = ½ for Xavier
//! (σ² = 1/w). A plain net multiplies RMS² by g per layer; a residual block of L layers adds a
//! branch with second moment α²·g^L·RMS², so RMS² grows by (1 + α²g^L) per block (α = 1 with He
//! doubles it; α = 1/√K keeps the total bounded by e). The backward pass mirrors this: ‖∂L/∂h_k‖²
//! shrinks by the same factor per step towards the output, so the log₂‖∂L/∂h_k‖ slope is −½ of
//! the log₂RMS² slope.

use degradation_bench::record::RunRecord;

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
    if run.activation != "relu" || run.norm != "none" {
        return None;
    }
    let gain = match run.init.as_str() {
        "he" => 1.0,
        "xavier" => 0.5,
        _ => return None,
    };
    if run.arch == "plain" {
        return Some(f64::log2(gain));
    }
    let blocks = (run.depth / run.block_layers.max(1)).max(1) as f64;
    let alpha2 = match run.residual_scale.as_deref() {
        Some("one") => 1.0,
        Some("inv_sqrt_blocks") => 1.0 / blocks,
        Some("rezero") => 0.0,
        _ => return None,
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
mod tests {
    use super::*;
    use crate::variant::tests::synthetic_run;

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
        run.init = "xavier".into();
        assert_eq!(theory_rms2_slope(&run), Some(-1.0));
        assert_eq!(theory_grad_slope(&run), Some(0.5));
        run.norm = "layer".into();
        assert_eq!(theory_rms2_slope(&run), None);

        let mut res = synthetic_run("residual", 16, 0, Some(0.1));
        res.residual_scale = Some("one".into());
        assert_eq!(theory_rms2_slope(&res), Some(1.0));
        res.residual_scale = Some("inv_sqrt_blocks".into());
        // K = 8 blocks: log₂(1 + 1/8) per block, bounded in total by log₂ e.
        let slope = theory_rms2_slope(&res).unwrap();
        assert!((slope - (1.125f64).log2()).abs() < 1e-12);
        assert!(slope * 8.0 < std::f64::consts::E.log2());
        res.activation = "tanh".into();
        assert_eq!(theory_rms2_slope(&res), None);
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
