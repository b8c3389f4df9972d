//! Weight initialisation. Biases start at 0, norm gains at 1, ReZero's α at 0.

use super::dense::Linear;
use super::Real;
use crate::config::Init;
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Standard deviation of a layer's weights: He √(2/fan_in) keeps a ReLU net's signal
/// variance constant with depth; Xavier √(2/(fan_in+fan_out)) halves it per ReLU layer.
pub fn weight_std(init: Init, fan_in: usize, fan_out: usize) -> f64 {
    match init {
        Init::He => (2.0 / fan_in as f64).sqrt(),
        Init::Xavier => (2.0 / (fan_in + fan_out) as f64).sqrt(),
    }
}

/// Draws W ~ N(0, std²) and sets b = 0. Samples are drawn in f64 so f32 and f64 networks
/// built from the same seed hold the same weights up to rounding.
pub fn init_linear<T: Real, R: Rng>(layer: &Linear, init: Init, params: &mut [T], rng: &mut R) {
    let std = weight_std(init, layer.fan_in, layer.fan_out);
    let normal = Normal::new(0.0, std).expect("std is finite and positive");
    for w in &mut params[layer.weight..layer.weight + layer.fan_in * layer.fan_out] {
        *w = T::from_f64(normal.sample(rng));
    }
    params[layer.bias..layer.bias + layer.fan_out].fill(T::zero());
}
