//! Criterion output directories → typed benchmark rows.
//!
//! Layout (criterion 0.8): `<dir>/<group>/<function>/<param>/new/{estimates.json,
//! benchmark.json, sample.json}`, times in nanoseconds. These are criterion's internal files,
//! so they are parsed defensively: the median with its confidence interval
//! (`median.{point_estimate, confidence_interval.{lower_bound, upper_bound, confidence_level}}`)
//! is required, every other field optional; the ids come from `benchmark.json` when it has them
//! and from the path otherwise; the raw sample from `sample.json` when it was kept, to judge
//! whether the time is one number at all ([`stability`]). The
//! benches write the machine fingerprint as `<dir>/machine.json` (criterion itself records no
//! hardware) and the paired residual-overhead samples as `<dir>/overhead.json` ([`paired`]).
//!
//! [`paired`]: crate::paired
//!
//! Benchmark ids (see the benches): groups `forward`, `backward`, `train_step` with function
//! `plain` | `residual` and parameter `d{depth}_w{width}`; group `gemm_ceiling` with any
//! function and parameter `w{width}`. Throughput elements are the FLOPs of one iteration.

pub mod stability;

use crate::error::{Error, Result, Warning};
use crate::fingerprint::read_machine;
use crate::interval::Interval;
use crate::paired::{load_paired, PairedPoint};
use crate::peak::{load_peak, Peak};
use degradation_bench::record::MachineInfo;
use serde_json::Value;
pub use stability::{Instability, Stability};
use std::path::{Path, PathBuf};

/// Machine id used when a criterion directory has no fingerprint beside it.
pub const UNKNOWN_MACHINE: &str = "unknown";

/// The groups that time a network (the others are ignored, except the ceiling).
pub const LAYER_GROUPS: [&str; 3] = ["forward", "backward", "train_step"];
pub const CEILING_GROUP: &str = "gemm_ceiling";
/// The conv bench's groups (`benches/conv.rs`): the paper's conv nets and their GEMMs.
pub const CONV_GROUPS: [&str; 3] = ["conv_forward", "conv_backward", "conv_train_step"];
pub const CONV_CEILING_GROUP: &str = "gemm_ceiling_conv";

/// What a benchmark id says it measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchKind {
    /// A network pass: `forward|backward|train_step / plain|residual / d{depth}_w{width}`.
    Network { arch: String, depth: usize, width: usize },
    /// The raw GEMM at the layer shape: `gemm_ceiling / * / w{width}`.
    Ceiling { width: usize },
    /// A conv net pass: `conv_forward|conv_backward|conv_train_step / plain|residual /
    /// d{depth}_i{side}` (side: the input images' side).
    ConvNetwork { arch: String, depth: usize, side: usize },
    /// One GEMM a stride-1 conv runs: `gemm_ceiling_conv / forward|weight_grad|input_grad /
    /// i{side}_c{channels}`.
    ConvCeiling { side: usize, channels: usize },
}

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    pub machine_id: String,
    pub group: String,
    pub function: String,
    pub param: String,
    pub kind: BenchKind,
    /// Median time per iteration in ns, with criterion's bootstrap confidence interval.
    pub median: Interval,
    /// Mean time per iteration in ns, when criterion's estimate of it is usable.
    pub mean: Option<Interval>,
    /// Whether the time is one number: judged from `sample.json` when that file was kept
    /// beside the estimates, from the median's interval otherwise.
    pub stability: Stability,
    /// FLOPs of one iteration (criterion's `Throughput::Elements`), when recorded.
    pub flops: Option<f64>,
}

impl BenchRow {
    /// FLOPs per nanosecond is GFLOP/s; the interval is the median time's, inverted.
    pub fn gflops(&self) -> Option<Interval> {
        self.flops.map(|f| self.median.reciprocal_scaled(f))
    }
}

