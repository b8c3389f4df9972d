//! The report: tables (CSV + Markdown), charts (SVG) and README.md, written into a temporary
//! sibling directory and renamed into place only when everything succeeded, so a failure never
//! leaves half a report (and never destroys the previous one).

use crate::charts::{self, profiles::Probe, Chart};
use crate::criterion::BenchSet;
use crate::error::{Error, Result, Warning};
use crate::findings;
use crate::load::ResultSet;
use crate::mechanisms::{self, Mechanisms};
use crate::metrics::VaryingAxes;
use crate::readme;
use crate::render::Table;
use crate::tables::{self, TimingRow};
use degradation_bench::record::{MachineInfo, RunRecord};
use std::path::{Path, PathBuf};

/// Everything loaded from the command line's inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    pub results: Vec<ResultSet>,
    pub benches: Vec<BenchSet>,
    pub warnings: Vec<Warning>,
}

impl Inputs {
    /// Distinct machine ids over all inputs, sorted.
    pub fn machine_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .results
            .iter()
            .map(|r| r.machine.machine_id.clone())
            .chain(self.benches.iter().map(|b| b.machine_id.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// One fingerprint per machine id (the first seen).
    pub fn machines(&self) -> Vec<MachineInfo> {
        let mut machines: Vec<MachineInfo> = Vec::new();
        let all = self.results.iter().map(|r| &r.machine).chain(self.benches.iter().filter_map(|b| b.machine.as_ref()));
        for machine in all {
            if !machines.iter().any(|m| m.machine_id == machine.machine_id) {
                machines.push(machine.clone());
            }
        }
        machines.sort_by(|a, b| a.machine_id.cmp(&b.machine_id));
        machines
    }

    pub fn experiments(&self) -> Vec<String> {
        let mut names: Vec<String> = self.results.iter().map(|r| r.experiment.clone()).collect();
        names.dedup();
        names
    }

    /// `reports/<experiment>-<machine_id>`, or `reports/compare-<id1>-<id2>` for several machines.
    pub fn default_out(&self) -> PathBuf {
        let ids = self.machine_ids();
        let name = if ids.len() > 1 {
            format!("compare-{}", ids.join("-"))
        } else {
            let experiments = self.experiments();
            let experiment = if experiments.is_empty() { "bench".to_string() } else { experiments.join("+") };
            format!("{experiment}-{}", ids.first().map_or("unknown", String::as_str))
        };
        Path::new("reports").join(name)
    }
}

/// The computed content of a report, before anything is written.
pub struct Analysis {
    pub runs: Vec<RunRecord>,
    pub degradation: Option<Table>,
    pub gradient_flow: Option<Table>,
    pub timing: Option<Table>,
    pub ceiling: Option<Table>,
    pub across_machines: Option<Table>,
    pub timing_rows: Vec<TimingRow>,
    /// Mechanism probes (shattered gradients, lesions, branch magnitudes, longer training).
    pub mechanisms: Mechanisms,
    pub charts: Vec<Chart>,
    pub findings: Findings,
}

#[derive(Debug, Default)]
pub struct Findings {
    pub degradation: Vec<String>,
    pub gradient_flow: Vec<String>,
    pub timing: Vec<String>,
    pub machines: Vec<String>,
}

pub fn analyse(inputs: &Inputs) -> Result<Analysis> {
    let runs: Vec<RunRecord> = inputs.results.iter().flat_map(|r| r.runs.iter().cloned()).collect();
    let axes = VaryingAxes::of(&runs);
    let mut charts = Vec::new();
    let mut findings = Findings::default();

    let (degradation, gradient_flow) = if runs.is_empty() {
        (None, None)
    } else {
        let frame = tables::runs_frame(&runs, &axes)?;
        let degradation = tables::degradation(&frame)?;
        let gradient_flow = tables::gradient_flow(&runs, &axes)?;
        findings.degradation = findings::degradation(&degradation);
        if let Some(flow) = &gradient_flow {
            findings.gradient_flow = findings::gradient_flow(flow);
        }
        charts.extend(charts::degradation::build(&degradation));
        charts.extend(charts::curves::build(&runs, &axes));
        charts.extend(charts::profiles::build(&runs, &axes, Probe::GradientNorm));
        charts.extend(charts::profiles::build(&runs, &axes, Probe::StateRms));
        (Some(degradation), gradient_flow)
    };
    let mechanisms = mechanisms::analyse(&runs)?;

    let bench_rows: Vec<_> = inputs.benches.iter().flat_map(|b| b.rows.iter().cloned()).collect();
    let bench_machines: Vec<String> = {
        let mut ids: Vec<String> = bench_rows.iter().map(|r| r.machine_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let several = bench_machines.len() > 1;
    let (mut timing, mut ceiling, mut across_machines, mut timing_rows) = (None, None, None, Vec::new());
    if !bench_rows.is_empty() {
        let frames = tables::bench_frames(&bench_rows)?;
        if frames.ceiling.height() > 0 {
            ceiling = Some(tables::ceiling(&frames, several));
        }
        if frames.network.height() > 0 {
            let frame = tables::timing_frame(&frames)?;
            timing_rows = tables::timing_rows(&frame);
            if several {
                across_machines = Some(tables::across_machines(&frame, &bench_machines)?);
            }
            timing = Some(tables::timing(&frame, several));
            findings.timing = findings::timing(&timing_rows);
            findings.machines = findings::machines(&timing_rows);
            charts.extend(charts::timing::time_vs_depth(&timing_rows));
            charts.extend(charts::timing::overhead_heatmap(&timing_rows));
            charts.extend(charts::machines::build(&timing_rows));
        }
    }
    Ok(Analysis {
        runs,
        degradation,
        gradient_flow,
        timing,
        ceiling,
        across_machines,
        timing_rows,
        mechanisms,
        charts,
        findings,
    })
}

/// How the report was asked for, for its header.
pub struct Invocation {
    pub command_line: String,
    /// UTC date and time of the analysis.
    pub generated_at: String,
}

/// Analyses the inputs and writes the report to `out`, replacing an existing one only on success.
pub fn write_report(inputs: &Inputs, out: &Path, invocation: &Invocation) -> Result<()> {
    let analysis = analyse(inputs)?;
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if out.exists() && !is_previous_report(out) {
        return Err(Error::NotAReport { path: out.to_path_buf() });
    }
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.tmp-{pid}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    std::fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
    let written = write_contents(inputs, &analysis, &staging, invocation);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if out.exists() {
        let old = parent.join(format!(".{name}.old-{pid}"));
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
        if let Err(e) = std::fs::rename(&staging, out) {
            // Put the previous report back rather than leave nothing.
            let _ = std::fs::rename(&old, out);
            return Err(Error::io(out, e));
        }
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(&staging, out).map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}

/// First line of every report's README.md; how an earlier report is recognised.
pub const README_TITLE: &str = "# Report: ";

/// Whether `dir` may be replaced: an empty directory, or one that holds an earlier report (its
/// README starts with our title and it has no subdirectories). Anything else — `--out reports`
/// or `--out .` by mistake — is refused rather than moved aside and deleted.
fn is_previous_report(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    if entries.is_empty() {
        return true;
    }
    if entries.iter().any(|e| e.path().is_dir()) {
        return false;
    }
    std::fs::read_to_string(dir.join("README.md")).is_ok_and(|text| text.starts_with(README_TITLE))
}

fn write_contents(inputs: &Inputs, analysis: &Analysis, dir: &Path, invocation: &Invocation) -> Result<()> {
    let tables = [
        &analysis.degradation,
        &analysis.gradient_flow,
        &analysis.timing,
        &analysis.ceiling,
        &analysis.across_machines,
    ];
    for table in tables.into_iter().chain(analysis.mechanisms.tables()).flatten() {
        let path = dir.join(format!("{}.csv", table.slug));
        std::fs::write(&path, table.to_csv()?).map_err(|e| Error::io(&path, e))?;
    }
    for chart in analysis.charts.iter().chain(&analysis.mechanisms.charts) {
        chart.figure.write(&dir.join(&chart.file))?;
    }
    for machine in inputs.machines() {
        let path = dir.join(format!("machine-{}.json", machine.machine_id));
        let text = serde_json::to_string_pretty(&machine)
            .map_err(|e| Error::Json { path: path.clone(), message: e.to_string() })?;
        std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
    }
    let text = readme::render(inputs, analysis, invocation)?;
    let path = dir.join("README.md");
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC` (no date crate needed for this).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_earlier_reports_are_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        assert!(!is_previous_report(&dir), "a missing directory is not a report");
        std::fs::create_dir(&dir).unwrap();
        assert!(is_previous_report(&dir), "an empty directory may be filled");
        std::fs::write(dir.join("README.md"), "# Notes\n").unwrap();
        assert!(!is_previous_report(&dir));
        std::fs::write(dir.join("README.md"), format!("{README_TITLE}x\n")).unwrap();
        assert!(is_previous_report(&dir));
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(!is_previous_report(&dir), "a directory with subdirectories is not a report");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
