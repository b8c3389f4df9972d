//! Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017; Zalando Research, MIT licence): 28×28
//! grey-scale images of clothing in 10 classes, 60 000 for training and 10 000 for testing.
//!
//! Read from its four IDX files (see [`super::idx`]), gzip-compressed as they ship or raw:
//! by default from `/usr/share/datasets/fashion-mnist/`, where the Debian package
//! `dataset-fashion-mnist` installs them, or from `dataset_options.dir`. Nothing is downloaded:
//! a missing file is an error that says which package to install.
//!
//! Inputs are the pixels ÷ 255 (correctly rounded f32 division), so in [0, 1]; an MLP sees
//! each image as its rows one after another (784 features), and [`Dataset::image_shape`]
//! keeps the 1 × 28 × 28 for models that want the image. The training set is the first
//! `dataset_options.train_samples` images of the training file (0: all); the test set is
//! always the whole test file. The image size is taken from the files (training and test
//! images must agree), so other sets in this format load too.

use super::idx;
use super::{Dataset, Split, Targets};
use crate::config::DatasetOptions;
use crate::error::{Error, Result};
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// Where the Debian package `dataset-fashion-mnist` puts the files.
pub(super) const DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";
pub(super) const NUM_CLASSES: usize = 10;
const PACKAGE: &str = "dataset-fashion-mnist";
const MAX_PIXEL: f32 = 255.0;

/// The file names' stems (each read as `<stem>.gz`, or else `<stem>`).
const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

pub(super) fn load(options: &DatasetOptions) -> Result<Split> {
    let dir = options.dir.as_deref().unwrap_or(Path::new(DEFAULT_DIR));
    // All four are located first, so a missing package is reported before any reading.
    let [train_images, train_labels, test_images, test_labels] =
        [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS].map(|stem| locate(dir, stem));
    let (train_images, train_labels, test_images, test_labels) =
        (train_images?, train_labels?, test_images?, test_labels?);
    let limit = (options.train_samples > 0).then_some(options.train_samples);
    let train = read_set(&train_images, &train_labels, limit)?;
    let test = read_set(&test_images, &test_labels, None)?;
    if train.image_shape != test.image_shape {
        let shape = |d: &Dataset| d.image_shape.map_or(String::new(), |[_, h, w]| format!("{h}×{w}"));
        return Err(Error::data_file(
            &test_images,
            format!(
                "images of {}, but the training images ({}) are {}",
                shape(&test),
                train_images.display(),
                shape(&train)
            ),
        ));
    }
    Ok(Split { train, test })
}

