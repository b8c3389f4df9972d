//! The IDX format of the MNIST family (LeCun et al.; Fashion-MNIST uses it unchanged), for
//! arrays of unsigned bytes: a big-endian u32 magic `0x0000_08DD` (`08` = unsigned bytes,
//! `DD` = the number of dimensions), one big-endian u32 per dimension, then the bytes,
//! row-major. Images are 3-D (`0x00000803`: count × rows × columns), labels 1-D (`0x00000801`).
//!
//! A file may be gzip-compressed, as the data sets ship, or raw: the gzip magic (`1f 8b`) tells
//! them apart, never the file name (a raw IDX file starts with `00 00`). Every defect (wrong
//! magic or dimension count, a dimension of 0, fewer or more data bytes than the header
//! describes, a corrupt gzip stream, a label out of range) is an [`Error`] naming the file
//! and the problem; nothing here panics on what a file contains.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The third byte of the magic: the data are unsigned bytes.
const UNSIGNED_BYTES: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images of one IDX file: `count` images of `rows × cols` bytes, one after another.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    /// `count × rows × cols` bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Reads a 3-D IDX file of unsigned bytes (magic `0x00000803`).
pub(super) fn read_images(path: &Path) -> Result<Images> {
    let (dims, pixels) = read_array(path, 3, "images")?;
    Ok(Images { count: dims[0], rows: dims[1], cols: dims[2], pixels })
}

/// Reads a 1-D IDX file of unsigned bytes (magic `0x00000801`) whose every value is a class
/// index `< num_classes`.
pub(super) fn read_labels(path: &Path, num_classes: usize) -> Result<Vec<u8>> {
    let (_, labels) = read_array(path, 1, "labels")?;
    if let Some((i, &label)) = labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= num_classes) {
        return Err(Error::data_file(
            path,
            format!("label {label} of item {i} is out of range ({num_classes} classes: 0 to {})", num_classes - 1),
        ));
    }
    Ok(labels)
}

/// The dimensions and data of the IDX file `path`, which must hold unsigned bytes in `ndims`
/// dimensions; `what` (images, labels) words the errors.
fn read_array(path: &Path, ndims: usize, what: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if file.starts_with(&GZIP_MAGIC) {
        let mut bytes = Vec::new();
        flate2::read::MultiGzDecoder::new(file.as_slice())
            .read_to_end(&mut bytes)
            .map_err(|e| Error::data_file(path, format!("not a valid gzip stream (corrupt or cut short): {e}")))?;
        bytes
    } else {
        file
    };
    parse(&bytes, ndims, what).map_err(|message| Error::data_file(path, message))
}

/// Splits an (uncompressed) IDX file into its dimensions and its data; the error is the
/// problem in words.
fn parse(bytes: &[u8], ndims: usize, what: &str) -> std::result::Result<(Vec<usize>, Vec<u8>), String> {
    let expected_magic = u32::from(UNSIGNED_BYTES) << 8 | ndims as u32;
    let header_len = 4 * (1 + ndims);
    let Some(magic) = be_u32(bytes, 0) else {
        return Err(format!(
            "truncated header: {} bytes, where an IDX file of {what} starts with {header_len}",
            bytes.len()
        ));
    };
    if magic >> 8 == u32::from(UNSIGNED_BYTES) && magic & 0xff != ndims as u32 {
        return Err(format!(
            "wrong number of dimensions: {} (magic 0x{magic:08x}), where {what} have {ndims} (magic 0x{expected_magic:08x})",
            magic & 0xff
        ));
    }
    if magic != expected_magic {
        return Err(format!(
            "wrong magic number 0x{magic:08x}: an IDX file of {what} starts with 0x{expected_magic:08x} \
             (unsigned bytes in {ndims} dimension{})",
            if ndims == 1 { "" } else { "s" }
        ));
    }
    let dims: Vec<usize> = (1..=ndims).map_while(|k| be_u32(bytes, 4 * k)).map(|d| d as usize).collect();
    if dims.len() < ndims {
        return Err(format!(
            "truncated header: {} bytes, where an IDX file of {what} starts with {header_len}",
            bytes.len()
        ));
    }
    let shape = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" × ");
    if dims.contains(&0) {
        return Err(format!("a dimension of size 0 ({shape}): the file holds no {what}"));
    }
    let Some(data_len) = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
        return Err(format!("dimensions {shape} are too large to hold in memory"));
    };
    let data = &bytes[header_len..];
    if data.len() < data_len {
        return Err(format!(
            "truncated data: the header's {shape} needs {data_len} bytes after the header, the file has {}",
            data.len()
        ));
    }
    if data.len() > data_len {
        let extra = data.len() - data_len;
        return Err(format!(
            "{extra} trailing byte{} after the {data_len} bytes of data the header's {shape} describes",
            if extra == 1 { "" } else { "s" }
        ));
    }
    Ok((dims, data.to_vec()))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes(word.try_into().expect("a 4-byte slice")))
}

/// Writers of small IDX files, for the tests here and of the data sets read from them.
#[cfg(test)]
pub(super) mod testing {
    use std::io::Write;
    use std::path::Path;

