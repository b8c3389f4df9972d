//! Losses, value and gradient together: softmax cross-entropy for classes, mean squared
//! error for regression. Both are means over the batch, as in PyTorch's defaults.

use crate::model::Real;
use ndarray::{ArrayView2, ArrayViewMut2};

/// Targets of one batch, matching the data set's kind.
#[derive(Debug, Clone, Copy)]
pub enum BatchTargets<'a> {
    /// Class index per row.
    Classes(&'a [u32]),
    /// (n, output_dim) values.
    Values(ArrayView2<'a, f32>),
}

/// Loss value and, for classification, the number of rows whose arg-max logit is the label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossValue {
    pub loss: f64,
    pub correct: Option<usize>,
}

/// L and ∂L/∂logits for the n rows of `logits`. logits and dlogits are (n, classes) and the
/// targets have n rows; `dlogits` may be `None` when only the value is wanted (evaluation).
pub fn loss_and_grad<T: Real>(
    logits: ArrayView2<'_, T>,
    targets: BatchTargets<'_>,
    dlogits: Option<ArrayViewMut2<'_, T>>,
) -> LossValue {
    let (n, classes) = logits.dim();
    let logits = logits.to_slice().expect("logits are row-major");
    let dlogits = dlogits.map(|d| {
        assert_eq!(d.dim(), (n, classes), "dlogits: shape differs from the logits'");
        d.into_slice().expect("dlogits are row-major")
    });
    match targets {
        BatchTargets::Classes(labels) => softmax_cross_entropy(logits, &labels[..n], classes, dlogits),
        BatchTargets::Values(values) => {
            assert_eq!(values.dim(), (n, classes), "targets: shape differs from the outputs'");
            mean_squared_error(logits, values.to_slice().expect("targets are row-major"), dlogits)
        }
    }
}

/// L = −(1/n) Σ_i log softmax(z_i)[y_i];  ∂L/∂z_i = (softmax(z_i) − onehot(y_i)) / n.
/// The max logit is subtracted first so large logits cannot overflow.
pub fn softmax_cross_entropy<T: Real>(
    logits: &[T],
    labels: &[u32],
    classes: usize,
    mut dlogits: Option<&mut [T]>,
) -> LossValue {
    let n = labels.len();
    let inv_n = 1.0 / n.max(1) as f64;
    let mut total = 0.0f64;
    let mut correct = 0;
    for (row, &label) in labels.iter().enumerate() {
        let z = &logits[row * classes..(row + 1) * classes];
        let label = label as usize;
        let (argmax, max) =
            z.iter().enumerate().fold((0, T::neg_infinity()), |best, (i, &v)| if v > best.1 { (i, v) } else { best });
        if argmax == label {
            correct += 1;
        }
        let sum_exp: f64 = z.iter().map(|&v| (v - max).as_f64().exp()).sum();
        let log_sum = sum_exp.ln() + max.as_f64();
        total += log_sum - z[label].as_f64();
        if let Some(d) = dlogits.as_deref_mut() {
            let d = &mut d[row * classes..(row + 1) * classes];
            for (i, (dv, &v)) in d.iter_mut().zip(z).enumerate() {
                let p = (v.as_f64() - log_sum).exp();
                let onehot = if i == label { 1.0 } else { 0.0 };
                *dv = T::from_f64((p - onehot) * inv_n);
            }
        }
    }
    LossValue { loss: total * inv_n, correct: Some(correct) }
}

/// L = (1/(n·d)) Σ (y − t)²;  ∂L/∂y = 2(y − t)/(n·d).
pub fn mean_squared_error<T: Real>(outputs: &[T], targets: &[f32], mut doutputs: Option<&mut [T]>) -> LossValue {
    let count = targets.len();
    let inv = 1.0 / count.max(1) as f64;
    let mut total = 0.0f64;
    for (i, (&y, &t)) in outputs[..count].iter().zip(targets).enumerate() {
        let diff = y.as_f64() - t as f64;
        total += diff * diff;
        if let Some(d) = doutputs.as_deref_mut() {
            d[i] = T::from_f64(2.0 * diff * inv);
        }
    }
    LossValue { loss: total * inv, correct: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_classes() {
        let logits = vec![0.5f64; 3 * 4];
        let value = softmax_cross_entropy(&logits, &[0, 1, 3], 4, None);
        assert!((value.loss - 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let logits = vec![1000.0f32, 0.0, -1000.0];
        let value = softmax_cross_entropy(&logits, &[0], 3, None);
        assert!(value.loss.is_finite() && value.loss < 1e-6);
        assert_eq!(value.correct, Some(1));
    }

    fn check_gradient(loss: impl Fn(&[f64], Option<&mut [f64]>) -> f64, x: &[f64]) {
        let mut grad = vec![0.0; x.len()];
        loss(x, Some(&mut grad));
        for i in 0..x.len() {
            let h = 1e-6;
            let mut plus = x.to_vec();
            plus[i] += h;
            let mut minus = x.to_vec();
            minus[i] -= h;
            let numeric = (loss(&plus, None) - loss(&minus, None)) / (2.0 * h);
            assert!((numeric - grad[i]).abs() < 1e-7, "component {i}: {numeric} vs {}", grad[i]);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let logits: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 * 0.3 - 0.6).collect();
        check_gradient(|z, d| softmax_cross_entropy(z, &[2, 0, 1], 4, d).loss, &logits);
        let targets: Vec<f32> = (0..12).map(|i| i as f32 * 0.1).collect();
        check_gradient(|y, d| mean_squared_error(y, &targets, d).loss, &logits);
    }
}
