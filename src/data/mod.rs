//! The data sets, all in memory and none downloaded at run time.
//!
//! - [`DatasetKind::Digits`]: the real 8×8 handwritten digits (1797 samples, 10 classes; UCI,
//!   CC BY 4.0), embedded in the binary from `digits.bin.gz`; a fixed 1437/360 train/test split.
//! - [`DatasetKind::Spirals`]: two interleaved noisy spirals, 2 classes, 2-D inputs.
//! - [`DatasetKind::Teacher`]: regression onto a random tanh MLP ("teacher"), standardised targets.
//! - [`DatasetKind::FashionMnist`]: Fashion-MNIST (Zalando Research, MIT), 28×28 images of
//!   clothing in 10 classes, 60 000/10 000, read from the IDX files of the Debian package
//!   `dataset-fashion-mnist` (or `dataset_options.dir`); pixels ÷ 255.
//!
//! Every set is a pure function of its [`DatasetOptions`] (synthetic sets draw from
//! `ChaCha8Rng` seeded with `data_seed`; Fashion-MNIST's files are fixed), so all runs of a
//! sweep see the same data and a results set can be reproduced exactly. A sweep loads its set
//! once and shares it between its runs. Features are an `Array2<f32>` (`len × input_dim`);
//! image sets also keep their image shape, for models that read images rather than vectors.

mod digits;
mod fashion_mnist;
mod idx;
mod spirals;
mod teacher;

use crate::config::{DatasetKind, DatasetOptions};
use crate::error::Result;
use ndarray::Array2;

/// What a model is trained to predict.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// One class index per sample, each `< num_classes`.
    Classes { labels: Vec<u32>, num_classes: usize },
    /// Real values per sample, (len, dim).
    Values { values: Array2<f32> },
}

/// Samples of one split: features (len, input_dim), one row per sample, and their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub inputs: Array2<f32>,
    pub targets: Targets,
    /// (channels, height, width) of the images each row flattens, row-major (so
    /// `input_dim` = their product), for image sets; `None` for the synthetic ones.
    pub image_shape: Option<[usize; 3]>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Features per sample.
    pub fn input_dim(&self) -> usize {
        self.inputs.ncols()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Width of the model's output layer: the number of classes, or the target dimension.
    pub fn output_dim(&self) -> usize {
        match &self.targets {
            Targets::Classes { num_classes, .. } => *num_classes,
            Targets::Values { values } => values.ncols(),
        }
    }

    /// Input row `i` (`input_dim` values). Panics if `i >= len()`.
    pub fn input(&self, i: usize) -> &[f32] {
        let d = self.input_dim();
        &self.inputs.as_slice().expect("owned arrays are row-major")[i * d..(i + 1) * d]
    }
}

/// A training set and a held-out test set drawn from the same distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
}

/// Builds (or, for Fashion-MNIST, reads) the data set `kind`. `options` are validated here
/// (and ignored by `digits`).
pub fn load(kind: DatasetKind, options: &DatasetOptions) -> Result<Split> {
    options.validate(kind)?;
    let split = match kind {
        DatasetKind::Digits => digits::load(),
        DatasetKind::Spirals => spirals::load(options),
        DatasetKind::Teacher => teacher::load(options),
        DatasetKind::FashionMnist => fashion_mnist::load(options)?,
    };
    debug_assert!(consistent(&split.train) && consistent(&split.test));
    Ok(split)
}

/// Random-number streams of one `data_seed`: independent, so that e.g. changing the number of
/// training samples leaves the test set (and the teacher) unchanged.
pub(crate) const TRAIN_STREAM: u64 = 0;
pub(crate) const TEST_STREAM: u64 = 1;
pub(crate) const MODEL_STREAM: u64 = 2;

pub(crate) fn rng(seed: u64, stream: u64) -> rand_chacha::ChaCha8Rng {
    use ndarray_rand::rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn consistent(d: &Dataset) -> bool {
    let n = d.len();
    d.inputs.is_standard_layout()
        && d.image_shape.is_none_or(|shape| shape.iter().product::<usize>() == d.input_dim())
        && match &d.targets {
            Targets::Classes { labels, num_classes } => {
                labels.len() == n && labels.iter().all(|&l| (l as usize) < *num_classes)
            }
            Targets::Values { values } => values.nrows() == n && values.is_standard_layout(),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_validates_options() {
        let bad = DatasetOptions { samples: 0, ..DatasetOptions::default() };
        for kind in [DatasetKind::Spirals, DatasetKind::Teacher] {
            let err = load(kind, &bad).unwrap_err().to_string();
            assert!(err.contains("dataset_options.samples"), "{err}");
        }
        // Digits ignores the options.
        assert!(load(DatasetKind::Digits, &bad).is_ok());
    }

    #[test]
    fn every_kind_loads_consistently() {
        // Fashion-MNIST from a small set in its layout, so the real one is not needed.
        let files = tempfile::tempdir().unwrap();
        fashion_mnist::testing::write_files(files.path(), 30, 10, true);
        for &kind in DatasetKind::ALL {
            let dir = (kind == DatasetKind::FashionMnist).then(|| files.path().to_path_buf());
            let options = DatasetOptions { samples: 50, test_samples: 20, dir, ..DatasetOptions::default() };
            let split = load(kind, &options).unwrap();
            for d in [&split.train, &split.test] {
                assert!(consistent(d), "{kind}");
                assert!(!d.is_empty());
                assert_eq!(d.input(d.len() - 1).len(), d.input_dim());
                assert!(d.inputs.iter().all(|v| v.is_finite()));
            }
            assert_eq!(split.train.input_dim(), split.test.input_dim());
            assert_eq!(split.train.output_dim(), split.test.output_dim());
            assert_eq!(split.train.image_shape, split.test.image_shape);
            let images = matches!(kind, DatasetKind::Digits | DatasetKind::FashionMnist);
            assert_eq!(split.train.image_shape.is_some(), images, "{kind}");
        }
    }

    #[test]
    fn streams_differ() {
        use ndarray_rand::rand::Rng;
        let a: u64 = rng(7, TRAIN_STREAM).random();
        let b: u64 = rng(7, TEST_STREAM).random();
        let c: u64 = rng(7, TRAIN_STREAM).random();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
