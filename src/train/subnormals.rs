//! Subnormal floats inside a network: how many of its values lie below the smallest normal
//! float (f32: 2⁻¹²⁶ ≈ 1.18e-38) without being zero. Some x86 cores take a slow path through
//! microcode for arithmetic on such values, so a net whose signal has collapsed towards zero
//! might step slowly on them for that reason alone; counting the values says whether there
//! is anything to be slow on. Zero itself is a normal operand, and is counted apart.
//!
//! The census reads the buffers one train step computes with: the hidden states h_k of the
//! forward, the state gradients ∂L/∂h_k of the backward, the hidden weights W_l, their
//! gradients ∂L/∂W_l and the optimizer's state (velocity, or Adam's two moments). It runs one
//! probe pass (as `probe` does: batch statistics, running statistics untouched) and changes
//! nothing the next train step reads: the backward overwrites every gradient.

use crate::model::{Mlp, Mode, Real};
use crate::train::loss::{loss_and_grad, BatchTargets};
use crate::train::optim::Optimizer;
use ndarray::{Array2, ArrayView2};
use serde::Serialize;

/// How many of a set of floats are zero and how many subnormal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FloatCensus {
    pub values: u64,
    pub zeros: u64,
    /// 0 < |x| < the type's smallest normal value.
    pub subnormals: u64,
    /// The smallest |x| of the nonzero values (subnormal or not), exact for f32; `None` if
    /// every value is zero or not finite.
    pub smallest_nonzero: Option<f64>,
}

impl FloatCensus {
    pub fn of<'a, T: Real>(values: impl IntoIterator<Item = &'a T>) -> Self {
        let mut census = FloatCensus::default();
        for &x in values {
            census.values += 1;
            if x == T::zero() {
                census.zeros += 1;
                continue;
            }
            // The definition itself rather than `is_subnormal`, so the test below checks the
            // threshold, not a library's reading of it.
            if x.abs() < T::min_positive_value() {
                census.subnormals += 1;
            }
            if x.is_finite() {
                let magnitude = x.abs().as_f64();
                census.smallest_nonzero = Some(census.smallest_nonzero.map_or(magnitude, |s| s.min(magnitude)));
            }
        }
        census
    }

    /// The census of both sets together.
    pub fn add(&mut self, other: &FloatCensus) {
        self.values += other.values;
        self.zeros += other.zeros;
        self.subnormals += other.subnormals;
        self.smallest_nonzero = match (self.smallest_nonzero, other.smallest_nonzero) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Subnormals ÷ values (0 for no values).
    pub fn subnormal_fraction(&self) -> f64 {
        if self.values == 0 {
            0.0
        } else {
            self.subnormals as f64 / self.values as f64
        }
    }

    /// The census of several sets together.
    pub fn total<'a>(parts: impl IntoIterator<Item = &'a FloatCensus>) -> FloatCensus {
        let mut total = FloatCensus::default();
        for part in parts {
            total.add(part);
        }
        total
    }
}

/// One network's buffers counted at one point of a run; per layer, input side first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetCensus {
    /// Train steps taken before the census.
    pub step: usize,
    /// The probe batch's loss (before any update at this point).
    pub batch_loss: f64,
    /// h_0..h_K (K = D for plain nets, the number of blocks for residual ones).
    pub hidden_states: Vec<FloatCensus>,
    /// ∂L/∂h_0..∂L/∂h_K.
    pub state_grads: Vec<FloatCensus>,
    /// The D hidden w×w weights W_l.
    pub weights: Vec<FloatCensus>,
    /// ∂L/∂W_l on the probe batch.
    pub weight_grads: Vec<FloatCensus>,
    /// The optimizer's first and second buffers over each W_l (the second has no values for SGD).
    pub first_moments: Vec<FloatCensus>,
    pub second_moments: Vec<FloatCensus>,
    /// The optimizer's first buffer (SGD's velocity, Adam's first moment), all parameters.
    pub optimizer_first: FloatCensus,
    /// Adam's second moment, all parameters (no values for SGD).
    pub optimizer_second: FloatCensus,
}

