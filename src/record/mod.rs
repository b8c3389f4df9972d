//! The results format: the record types the sweep writes and the analysis crate reads, and
//! the one reader and one writer of each file (`runs.jsonl`, `machine.json`). Field names and
//! the enums' names are a contract (see docs/experiments.md, "Results format"): the JSON written here is the
//! JSON of every committed results set.

use crate::config::{
    Activation, Arch, DatasetKind, Family, Init, LrSchedule, Norm, OptimizerKind, ResidualScale, RunConfig,
};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

mod measurements;

pub use measurements::{values_with_nulls, InstrumentPoint, LossPoint, PerturbationPoint, ProbeStats, TimeSplit};

/// One finished training run: a line of `runs.jsonl`. It is composed of the run's setup (from
/// its configuration) and what training produced, both written inline (`flatten`): a new
/// setting or result is one field in [`RunSetup`] or [`TrainResult`], and the line's field
/// order is that of the committed files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub experiment: String,
    #[serde(flatten)]
    pub setup: RunSetup,
    pub machine_id: String,
    #[serde(flatten)]
    pub result: TrainResult,
    /// The implementation that trained the run when it is not this crate, e.g. "pytorch 2.15.0"
    /// (peers/pytorch/parity.py run); absent for this crate's own runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
}

/// What defines a run, as its record states it: the configuration less what only steers the
/// sweep (checkpoints, probes) or follows from the data set (input and output sizes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSetup {
    pub dataset: DatasetKind,
    /// `conv` for the ResNet paper's conv nets; left out of the line for MLPs (absent means
    /// `mlp`), so every MLP line reads and re-serialises as before. A conv run's `depth` counts
    /// all weight layers (6n + 2), its `width` is its base channels, its probes have one state
    /// per block (3n + 1) and one weight gradient per block conv (6n): see `config::conv`.
    #[serde(default, skip_serializing_if = "Family::is_mlp")]
    pub family: Family,
    pub arch: Arch,
    pub depth: usize,
    pub width: usize,
    pub block_layers: usize,
    pub activation: Activation,
    pub norm: Norm,
    /// `None` for plain runs.
    pub residual_scale: Option<ResidualScale>,
    pub init: Init,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// The learning-rate schedule; left out when constant (absent means constant).
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    pub batch_size: usize,
    pub steps: usize,
    pub seed: u64,
}

impl From<&RunConfig> for RunSetup {
    fn from(c: &RunConfig) -> Self {
        let m = &c.model;
        RunSetup {
            dataset: c.dataset,
            family: c.family,
            arch: m.arch,
            depth: m.depth,
            width: m.width,
            block_layers: m.block_layers,
            activation: m.activation,
            norm: m.norm,
            residual_scale: (m.arch == Arch::Residual).then_some(m.residual_scale),
            init: m.init,
            optimizer: c.optimizer.kind,
            lr: c.optimizer.lr,
            momentum: c.optimizer.momentum,
            weight_decay: c.optimizer.weight_decay,
            lr_schedule: c.lr_schedule.clone(),
            batch_size: c.batch_size,
            steps: c.steps,
            seed: c.seed,
        }
    }
}

/// What one training run produced: the trainer returns it and the record writes it inline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    /// Losses are `None` (JSON null) when the run diverged.
    pub final_train_loss: Option<f64>,
    pub final_train_accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub diverged: bool,
    pub diverged_at_step: Option<usize>,
    pub loss_curve: Vec<LossPoint>,
    /// Full-training-set loss at the checkpoints in the last 10% of steps, and their median: a
    /// final loss that one loss spike cannot decide (absent from older files).
    /// Left out of the line when empty or absent, so older files re-serialise unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tail_train_losses: Vec<LossPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_train_loss: Option<f64>,

    #[serde(deserialize_with = "values_with_nulls")]
    pub weight_grad_norms_init: Vec<f64>,
    #[serde(deserialize_with = "values_with_nulls")]
    pub weight_grad_norms_final: Vec<f64>,
    #[serde(deserialize_with = "values_with_nulls")]
    pub state_rms_init: Vec<f64>,
    #[serde(deserialize_with = "values_with_nulls")]
    pub state_grad_norms_init: Vec<f64>,
    #[serde(deserialize_with = "values_with_nulls")]
    pub state_rms_final: Vec<f64>,
    #[serde(deserialize_with = "values_with_nulls")]
    pub state_grad_norms_final: Vec<f64>,
    #[serde(default, deserialize_with = "values_with_nulls")]
    pub branch_ratios_init: Vec<f64>,
    #[serde(default, deserialize_with = "values_with_nulls")]
    pub branch_ratios_final: Vec<f64>,
    /// Autocorrelation ρ(0..=16) of ∂logit₀/∂θ along arcs of inputs, averaged over
    /// `shattered_lines` arcs (empty unless asked for; see `mechanisms`).
    #[serde(default, deserialize_with = "values_with_nulls")]
    pub shattered_acf_init: Vec<f64>,
    #[serde(default, deserialize_with = "values_with_nulls")]
    pub shattered_acf_final: Vec<f64>,
    /// 0 in older files, whose ρ came from one straight line between two samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shattered_lines: usize,
    /// Final training loss with hidden layer / block k replaced by the identity (empty unless asked for).
    #[serde(default)]
    pub lesion_train_losses: Vec<Option<f64>>,
    /// A twin with its initial weights one ulp away, trained on the same batches: its distance
    /// from the run at each checkpoint (empty unless asked for; see `sensitivity`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perturbation_growth: Vec<PerturbationPoint>,
    /// Fit and per-layer learning at every checkpoint, step 0 first (empty unless asked for;
    /// see [`InstrumentPoint`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruments: Vec<InstrumentPoint>,
    /// How many training and test samples (the first ones) the instruments evaluated; 0 when off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub instrument_samples: usize,

    /// The whole run, setup and probes included (files written before `time_split` existed
    /// counted from the first step).
    pub wall_seconds: f64,
    pub steps_per_second: f64,
    /// Where `wall_seconds` went: the steps against probes, evaluations and the rest (absent
    /// from older files and from other implementations' runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_split: Option<TimeSplit>,
}

