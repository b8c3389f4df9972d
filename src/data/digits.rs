//! The UCI "Optical Recognition of Handwritten Digits" set (CC BY 4.0) as embedded by
//! smartcore (the same 1797 samples, in the same order, as scikit-learn's `load_digits`):
//! 8×8 images, pixel counts 0–16, labels 0–9.
//!
//! Inputs are pixel counts ÷ 16, so in [0, 1]. The split is fixed: samples whose index is a
//! multiple of 5 form the test set (360), the rest the training set (1437).

use super::{Dataset, Split, Targets};
use ndarray::Array2;

pub(super) const NUM_CLASSES: usize = 10;
const PIXELS: usize = 64;
const MAX_PIXEL: f32 = 16.0;

pub(super) fn load() -> Split {
    let raw = smartcore::dataset::digits::load_dataset();
    assert_eq!(raw.num_features, PIXELS, "smartcore digits: unexpected feature count");
    assert_eq!(raw.data.len(), raw.num_samples * PIXELS);
    assert_eq!(raw.target.len(), raw.num_samples);

    // (pixels, labels) of the training and the test set.
    let (mut train, mut test) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for (i, (row, &target)) in raw.data.chunks_exact(PIXELS).zip(&raw.target).enumerate() {
        let (pixels, labels) = if i % 5 == 0 { &mut test } else { &mut train };
        pixels.extend(row.iter().map(|&p| p / MAX_PIXEL));
        let label = target as u32;
        assert!(label as f32 == target && (label as usize) < NUM_CLASSES, "smartcore digits: bad label {target}");
        labels.push(label);
    }
    let dataset = |(pixels, labels): (Vec<f32>, Vec<u32>)| Dataset {
        inputs: Array2::from_shape_vec((labels.len(), PIXELS), pixels).expect("PIXELS values per label"),
        targets: Targets::Classes { labels, num_classes: NUM_CLASSES },
    };
    Split { train: dataset(train), test: dataset(test) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(d: &Dataset) -> &[u32] {
        match &d.targets {
            Targets::Classes { labels, .. } => labels,
            Targets::Values { .. } => panic!("digits are classes"),
        }
    }

    #[test]
    fn sizes_values_and_classes() {
        let split = load();
        assert_eq!(split.train.len(), 1437);
        assert_eq!(split.test.len(), 360);
        for d in [&split.train, &split.test] {
            assert_eq!(d.input_dim(), 64);
            assert_eq!(d.output_dim(), 10);
            assert_eq!(d.inputs.len(), d.len() * 64);
            assert!(d.inputs.iter().all(|&v| (0.0..=1.0).contains(&v)));
            let mut counts = [0usize; 10];
            for &l in labels(d) {
                counts[l as usize] += 1;
            }
            // The full set has 174–183 samples per class, but the file is not shuffled, so the
            // every-fifth split is uneven: the test set has 26 (class 2, 7) to 48 (class 3).
            let n = d.len() as f64;
            for (class, &c) in counts.iter().enumerate() {
                let share = c as f64 / n;
                assert!((0.07..0.14).contains(&share), "class {class}: {c} of {n} ({counts:?})");
            }
        }
        let mut total = [0usize; 10];
        for &l in labels(&split.train).iter().chain(labels(&split.test)) {
            total[l as usize] += 1;
        }
        assert_eq!(total, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        // Pixel values use the whole range.
        assert!(split.train.inputs.iter().any(|&v| v == 1.0));
        assert!(split.train.inputs.iter().any(|&v| v == 0.0));
    }

    #[test]
    fn known_first_samples() {
        // scikit-learn's load_digits(): sample 0 is a "0", sample 1 a "1"; 0 goes to test.
        let split = load();
        assert_eq!(labels(&split.test)[0], 0);
        assert_eq!(labels(&split.train)[0], 1);
        // First row of sample 0 is [0, 0, 5, 13, 9, 1, 0, 0].
        let expected: Vec<f32> = [0., 0., 5., 13., 9., 1., 0., 0.].iter().map(|v| v / 16.0).collect();
        assert_eq!(&split.test.input(0)[..8], &expected[..]);
    }
}