/// One criterion output directory, loaded.
#[derive(Debug, Clone)]
pub struct BenchSet {
    pub dir: PathBuf,
    pub machine: Option<MachineInfo>,
    pub machine_id: String,
    pub rows: Vec<BenchRow>,
    /// Paired plain/residual train-step samples (`overhead.json`), when that bench ran here.
    pub paired: Vec<PairedPoint>,
    /// The core's f32 multiply-add peak (`peak.json`), when that bench ran here.
    pub peak: Option<Peak>,
}

impl BenchSet {
    /// A set of rows alone, as tests build them: no directory, machine file, pairs or peak.
    #[cfg(test)]
    pub(crate) fn of_rows(machine_id: &str, rows: Vec<BenchRow>) -> BenchSet {
        BenchSet {
            dir: PathBuf::new(),
            machine: None,
            machine_id: machine_id.into(),
            rows,
            paired: Vec::new(),
            peak: None,
        }
    }

    /// "AMD EPYC 9R14 (2 cores)": how a machine is named in titles, legends and tables.
    pub fn machine_label(&self) -> String {
        match &self.machine {
            Some(m) => match m.physical_cores.unwrap_or(m.logical_cores) {
                1 => format!("{} (1 core)", m.cpu_model.trim()),
                cores => format!("{} ({cores} cores)", m.cpu_model.trim()),
            },
            None => self.machine_id.clone(),
        }
    }

    /// "Intel Xeon (16 cores)": the label without trademark signs and the words "Processor"
    /// and "CPU", for a chart panel's title, where the full name runs into its neighbour's.
    pub fn machine_short_label(&self) -> String {
        let Some(m) = &self.machine else { return self.machine_id.clone() };
        let model: Vec<&str> = m
            .cpu_model
            .split_whitespace()
            .map(|word| word.trim_end_matches("(R)").trim_end_matches("(TM)").trim_end_matches("(tm)"))
            .filter(|word| !word.is_empty() && *word != "Processor" && *word != "CPU")
            .collect();
        match m.physical_cores.unwrap_or(m.logical_cores) {
            1 => format!("{} (1 core)", model.join(" ")),
            cores => format!("{} ({cores} cores)", model.join(" ")),
        }
    }
}

/// Loads every benchmark under `dir`. A directory with neither estimates nor paired samples is
/// an error.
pub fn load_criterion(dir: &Path, warnings: &mut Vec<Warning>) -> Result<BenchSet> {
    if !dir.is_dir() {
        return Err(Error::MissingDir { path: dir.to_path_buf(), what: "criterion" });
    }
    let machine_path = dir.join("machine.json");
    let machine = if machine_path.is_file() {
        Some(read_machine(&machine_path)?)
    } else {
        warnings.push(Warning(format!(
            "{}: missing; these benchmarks are attributed to machine `{UNKNOWN_MACHINE}` and have no CPU description",
            machine_path.display()
        )));
        None
    };
    let machine_id = machine.as_ref().map_or_else(|| UNKNOWN_MACHINE.to_string(), |m| m.machine_id.clone());

    let mut bench_dirs = Vec::new();
    find_bench_dirs(dir, dir, 0, &mut bench_dirs)?;
    bench_dirs.sort();
    let paired = load_paired(dir)?;
    let peak = load_peak(dir)?;
    if bench_dirs.is_empty() && paired.is_empty() && peak.is_none() {
        return Err(Error::NoEstimates { path: dir.to_path_buf() });
    }

    let mut rows = Vec::new();
    let mut missing_throughput = 0usize;
    for bench_dir in &bench_dirs {
        let ids = bench_ids(dir, bench_dir)?;
        let new = bench_dir.join("new");
        let (median, mean) = read_estimates(&new.join("estimates.json"))?;
        let stability = match read_sample(&new.join("sample.json"))? {
            Some(per_iteration) => Stability::from_sample(&per_iteration),
            None => Stability::from_interval(&median),
        };
        let flops = read_throughput(&new.join("benchmark.json"))?;
        if flops.is_none() {
            missing_throughput += 1;
        }
        let kind = match classify(&ids.group, &ids.function, &ids.param) {
            Some(kind) => kind,
            None => {
                warnings.push(Warning(format!(
                    "{}: benchmark `{}/{}/{}` is not one the analysis knows; ignored",
                    bench_dir.display(),
                    ids.group,
                    ids.function,
                    ids.param
                )));
                continue;
            }
        };
        rows.push(BenchRow {
            machine_id: machine_id.clone(),
            group: ids.group,
            function: ids.function,
            param: ids.param,
            kind,
            median,
            mean,
            stability,
            flops,
        });
    }
    if missing_throughput > 0 {
        warnings.push(Warning(format!(
            "{}: {missing_throughput} benchmark(s) record no throughput (FLOPs); their GFLOP/s are left blank",
            dir.display()
        )));
    }
    Ok(BenchSet { dir: dir.to_path_buf(), machine, machine_id, rows, paired, peak })
}