impl TrainResult {
    /// Keeps the probes taken at initialisation.
    pub fn store_init_probes(&mut self, probes: ProbeStats) {
        self.weight_grad_norms_init = probes.weight_grad_norms;
        self.state_rms_init = probes.state_rms;
        self.state_grad_norms_init = probes.state_grad_norms;
        self.branch_ratios_init = probes.branch_ratios;
    }

    /// Keeps the probes taken at the end.
    pub fn store_final_probes(&mut self, probes: ProbeStats) {
        self.weight_grad_norms_final = probes.weight_grad_norms;
        self.state_rms_final = probes.state_rms;
        self.state_grad_norms_final = probes.state_grad_norms;
        self.branch_ratios_final = probes.branch_ratios;
    }

    /// The probes taken at initialisation, as the probe returned them.
    pub fn init_probes(&self) -> ProbeStats {
        ProbeStats {
            weight_grad_norms: self.weight_grad_norms_init.clone(),
            state_rms: self.state_rms_init.clone(),
            state_grad_norms: self.state_grad_norms_init.clone(),
            branch_ratios: self.branch_ratios_init.clone(),
        }
    }

    /// The probes taken at the end (empty when the run diverged).
    pub fn final_probes(&self) -> ProbeStats {
        ProbeStats {
            weight_grad_norms: self.weight_grad_norms_final.clone(),
            state_rms: self.state_rms_final.clone(),
            state_grad_norms: self.state_grad_norms_final.clone(),
            branch_ratios: self.branch_ratios_final.clone(),
        }
    }
}

impl RunRecord {
    /// The fields that time a run rather than record what it trained: they differ between
    /// machines, thread counts and reruns while everything else is bit-identical, so every
    /// bit-identity check (shard merges, determinism tests, the Slurm shard check through
    /// `sweep --timing-fields`) leaves exactly these out.
    pub const TIMING_FIELDS: [&'static str; 3] = ["wall_seconds", "steps_per_second", "time_split"];

    /// Clears [`Self::TIMING_FIELDS`].
    pub fn clear_timings(&mut self) {
        self.result.wall_seconds = 0.0;
        self.result.steps_per_second = 0.0;
        self.result.time_split = None;
    }

    /// The record as JSON without [`Self::TIMING_FIELDS`]: what two runs of the same training
    /// must agree on bit for bit.
    pub fn results_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(map) = value.as_object_mut() {
            for field in Self::TIMING_FIELDS {
                map.remove(field);
            }
        }
        value
    }
}

/// The hardware and build fingerprint written as `machine.json` beside every result set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// Stable short hash of the hardware fields (not of threads, commit or date).
    pub machine_id: String,
    pub cpu_model: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub simd_features: Vec<String>,
    /// Cache levels as reported by sysfs, e.g. "L1d 48K", "L2 1024K".
    pub caches: Vec<String>,
    pub memory_bytes: u64,
    pub os: String,
    pub rustc_version: String,
    pub crate_version: String,
    pub git_commit: Option<String>,
    pub gemm_backend: String,
    pub threads: usize,
    /// UTC time the fingerprint was taken, RFC 3339.
    pub recorded_at: String,
}

