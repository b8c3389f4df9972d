//! Raw little-endian arrays: a format any language reads without a library (Python:
//! `torch.frombuffer` or `array`), described by the JSON index beside them.

use crate::error::{Error, Result};
use crate::model::Real;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Element type of an exported float array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    /// The precision of the float type `T` (the project's `Real` is f32 or f64).
    pub fn of<T: Real>() -> Self {
        if std::mem::size_of::<T>() == 4 {
            Precision::F32
        } else {
            Precision::F64
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// Writes `values` as little-endian `precision` floats (f32 values widened to f64 and back
/// are unchanged, so nothing is rounded twice).
pub fn write_floats<T: Real>(path: &Path, precision: Precision, values: impl Iterator<Item = T>) -> Result<()> {
    let mut bytes = Vec::new();
    for v in values {
        match precision {
            Precision::F32 => bytes.extend_from_slice(&(v.as_f64() as f32).to_le_bytes()),
            Precision::F64 => bytes.extend_from_slice(&v.as_f64().to_le_bytes()),
        }
    }
    write_bytes(path, &bytes)
}

/// Writes `values` as little-endian u32.
pub fn write_u32s(path: &Path, values: impl Iterator<Item = u32>) -> Result<()> {
    let bytes: Vec<u8> = values.flat_map(u32::to_le_bytes).collect();
    write_bytes(path, &bytes)
}

pub fn write_json<S: Serialize>(path: &Path, value: &S) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("export indexes always serialise");
    text.push('\n');
    write_bytes(path, text.as_bytes())
}

pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_little_endian() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        write_floats(&path, Precision::F32, [1.5f32, -0.1].into_iter()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, [1.5f32.to_le_bytes(), (-0.1f32).to_le_bytes()].concat());
        write_floats(&path, Precision::F64, [0.1f64].into_iter()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), 0.1f64.to_le_bytes());
        assert_eq!(Precision::of::<f32>(), Precision::F32);
        assert_eq!(Precision::of::<f64>(), Precision::F64);
    }
}
