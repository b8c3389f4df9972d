//! LayerNorm and BatchNorm, forward and backward side by side.
//!
//! Both compute x̂ = (x − μ)/√(σ² + ε) and y = γ·x̂ + β; LayerNorm takes μ, σ² over the
//! features of each row, BatchNorm over the batch for each feature (running statistics in
//! evaluation, as in PyTorch: momentum 0.1, unbiased running variance).

use super::{flat, flat_mut, Mode, Real};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};

pub const NORM_EPS: f64 = 1e-5;
pub const BATCH_NORM_MOMENTUM: f64 = 0.1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormKind {
    Layer,
    Batch,
}

/// One normalisation layer: offsets of γ and β in the flat parameter buffer, and the
/// buffers its backward needs (x̂, 1/σ, y), sized once for the largest batch.
pub struct NormLayer<T> {
    pub kind: NormKind,
    pub width: usize,
    pub gain: usize,
    pub bias: usize,
    /// x̂, (max_batch, width).
    xhat: Array2<T>,
    /// 1/√(σ²+ε): (n) for LayerNorm, (width) for BatchNorm.
    inv_std: Vec<T>,
    /// y = γ·x̂ + β, (max_batch, width): the activation's input.
    out: Array2<T>,
    running_mean: Vec<T>,
    running_var: Vec<T>,
    /// Scratch for the batch mean (BatchNorm only).
    batch_mean: Vec<T>,
    /// Whether the last forward normalised with running statistics (BatchNorm in Eval).
    used_running_stats: bool,
}

impl<T: Real> NormLayer<T> {
    pub fn new(kind: NormKind, width: usize, max_batch: usize, gain: usize, bias: usize) -> Self {
        let stats = match kind {
            NormKind::Layer => max_batch,
            NormKind::Batch => width,
        };
        let running = if kind == NormKind::Batch { width } else { 0 };
        NormLayer {
            kind,
            width,
            gain,
            bias,
            xhat: Array2::zeros((max_batch, width)),
            inv_std: vec![T::zero(); stats],
            out: Array2::zeros((max_batch, width)),
            running_mean: vec![T::zero(); running],
            running_var: vec![T::one(); running],
            batch_mean: vec![T::zero(); running],
            used_running_stats: false,
        }
    }