impl NetCensus {
    /// Counts `net`'s buffers after one probe pass over `inputs` ((n, input_dim)) and the
    /// state of `optimizer`, the network's own, at `step`.
    pub fn take<T: Real>(
        net: &mut Mlp<T>,
        optimizer: &Optimizer<T>,
        inputs: ArrayView2<'_, T>,
        targets: BatchTargets<'_>,
        step: usize,
    ) -> NetCensus {
        let n = inputs.nrows();
        let logits = net.forward(inputs, Mode::Probe);
        let mut dlogits = Array2::zeros(logits.raw_dim());
        let batch_loss = loss_and_grad(logits, targets, Some(dlogits.view_mut())).loss;
        let hidden_states: Vec<FloatCensus> = net.states(n).iter().map(|h| FloatCensus::of(h)).collect();
        let mut state_grads = vec![FloatCensus::default(); hidden_states.len()];
        net.backward_visiting(inputs, dlogits.view(), |k, grad| state_grads[k] = FloatCensus::of(grad));
        let linears = net.hidden_linears();
        let (first, second) = optimizer.moments();
        NetCensus {
            step,
            batch_loss,
            hidden_states,
            state_grads,
            weights: linears.iter().map(|l| FloatCensus::of(l.weight(&net.params))).collect(),
            weight_grads: linears.iter().map(|l| FloatCensus::of(l.weight(&net.grads))).collect(),
            first_moments: linears.iter().map(|l| FloatCensus::of(&first[l.weight..l.bias])).collect(),
            second_moments: linears
                .iter()
                .map(|l| FloatCensus::of(second.get(l.weight..l.bias).unwrap_or(&[])))
                .collect(),
            optimizer_first: FloatCensus::of(first),
            optimizer_second: FloatCensus::of(second),
        }
    }

    /// Each kind of buffer summed over its layers.
    pub fn totals(&self) -> CensusTotals {
        CensusTotals {
            hidden_states: FloatCensus::total(&self.hidden_states),
            state_grads: FloatCensus::total(&self.state_grads),
            weights: FloatCensus::total(&self.weights),
            weight_grads: FloatCensus::total(&self.weight_grads),
            optimizer_first: self.optimizer_first,
            optimizer_second: self.optimizer_second,
        }
    }
}

/// A [`NetCensus`] summed over layers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CensusTotals {
    pub hidden_states: FloatCensus,
    pub state_grads: FloatCensus,
    pub weights: FloatCensus,
    pub weight_grads: FloatCensus,
    pub optimizer_first: FloatCensus,
    pub optimizer_second: FloatCensus,
}