    /// The bytes of an IDX file of unsigned bytes: magic, dimensions, then `data`.
    pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = (0x0800 | dims.len() as u32).to_be_bytes().to_vec();
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(data);
        bytes
    }

    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Writes `bytes` to `path`, gzip-compressed if `compress`.
    pub fn write(path: &Path, bytes: &[u8], compress: bool) {
        std::fs::write(path, if compress { gzip(bytes) } else { bytes.to_vec() }).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{gzip, idx_bytes, write};
    use super::*;

    /// Two 2×3 images with pixels 0..12.
    fn images_file() -> Vec<u8> {
        idx_bytes(&[2, 2, 3], &(0..12).collect::<Vec<u8>>())
    }

    fn error_of(bytes: &[u8], read: fn(&Path) -> Result<()>) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("some-idx-file");
        write(&path, bytes, false);
        let message = read(&path).unwrap_err().to_string();
        (message, path.display().to_string())
    }

    fn images_error(bytes: &[u8]) -> String {
        let (message, path) = error_of(bytes, |p| read_images(p).map(|_| ()));
        assert!(message.starts_with(&format!("{path}: ")), "the message names the file: {message}");
        message
    }

    fn labels_error(bytes: &[u8]) -> String {
        let (message, path) = error_of(bytes, |p| read_labels(p, 10).map(|_| ()));
        assert!(message.starts_with(&format!("{path}: ")), "the message names the file: {message}");
        message
    }

    #[test]
    fn reads_raw_and_gzip_alike() {
        let dir = tempfile::tempdir().unwrap();
        let expected = Images { count: 2, rows: 2, cols: 3, pixels: (0..12).collect() };
        for compress in [false, true] {
            // The name says nothing: the content decides.
            let path = dir.path().join(format!("images-{compress}.gz"));
            write(&path, &images_file(), compress);
            assert_eq!(read_images(&path).unwrap(), expected);
        }
        let labels = dir.path().join("labels");
        write(&labels, &idx_bytes(&[4], &[3, 0, 9, 1]), true);
        assert_eq!(read_labels(&labels, 10).unwrap(), vec![3, 0, 9, 1]);
    }

    #[test]
    fn wrong_magic() {
        let mut bytes = images_file();
        bytes[2] = 0x0d; // floats
        let message = images_error(&bytes);
        assert!(message.contains("wrong magic number 0x00000d03") && message.contains("0x00000803"), "{message}");
        let message = images_error(b"P5\n28 28\n255\n");
        assert!(message.contains("wrong magic number 0x50350a32"), "{message}");
    }

    #[test]
    fn wrong_number_of_dimensions() {
        // A labels file where images are expected, and the other way round.
        let message = images_error(&idx_bytes(&[2], &[1, 2]));
        assert!(message.contains("wrong number of dimensions: 1 (magic 0x00000801), where images have 3"), "{message}");
        let message = labels_error(&images_file());
        assert!(message.contains("wrong number of dimensions: 3 (magic 0x00000803), where labels have 1"), "{message}");
    }

    #[test]
    fn truncated_header_and_data() {
        let message = images_error(&[0, 0]);
        assert!(message.contains("truncated header: 2 bytes"), "{message}");
        let message = images_error(&images_file()[..10]);
        assert!(
            message.contains("truncated header: 10 bytes, where an IDX file of images starts with 16"),
            "{message}"
        );
        let bytes = images_file();
        let message = images_error(&bytes[..bytes.len() - 1]);
        assert!(
            message.contains("truncated data: the header's 2 × 2 × 3 needs 12 bytes after the header, the file has 11"),
            "{message}"
        );
    }

    #[test]
    fn trailing_bytes() {
        let mut bytes = idx_bytes(&[3], &[1, 2, 3]);
        bytes.extend([0, 0]);
        let message = labels_error(&bytes);
        assert!(message.contains("2 trailing bytes after the 3 bytes of data the header's 3 describes"), "{message}");
    }

    #[test]
    fn one_trailing_byte() {
        let mut bytes = images_file();
        bytes.push(7);
        let message = images_error(&bytes);
        assert!(message.ends_with(": 1 trailing byte after the 12 bytes of data the header's 2 × 2 × 3 describes"));
    }

    #[test]
    fn zero_sized_dimension() {
        let message = images_error(&idx_bytes(&[5, 0, 28], &[]));
        assert!(message.contains("a dimension of size 0 (5 × 0 × 28): the file holds no images"), "{message}");
    }

    #[test]
    fn dimensions_too_large_for_memory() {
        let message = images_error(&idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]));
        assert!(message.contains("too large"), "{message}");
    }

    #[test]
    fn label_out_of_range() {
        let message = labels_error(&idx_bytes(&[4], &[3, 0, 10, 1]));
        assert!(message.contains("label 10 of item 2 is out of range (10 classes: 0 to 9)"), "{message}");
    }

    #[test]
    fn corrupt_and_cut_gzip() {
        let compressed = gzip(&images_file());
        let message = images_error(&compressed[..compressed.len() / 2]);
        assert!(message.contains("not a valid gzip stream (corrupt or cut short)"), "{message}");
        let mut corrupt = compressed.clone();
        for b in &mut corrupt[10..] {
            *b ^= 0x5a;
        }
        let message = images_error(&corrupt);
        assert!(message.contains("not a valid gzip stream"), "{message}");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let message = read_images(&path).unwrap_err().to_string();
        assert!(message.starts_with(&path.display().to_string()), "{message}");
    }
}
