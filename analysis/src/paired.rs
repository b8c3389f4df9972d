//! Paired residual-overhead samples (`overhead.json`, written by `benches/overhead.rs`) →
//! typed points, each giving the median paired ratio residual ÷ plain with its interval, the
//! median step times behind it, and the machine's load while it was measured.
//!
//! The bench times one sample of plain and one of residual train steps back to back per round,
//! so a disturbance from the rest of the machine hits both halves of a pair; the ratio within
//! a pair is the quantity to summarise, not the two time distributions separately. That holds
//! only while a disturbance lasts longer than a round: on a loaded machine the steps are slower
//! and the ratios spread, which is why the absolute times and the load are kept beside them.
//!
//! The load fields (`available_cpus`; per point `loadavg_1min_before`, `loadavg_1min_after`)
//! came later than the first files: a file without them loads, with the load unknown.

use crate::error::{Error, Result};
use crate::interval::{bootstrap_median, median_paired_ratio, Interval};
use crate::stats::quantile;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// The file name the overhead bench writes into its output directory.
pub const PAIRED_FILE: &str = "overhead.json";

/// The machine's 1-minute load average (`/proc/loadavg`) read just before a point's warm-up
/// and just after its last round. The bench's own threads count in it once it has run a while.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAverage {
    pub before: f64,
    pub after: f64,
}

impl LoadAverage {
    /// The higher of the two readings: a point is as loaded as its worst reading says.
    pub fn peak(&self) -> f64 {
        self.before.max(self.after)
    }
}

/// One depth × width point: per-round ns per train step, `plain_ns[i]` and `residual_ns[i]`
/// timed back to back, with the conditions it ran under.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedPoint {
    pub depth: usize,
    pub width: usize,
    /// Train steps per sample.
    pub iters: usize,
    pub plain_ns: Vec<f64>,
    pub residual_ns: Vec<f64>,
    /// Threads the bench's GEMMs ran on (the file's `threads`), when recorded.
    pub threads: Option<usize>,
    /// CPUs the bench's process could run on (the file's `available_cpus`), when recorded.
    pub available_cpus: Option<usize>,
    /// `None` in files written before the bench recorded the load.
    pub load: Option<LoadAverage>,
}

impl PairedPoint {
    /// Median of residual ÷ plain over the rounds, with a bootstrap interval.
    pub fn ratio(&self) -> Interval {
        median_paired_ratio(&self.residual_ns, &self.plain_ns).expect("validated: at least one positive pair")
    }

    /// Median ns per plain train step over the rounds, with a bootstrap interval.
    pub fn plain_time(&self) -> Interval {
        bootstrap_median(&self.plain_ns).expect("validated: positive times")
    }

    /// Median ns per residual train step over the rounds, with a bootstrap interval.
    pub fn residual_time(&self) -> Interval {
        bootstrap_median(&self.residual_ns).expect("validated: positive times")
    }

    /// The 10th and 90th percentiles of the per-round ratios residual ÷ plain: how far single
    /// rounds stray, where the median's interval says how well the median is known.
    pub fn ratio_spread(&self) -> (f64, f64) {
        let ratios = || self.residual_ns.iter().zip(&self.plain_ns).map(|(r, p)| r / p);
        let q = |q| quantile(ratios(), q).expect("validated: at least one positive pair");
        (q(0.1), q(0.9))
    }

    pub fn rounds(&self) -> usize {
        self.plain_ns.len()
    }
}

/// The file as written; the fields that came later stay JSON values until checked, so a
/// wrong one is named (serde's own type errors give a line and column, not the field).
#[derive(Deserialize)]
struct PairedFile {
    #[serde(default)]
    threads: Option<Value>,
    #[serde(default)]
    available_cpus: Option<Value>,
    points: Vec<PointRecord>,
}

