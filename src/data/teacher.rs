//! Teacher–student regression: the targets are a fixed random MLP ("teacher") of the inputs.
//!
//! ```text
//! x ~ N(0, I_input_dim)
//! a₀ = x;   a_l = tanh(W_l a_{l−1}),  l = 1..teacher_depth   (W_l: teacher_width × fan_in)
//! y = W_out a_depth + noise·ε,        ε ~ N(0, I_output_dim)
//! ```
//!
//! Every weight is drawn once from He init N(0, 2/fan_in); biases are zero. Targets are then
//! standardised per output column with the training set's mean and (population) standard
//! deviation, and the test set is transformed with the same constants — so each training
//! column has mean 0 and variance 1, and MSE = 1 is the loss of predicting the mean.
//! `noise` is therefore relative to the teacher's raw output scale (about 1).
//!
//! The teacher weights, the training rows and the test rows come from independent random
//! streams of `data_seed`.

use super::{rng, Dataset, Split, Targets, MODEL_STREAM, TEST_STREAM, TRAIN_STREAM};
use crate::config::DatasetOptions;
use ndarray::Array2;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;

/// A dense layer `out × fan_in`, row-major, no bias.
struct Layer {
    weights: Vec<f64>,
    fan_in: usize,
}

struct Teacher {
    hidden: Vec<Layer>,
    head: Layer,
}

impl Layer {
    fn he(rng: &mut impl Rng, fan_in: usize, out: usize) -> Layer {
        let std = (2.0 / fan_in as f64).sqrt();
        let weights = (0..out * fan_in).map(|_| std * rng.sample::<f64, _>(StandardNormal)).collect();
        Layer { weights, fan_in }
    }

    fn apply(&self, x: &[f64], y: &mut Vec<f64>) {
        debug_assert_eq!(x.len(), self.fan_in);
        y.clear();
        y.extend(self.weights.chunks_exact(self.fan_in).map(|row| row.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()));
    }
}

impl Teacher {
    fn new(options: &DatasetOptions) -> Teacher {
        let mut rng = rng(options.data_seed, MODEL_STREAM);
        let mut fan_in = options.input_dim;
        let mut hidden = Vec::with_capacity(options.teacher_depth);
        for _ in 0..options.teacher_depth {
            hidden.push(Layer::he(&mut rng, fan_in, options.teacher_width));
            fan_in = options.teacher_width;
        }
        let head = Layer::he(&mut rng, fan_in, options.output_dim);
        Teacher { hidden, head }
    }

    fn forward(&self, x: &[f64], out: &mut Vec<f64>) {
        let mut a = x.to_vec();
        let mut z = Vec::new();
        for layer in &self.hidden {
            layer.apply(&a, &mut z);
            z.iter_mut().for_each(|v| *v = v.tanh());
            std::mem::swap(&mut a, &mut z);
        }
        self.head.apply(&a, out);
    }
}

/// Raw (unstandardised) samples: inputs as f32, targets as f64.
fn draw(teacher: &Teacher, options: &DatasetOptions, n: usize, stream: u64) -> (Vec<f32>, Vec<f64>) {
    let mut rng = rng(options.data_seed, stream);
    let mut inputs = Vec::with_capacity(n * options.input_dim);
    let mut targets = Vec::with_capacity(n * options.output_dim);
    let mut x = vec![0f64; options.input_dim];
    let mut y = Vec::with_capacity(options.output_dim);
    for _ in 0..n {
        for v in x.iter_mut() {
            // Round first so the stored f32 input is exactly what the teacher saw.
            *v = rng.sample::<f64, _>(StandardNormal) as f32 as f64;
        }
        inputs.extend(x.iter().map(|&v| v as f32));
        teacher.forward(&x, &mut y);
        targets.extend(y.iter().map(|&t| t + options.noise * rng.sample::<f64, _>(StandardNormal)));
    }
    (inputs, targets)
}