/// Directories below `root` that hold `new/estimates.json` (criterion's `report/` pages skipped).
fn find_bench_dirs(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if dir != root && dir.join("new").join("estimates.json").is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= 4 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "report" || name == "new" || name == "base" || !path.is_dir() {
            continue;
        }
        find_bench_dirs(root, &path, depth + 1, out)?;
    }
    Ok(())
}

struct BenchIds {
    group: String,
    function: String,
    param: String,
}

/// Ids from `new/benchmark.json` (`group_id`, `function_id`, `value_str`), else from the path.
fn bench_ids(root: &Path, bench_dir: &Path) -> Result<BenchIds> {
    let parts: Vec<String> = bench_dir
        .strip_prefix(root)
        .unwrap_or(bench_dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let from_path = |i: usize| parts.get(i).cloned().unwrap_or_default();
    let mut ids = BenchIds { group: from_path(0), function: from_path(1), param: from_path(2) };
    let path = bench_dir.join("new").join("benchmark.json");
    if let Some(json) = read_json_if_present(&path)? {
        let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_string);
        if let Some(group) = text("group_id") {
            ids.group = group;
        }
        if let Some(function) = text("function_id") {
            ids.function = function;
        }
        if let Some(param) = text("value_str") {
            ids.param = param;
        }
    }
    Ok(ids)
}

fn read_json_if_present(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Json { path: path.to_path_buf(), message: format!("not valid JSON: {e}") })
}

/// `(median, mean)` in ns with their confidence intervals. The median is required, with a
/// valid interval; a mean that is absent or malformed is dropped (nothing here depends on it).
pub fn read_estimates(path: &Path) -> Result<(Interval, Option<Interval>)> {
    let json = read_json_if_present(path)?
        .ok_or_else(|| Error::MissingFile { path: path.to_path_buf(), why: "criterion's estimates" })?;
    let median = read_estimate(path, &json, "median")?;
    let mean = read_estimate(path, &json, "mean").ok();
    Ok((median, mean))
}

/// `<stat>.point_estimate` and `<stat>.confidence_interval.{lower_bound, upper_bound,
/// confidence_level}`, errors naming the first field that is missing or wrong.
fn read_estimate(path: &Path, json: &Value, stat: &str) -> Result<Interval> {
    let number = |field: &str| -> Result<f64> {
        let mut value = json.get(stat);
        for key in field.split('.') {
            value = value.and_then(|v| v.get(key));
        }
        value
            .and_then(Value::as_f64)
            .ok_or_else(|| Error::field(path, &format!("{stat}.{field}"), "missing or not a number"))
    };
    let point = number("point_estimate")?;
    if !(point.is_finite() && point > 0.0) {
        return Err(Error::field(
            path,
            &format!("{stat}.point_estimate"),
            format!("{point} is not a positive time in ns"),
        ));
    }
    let lower = number("confidence_interval.lower_bound")?;
    let upper = number("confidence_interval.upper_bound")?;
    let level = number("confidence_interval.confidence_level")?;
    Interval::new(point, lower, upper, level)
        .map_err(|message| Error::field(path, &format!("{stat}.confidence_interval"), message))
}