#[derive(Deserialize)]
struct PointRecord {
    depth: usize,
    width: usize,
    iters: usize,
    plain_ns: Vec<f64>,
    residual_ns: Vec<f64>,
    #[serde(default)]
    loadavg_1min_before: Option<Value>,
    #[serde(default)]
    loadavg_1min_after: Option<Value>,
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
    let threads = count(&path, "threads", file.threads)?;
    let available_cpus = count(&path, "available_cpus", file.available_cpus)?;
    let mut points = Vec::with_capacity(file.points.len());
    for (i, record) in file.points.into_iter().enumerate() {
        let field = |name: &str| format!("points[{i}].{name}");
        if record.plain_ns.is_empty() || record.plain_ns.len() != record.residual_ns.len() {
            return Err(Error::field(
                &path,
                &field("residual_ns"),
                format!(
                    "{} values against {} in plain_ns: expected the same non-zero number of rounds",
                    record.residual_ns.len(),
                    record.plain_ns.len()
                ),
            ));
        }
        for (name, values) in [("plain_ns", &record.plain_ns), ("residual_ns", &record.residual_ns)] {
            if let Some((round, value)) = values.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
                return Err(Error::field(
                    &path,
                    &format!("{}[{round}]", field(name)),
                    format!("{value} is not a positive time in ns"),
                ));
            }
        }
        let before = load_average(&path, &field("loadavg_1min_before"), record.loadavg_1min_before)?;
        let after = load_average(&path, &field("loadavg_1min_after"), record.loadavg_1min_after)?;
        let load = match (before, after) {
            (Some(before), Some(after)) => Some(LoadAverage { before, after }),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                let (missing, present) = if before.is_none() {
                    ("loadavg_1min_before", "loadavg_1min_after")
                } else {
                    ("loadavg_1min_after", "loadavg_1min_before")
                };
                return Err(Error::field(
                    &path,
                    &field(missing),
                    format!("absent while {present} is recorded: the bench writes both readings or neither"),
                ));
            }
        };
        points.push(PairedPoint {
            depth: record.depth,
            width: record.width,
            iters: record.iters,
            plain_ns: record.plain_ns,
            residual_ns: record.residual_ns,
            threads,
            available_cpus,
            load,
        });
    }
    Ok(points)
}

/// A count of threads or CPUs (a whole number ≥ 1); `None` when absent or null.
fn count(path: &Path, field: &str, value: Option<Value>) -> Result<Option<usize>> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(None) };
    match value.as_u64().filter(|&n| n >= 1) {
        Some(n) => Ok(Some(n as usize)),
        None => Err(Error::field(path, field, format!("{value} is not a whole number >= 1"))),
    }
}

/// A load average (a finite number ≥ 0); `None` when absent or null.
fn load_average(path: &Path, field: &str, value: Option<Value>) -> Result<Option<f64>> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(None) };
    match value.as_f64().filter(|v| v.is_finite() && *v >= 0.0) {
        Some(load) => Ok(Some(load)),
        None => Err(Error::field(path, field, format!("{value} is not a load average (a number >= 0)"))),
    }
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
        // Written before the bench recorded the load: it loads, the load unknown.
        assert_eq!((points[0].threads, points[0].available_cpus, points[0].load), (Some(1), None, None));
        assert_eq!(points[0].plain_time().point, 100.0);
        assert_eq!(points[0].residual_time().point, 103.0);
    }

    #[test]
    fn loads_the_recorded_load() {
        let tmp = tempfile::tempdir().unwrap();
        // Ratios 1.00, 1.01, …, 1.10 over 11 rounds.
        let plain: Vec<f64> = vec![100.0; 11];
        let residual: Vec<f64> = (0..11).map(|i| 100.0 + i as f64).collect();
        let file = serde_json::json!({"threads": 1, "available_cpus": 2, "points": [
            {"depth": 16, "width": 64, "iters": 20, "loadavg_1min_before": 0.25, "loadavg_1min_after": 1.5,
             "plain_ns": plain, "residual_ns": residual}
        ]});
        fs::write(tmp.path().join(PAIRED_FILE), file.to_string()).unwrap();
        let point = &load_paired(tmp.path()).unwrap()[0];
        assert_eq!((point.threads, point.available_cpus), (Some(1), Some(2)));
        assert_eq!(point.load, Some(LoadAverage { before: 0.25, after: 1.5 }));
        assert_eq!(point.load.unwrap().peak(), 1.5);
        let (q10, q90) = point.ratio_spread();
        assert!((q10 - 1.01).abs() < 1e-12 && (q90 - 1.09).abs() < 1e-12, "{q10} {q90}");
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
        let point = |before: serde_json::Value, after: serde_json::Value| {
            serde_json::json!([{"depth": 2, "width": 8, "iters": 1, "plain_ns": [1.0], "residual_ns": [1.0],
                                "loadavg_1min_before": before, "loadavg_1min_after": after}])
        };
        check(point(serde_json::json!("high"), serde_json::json!(1.0)), "points[0].loadavg_1min_before");
        check(point(serde_json::json!(1.0), serde_json::json!(-0.5)), "points[0].loadavg_1min_after");
        check(point(serde_json::json!(1.0), serde_json::Value::Null), "points[0].loadavg_1min_after");
        // The file-level counts, named as such.
        let bad_count = |field: &str, value: serde_json::Value| {
            let mut file = serde_json::json!({"points": []});
            file[field] = value;
            fs::write(&path, file.to_string()).unwrap();
            let err = load_paired(tmp.path()).unwrap_err().to_string();
            assert!(err.contains(&format!("field `{field}`")) && err.contains(PAIRED_FILE), "{err}");
        };
        bad_count("available_cpus", serde_json::json!(0));
        bad_count("threads", serde_json::json!("one"));
    }
}