    /// y = N(x) of the last forward, its first n rows.
    pub fn output(&self, n: usize) -> ArrayView2<'_, T> {
        self.out.slice(s![..n, ..])
    }

    /// Writes y = N(x) into the first n rows of `self.out` and returns them. x is (n, width).
    pub fn forward(&mut self, params: &Array1<T>, x: ArrayView2<'_, T>, mode: Mode) -> ArrayView2<'_, T> {
        let (n, w) = x.dim();
        let eps = T::from_f64(NORM_EPS);
        let gain = flat_params(params, self.gain, w);
        let bias = flat_params(params, self.bias, w);
        let x = flat(&x);
        let xhat_all = self.xhat.as_slice_mut().expect("owned arrays are row-major");
        match self.kind {
            NormKind::Layer => {
                let inv_w = T::one() / T::from_f64(w as f64);
                for (row, (x_row, xhat_row)) in x.chunks_exact(w).zip(xhat_all.chunks_exact_mut(w)).enumerate() {
                    let mean = x_row.iter().copied().sum::<T>() * inv_w;
                    let var = x_row.iter().map(|&v| (v - mean) * (v - mean)).sum::<T>() * inv_w;
                    let inv_std = T::one() / (var + eps).sqrt();
                    self.inv_std[row] = inv_std;
                    for (xh, &v) in xhat_row.iter_mut().zip(x_row) {
                        *xh = (v - mean) * inv_std;
                    }
                }
                self.used_running_stats = false;
            }
            NormKind::Batch => {
                let mean = &mut self.running_mean;
                let var = &mut self.running_var;
                if mode == Mode::Eval {
                    for (col, inv) in self.inv_std.iter_mut().enumerate() {
                        *inv = T::one() / (var[col] + eps).sqrt();
                    }
                    for (x_row, xhat_row) in x.chunks_exact(w).zip(xhat_all.chunks_exact_mut(w)) {
                        for col in 0..w {
                            xhat_row[col] = (x_row[col] - mean[col]) * self.inv_std[col];
                        }
                    }
                    self.used_running_stats = true;
                } else {
                    // Batch statistics: two row-major passes (means, then variances) into per-feature sums.
                    let inv_n = T::one() / T::from_f64(n.max(1) as f64);
                    let batch_mean = &mut self.batch_mean;
                    batch_mean.fill(T::zero());
                    for x_row in x.chunks_exact(w) {
                        for (m, &v) in batch_mean.iter_mut().zip(x_row) {
                            *m += v;
                        }
                    }
                    for m in batch_mean.iter_mut() {
                        *m *= inv_n;
                    }
                    let batch_var = &mut self.inv_std;
                    batch_var.fill(T::zero());
                    for x_row in x.chunks_exact(w) {
                        for ((s, &v), &m) in batch_var.iter_mut().zip(x_row).zip(batch_mean.iter()) {
                            *s += (v - m) * (v - m);
                        }
                    }
                    for s in batch_var.iter_mut() {
                        *s *= inv_n;
                    }
                    if mode == Mode::Train {
                        let momentum = T::from_f64(BATCH_NORM_MOMENTUM);
                        let unbias = if n > 1 { T::from_f64(n as f64) / T::from_f64((n - 1) as f64) } else { T::one() };
                        for col in 0..w {
                            mean[col] = (T::one() - momentum) * mean[col] + momentum * batch_mean[col];
                            var[col] = (T::one() - momentum) * var[col] + momentum * batch_var[col] * unbias;
                        }
                    }
                    for s in batch_var.iter_mut() {
                        *s = T::one() / (*s + eps).sqrt();
                    }
                    for (x_row, xhat_row) in x.chunks_exact(w).zip(xhat_all.chunks_exact_mut(w)) {
                        for col in 0..w {
                            xhat_row[col] = (x_row[col] - batch_mean[col]) * self.inv_std[col];
                        }
                    }
                    self.used_running_stats = false;
                }
            }
        }
        let out = self.out.as_slice_mut().expect("owned arrays are row-major");
        for (y_row, xhat_row) in out[..n * w].chunks_exact_mut(w).zip(xhat_all.chunks_exact(w)) {
            for col in 0..w {
                y_row[col] = gain[col] * xhat_row[col] + bias[col];
            }
        }
        self.out.slice(s![..n, ..])
    }

    /// In place: `grad` holds ∂L/∂y on entry and ∂L/∂x on exit; writes ∂L/∂γ and ∂L/∂β.
    pub fn backward(&self, params: &Array1<T>, grads: &mut Array1<T>, mut grad: ArrayViewMut2<'_, T>) {
        let (n, w) = grad.dim();
        let gain = flat_params(params, self.gain, w);
        let grads = grads.as_slice_mut().expect("owned arrays are row-major");
        let (grad_gain, grad_bias) = {
            // γ and β are adjacent or not; take them as two disjoint slices.
            assert!(self.gain + w <= self.bias || self.bias + w <= self.gain);
            let (lo, hi) = if self.gain < self.bias { (self.gain, self.bias) } else { (self.bias, self.gain) };
            let (a, b) = grads.split_at_mut(hi);
            let (lo_slice, hi_slice) = (&mut a[lo..lo + w], &mut b[..w]);
            if self.gain < self.bias {
                (lo_slice, hi_slice)
            } else {
                (hi_slice, lo_slice)
            }
        };
        grad_gain.fill(T::zero());
        grad_bias.fill(T::zero());
        let grad = flat_mut(&mut grad);
        let xhat = &self.xhat.as_slice().expect("owned arrays are row-major")[..n * w];
        // In the forward pass y = γ·x̂ + β, so ∂L/∂γ = Σ dy·x̂ and ∂L/∂β = Σ dy over the batch.
        for (g_row, xh_row) in grad.chunks_exact(w).zip(xhat.chunks_exact(w)) {
            for col in 0..w {
                grad_gain[col] += g_row[col] * xh_row[col];
                grad_bias[col] += g_row[col];
            }
        }
        match self.kind {
            NormKind::Layer => {
                // x̂ = (x − μ)/σ over the row: dx = (1/σ)(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = γ·dy.
                let inv_w = T::one() / T::from_f64(w as f64);
                for (row, (g_row, xh_row)) in grad.chunks_exact_mut(w).zip(xhat.chunks_exact(w)).enumerate() {
                    let mut mean_dxhat = T::zero();
                    let mut mean_dxhat_xhat = T::zero();
                    for col in 0..w {
                        let dxhat = g_row[col] * gain[col];
                        mean_dxhat += dxhat;
                        mean_dxhat_xhat += dxhat * xh_row[col];
                    }
                    mean_dxhat *= inv_w;
                    mean_dxhat_xhat *= inv_w;
                    let inv_std = self.inv_std[row];
                    for col in 0..w {
                        let dxhat = g_row[col] * gain[col];
                        g_row[col] = inv_std * (dxhat - mean_dxhat - xh_row[col] * mean_dxhat_xhat);
                    }
                }
            }
            NormKind::Batch if self.used_running_stats => {
                // Running statistics are constants: y is affine in x.
                for g_row in grad.chunks_exact_mut(w) {
                    for col in 0..w {
                        g_row[col] *= gain[col] * self.inv_std[col];
                    }
                }
            }
            NormKind::Batch => {
                // Same formula over the batch; Σ dx̂ = γ·∂L/∂β and Σ dx̂·x̂ = γ·∂L/∂γ per feature.
                let inv_n = T::one() / T::from_f64(n.max(1) as f64);
                for (g_row, xh_row) in grad.chunks_exact_mut(w).zip(xhat.chunks_exact(w)) {
                    for col in 0..w {
                        let scale = gain[col] * self.inv_std[col];
                        g_row[col] =
                            scale * (g_row[col] - grad_bias[col] * inv_n - xh_row[col] * grad_gain[col] * inv_n);
                    }
                }
            }
        }
    }
}

/// `len` parameters from `start` of the flat buffer, as a slice for the per-feature loops.
fn flat_params<T>(params: &Array1<T>, start: usize, len: usize) -> &[T] {
    &params.as_slice().expect("owned arrays are row-major")[start..start + len]
}