/// File name of the run records inside a results directory.
pub const RUNS_JSONL: &str = "runs.jsonl";
/// File name of the machine fingerprint inside a results directory (and beside benchmarks).
pub const MACHINE_JSON: &str = "machine.json";

/// The contents of a `runs.jsonl`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunsFile {
    pub records: Vec<RunRecord>,
    /// The 1-based line number of each record, so a reader can point at a record's line.
    pub lines: Vec<usize>,
    /// A last line cut off by a killed process, if there is one.
    pub truncated_tail: Option<TruncatedLine>,
}

/// An incomplete last line of a `runs.jsonl`: no trailing newline and not a record. The
/// writer appends a record and its newline in one write, so only a process killed mid-write
/// leaves one; its run is simply redone.
#[derive(Debug, Clone, PartialEq)]
pub struct TruncatedLine {
    /// 1-based line number.
    pub line: usize,
    /// The line as found, without a newline.
    pub text: String,
    /// Why it is not a record (the parser's message).
    pub error: String,
}

/// Reads every record of a `runs.jsonl` (see [`parse_runs`]).
pub fn read_runs(path: &Path) -> Result<RunsFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_runs(path, &text)
}

/// Parses the text of a `runs.jsonl` read from `path`. Blank lines are skipped. An incomplete
/// last line is returned as [`RunsFile::truncated_tail`]; any other line that is not a record
/// is an error naming the file and line, because silently dropping runs would bias every
/// median computed from the rest.
pub fn parse_runs(path: &Path, text: &str) -> Result<RunsFile> {
    let mut file = RunsFile::default();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let complete = line.ends_with('\n');
        let content = line.trim();
        if content.is_empty() {
            continue;
        }
        match serde_json::from_str::<RunRecord>(content) {
            Ok(record) => {
                file.records.push(record);
                file.lines.push(number);
            }
            Err(e) if !complete => {
                file.truncated_tail = Some(TruncatedLine { line: number, text: line.to_string(), error: e.to_string() })
            }
            Err(e) => {
                return Err(Error::Record {
                    path: path.to_path_buf(),
                    line: number,
                    message: format!("not a run record: {e}"),
                })
            }
        }
    }
    Ok(file)
}

/// A record as its `runs.jsonl` line, newline included.
pub fn run_line(record: &RunRecord) -> String {
    let mut line = serde_json::to_string(record).expect("a run record serialises (non-finite numbers become null)");
    line.push('\n');
    line
}

/// Appends one record as a single line in one write and flushes it to the OS, so a killed
/// process loses at most the run in flight (and leaves at most a [`TruncatedLine`]).
pub fn append_run(out: &mut impl Write, path: &Path, record: &RunRecord) -> Result<()> {
    out.write_all(run_line(record).as_bytes()).map_err(|e| Error::io(path, e))?;
    out.flush().map_err(|e| Error::io(path, e))
}

/// Writes `dir/machine.json` (pretty JSON) atomically: a temporary file in `dir`, then a rename.
/// Creates `dir` if needed.
pub fn write_machine_json(dir: &Path, info: &MachineInfo) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(MACHINE_JSON);
    let tmp = dir.join(format!(".{MACHINE_JSON}.{}.tmp", std::process::id()));
    let mut text = serde_json::to_string_pretty(info).expect("MachineInfo serialises");
    text.push('\n');
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .map_err(|e| Error::io(&tmp, e));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&path, e)
    })
}

