//! The results directory: `runs.jsonl` (one record per finished run, appended and flushed as
//! each run ends), `machine.json` and `experiment.toml`. Nothing here ever deletes data:
//! `--fresh` and a truncated tail are moved aside into timestamped files.

use crate::error::{Error, Result};
use crate::record::{read_runs, RunRecord};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use crate::record::RUNS_JSONL;
pub const EXPERIMENT_TOML: &str = "experiment.toml";

/// What was found in an existing runs.jsonl.
#[derive(Debug, Default)]
pub struct ExistingRuns {
    pub records: Vec<RunRecord>,
    /// A last line cut off by a killed process (no newline, not a record), already moved aside.
    pub truncated_tail: Option<PathBuf>,
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
            let runs = read_runs(&path)?;
            if let Some(tail) = runs.truncated_tail {
                let (line, text) = (tail.line, tail.text);
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
            existing.records = runs.records;
        }
    }
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
    file.seek(SeekFrom::End(0)).map_err(|e| Error::io(&path, e))?;
    Ok((file, existing))
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
