//! Weight initialisation. Biases start at 0, norm gains at 1, ReZero's α at 0.

use super::linear::Linear;
use super::Real;
use crate::config::Init;
use ndarray::{Array1, Array2};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::Normal;
use ndarray_rand::RandomExt;

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
/// W is drawn row by row, so a layer's weights are the same stream of samples whatever the
/// float type.
pub fn init_linear<T: Real, R: Rng>(layer: &Linear, init: Init, params: &mut Array1<T>, rng: &mut R) {
    let std = weight_std(init, layer.fan_in, layer.fan_out);
    let normal = Normal::new(0.0, std).expect("std is finite and positive");
    let drawn = Array2::<f64>::random_using((layer.fan_out, layer.fan_in), normal, rng);
    let (mut weight, mut bias) = layer.weight_and_bias_mut(params);
    weight.zip_mut_with(&drawn, |w, &v| *w = T::from_f64(v));
    bias.fill(T::zero());
}
