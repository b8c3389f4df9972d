//! Two interleaved spirals: a 2-class problem in the plane that a shallow net finds hard.
//!
//! Point j of arm c ∈ {0, 1} (class c) is
//!
//! ```text
//! u ~ Uniform[0, 1),   t = √u,   θ = 2π·turns·t + π·c,
//! x₁ = t·cos θ + noise·ε₁,   x₂ = t·sin θ + noise·ε₂,   ε₁, ε₂ ~ N(0, 1)
//! ```
//!
//! so each arm is an Archimedean spiral of radius t ∈ [0, 1) making `turns` turns, the two
//! arms are rotations of each other by half a turn, and t = √u spreads the points roughly
//! evenly along the arm (arc length grows ∝ t²). Coordinates lie in about [−1, 1]
//! (plus noise). Rows alternate between the arms (even rows class 0, odd rows class 1), so
//! any prefix is balanced: `samples` points per arm for training, `test_samples` per arm
//! for testing, drawn from independent random streams of `data_seed`.

use super::{rng, Dataset, Split, Targets, TEST_STREAM, TRAIN_STREAM};
use crate::config::DatasetOptions;
use ndarray::Array2;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use std::f64::consts::PI;

pub(super) const NUM_CLASSES: usize = 2;

pub(super) fn load(options: &DatasetOptions) -> Split {
    Split {
        train: draw(options, options.samples, TRAIN_STREAM),
        test: draw(options, options.test_samples, TEST_STREAM),
    }
}

fn draw(options: &DatasetOptions, per_arm: usize, stream: u64) -> Dataset {
    let mut rng = rng(options.data_seed, stream);
    let mut inputs = Vec::with_capacity(per_arm * NUM_CLASSES * 2);
    let mut labels = Vec::with_capacity(per_arm * NUM_CLASSES);
    for _ in 0..per_arm {
        for class in 0..NUM_CLASSES {
            let u: f64 = rng.random();
            let t = u.sqrt();
            let theta = 2.0 * PI * options.turns * t + PI * class as f64;
            let e1: f64 = rng.sample(StandardNormal);
            let e2: f64 = rng.sample(StandardNormal);
            inputs.push((t * theta.cos() + options.noise * e1) as f32);
            inputs.push((t * theta.sin() + options.noise * e2) as f32);
            labels.push(class as u32);
        }
    }
    let inputs = Array2::from_shape_vec((labels.len(), 2), inputs).expect("two coordinates per label");
    Dataset { inputs, targets: Targets::Classes { labels, num_classes: NUM_CLASSES }, image_shape: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64) -> DatasetOptions {
        DatasetOptions { samples: 300, test_samples: 100, data_seed: seed, ..DatasetOptions::default() }
    }

    fn labels(d: &Dataset) -> &[u32] {
        match &d.targets {
            Targets::Classes { labels, .. } => labels,
            Targets::Values { .. } => panic!("spirals are classes"),
        }
    }

    #[test]
    fn shapes_and_balance() {
        let split = load(&options(0));
        assert_eq!(split.train.len(), 600);
        assert_eq!(split.test.len(), 200);
        for d in [&split.train, &split.test] {
            assert_eq!(d.input_dim(), 2);
            assert_eq!(d.output_dim(), 2);
            let ones = labels(d).iter().filter(|&&l| l == 1).count();
            assert_eq!(ones * 2, d.len());
            // Alternating rows.
            assert!(labels(d).iter().enumerate().all(|(i, &l)| l as usize == i % 2));
            // Roughly unit range: radius below 1 plus a few noise standard deviations.
            assert!(d.inputs.iter().all(|v| v.abs() < 1.3), "out of range");
            let max = d.inputs.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(max > 0.9, "max |x| = {max}");
        }
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(load(&options(3)), load(&options(3)));
        let (a, b) = (load(&options(3)), load(&options(4)));
        assert_ne!(a.train.inputs, b.train.inputs);
        assert_ne!(a.test.inputs, b.test.inputs);
        // Train and test are independent draws.
        assert_ne!(a.train.inputs.as_slice().unwrap()[..200], a.test.inputs.as_slice().unwrap()[..200]);
        // The test set does not depend on the number of training samples.
        let more = load(&DatasetOptions { samples: 500, ..options(3) });
        assert_eq!(more.test, a.test);
    }

    #[test]
    fn noiseless_points_lie_on_their_arm() {
        let opts = DatasetOptions { noise: 0.0, turns: 1.5, ..options(1) };
        let d = load(&opts).train;
        for (i, &label) in labels(&d).iter().enumerate() {
            let (x, y) = (d.inputs[[i, 0]] as f64, d.inputs[[i, 1]] as f64);
            let t = x.hypot(y);
            let theta = 2.0 * PI * opts.turns * t + PI * label as f64;
            assert!((x - t * theta.cos()).abs() < 1e-4 && (y - t * theta.sin()).abs() < 1e-4);
        }
    }

    #[test]
    fn arms_are_point_reflections() {
        // Half a turn apart, the arms are mirror images through the origin: with the same
        // radius distribution the two class means are opposite (each is ≈ (0, ∓1/(π·turns))
        // for an integer number of turns).
        let d = load(&options(5)).train;
        let mut mean = [[0f64; 2]; 2];
        for (point, &label) in d.inputs.rows().into_iter().zip(labels(&d)) {
            for (m, &x) in mean[label as usize].iter_mut().zip(point) {
                *m += x as f64 / 300.0;
            }
        }
        let expected = 1.0 / (PI * 2.0); // turns = 2
        for k in 0..2 {
            assert!((mean[0][k] + mean[1][k]).abs() < 0.08, "class means {mean:?}");
        }
        assert!((mean[0][1] + expected).abs() < 0.06, "class means {mean:?}");
        assert!((mean[1][1] - expected).abs() < 0.06, "class means {mean:?}");
    }
}
