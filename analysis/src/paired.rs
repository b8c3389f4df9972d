//! Paired residual-overhead samples (`overhead.json`, written by `benches/overhead.rs`) →
//! typed points, each giving the median paired ratio residual ÷ plain with its interval.
//!
//! The bench times one sample of plain and one of residual train steps back to back per round,
//! so a disturbance from the rest of the machine hits both halves of a pair; the ratio within
//! a pair is the quantity to summarise, not the two time distributions separately.

use crate::error::{Error, Result};
use crate::interval::{median_paired_ratio, Interval};
use serde::Deserialize;
use std::path::Path;

/// The file name the overhead bench writes into its output directory.
pub const PAIRED_FILE: &str = "overhead.json";

/// One depth × width point: per-round ns per train step, `plain_ns[i]` and `residual_ns[i]`
/// timed back to back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PairedPoint {
    pub depth: usize,
    pub width: usize,
    /// Train steps per sample.
    pub iters: usize,
    pub plain_ns: Vec<f64>,
    pub residual_ns: Vec<f64>,
}

impl PairedPoint {
    /// Median of residual ÷ plain over the rounds, with a bootstrap interval.
    pub fn ratio(&self) -> Interval {
        median_paired_ratio(&self.residual_ns, &self.plain_ns).expect("validated: at least one positive pair")
    }

    pub fn rounds(&self) -> usize {
        self.plain_ns.len()
    }
}

#[derive(Deserialize)]
struct PairedFile {
    points: Vec<PairedPoint>,
}

/// The points of `dir/overhead.json`; empty when the file does not exist.
pub fn load_paired(dir: &Path) -> Result<Vec<PairedPoint>> {
    let path = dir.join(PAIRED_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let file: PairedFile = serde_json::from_str(&text)
        .map_err(|e| Error::Json { path: path.clone(), message: format!("not an overhead bench file: {e}") })?;
    for (i, point) in file.points.iter().enumerate() {
        let field = |name: &str| format!("points[{i}].{name}");
        if point.plain_ns.is_empty() || point.plain_ns.len() != point.residual_ns.len() {
            return Err(Error::field(
                &path,
                &field("residual_ns"),
                format!(
                    "{} values against {} in plain_ns: expected the same non-zero number of rounds",
                    point.residual_ns.len(),
                    point.plain_ns.len()
                ),
            ));
        }
        for (name, values) in [("plain_ns", &point.plain_ns), ("residual_ns", &point.residual_ns)] {
            if let Some((round, value)) = values.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
                return Err(Error::field(
                    &path,
                    &format!("{}[{round}]", field(name)),
                    format!("{value} is not a positive time in ns"),
                ));
            }
        }
    }
    Ok(file.points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn loads_points_and_their_ratios() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(load_paired(tmp.path()).unwrap().is_empty());
        let file = serde_json::json!({"method": "m", "batch": 128, "threads": 1, "points": [
            {"depth": 16, "width": 64, "iters": 20, "plain_ns": [100.0, 200.0, 100.0], "residual_ns": [103.0, 204.0, 101.0]}
        ]});
        fs::write(tmp.path().join(PAIRED_FILE), file.to_string()).unwrap();
        let points = load_paired(tmp.path()).unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!((points[0].depth, points[0].width, points[0].rounds()), (16, 64, 3));
        // Ratios 1.03, 1.02, 1.01: median 1.02, whatever the absolute times did.
        let ratio = points[0].ratio();
        assert!((ratio.point - 1.02).abs() < 1e-12, "{ratio:?}");
        assert!(ratio.lower >= 1.01 - 1e-12 && ratio.upper <= 1.03 + 1e-12, "{ratio:?}");
    }

    #[test]
    fn bad_files_name_the_field() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(PAIRED_FILE);
        let check = |points: serde_json::Value, expected: &str| {
            fs::write(&path, serde_json::json!({"points": points}).to_string()).unwrap();
            let err = load_paired(tmp.path()).unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains(PAIRED_FILE), "{err}");
        };
        check(
            serde_json::json!([{"depth": 2, "width": 8, "iters": 1, "plain_ns": [1.0, 2.0], "residual_ns": [1.0]}]),
            "points[0].residual_ns",
        );
        check(
            serde_json::json!([{"depth": 2, "width": 8, "iters": 1, "plain_ns": [1.0, -2.0], "residual_ns": [1.0, 1.0]}]),
            "points[0].plain_ns[1]",
        );
        check(serde_json::json!([{"depth": 2, "width": 8}]), "missing field `iters`");
    }
}