/// Criterion's raw sample (`sample.json`: `iters[i]` iterations took `times[i]` ns), as ns per
/// iteration in the order taken, when the file exists.
pub fn read_sample(path: &Path) -> Result<Option<Vec<f64>>> {
    let Some(json) = read_json_if_present(path)? else {
        return Ok(None);
    };
    let numbers = |key: &str| -> Result<Vec<f64>> {
        let values = json.get(key).and_then(Value::as_array).filter(|v| !v.is_empty());
        let values = values.ok_or_else(|| Error::field(path, key, "missing, empty or not an array"))?;
        values
            .iter()
            .map(|v| v.as_f64().filter(|x| x.is_finite() && *x > 0.0))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| Error::field(path, key, "holds a value that is not a positive number"))
    };
    let (iters, times) = (numbers("iters")?, numbers("times")?);
    if iters.len() != times.len() {
        return Err(Error::field(path, "times", format!("{} times for {} iteration counts", times.len(), iters.len())));
    }
    Ok(Some(times.iter().zip(&iters).map(|(t, n)| t / n).collect()))
}

/// `throughput.Elements` of benchmark.json (FLOPs per iteration), when present.
pub fn read_throughput(path: &Path) -> Result<Option<f64>> {
    let Some(json) = read_json_if_present(path)? else {
        return Ok(None);
    };
    let elements = json
        .get("throughput")
        .and_then(|t| t.get("Elements"))
        .and_then(Value::as_f64)
        .filter(|e| e.is_finite() && *e > 0.0);
    Ok(elements)
}

/// Maps a benchmark id onto what it measures; `None` for ids the analysis does not use.
pub fn classify(group: &str, function: &str, param: &str) -> Option<BenchKind> {
    if group == CEILING_GROUP {
        let width = param.strip_prefix('w')?.parse().ok()?;
        return Some(BenchKind::Ceiling { width });
    }
    if group == CONV_CEILING_GROUP {
        let (side, channels) = parse_prefixed_pair(param, 'i', 'c')?;
        return Some(BenchKind::ConvCeiling { side, channels });
    }
    if CONV_GROUPS.contains(&group) && (function == "plain" || function == "residual") {
        let (depth, side) = parse_prefixed_pair(param, 'd', 'i')?;
        return Some(BenchKind::ConvNetwork { arch: function.to_string(), depth, side });
    }
    if !LAYER_GROUPS.contains(&group) || !(function == "plain" || function == "residual") {
        return None;
    }
    let (depth, width) = parse_depth_width(param)?;
    Some(BenchKind::Network { arch: function.to_string(), depth, width })
}

/// Parses `d{depth}_w{width}`.
pub fn parse_depth_width(param: &str) -> Option<(usize, usize)> {
    parse_prefixed_pair(param, 'd', 'w')
}

