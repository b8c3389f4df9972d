//! Optimizers over the flat parameter and gradient buffers: each update is one loop the
//! compiler vectorises. Conventions follow PyTorch so results compare with it:
//! weight decay is L2 added to the gradient (g ← g + λθ) for both SGD and Adam.

use crate::config::{OptimizerConfig, OptimizerKind};
use crate::model::Real;
use ndarray::Array1;

pub const ADAM_BETA1: f64 = 0.9;
pub const ADAM_BETA2: f64 = 0.999;
pub const ADAM_EPS: f64 = 1e-8;

/// Optimizer state, sized once for a parameter count.
pub struct Optimizer<T> {
    config: OptimizerConfig,
    /// SGD: velocity. Adam: first moment.
    first: Vec<T>,
    /// Adam: second moment (empty for SGD).
    second: Vec<T>,
    step: u64,
}

impl<T: Real> Optimizer<T> {
    pub fn new(config: &OptimizerConfig, num_params: usize) -> Self {
        let second = if config.kind == OptimizerKind::Adam { num_params } else { 0 };
        Optimizer {
            config: config.clone(),
            first: vec![T::zero(); num_params],
            second: vec![T::zero(); second],
            step: 0,
        }
    }

    /// One update of `params` from `grads` (same layout).
    pub fn step(&mut self, params: &mut Array1<T>, grads: &Array1<T>) {
        let params = params.as_slice_mut().expect("owned arrays are contiguous");
        let grads = grads.as_slice().expect("owned arrays are contiguous");
        assert_eq!(params.len(), self.first.len(), "optimizer built for another parameter count");
        self.step += 1;
        let decay = T::from_f64(self.config.weight_decay);
        match self.config.kind {
            OptimizerKind::Sgd => {
                // v ← μv + (g + λθ);  θ ← θ − lr·v
                let lr = T::from_f64(self.config.lr);
                let momentum = T::from_f64(self.config.momentum);
                for ((p, &g), v) in params.iter_mut().zip(grads).zip(self.first.iter_mut()) {
                    let g = g + decay * *p;
                    *v = momentum * *v + g;
                    *p -= lr * *v;
                }
            }
            OptimizerKind::Adam => {
                // m ← β₁m + (1−β₁)g;  s ← β₂s + (1−β₂)g²;  θ ← θ − lr·m̂/(√ŝ + ε), with bias correction.
                let (b1, b2) = (T::from_f64(ADAM_BETA1), T::from_f64(ADAM_BETA2));
                let t = self.step as i32;
                let step_size = T::from_f64(self.config.lr / (1.0 - ADAM_BETA1.powi(t)));
                let inv_sqrt_correction = T::from_f64(1.0 / (1.0 - ADAM_BETA2.powi(t)).sqrt());
                let eps = T::from_f64(ADAM_EPS);
                for (((p, &g), m), s) in
                    params.iter_mut().zip(grads).zip(self.first.iter_mut()).zip(self.second.iter_mut())
                {
                    let g = g + decay * *p;
                    *m = b1 * *m + (T::one() - b1) * g;
                    *s = b2 * *s + (T::one() - b2) * g * g;
                    *p -= step_size * *m / ((*s).sqrt() * inv_sqrt_correction + eps);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: OptimizerKind, lr: f64, momentum: f64, weight_decay: f64) -> OptimizerConfig {
        OptimizerConfig { kind, lr, momentum, weight_decay }
    }

    #[test]
    fn sgd_with_momentum_follows_the_recurrence() {
        let mut opt = Optimizer::<f64>::new(&config(OptimizerKind::Sgd, 0.1, 0.9, 0.0), 1);
        let mut p = ndarray::arr1(&[1.0]);
        opt.step(&mut p, &ndarray::arr1(&[1.0])); // v = 1, p = 0.9
        opt.step(&mut p, &ndarray::arr1(&[1.0])); // v = 1.9, p = 0.71
        assert!((p[0] - 0.71).abs() < 1e-12);
    }

    #[test]
    fn adam_first_step_moves_by_lr_times_sign() {
        // With bias correction, m̂ = g and ŝ = g² on step 1, so the step is lr·g/(|g|+ε).
        let mut opt = Optimizer::<f64>::new(&config(OptimizerKind::Adam, 0.01, 0.0, 0.0), 3);
        let mut p = ndarray::arr1(&[0.0, 0.0, 0.0]);
        opt.step(&mut p, &ndarray::arr1(&[5.0, -0.001, 0.0]));
        assert!((p[0] + 0.01).abs() < 1e-9);
        assert!((p[1] - 0.01).abs() < 1e-7);
        assert_eq!(p[2], 0.0);
    }

    #[test]
    fn adam_matches_a_reference_trajectory() {
        // Reference computed with the textbook formulas in f64, step by step.
        let grads = [0.5, -1.0, 2.0, 0.25];
        let (lr, wd) = (0.05, 0.1);
        let mut opt = Optimizer::<f64>::new(&config(OptimizerKind::Adam, lr, 0.0, wd), 1);
        let mut p = ndarray::arr1(&[1.0]);
        let (mut m, mut s, mut q) = (0.0, 0.0, 1.0f64);
        for (t, &g) in grads.iter().enumerate() {
            opt.step(&mut p, &ndarray::arr1(&[g]));
            let g = g + wd * q;
            m = 0.9 * m + 0.1 * g;
            s = 0.999 * s + 0.001 * g * g;
            let mh = m / (1.0 - 0.9f64.powi(t as i32 + 1));
            let sh = s / (1.0 - 0.999f64.powi(t as i32 + 1));
            q -= lr * mh / (sh.sqrt() + 1e-8);
            assert!((p[0] - q).abs() < 1e-12, "step {t}: {} vs {q}", p[0]);
        }
    }

    #[test]
    fn sgd_weight_decay_shrinks_parameters() {
        let mut opt = Optimizer::<f32>::new(&config(OptimizerKind::Sgd, 0.5, 0.0, 0.2), 1);
        let mut p = ndarray::arr1(&[2.0f32]);
        opt.step(&mut p, &ndarray::arr1(&[0.0]));
        assert!((p[0] - 1.8).abs() < 1e-6);
    }
}