/// `dir/<stem>.gz`, or else `dir/<stem>`; neither is an error that tells how to get the files.
fn locate(dir: &Path, stem: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{stem}.gz"));
    for path in [&gz, &dir.join(stem)] {
        match std::fs::metadata(path) {
            Ok(_) => return Ok(path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let problem = if dir.is_dir() {
        format!("not found (nor `{stem}` beside it)")
    } else {
        "not found: no such directory".into()
    };
    Err(Error::data_file(
        gz,
        format!(
            "{problem}. Fashion-MNIST comes with the Debian package `{PACKAGE}`: \
             `apt-get install -y {PACKAGE}` (after `apt-get update`) puts its four files in {DEFAULT_DIR}/; \
             or set `dataset_options.dir` to a directory holding them"
        ),
    ))
}

/// The images and labels of one set, the first `limit` of them if given.
fn read_set(images_path: &Path, labels_path: &Path, limit: Option<usize>) -> Result<Dataset> {
    let images = idx::read_images(images_path)?;
    let labels = idx::read_labels(labels_path, NUM_CLASSES)?;
    if labels.len() != images.count {
        return Err(Error::data_file(
            labels_path,
            format!(
                "{} labels, but {} holds {} images: the two files do not belong together",
                labels.len(),
                images_path.display(),
                images.count
            ),
        ));
    }
    let count = match limit {
        Some(n) if n > images.count => {
            return Err(Error::invalid(
                "dataset_options.train_samples",
                n,
                format!("more than the {} training images in {}", images.count, images_path.display()),
            ));
        }
        Some(n) => n,
        None => images.count,
    };
    let features = images.rows * images.cols;
    let inputs: Vec<f32> = images.pixels[..count * features].iter().map(|&p| f32::from(p) / MAX_PIXEL).collect();
    Ok(Dataset {
        inputs: Array2::from_shape_vec((count, features), inputs).expect("features values per image"),
        targets: Targets::Classes {
            labels: labels[..count].iter().map(|&l| u32::from(l)).collect(),
            num_classes: NUM_CLASSES,
        },
        image_shape: Some([1, images.rows, images.cols]),
    })
}

/// A small set in Fashion-MNIST's layout, for tests that must not need the real one.
#[cfg(test)]
pub(super) mod testing {
    use super::super::idx::testing::{idx_bytes, write};
    use super::*;

    pub const ROWS: usize = 3;
    pub const COLS: usize = 2;

    /// Pixel `k` of image `i` (of either set), all 256 byte values turning up.
    pub fn pixel(i: usize, k: usize) -> u8 {
        ((i * 37 + k * 11) % 256) as u8
    }

    pub fn label(i: usize) -> u8 {
        (i % NUM_CLASSES) as u8
    }

    /// Writes the four files into `dir`: `train` and `test` images of ROWS × COLS, the images
    /// gzip-compressed and the labels raw when `gzip`, all raw (no `.gz` names) otherwise.
    pub fn write_files(dir: &Path, train: usize, test: usize, gzip: bool) {
        for (images, labels, n) in [(TRAIN_IMAGES, TRAIN_LABELS, train), (TEST_IMAGES, TEST_LABELS, test)] {
            let pixels: Vec<u8> = (0..n).flat_map(|i| (0..ROWS * COLS).map(move |k| pixel(i, k))).collect();
            let dims = [n as u32, ROWS as u32, COLS as u32];
            let name = |stem: &str| if gzip { format!("{stem}.gz") } else { stem.to_string() };
            write(&dir.join(name(images)), &idx_bytes(&dims, &pixels), gzip);
            let labels_bytes: Vec<u8> = (0..n).map(label).collect();
            write(&dir.join(name(labels)), &idx_bytes(&[n as u32], &labels_bytes), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::idx::testing::{idx_bytes, write};
    use super::testing::{label, pixel, write_files, COLS, ROWS};
    use super::*;

    fn options(dir: &Path) -> DatasetOptions {
        DatasetOptions { dir: Some(dir.to_path_buf()), ..DatasetOptions::default() }
    }

    fn labels(d: &Dataset) -> &[u32] {
        match &d.targets {
            Targets::Classes { labels, .. } => labels,
            Targets::Values { .. } => panic!("Fashion-MNIST is classes"),
        }
    }

    fn check_set(d: &Dataset, n: usize) {
        assert_eq!(d.len(), n);
        assert_eq!(d.input_dim(), ROWS * COLS);
        assert_eq!(d.output_dim(), 10);
        assert_eq!(d.image_shape, Some([1, ROWS, COLS]));
        for i in 0..n {
            let expected: Vec<f32> = (0..ROWS * COLS).map(|k| f32::from(pixel(i, k)) / 255.0).collect();
            assert_eq!(d.input(i), &expected[..], "image {i}");
            assert_eq!(labels(d)[i], u32::from(label(i)));
        }
        assert!(d.inputs.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn loads_gzip_and_raw_files() {
        for gzip in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            write_files(dir.path(), 23, 7, gzip);
            let split = load(&options(dir.path())).unwrap();
            check_set(&split.train, 23);
            check_set(&split.test, 7);
        }
    }

    #[test]
    fn pixels_are_scaled_by_255() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), 256, 1, true);
        let split = load(&options(dir.path())).unwrap();
        let values = split.train.inputs.as_slice().unwrap();
        // Every byte value appears, so both ends of [0, 1] do.
        assert!(values.contains(&0.0) && values.contains(&1.0));
        assert!(values.contains(&(128.0 / 255.0)));
    }

    #[test]
    fn train_samples_takes_the_first_images() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), 20, 6, true);
        let all = load(&options(dir.path())).unwrap();
        let some = load(&DatasetOptions { train_samples: 8, ..options(dir.path()) }).unwrap();
        check_set(&some.train, 8);
        assert_eq!(some.train.inputs, all.train.inputs.slice(ndarray::s![..8, ..]));
        assert_eq!(some.test, all.test, "the test set is whole");
        let message = load(&DatasetOptions { train_samples: 21, ..options(dir.path()) }).unwrap_err().to_string();
        let images = dir.path().join("train-images-idx3-ubyte.gz");
        assert_eq!(
            message,
            format!(
                "invalid value for `dataset_options.train_samples`: 21 (more than the 20 training images in {})",
                images.display()
            )
        );
    }

    #[test]
    fn missing_directory_names_the_file_package_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("no-such-dir");
        let message = load(&options(&absent)).unwrap_err().to_string();
        let file = absent.join("train-images-idx3-ubyte.gz");
        assert!(message.starts_with(&format!("{}: not found", file.display())), "{message}");
        assert!(message.contains("not found: no such directory"), "{message}");
        assert!(message.contains("`dataset-fashion-mnist`"), "{message}");
        assert!(message.contains("`apt-get install -y dataset-fashion-mnist`"), "{message}");
        assert!(message.contains("dataset_options.dir"), "{message}");
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), 4, 4, false);
        std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
        let message = load(&options(dir.path())).unwrap_err().to_string();
        let file = dir.path().join("t10k-labels-idx1-ubyte.gz");
        assert!(message.starts_with(&format!("{}: not found (nor `t10k-labels-idx1-ubyte` beside it)", file.display())));
        assert!(message.contains("apt-get install -y dataset-fashion-mnist"), "{message}");
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), 5, 4, false);
        let labels = dir.path().join("train-labels-idx1-ubyte");
        write(&labels, &idx_bytes(&[4], &[0, 1, 2, 3]), false);
        let message = load(&options(dir.path())).unwrap_err().to_string();
        let images = dir.path().join("train-images-idx3-ubyte");
        assert_eq!(
            message,
            format!(
                "{}: 4 labels, but {} holds 5 images: the two files do not belong together",
                labels.display(),
                images.display()
            )
        );
    }

    #[test]
    fn errors_in_a_file_name_it() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), 5, 4, false);
        let labels = dir.path().join("t10k-labels-idx1-ubyte");
        write(&labels, &idx_bytes(&[4], &[0, 1, 12, 3]), true);
        let message = load(&options(dir.path())).unwrap_err().to_string();
        assert_eq!(message, format!("{}: label 12 of item 2 is out of range (10 classes: 0 to 9)", labels.display()));
        let images = dir.path().join("t10k-images-idx3-ubyte");
        std::fs::write(&images, idx_bytes(&[4, 3, 2], &[0; 23])).unwrap();
        let message = load(&options(dir.path())).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{}: truncated data", images.display())), "{message}");
    }

    #[test]
    fn training_and_test_images_must_have_one_size() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), 5, 4, false);
        let images = dir.path().join("t10k-images-idx3-ubyte");
        write(&images, &idx_bytes(&[4, 2, 3], &[0; 24]), false);
        let message = load(&options(dir.path())).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{}: images of 2×3, but the training images", images.display())));
        assert!(message.ends_with("are 3×2"), "{message}");
    }

    #[test]
    #[ignore = "reads the real set: needs `apt-get install -y dataset-fashion-mnist`"]
    fn the_real_set() {
        let started = std::time::Instant::now();
        let split = load(&DatasetOptions::default()).unwrap();
        println!("Fashion-MNIST loaded in {:.3} s", started.elapsed().as_secs_f64());
        for (d, n) in [(&split.train, 60_000), (&split.test, 10_000)] {
            assert_eq!(d.len(), n);
            assert_eq!(d.input_dim(), 784);
            assert_eq!(d.image_shape, Some([1, 28, 28]));
            let mut counts = [0usize; 10];
            for &l in labels(d) {
                counts[l as usize] += 1;
            }
            // Fashion-MNIST is balanced: 6000 and 1000 images per class.
            assert_eq!(counts, [n / 10; 10]);
            assert!(d.inputs.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}