/// Parses `{a}{x}_{b}{y}` into (x, y), e.g. `d20_i28` with `'d'`, `'i'`.
fn parse_prefixed_pair(param: &str, a: char, b: char) -> Option<(usize, usize)> {
    let (x, y) = param.split_once('_')?;
    Some((x.strip_prefix(a)?.parse().ok()?, y.strip_prefix(b)?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn estimate(point: f64, lower: f64, upper: f64) -> Value {
        serde_json::json!({
            "point_estimate": point, "standard_error": 1.0,
            "confidence_interval": {"confidence_level": 0.95, "lower_bound": lower, "upper_bound": upper},
        })
    }

    fn write_bench(root: &Path, id: &str, median_ns: f64, flops: Option<u64>) {
        let dir = root.join(id).join("new");
        fs::create_dir_all(&dir).unwrap();
        let estimates = serde_json::json!({
            "mean": estimate(median_ns * 1.01, median_ns, median_ns * 1.02),
            "median": estimate(median_ns, median_ns * 0.9, median_ns * 1.25),
        });
        fs::write(dir.join("estimates.json"), estimates.to_string()).unwrap();
        let parts: Vec<&str> = id.split('/').collect();
        let throughput = flops.map(|f| serde_json::json!({"Elements": f}));
        let benchmark = serde_json::json!({
            "group_id": parts[0], "function_id": parts[1], "value_str": parts[2],
            "throughput": throughput, "full_id": id, "directory_name": id, "title": id,
        });
        fs::write(dir.join("benchmark.json"), benchmark.to_string()).unwrap();
    }

    #[test]
    fn parses_ids() {
        assert_eq!(parse_depth_width("d16_w256"), Some((16, 256)));
        assert_eq!(parse_depth_width("d16w256"), None);
        assert_eq!(parse_depth_width("dx_w2"), None);
        assert_eq!(
            classify("train_step", "residual", "d4_w64"),
            Some(BenchKind::Network { arch: "residual".into(), depth: 4, width: 64 })
        );
        assert_eq!(classify("gemm_ceiling", "f32", "w1024"), Some(BenchKind::Ceiling { width: 1024 }));
        assert_eq!(classify("train_step", "other", "d4_w64"), None);
        assert_eq!(classify("misc", "plain", "d4_w64"), None);
        assert_eq!(
            classify("conv_train_step", "plain", "d56_i28"),
            Some(BenchKind::ConvNetwork { arch: "plain".into(), depth: 56, side: 28 })
        );
        assert_eq!(
            classify("gemm_ceiling_conv", "weight_grad", "i8_c64"),
            Some(BenchKind::ConvCeiling { side: 8, channels: 64 })
        );
        assert_eq!(classify("conv_train_step", "plain", "d56_w28"), None);
    }

    #[test]
    fn loads_a_tree_with_intervals_and_skips_reports_and_unknown_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_bench(root, "train_step/plain/d4_w64", 2_000.0, Some(8_000));
        write_bench(root, "gemm_ceiling/f32/w64", 500.0, Some(4_000));
        write_bench(root, "misc/thing/x", 10.0, None);
        fs::write(root.join("train_step/plain/d4_w64/new/sample.json"), r#"{"iters": [1, 2, 3], "times": [1, 2, 3]}"#)
            .unwrap();
        fs::create_dir_all(root.join("report")).unwrap();
        fs::create_dir_all(root.join("train_step/report")).unwrap();
        let mut warnings = Vec::new();
        let set = load_criterion(root, &mut warnings).unwrap();
        assert_eq!(set.machine_id, UNKNOWN_MACHINE);
        assert_eq!(set.rows.len(), 2);
        assert!(set.paired.is_empty());
        let step = set.rows.iter().find(|r| r.group == "train_step").unwrap();
        assert_eq!((step.median.point, step.median.lower, step.median.upper), (2_000.0, 1_800.0, 2_500.0));
        assert_eq!(step.median.level, 0.95);
        assert_eq!(step.mean.map(|m| m.point), Some(2_020.0));
        assert_eq!(step.stability.samples, Some(3));
        // 8000 FLOPs: 4.0 GFLOP/s at the median, 3.2 at the slow end, 8000/1800 at the fast end.
        let gflops = step.gflops().unwrap();
        assert_eq!((gflops.point, gflops.lower), (4.0, 3.2));
        assert!((gflops.upper - 8_000.0 / 1_800.0).abs() < 1e-12);
        let ceiling = set.rows.iter().find(|r| r.group == "gemm_ceiling").unwrap();
        assert_eq!(ceiling.kind, BenchKind::Ceiling { width: 64 });
        assert_eq!(ceiling.stability.samples, None);
        assert_eq!(ceiling.gflops().map(|g| g.point), Some(8.0));
        assert!(warnings.iter().any(|w| w.0.contains("machine.json")));
        assert!(warnings.iter().any(|w| w.0.contains("misc/thing/x")));
    }

    #[test]
    fn empty_tree_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("report")).unwrap();
        let err = load_criterion(tmp.path(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::NoEstimates { .. }), "{err}");
        assert!(err.to_string().contains("no criterion estimates"));
    }

    #[test]
    fn bad_estimates_name_the_file_and_field() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("estimates.json");
        let check = |text: &str, field: &str| {
            fs::write(&path, text).unwrap();
            let err = read_estimates(&path).unwrap_err().to_string();
            assert!(err.contains(field) && err.contains("estimates.json"), "{err}");
        };
        check(r#"{"mean": {"point_estimate": 3.0}}"#, "median.point_estimate");
        check(r#"{"median": {"point_estimate": -1.0}}"#, "median.point_estimate");
        check(r#"{"median": {"point_estimate": 3.0}}"#, "median.confidence_interval.lower_bound");
        let no_level = serde_json::json!({"median": {"point_estimate": 3.0,
            "confidence_interval": {"lower_bound": 2.0, "upper_bound": 4.0}}});
        check(&no_level.to_string(), "median.confidence_interval.confidence_level");
        let outside = serde_json::json!({"median": estimate(3.0, 3.5, 4.0)});
        check(&outside.to_string(), "median.confidence_interval");
        check("{not json", "not valid JSON");
        // A mean that is unusable is dropped, not fatal.
        let no_mean_interval = serde_json::json!({"median": estimate(3.0, 2.0, 4.0), "mean": {"point_estimate": 3.0}});
        fs::write(&path, no_mean_interval.to_string()).unwrap();
        assert_eq!(read_estimates(&path).unwrap().1, None);
        let samples = tmp.path().join("sample.json");
        fs::write(&samples, r#"{"times": [1.0]}"#).unwrap();
        assert!(read_sample(&samples).unwrap_err().to_string().contains("`iters`"));
        fs::write(&samples, r#"{"iters": [1.0, 2.0], "times": [10.0]}"#).unwrap();
        assert!(read_sample(&samples).unwrap_err().to_string().contains("1 times for 2"));
        fs::write(&samples, r#"{"iters": [1.0, 2.0], "times": [10.0, 30.0]}"#).unwrap();
        assert_eq!(read_sample(&samples).unwrap(), Some(vec![10.0, 15.0]));
    }

    /// The criterion trees committed under reports/data/: every benchmark of the quick grid
    /// (54 network benchmarks + 3 ceilings), intervals around their medians, FLOPs recorded,
    /// the machine read from the fingerprint beside them.
    #[test]
    fn loads_the_committed_criterion_trees() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/data");
        for machine_id in ["779c277869b6", "a4e6f8ff0f7d"] {
            let dir = data.join(machine_id).join("criterion");
            let mut warnings = Vec::new();
            let set = load_criterion(&dir, &mut warnings).unwrap();
            assert!(warnings.is_empty(), "{machine_id}: {warnings:?}");
            assert_eq!(set.machine_id, machine_id);
            assert_eq!(set.machine.as_ref().map(|m| m.threads), Some(1), "{machine_id}: benches run on one thread");
            let networks = set.rows.iter().filter(|r| matches!(r.kind, BenchKind::Network { .. })).count();
            let ceilings = set.rows.iter().filter(|r| matches!(r.kind, BenchKind::Ceiling { .. })).count();
            assert_eq!((networks, ceilings), (54, 3), "{machine_id}");
            for row in &set.rows {
                let m = row.median;
                assert!(m.lower <= m.point && m.point <= m.upper && m.lower < m.upper, "{row:?}");
                assert_eq!(m.level, 0.95, "{row:?}");
                assert!(row.flops.is_some(), "{row:?}");
            }
        }
        // One value read by hand from reports/data/779c277869b6/criterion/gemm_ceiling/f32/w1024/new:
        // median 3615909.5 ns in [2975968.14, 3650170.29]; 268435456 FLOPs.
        let set = load_criterion(&data.join("779c277869b6/criterion"), &mut Vec::new()).unwrap();
        let w1024 = set.rows.iter().find(|r| r.kind == BenchKind::Ceiling { width: 1024 }).unwrap();
        assert_eq!(w1024.median.point, 3_615_909.5);
        assert!((w1024.median.lower - 2_975_968.142_857_142_7).abs() < 1e-6);
        assert!((w1024.median.upper - 3_650_170.285_714_286).abs() < 1e-6);
        assert_eq!(w1024.flops, Some(268_435_456.0));
    }
}
