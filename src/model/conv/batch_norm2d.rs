//! Per-channel batch normalisation of NHWC maps, forward and backward side by side.
//!
//! An (n, H, W, C) batch is an (n·H·W, C) matrix, and BatchNorm2d is `model::norm`'s
//! BatchNorm over its rows: x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β, with μ, σ² per channel over
//! the n·H·W values of the batch (training), or the running statistics (evaluation). The same
//! conventions as `model::norm`, so results compare with PyTorch's BatchNorm2d: ε = 1e-5,
//! momentum 0.1, the running variance unbiased with the count n·H·W.
//!
//! Two differences from `NormLayer`, both for the size of conv activations: the forward
//! normalises its input *in place* (x̂ is all the backward needs, so the conv output is not
//! kept twice), and per-channel sums are accumulated in f64 across chunks of rows (in f32,
//! sums over the 100 352 rows of a 128×28×28 batch would lose digits).

use crate::model::norm::{BATCH_NORM_MOMENTUM, NORM_EPS};
use crate::model::{Mode, Real};
use ndarray::Array1;

/// Rows summed in the float type before the partial sums move to f64.
const ROWS_PER_PARTIAL: usize = 256;

/// One BatchNorm2d layer: offsets of γ and β in the flat buffer and its per-channel state.
pub struct BatchNorm2d<T> {
    pub channels: usize,
    /// Start of γ, (C), in the flat parameter (and gradient) buffer.
    pub gain: usize,
    /// Start of β, (C); directly after γ.
    pub bias: usize,
    /// 1/√(σ² + ε) of the last forward, (C).
    inv_std: Vec<T>,
    /// μ of the last training forward, (C).
    batch_mean: Vec<T>,
    running_mean: Vec<T>,
    running_var: Vec<T>,
    /// Scratch for the chunked sums: (2·C) partial sums in T, (2·C) totals in f64.
    partial: Vec<T>,
    totals: Vec<f64>,
    /// Whether the last forward normalised with running statistics (Mode::Eval).
    used_running_stats: bool,
}

impl<T: Real> BatchNorm2d<T> {
    /// Lays γ and β out at `*offset` in the flat buffer and advances the offset. Running
    /// statistics start at mean 0, variance 1.
    pub fn allocate(channels: usize, offset: &mut usize) -> Self {
        let gain = *offset;
        *offset += 2 * channels;
        BatchNorm2d {
            channels,
            gain,
            bias: gain + channels,
            inv_std: vec![T::zero(); channels],
            batch_mean: vec![T::zero(); channels],
            running_mean: vec![T::zero(); channels],
            running_var: vec![T::one(); channels],
            partial: vec![T::zero(); 2 * channels],
            totals: vec![0.0; 2 * channels],
            used_running_stats: false,
        }
    }

    /// The running mean, (C), which evaluation normalises with.
    pub fn running_mean(&self) -> &[T] {
        &self.running_mean
    }

    /// The running variance (each batch's unbiased variance, averaged with momentum), (C).
    pub fn running_var(&self) -> &[T] {
        &self.running_var
    }

