//! The results directory: `runs.jsonl` (one record per finished run, appended and flushed as
//! each run ends), `machine.json` and `experiment.toml`. Nothing here ever deletes data:
//! `--fresh` and a truncated tail are moved aside into timestamped files.

use crate::error::{Error, Result};
use crate::record::RunRecord;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const RUNS_JSONL: &str = "runs.jsonl";
pub const EXPERIMENT_TOML: &str = "experiment.toml";

/// What was found in an existing runs.jsonl.
#[derive(Debug, Default)]
pub struct ExistingRuns {
    pub records: Vec<RunRecord>,
    /// A last line cut off by a killed process (no newline, not a record), already moved aside.
    pub truncated_tail: Option<PathBuf>,
}

/// An incomplete last line: its line number and text.
pub type TruncatedLine = (usize, String);

/// Reads every record of a runs.jsonl. A garbage line is an error naming the file and line;
/// an incomplete last line (no trailing newline, unparsable) is reported, not an error.
pub fn read_runs(path: &Path) -> Result<(Vec<RunRecord>, Option<TruncatedLine>)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| Error::io(path, e))?;
        if read == 0 {
            return Ok((records, None));
        }
        number += 1;
        let complete = line.ends_with('\n');
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<RunRecord>(text) {
            Ok(record) => records.push(record),
            Err(_) if !complete => return Ok((records, Some((number, line.clone())))),
            Err(e) => return Err(Error::Record { path: path.to_path_buf(), line: number, message: e.to_string() }),
        }
    }
}

/// Opens `dir/runs.jsonl` for appending, after moving aside an old file (`fresh`) or a
/// truncated last line (resume). Returns the records already there.
pub fn prepare(dir: &Path, fresh: bool) -> Result<(File, ExistingRuns)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(RUNS_JSONL);
    let mut existing = ExistingRuns::default();
    if path.exists() {
        if fresh {
            let aside = aside_path(dir, "runs.jsonl", "bak");
            std::fs::rename(&path, &aside).map_err(|e| Error::io(&path, e))?;
            eprintln!("--fresh: moved the previous {} to {}", path.display(), aside.display());
        } else {
            let (records, tail) = read_runs(&path)?;
            if let Some((line, text)) = tail {
                let aside = aside_path(dir, "runs.jsonl", "truncated");
                std::fs::write(&aside, &text).map_err(|e| Error::io(&aside, e))?;
                let keep = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len() - text.len() as u64;
                let file = OpenOptions::new().write(true).open(&path).map_err(|e| Error::io(&path, e))?;
                file.set_len(keep).map_err(|e| Error::io(&path, e))?;
                eprintln!(
                    "warning: {}:{line}: incomplete last line (an interrupted write) moved to {}; that run will be redone",
                    path.display(),
                    aside.display()
                );
                existing.truncated_tail = Some(aside);
            }
            existing.records = records;
        }
    }
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
    file.seek(SeekFrom::End(0)).map_err(|e| Error::io(&path, e))?;
    Ok((file, existing))
}

/// Appends one record as a single line and flushes it to the OS, so a killed process loses
/// at most the run in flight.
pub fn append(file: &mut File, path: &Path, record: &RunRecord) -> Result<()> {
    let mut line = serde_json::to_string(record).expect("records contain only finite numbers and strings");
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(|e| Error::io(path, e))?;
    file.flush().map_err(|e| Error::io(path, e))
}

/// Writes `experiment.toml`, or checks that the one already there is the same experiment.
pub fn write_experiment(dir: &Path, text: &str) -> Result<()> {
    let path = dir.join(EXPERIMENT_TOML);
    if let Ok(old) = std::fs::read_to_string(&path) {
        if old != text {
            return Err(Error::invalid(
                "--out",
                dir.display(),
                format!("{} holds a different experiment; use another --out, or --fresh to start over", path.display()),
            ));
        }
        return Ok(());
    }
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

/// Run ids already recorded.
pub fn recorded_ids(existing: &ExistingRuns) -> HashSet<String> {
    existing.records.iter().map(|r| r.run_id.clone()).collect()
}

fn aside_path(dir: &Path, stem: &str, tag: &str) -> PathBuf {
    let stamp = crate::machine::rfc3339_utc(std::time::SystemTime::now()).replace(':', "");
    let mut candidate = dir.join(format!("{stem}.{tag}-{stamp}"));
    let mut n = 1;
    while candidate.exists() {
        candidate = dir.join(format!("{stem}.{tag}-{stamp}-{n}"));
        n += 1;
    }
    candidate
}
