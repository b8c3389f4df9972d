//! The report: a list of [`Section`]s rendered into README.md, every table written as CSV and
//! every chart as SVG. The directory is written into a temporary sibling and renamed into place
//! only when everything succeeded, so a failure never leaves half a report (and never destroys
//! the previous one).
//!
//! Nothing here knows a topic: the opening sentences, headings, tables, charts and findings all
//! come from the sections, in the order given. Nothing here reads a clock either, so the same
//! inputs give the same bytes.

use crate::error::{Error, Result, Warning};
use crate::section::Section;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Everything a report directory holds, before anything is written.
#[derive(Debug, Default)]
pub struct Report {
    /// Text after [`README_TITLE`] on the first line.
    pub title: String,
    /// The command that regenerates this report from the files it names.
    pub command: String,
    /// Lines about the inputs as a whole (how many shards and runs were merged, coverage of
    /// the experiment's grid, where `--run` results were copied), shown under the command.
    pub notes: Vec<String>,
    pub sections: Vec<Section>,
    pub warnings: Vec<Warning>,
    /// Extra files copied into the report as they are (name, contents): the machine
    /// fingerprints.
    pub attachments: Vec<(String, String)>,
}

/// First line of every report's README.md; how an earlier report is recognised.
pub const README_TITLE: &str = "# Report: ";

/// README.md: title, the opening sentences, the command, then each section in order.
pub fn render(report: &Report) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "{README_TITLE}{}\n", report.title);
    let exclusive = report.sections.iter().any(|s| s.lead_replaces_others);
    let mut lead: Vec<&str> = report
        .sections
        .iter()
        .filter(|s| !exclusive || s.lead_replaces_others)
        .flat_map(|s| s.lead.iter().map(String::as_str))
        .collect();
    // No section wrote an opening (an experiment at initialisation, say): the first finding
    // of the report opens it, so a reader still meets a number before the method.
    if lead.is_empty() {
        lead.extend(report.sections.iter().find_map(|s| s.findings.first()).map(String::as_str));
    }
    if !lead.is_empty() {
        let _ = writeln!(out, "{}\n", lead.join(" "));
    }
    let _ = writeln!(
        out,
        "Every number and statement below is computed from the files named in this command \
         (degradation-analysis {}); it regenerates this report:\n\n```\n{}\n```\n",
        env!("CARGO_PKG_VERSION"),
        report.command
    );
    for note in &report.notes {
        let _ = writeln!(out, "{note}\n");
    }
    let mut numbers = Numbers::default();
    for section in report.sections.iter().filter(|s| !s.is_empty()) {
        render_section(&mut out, section, &mut numbers)?;
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "## Warnings while loading\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {w}");
        }
        let _ = writeln!(out);
    }
    Ok(out)
}

/// Running figure and table numbers across the whole report.
#[derive(Default)]
struct Numbers {
    figure: usize,
    table: usize,
}

fn render_section(out: &mut String, section: &Section, numbers: &mut Numbers) -> Result<()> {
    let _ = writeln!(out, "## {}\n", section.heading);
    for paragraph in &section.summary {
        let _ = writeln!(out, "{paragraph}\n");
    }
    if !section.findings.is_empty() {
        for finding in &section.findings {
            let _ = writeln!(out, "- {finding}");
        }
        let _ = writeln!(out);
    }
    for chart in &section.charts {
        numbers.figure += 1;
        let _ = writeln!(out, "![{}]({})\n", chart.figure.title, chart.file);
        let _ = writeln!(out, "*Figure {}. {}*\n", numbers.figure, chart.caption);
    }
    for table in &section.tables {
        numbers.table += 1;
        let _ = writeln!(out, "*Table {}. {}.*\n", numbers.table, table.title);
        let _ = writeln!(out, "{}", table.to_markdown()?);
        let note = if table.note.is_empty() { String::new() } else { format!("{} ", table.note) };
        let _ = writeln!(out, "{note}CSV: [`{}.csv`]({}.csv).\n", table.slug, table.slug);
    }
    Ok(())
}

/// Writes the report to `out`, replacing an existing one only on success.
pub fn write(report: &Report, out: &Path) -> Result<()> {
    check_unique_files(report)?;
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
    if let Err(e) = write_contents(report, &staging) {
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

/// Two sections writing the same file would silently overwrite each other's output.
fn check_unique_files(report: &Report) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let tables = report.sections.iter().flat_map(|s| &s.tables).map(|t| format!("{}.csv", t.slug));
    let charts = report.sections.iter().flat_map(|s| &s.charts).map(|c| c.file.clone());
    let attachments = report.attachments.iter().map(|(name, _)| name.clone());
    for file in tables.chain(charts).chain(attachments) {
        if !seen.insert(file.clone()) {
            return Err(Error::DuplicateOutput { file });
        }
    }
    Ok(())
}

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

fn write_contents(report: &Report, dir: &Path) -> Result<()> {
    for table in report.sections.iter().flat_map(|s| &s.tables) {
        let path = dir.join(format!("{}.csv", table.slug));
        std::fs::write(&path, table.to_csv()?).map_err(|e| Error::io(&path, e))?;
    }
    for chart in report.sections.iter().flat_map(|s| &s.charts) {
        chart.figure.write(&dir.join(&chart.file))?;
    }
    for (name, contents) in &report.attachments {
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|e| Error::io(&path, e))?;
    }
    let path = dir.join("README.md");
    std::fs::write(&path, render(report)?).map_err(|e| Error::io(&path, e))
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
    fn sections_render_in_order_with_running_numbers() {
        let mut first = Section::new("First");
        first.lead.push("One.".into());
        first.summary.push("Read this.".into());
        first.findings.push("a finding".into());
        let mut second = Section::new("Second");
        second.lead.push("Two.".into());
        second.findings.push("another".into());
        let empty = Section::new("Nothing");
        let report = Report {
            title: "t".into(),
            command: "analyze --input x".into(),
            sections: vec![first, empty, second],
            ..Report::default()
        };
        let text = render(&report).unwrap();
        assert!(text.starts_with("# Report: t\n\nOne. Two.\n"), "{text}");
        let first_at = text.find("## First").unwrap();
        let second_at = text.find("## Second").unwrap();
        assert!(first_at < second_at);
        assert!(!text.contains("## Nothing"), "an empty section is left out");
        assert!(text.contains("```\nanalyze --input x\n```"));
        assert!(text.contains("Read this.\n\n- a finding\n"));
    }

    #[test]
    fn a_lead_that_replaces_the_others_opens_the_report_alone() {
        let mut first = Section::new("First");
        first.lead.push("One.".into());
        first.findings.push("a finding".into());
        let mut tuned = Section::new("Tuned");
        tuned.lead.push("Best of the grid.".into());
        tuned.lead_replaces_others = true;
        let report = Report {
            title: "t".into(),
            command: "analyze --input x".into(),
            sections: vec![first, tuned],
            ..Report::default()
        };
        let text = render(&report).unwrap();
        assert!(text.starts_with("# Report: t\n\nBest of the grid.\n"), "{text}");
        assert!(text.contains("## First"), "the section itself still renders");
        // Without any lead, the first finding opens the report.
        let mut quiet = Section::new("Quiet");
        quiet.findings.push("The first finding.".into());
        let report = Report { title: "t".into(), command: "c".into(), sections: vec![quiet], ..Report::default() };
        assert!(render(&report).unwrap().starts_with("# Report: t\n\nThe first finding.\n"));
    }
}