/// Reads a `machine.json` (the sweep's and the benches' are the same type); errors name the
/// file and, for malformed JSON, the line.
pub fn read_machine_json(path: &Path) -> Result<MachineInfo> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Record {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("not a machine fingerprint: {e}"),
    })
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Every results set committed under reports/data/, relative to the crate root.
    fn committed(file: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, file: &str, found: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, file, found);
                } else if path.file_name().is_some_and(|n| n == file) {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/data"), file, &mut found);
        found.sort();
        found
    }

    #[test]
    fn committed_runs_load_and_reserialise_to_the_same_lines() {
        let files = committed(RUNS_JSONL);
        assert!(files.len() >= 3, "expected the committed results sets, found {files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let runs = parse_runs(&path, &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(runs.truncated_tail, None, "{}", path.display());
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(runs.records.len(), lines.len(), "{}", path.display());
            for (number, (record, line)) in runs.records.iter().zip(&lines).enumerate() {
                // A peer (peers/pytorch) writes its lines with its own JSON formatter: they must
                // load, but only this crate's own lines are byte for byte what it writes.
                if record.implementation.is_some() {
                    continue;
                }
                assert_eq!(run_line(record).trim_end(), *line, "{}:{}", path.display(), number + 1);
            }
        }
    }

    #[test]
    fn committed_fingerprints_load_and_reserialise_to_the_same_json() {
        let files = committed(MACHINE_JSON);
        assert!(files.len() >= 5, "expected the committed fingerprints, found {files:?}");
        for path in files {
            let info = read_machine_json(&path).unwrap_or_else(|e| panic!("{e}"));
            let text = std::fs::read_to_string(&path).unwrap();
            let again = serde_json::to_string_pretty(&info).unwrap();
            assert_eq!(again.trim_end(), text.trim_end(), "{}", path.display());
        }
    }

    fn sample_line() -> String {
        let path = committed(RUNS_JSONL).into_iter().next().expect("a committed runs.jsonl");
        std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string()
    }

    #[test]
    fn clearing_timings_changes_exactly_the_timing_fields() {
        let line = sample_line();
        let mut record: RunRecord = serde_json::from_str(&line).unwrap();
        record.result.wall_seconds = 3.5;
        record.result.steps_per_second = 700.0;
        record.result.time_split = Some(TimeSplit { steps: 3.0, setup: 0.5, ..TimeSplit::default() });
        let before = serde_json::to_value(&record).unwrap();
        record.clear_timings();
        let after = serde_json::to_value(&record).unwrap();
        let mut changed: Vec<&str> = (before.as_object().unwrap().iter())
            .filter(|(key, value)| after.get(key.as_str()) != Some(*value))
            .map(|(key, _)| key.as_str())
            .collect();
        let mut expected = RunRecord::TIMING_FIELDS.to_vec();
        changed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(changed, expected);
        // And the results without timings are the same either way.
        assert_eq!(record.results_json(), serde_json::from_value::<RunRecord>(before).unwrap().results_json());
    }

    #[test]
    fn a_truncated_last_line_is_reported_not_an_error() {
        let line = sample_line();
        let cut = &line[..line.len() / 2];
        let text = format!("{line}\n\n{line}\n{cut}");
        let runs = parse_runs(Path::new("r/runs.jsonl"), &text).unwrap();
        assert_eq!(runs.records.len(), 2);
        let tail = runs.truncated_tail.expect("the cut line");
        assert_eq!((tail.line, tail.text.as_str()), (4, cut));
        // The same line with its newline was written completely: corrupt, an error.
        let err = parse_runs(Path::new("r/runs.jsonl"), &format!("{cut}\n{line}\n")).unwrap_err().to_string();
        assert!(err.starts_with("r/runs.jsonl:1: not a run record"), "{err}");
    }

    #[test]
    fn enum_fields_reject_unknown_names_with_the_line() {
        let line = sample_line().replacen("\"arch\":\"", "\"arch\":\"x", 1);
        let err = parse_runs(Path::new("runs.jsonl"), &format!("{}\n{line}\n", sample_line())).unwrap_err().to_string();
        assert!(err.starts_with("runs.jsonl:2:") && err.contains("unknown variant"), "{err}");
    }

    #[test]
    fn appended_lines_read_back() {
        let record: RunRecord = serde_json::from_str(&sample_line()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RUNS_JSONL);
        let mut file = std::fs::File::create(&path).unwrap();
        append_run(&mut file, &path, &record).unwrap();
        append_run(&mut file, &path, &record).unwrap();
        assert_eq!(read_runs(&path).unwrap().records, [record.clone(), record]);
    }

    /// A deep plain conv net's per-layer gradients can overflow: JSON writes NaN and ±∞ as
    /// `null`. Such a record must read back (resume and the analysis read it), as NaN, and write
    /// back to the same line.
    #[test]
    fn non_finite_per_layer_values_round_trip_as_null() {
        let mut record: RunRecord = serde_json::from_str(&sample_line()).unwrap();
        record.result.state_grad_norms_init = vec![1.0, f64::INFINITY, f64::NAN];
        record.result.instruments = vec![InstrumentPoint {
            step: 20,
            train_loss: None,
            train_error: Some(0.9),
            test_loss: None,
            test_error: Some(0.9),
            weight_grad_norms: vec![f64::NAN, 0.5],
            update_ratios: vec![f64::NEG_INFINITY, 0.1],
            distance_from_init: vec![f64::NAN, 0.2],
        }];
        let line = run_line(&record);
        assert!(line.contains("\"state_grad_norms_init\":[1.0,null,null]"), "{line}");
        let back = parse_runs(Path::new("runs.jsonl"), &line).unwrap().records.remove(0);
        assert_eq!(back.result.state_grad_norms_init[0], 1.0);
        assert!(back.result.state_grad_norms_init[1..].iter().all(|v| v.is_nan()));
        assert!(
            back.result.instruments[0].weight_grad_norms[0].is_nan()
                && back.result.instruments[0].update_ratios[0].is_nan()
        );
        assert_eq!(run_line(&back), line);
    }
}