impl CensusTotals {
    /// Every buffer counted, together.
    pub fn all(&self) -> FloatCensus {
        FloatCensus::total([
            &self.hidden_states,
            &self.state_grads,
            &self.weights,
            &self.weight_grads,
            &self.optimizer_first,
            &self.optimizer_second,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Arch;
    use crate::train::eval::BatchBuffers;
    use crate::train::replay::tests::spirals_run;
    use crate::train::replay::Replay;

    #[test]
    fn counts_subnormals_zeros_and_the_smallest_magnitude() {
        let smallest_normal = f32::MIN_POSITIVE;
        let largest_subnormal = f32::from_bits(smallest_normal.to_bits() - 1);
        let smallest_subnormal = f32::from_bits(1);
        // 3 zeros (one negative), 4 subnormals of both signs, 5 normal values, 1 NaN, 1 ∞.
        let values = [
            0.0,
            -0.0,
            0.0,
            largest_subnormal,
            -largest_subnormal,
            smallest_subnormal,
            1e-40,
            smallest_normal,
            -smallest_normal,
            1.0,
            -3.0e38,
            1e-37,
            f32::NAN,
            f32::INFINITY,
        ];
        assert!(largest_subnormal.is_subnormal() && smallest_subnormal.is_subnormal() && 1e-40f32.is_subnormal());
        let census = FloatCensus::of(&values);
        assert_eq!(
            census,
            FloatCensus { values: 14, zeros: 3, subnormals: 4, smallest_nonzero: Some(smallest_subnormal as f64) }
        );
        assert_eq!(census.subnormal_fraction(), 4.0 / 14.0);

        // A large array with a known pattern: every 7th value subnormal, every 11th zero.
        let pattern: Vec<f32> = (0..10_000)
            .map(|i| match (i % 7, i % 11) {
                (_, 0) => 0.0,
                (0, _) => 1e-39 * (1 + i % 5) as f32,
                _ => 0.5 + i as f32,
            })
            .collect();
        let zeros = (0..10_000).filter(|i| i % 11 == 0).count() as u64;
        let subnormals = (0..10_000).filter(|i| i % 7 == 0 && i % 11 != 0).count() as u64;
        let census = FloatCensus::of(&pattern);
        assert_eq!((census.values, census.zeros, census.subnormals), (10_000, zeros, subnormals));
        assert_eq!(census.smallest_nonzero, Some(1e-39f32 as f64));

        // The threshold is the type's own: 1e-40 is subnormal in f32 and normal in f64.
        assert_eq!(FloatCensus::of(&[1e-40f64, 1e-310]).subnormals, 1);
        // Nothing but zeros has no smallest magnitude; sums add counts and keep the minimum.
        let empty = FloatCensus::of(&[0.0f32; 4]);
        assert_eq!(empty.smallest_nonzero, None);
        let both = FloatCensus::total([&empty, &census]);
        assert_eq!((both.values, both.zeros, both.subnormals), (10_004, zeros + 4, subnormals));
        assert_eq!(both.smallest_nonzero, census.smallest_nonzero);
    }

    #[test]
    fn a_census_covers_every_layer_and_changes_no_step() {
        for (arch, states) in [(Arch::Plain, 7), (Arch::Residual, 4)] {
            let (config, split) = spirals_run(arch, 6, 30, 3, 1);
            let mut counted = Replay::<Mlp<f32>>::start(&config, &split).unwrap();
            let mut untouched = Replay::<Mlp<f32>>::start(&config, &split).unwrap();
            let mut buffers = BatchBuffers::new(&split.train, config.batch_size);
            buffers.gather(&split.train, &counted.probe_rows);
            for step in [0, 10, 30] {
                counted.advance_to(&split.train, step);
                let census =
                    NetCensus::take(&mut counted.net, &counted.optimizer, buffers.inputs(), buffers.targets(), step);
                assert_eq!((census.hidden_states.len(), census.state_grads.len()), (states, states), "{arch}");
                assert_eq!((census.weights.len(), census.weight_grads.len()), (6, 6), "{arch}");
                assert!(census.hidden_states.iter().all(|c| c.values == 16 * 8));
                assert!(census.state_grads.iter().all(|c| c.values == 16 * 8));
                assert!(census
                    .weights
                    .iter()
                    .chain(&census.weight_grads)
                    .chain(&census.first_moments)
                    .chain(&census.second_moments)
                    .all(|c| c.values == 64));
                let params = counted.net.num_params() as u64;
                assert_eq!((census.optimizer_first.values, census.optimizer_second.values), (params, params));
                // A fresh Adam has all-zero moments; a trained one has moved them.
                assert_eq!(census.optimizer_second.zeros == params, step == 0, "{arch} at step {step}");
                assert!(census.batch_loss.is_finite());
                assert_eq!(census.totals().all().values, {
                    let t = census.totals();
                    t.hidden_states.values
                        + t.state_grads.values
                        + t.weights.values
                        + t.weight_grads.values
                        + 2 * params
                });
            }
            untouched.advance_to(&split.train, 30);
            assert_eq!(counted.net.params, untouched.net.params, "{arch}: a census changed the trajectory");
        }
    }
}
