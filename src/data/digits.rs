//! The UCI "Optical Recognition of Handwritten Digits" set (Alpaydin & Kaynak, 1998; CC BY 4.0):
//! the same 1797 samples, in the same order, as scikit-learn's `load_digits` (and as the
//! `smartcore` crate embeds them, which this module used to read them from): 8×8 images,
//! pixel counts 0–16, labels 0–9.
//!
//! The data is embedded from `digits.bin.gz`: gzip of 1797 × 64 pixel bytes (row-major, one
//! sample after another) followed by 1797 label bytes. A test checks a SHA-256 of the loaded
//! split, so the bytes and this loader stay exactly what the smartcore-based loader produced.
//!
//! Inputs are pixel counts ÷ 16, so in [0, 1]. The split is fixed: samples whose index is a
//! multiple of 5 form the test set (360), the rest the training set (1437).

use super::{Dataset, Split, Targets};
use ndarray::Array2;
use std::io::Read;

pub(super) const NUM_CLASSES: usize = 10;
const SAMPLES: usize = 1797;
const PIXELS: usize = 64;
const MAX_PIXEL: u8 = 16;

/// gzip of the pixel bytes (`SAMPLES × PIXELS`) then the label bytes (`SAMPLES`).
const EMBEDDED: &[u8] = include_bytes!("digits.bin.gz");

/// The embedded bytes, unpacked and checked (they are fixed at compile time, and the tests
/// load them: a failure here is a build defect, not bad input).
fn raw() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SAMPLES * (PIXELS + 1));
    flate2::read::GzDecoder::new(EMBEDDED).read_to_end(&mut bytes).expect("the embedded digits are valid gzip");
    assert_eq!(bytes.len(), SAMPLES * (PIXELS + 1), "embedded digits: unexpected size");
    let (pixels, labels) = bytes.split_at(SAMPLES * PIXELS);
    assert!(pixels.iter().all(|&p| p <= MAX_PIXEL), "embedded digits: pixel count above {MAX_PIXEL}");
    assert!(labels.iter().all(|&l| (l as usize) < NUM_CLASSES), "embedded digits: label of {NUM_CLASSES} or more");
    bytes
}

pub(super) fn load() -> Split {
    let bytes = raw();
    let (pixels, labels) = bytes.split_at(SAMPLES * PIXELS);
    // (pixels, labels) of the training and the test set.
    let (mut train, mut test) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for (i, (row, &label)) in pixels.chunks_exact(PIXELS).zip(labels).enumerate() {
        let (pixels, labels) = if i % 5 == 0 { &mut test } else { &mut train };
        pixels.extend(row.iter().map(|&p| f32::from(p) / f32::from(MAX_PIXEL)));
        labels.push(u32::from(label));
    }
    let dataset = |(pixels, labels): (Vec<f32>, Vec<u32>)| Dataset {
        inputs: Array2::from_shape_vec((labels.len(), PIXELS), pixels).expect("PIXELS values per label"),
        targets: Targets::Classes { labels, num_classes: NUM_CLASSES },
        image_shape: Some([1, 8, 8]),
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

    /// SHA-256 of both sets: lengths, every input's f32 bits and every label, little-endian.
    fn digest(split: &Split) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for d in [&split.train, &split.test] {
            hash.update((d.len() as u64).to_le_bytes());
            for v in d.inputs.iter() {
                hash.update(v.to_bits().to_le_bytes());
            }
            hash.update((d.output_dim() as u64).to_le_bytes());
            for l in labels(d) {
                hash.update(l.to_le_bytes());
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn same_split_as_smartcore_gave() {
        // Computed from the split of the smartcore-based loader (smartcore 0.7.0's
        // `dataset::digits::load_dataset`) before the data moved into digits.bin.gz.
        assert_eq!(digest(&load()), "403c9645f39f959d84cc6e39e64143ee2e77d197d27a8210c719b0477e98970b");
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
