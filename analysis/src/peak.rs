//! The core's physical limit (`peak.json`, written by `benches/peak.rs` beside the criterion
//! results): one core's f32 multiply-add rate at the widest instruction set the CPU has. With
//! it a report can say whether a slow number is the kernel's fault (a GEMM ceiling far below
//! peak) or the step's (a step far below its GEMM ceiling).

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// The file name the peak bench writes into criterion's output directory.
pub const PEAK_FILE: &str = "peak.json";

/// The measured peak of one core.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Peak {
    pub machine_id: String,
    /// The instruction set whose rate is the peak (`avx512f`, `avx2+fma`, `portable`).
    pub isa: String,
    /// Best-decile GFLOP/s of the register-only multiply-add loop.
    pub peak_gflops: f64,
}

/// `dir/peak.json`, or `None` when the peak bench did not run there.
pub fn load_peak(dir: &Path) -> Result<Option<Peak>> {
    let path = dir.join(PEAK_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let peak: Peak = serde_json::from_str(&text)
        .map_err(|e| Error::Json { path: path.clone(), message: format!("not a peak bench file: {e}") })?;
    if !(peak.peak_gflops.is_finite() && peak.peak_gflops > 0.0) {
        return Err(Error::field(&path, "peak_gflops", format!("{}: expected a positive rate", peak.peak_gflops)));
    }
    Ok(Some(peak))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bench_file_and_rejects_a_rate_that_is_not_one() {
        let dir = std::env::temp_dir().join(format!("peak-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load_peak(&dir).unwrap(), None);
        let file = |rate: &str| {
            format!(
                r#"{{"machine_id": "m1", "cpu_model": "x", "threads": 1, "isa": "avx512f", "peak_gflops": {rate},
                    "by_isa": [], "method": "m"}}"#
            )
        };
        std::fs::write(dir.join(PEAK_FILE), file("118.2")).unwrap();
        let peak = load_peak(&dir).unwrap().unwrap();
        assert_eq!((peak.isa.as_str(), peak.peak_gflops), ("avx512f", 118.2));
        std::fs::write(dir.join(PEAK_FILE), file("0.0")).unwrap();
        let error = load_peak(&dir).unwrap_err().to_string();
        assert!(error.contains("peak_gflops"), "{error}");
        std::fs::write(dir.join(PEAK_FILE), "{").unwrap();
        assert!(load_peak(&dir).unwrap_err().to_string().contains("not a peak bench file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