pub(super) fn load(options: &DatasetOptions) -> Split {
    let teacher = Teacher::new(options);
    let (train_x, train_y) = draw(&teacher, options, options.samples, TRAIN_STREAM);
    let (test_x, test_y) = draw(&teacher, options, options.test_samples, TEST_STREAM);

    // Per-column mean and population std on the training set.
    let dim = options.output_dim;
    let n = options.samples as f64;
    let mut mean = vec![0f64; dim];
    for row in train_y.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / n);
    }
    let mut var = vec![0f64; dim];
    for row in train_y.chunks_exact(dim) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    // A constant column (e.g. a single sample) is centred but not scaled.
    let scale: Vec<f64> = var.iter().map(|&v| if v > 0.0 && v.is_finite() { 1.0 / v.sqrt() } else { 1.0 }).collect();
    let standardise = |y: Vec<f64>| -> Vec<f32> {
        y.chunks_exact(dim)
            .flat_map(|row| row.iter().zip(&mean).zip(&scale).map(|((v, m), s)| ((v - m) * s) as f32))
            .collect()
    };
    let dataset = |inputs: Vec<f32>, values: Vec<f32>| Dataset {
        inputs: Array2::from_shape_vec((values.len() / dim, options.input_dim), inputs).expect("input_dim per sample"),
        targets: Targets::Values {
            values: Array2::from_shape_vec((values.len() / dim, dim), values).expect("dim per sample"),
        },
        image_shape: None,
    };
    Split { train: dataset(train_x, standardise(train_y)), test: dataset(test_x, standardise(test_y)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64) -> DatasetOptions {
        DatasetOptions {
            samples: 2000,
            test_samples: 500,
            input_dim: 8,
            output_dim: 3,
            teacher_depth: 3,
            teacher_width: 16,
            noise: 0.1,
            data_seed: seed,
            ..DatasetOptions::default()
        }
    }

    fn values(d: &Dataset) -> (&[f32], usize) {
        match &d.targets {
            Targets::Values { values } => (values.as_slice().unwrap(), values.ncols()),
            Targets::Classes { .. } => panic!("teacher targets are values"),
        }
    }

    fn column_stats(values: &[f32], dim: usize, col: usize) -> (f64, f64) {
        let column: Vec<f64> = values.chunks_exact(dim).map(|r| r[col] as f64).collect();
        let n = column.len() as f64;
        let mean = column.iter().sum::<f64>() / n;
        let var = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn shapes() {
        let split = load(&options(0));
        assert_eq!((split.train.len(), split.test.len()), (2000, 500));
        for d in [&split.train, &split.test] {
            assert_eq!(d.input_dim(), 8);
            assert_eq!(d.output_dim(), 3);
            assert_eq!(values(d).0.len(), d.len() * 3);
            assert!(values(d).0.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn train_targets_are_standardised() {
        let split = load(&options(1));
        let (train, dim) = values(&split.train);
        for col in 0..dim {
            let (mean, var) = column_stats(train, dim, col);
            assert!(mean.abs() < 1e-5, "column {col}: mean {mean}");
            assert!((var - 1.0).abs() < 1e-4, "column {col}: var {var}");
            // Same distribution, same transform: the test column is close to standard too.
            let (mean, var) = column_stats(values(&split.test).0, dim, col);
            assert!(mean.abs() < 0.2 && (0.7..1.3).contains(&var), "test {col}: {mean} {var}");
        }
    }

    #[test]
    fn inputs_are_standard_normal() {
        let d = load(&options(2)).train;
        let n = d.inputs.len() as f64;
        let mean = d.inputs.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = d.inputs.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(load(&options(3)), load(&options(3)));
        let (a, b) = (load(&options(3)), load(&options(4)));
        assert_ne!(a.train.inputs, b.train.inputs);
        assert_ne!(values(&a.train).0, values(&b.train).0);
        assert_ne!(a.test.inputs, b.test.inputs);
    }

    #[test]
    fn targets_are_a_function_of_the_inputs() {
        // Without noise, the standardised targets are an exact function of x: undo the
        // standardisation by regressing each column on the raw teacher output.
        let opts = DatasetOptions { noise: 0.0, ..options(5) };
        let teacher = Teacher::new(&opts);
        let split = load(&opts);
        let (y, dim) = values(&split.train);
        let mut raw = Vec::new();
        let mut out = Vec::new();
        for i in 0..split.train.len() {
            let x: Vec<f64> = split.train.input(i).iter().map(|&v| v as f64).collect();
            teacher.forward(&x, &mut out);
            raw.extend_from_slice(&out);
        }
        for col in 0..dim {
            // y = (raw − m)·s for constants m, s > 0: check via two samples and all others.
            let (r0, r1) = (raw[col], raw[dim + col]);
            let (y0, y1) = (y[col] as f64, y[dim + col] as f64);
            let s = (y1 - y0) / (r1 - r0);
            assert!(s > 0.0);
            for (r, t) in raw.chunks_exact(dim).zip(y.chunks_exact(dim)) {
                let predicted = y0 + (r[col] - r0) * s;
                assert!((predicted - t[col] as f64).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn teacher_depth_zero_is_linear() {
        let opts = DatasetOptions { teacher_depth: 0, samples: 10, test_samples: 5, ..options(6) };
        let split = load(&opts);
        assert_eq!(split.train.len(), 10);
        assert_eq!(split.train.output_dim(), 3);
        // f(a·x + b·z) = a·f(x) + b·f(z) holds for depth 0 and fails once a tanh layer is in.
        let superposition_error = |teacher: &Teacher| {
            let x: Vec<f64> = (0..opts.input_dim).map(|i| 0.7 * i as f64 - 2.0).collect();
            let z: Vec<f64> = (0..opts.input_dim).map(|i| 1.5 - 0.3 * (i * i) as f64).collect();
            let (a, b) = (1.7, -0.6);
            let mixed: Vec<f64> = x.iter().zip(&z).map(|(x, z)| a * x + b * z).collect();
            let (mut fx, mut fz, mut fmixed) = (Vec::new(), Vec::new(), Vec::new());
            teacher.forward(&x, &mut fx);
            teacher.forward(&z, &mut fz);
            teacher.forward(&mixed, &mut fmixed);
            assert_eq!(fmixed.len(), opts.output_dim);
            fmixed.iter().zip(fx.iter().zip(&fz)).map(|(m, (x, z))| (m - (a * x + b * z)).abs()).fold(0.0, f64::max)
        };
        assert!(superposition_error(&Teacher::new(&opts)) < 1e-12);
        assert!(superposition_error(&Teacher::new(&DatasetOptions { teacher_depth: 1, ..opts.clone() })) > 0.1);
    }

    #[test]
    fn single_sample_does_not_divide_by_zero() {
        let opts = DatasetOptions { samples: 1, test_samples: 1, ..options(7) };
        let split = load(&opts);
        assert!(values(&split.train).0.iter().all(|&v| v == 0.0));
        assert!(values(&split.test).0.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn test_set_independent_of_train_size() {
        let a = load(&options(8));
        let b = load(&DatasetOptions { samples: 1500, ..options(8) });
        // Same teacher and test inputs; only the standardisation constants differ.
        assert_eq!(a.test.inputs, b.test.inputs);
    }
}