    /// Normalises x in place (x holds x̂ on exit, which the backward reads) and writes
    /// y = γ·x̂ + β. x and y are (n, H, W, C), i.e. (rows, C).
    pub fn forward(&mut self, params: &Array1<T>, x: &mut [T], y: &mut [T], mode: Mode) {
        let c = self.channels;
        assert_eq!(x.len() % c, 0, "batch norm input: not a whole number of pixels");
        assert_eq!(y.len(), x.len(), "batch norm output: shape differs from the input's");
        let rows = x.len() / c;
        let eps = T::from_f64(NORM_EPS);
        let params = params.as_slice().expect("owned arrays are contiguous");
        let (gain, bias) = (&params[self.gain..self.gain + c], &params[self.bias..self.bias + c]);
        self.used_running_stats = mode == Mode::Eval;
        if self.used_running_stats {
            self.batch_mean.copy_from_slice(&self.running_mean);
            for (inv, &var) in self.inv_std.iter_mut().zip(&self.running_var) {
                *inv = T::one() / (var + eps).sqrt();
            }
        } else {
            // μ = Σ x / rows, then σ² = Σ (x − μ)² / rows: two passes, the second on centred values.
            let inv_rows = 1.0 / rows.max(1) as f64;
            channel_sums(x, c, &mut self.partial[..c], &mut self.totals[..c], |_, x_row, sums| {
                for (s, &v) in sums.iter_mut().zip(x_row) {
                    *s += v;
                }
            });
            for (m, &total) in self.batch_mean.iter_mut().zip(&self.totals[..c]) {
                *m = T::from_f64(total * inv_rows);
            }
            let mean = &self.batch_mean;
            channel_sums(x, c, &mut self.partial[..c], &mut self.totals[..c], |_, x_row, sums| {
                for ((s, &v), &m) in sums.iter_mut().zip(x_row).zip(mean) {
                    *s += (v - m) * (v - m);
                }
            });
            let variances = &self.totals[..c];
            for (inv, &total) in self.inv_std.iter_mut().zip(variances) {
                *inv = T::one() / (T::from_f64(total * inv_rows) + eps).sqrt();
            }
            if mode == Mode::Train {
                let momentum = T::from_f64(BATCH_NORM_MOMENTUM);
                let unbias = if rows > 1 { rows as f64 / (rows - 1) as f64 } else { 1.0 };
                for (running, &m) in self.running_mean.iter_mut().zip(mean) {
                    *running = (T::one() - momentum) * *running + momentum * m;
                }
                for (running, &total) in self.running_var.iter_mut().zip(variances) {
                    *running = (T::one() - momentum) * *running + momentum * T::from_f64(total * inv_rows * unbias);
                }
            }
        }
        let (mean, inv_std) = (&self.batch_mean, &self.inv_std);
        for (x_row, y_row) in x.chunks_exact_mut(c).zip(y.chunks_exact_mut(c)) {
            for col in 0..c {
                let xhat = (x_row[col] - mean[col]) * inv_std[col];
                x_row[col] = xhat;
                y_row[col] = gain[col] * xhat + bias[col];
            }
        }
    }

    /// In place: `grad` holds ∂L/∂y on entry and ∂L/∂x on exit; writes ∂L/∂γ and ∂L/∂β.
    /// xhat is x̂ as the forward left it, (rows, C) like grad.
    pub fn backward(&mut self, params: &Array1<T>, grads: &mut Array1<T>, xhat: &[T], grad: &mut [T]) {
        let c = self.channels;
        assert_eq!(xhat.len(), grad.len(), "batch norm gradient: shape differs from x̂'s");
        let rows = grad.len() / c;
        // In the forward pass y = γ·x̂ + β, so ∂L/∂β = Σ dy and ∂L/∂γ = Σ dy·x̂ over the rows.
        channel_sums(grad, c, &mut self.partial, &mut self.totals, |row, dy_row, sums| {
            let xhat_row = &xhat[row * c..(row + 1) * c];
            let (sum_dy, sum_dy_xhat) = sums.split_at_mut(c);
            for col in 0..c {
                sum_dy[col] += dy_row[col];
                sum_dy_xhat[col] += dy_row[col] * xhat_row[col];
            }
        });
        let params = params.as_slice().expect("owned arrays are contiguous");
        let gain = &params[self.gain..self.gain + c];
        let grads = grads.as_slice_mut().expect("owned arrays are contiguous");
        for col in 0..c {
            grads[self.bias + col] = T::from_f64(self.totals[col]);
            grads[self.gain + col] = T::from_f64(self.totals[c + col]);
        }
        if self.used_running_stats {
            // Running statistics are constants: y is affine in x, ∂L/∂x = γ/σ · dy.
            for g_row in grad.chunks_exact_mut(c) {
                for col in 0..c {
                    g_row[col] *= gain[col] * self.inv_std[col];
                }
            }
            return;
        }
        // x̂ = (x − μ)/σ with μ, σ over the rows: ∂L/∂x = (γ/σ)(dy − mean(dy) − x̂·mean(dy·x̂)).
        let inv_rows = 1.0 / rows.max(1) as f64;
        let (mean_dy, mean_dy_xhat) = self.partial.split_at_mut(c);
        for col in 0..c {
            mean_dy[col] = T::from_f64(self.totals[col] * inv_rows);
            mean_dy_xhat[col] = T::from_f64(self.totals[c + col] * inv_rows);
        }
        for (g_row, xh_row) in grad.chunks_exact_mut(c).zip(xhat.chunks_exact(c)) {
            for col in 0..c {
                let scale = gain[col] * self.inv_std[col];
                g_row[col] = scale * (g_row[col] - mean_dy[col] - xh_row[col] * mean_dy_xhat[col]);
            }
        }
    }
}

/// Per-channel sums over the rows of a (rows, C) matrix: `add_row(index, row, partial)` adds
/// one row's terms into `partial` (any multiple of C quantities at once); partial sums over
/// `ROWS_PER_PARTIAL` rows are added into `totals` in f64. `totals` is overwritten.
fn channel_sums<T: Real>(
    values: &[T],
    channels: usize,
    partial: &mut [T],
    totals: &mut [f64],
    mut add_row: impl FnMut(usize, &[T], &mut [T]),
) {
    totals.fill(0.0);
    for (chunk_index, chunk) in values.chunks(ROWS_PER_PARTIAL * channels).enumerate() {
        partial.fill(T::zero());
        for (row, values) in chunk.chunks_exact(channels).enumerate() {
            add_row(chunk_index * ROWS_PER_PARTIAL + row, values, partial);
        }
        for (total, &p) in totals.iter_mut().zip(partial.iter()) {
            *total += p.as_f64();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two channels over 600 rows (more than one chunk of partial sums), with means 3 and −1.
    fn batch() -> Vec<f64> {
        (0..1200)
            .map(|i| if i % 2 == 0 { 3.0 + ((i * 37) % 11) as f64 - 5.0 } else { -1.0 + ((i * 13) % 7) as f64 * 0.5 })
            .collect()
    }

    fn channel_stats(values: &[f64], channel: usize) -> (f64, f64) {
        let column: Vec<f64> = values.iter().skip(channel).step_by(2).copied().collect();
        let mean = column.iter().sum::<f64>() / column.len() as f64;
        (mean, column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / column.len() as f64)
    }

    #[test]
    fn training_normalises_each_channel_and_updates_the_running_statistics() {
        let mut offset = 0;
        let mut bn = BatchNorm2d::<f64>::allocate(2, &mut offset);
        let params = Array1::from(vec![2.0, 0.5, 1.0, -3.0]); // γ = (2, 0.5), β = (1, −3)
        let x = batch();
        let (mut xhat, mut y) = (x.clone(), vec![0.0; x.len()]);
        bn.forward(&params, &mut xhat, &mut y, Mode::Train);
        for (channel, (gain, bias)) in [(2.0, 1.0), (0.5, -3.0)].into_iter().enumerate() {
            let (mean, var) = channel_stats(&x, channel);
            let (out_mean, out_var) = channel_stats(&y, channel);
            assert!((out_mean - bias).abs() < 1e-12);
            assert!((out_var - gain * gain * var / (var + NORM_EPS)).abs() < 1e-9);
            // running ← 0.9·running + 0.1·batch, the variance unbiased with the 600 rows.
            assert!((bn.running_mean[channel] - 0.1 * mean).abs() < 1e-12);
            assert!((bn.running_var[channel] - (0.9 + 0.1 * var * 600.0 / 599.0)).abs() < 1e-12);
        }
        // Probe: batch statistics, running statistics untouched; Eval: the running ones.
        let running = (bn.running_mean.clone(), bn.running_var.clone());
        let mut probe = vec![0.0; x.len()];
        bn.forward(&params, &mut x.clone(), &mut probe, Mode::Probe);
        assert_eq!(probe, y);
        assert_eq!((bn.running_mean.clone(), bn.running_var.clone()), running);
        bn.forward(&params, &mut x.clone(), &mut probe, Mode::Eval);
        let expected = 2.0 * (x[0] - running.0[0]) / (running.1[0] + NORM_EPS).sqrt() + 1.0;
        assert!((probe[0] - expected).abs() < 1e-12);
    }

    #[test]
    fn f32_statistics_of_a_large_batch_stay_accurate() {
        // 128·28·28 rows of one channel at mean 1000: naive f32 sums drift by ~1e-3 relative.
        let rows = 128 * 28 * 28;
        let x: Vec<f32> = (0..rows).map(|i| 1000.0 + ((i * 7) % 13) as f32 - 6.0).collect();
        let mut offset = 0;
        let mut bn = BatchNorm2d::<f32>::allocate(1, &mut offset);
        let params = Array1::from(vec![1.0f32, 0.0]);
        let mut y = vec![0.0f32; rows];
        bn.forward(&params, &mut x.clone(), &mut y, Mode::Train);
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / rows as f64;
        assert!(mean.abs() < 1e-3, "normalised mean {mean}");
    }
}
