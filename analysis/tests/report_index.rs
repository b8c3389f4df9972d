//! `reports/README.md` indexes every report: one table row per directory under `reports/`
//! (but `data/`), whose first cell links `<name>/README.md` and whose data cell names, as
//! inline code, the `--input` and `--criterion` directories of the command the report prints.
//! A report without its row, a row without its report, or a row whose data is not what its
//! report reads fails here.

mod markdown;

use markdown::{code_spans, link_targets, repository_root};
use std::collections::BTreeSet;
use std::fs;

/// The column of the data cell in a row (0 = the report).
const DATA_COLUMN: usize = 2;

/// One row of the index: the report it links, the data it names, and its line.
struct Row {
    line: usize,
    report: String,
    data: BTreeSet<String>,
}

/// The index's report rows: table rows whose first cell is a link `[…](<name>/README.md)`.
fn parse_index(index: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (line, text) in markdown::prose_lines(index) {
        let cells: Vec<&str> = text.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !text.trim_start().starts_with('|') || !cells[0].starts_with('[') {
            continue;
        }
        let target = link_targets(cells[0]).into_iter().next().unwrap_or_default();
        let report =
            target.strip_suffix("/README.md").filter(|name| !name.is_empty() && !name.contains('/')).ok_or_else(
                || format!("reports/README.md:{line}: the first cell must link <name>/README.md, not {target:?}"),
            )?;
        let data = cells.get(DATA_COLUMN).map(|cell| code_spans(cell).into_iter().map(str::to_string).collect());
        let data = data.ok_or_else(|| format!("reports/README.md:{line}: no data cell"))?;
        rows.push(Row { line, report: report.to_string(), data });
    }
    Ok(rows)
}

/// What is wrong between the index and the report directories that exist.
fn unindexed(rows: &[Row], directories: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for row in rows {
        if !seen.insert(&row.report) {
            problems.push(format!("reports/README.md:{}: {} has a second row", row.line, row.report));
        }
        if !directories.contains(&row.report) {
            problems.push(format!(
                "reports/README.md:{}: links {}, which is no directory under reports/",
                row.line, row.report
            ));
        }
    }
    for directory in directories.iter().filter(|d| !seen.contains(d)) {
        problems.push(format!("reports/{directory}/ has no row in reports/README.md: add one"));
    }
    problems
}

/// The `--input` and `--criterion` directories of the `analyze` command a report prints.
fn command_inputs(report_readme: &str) -> Option<BTreeSet<String>> {
    let command = report_readme.lines().find(|l| l.starts_with("analyze "))?;
    let words: Vec<&str> = command.split_whitespace().collect();
    Some(
        words
            .windows(2)
            .filter(|w| w[0] == "--input" || w[0] == "--criterion")
            .map(|w| w[1].trim_matches('\'').to_string())
            .collect(),
    )
}

fn report_directories() -> BTreeSet<String> {
    fs::read_dir(repository_root().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "data")
        .collect()
}

fn index_rows() -> Vec<Row> {
    let index = fs::read_to_string(repository_root().join("reports/README.md")).expect("reports/README.md exists");
    parse_index(&index).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_report_directory_has_one_row_and_every_row_a_directory() {
    let rows = index_rows();
    let directories = report_directories();
    assert!(!directories.is_empty(), "no report directory under reports/");
    let problems = unindexed(&rows, &directories);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_rows_data_is_what_its_report_reads() {
    let root = repository_root();
    for row in index_rows() {
        let readme = root.join("reports").join(&row.report).join("README.md");
        let text = fs::read_to_string(&readme).unwrap_or_else(|_| panic!("{} is missing", readme.display()));
        let inputs = command_inputs(&text).unwrap_or_else(|| panic!("{}: prints no analyze command", readme.display()));
        assert_eq!(
            row.data, inputs,
            "reports/README.md:{}: the data of {} must be the inputs of its command",
            row.line, row.report
        );
    }
}

/// The check itself, on made-up text: it must be able to fail.
#[test]
fn a_missing_row_a_stray_row_and_a_repeated_row_fail() {
    let index = "# Reports\n\n| report | question | data |\n|:--|:--|:--|\n\
                 | [a-1](a-1/README.md) | Does it? | `reports/data/m/a` |\n\
                 | [gone-1](gone-1/README.md) | Did it? | `reports/data/m/g`, `reports/data/m/criterion` |\n\
                 | [a-1](a-1/README.md) | Again? | `reports/data/m/a` |\n";
    let rows = parse_index(index).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].data, BTreeSet::from(["reports/data/m/g".to_string(), "reports/data/m/criterion".to_string()]));
    let directories = BTreeSet::from(["a-1".to_string(), "new-1".to_string()]);
    let problems = unindexed(&rows, &directories);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].starts_with("reports/README.md:6: links gone-1,"), "{problems:?}");
    assert!(problems[1].starts_with("reports/README.md:7: a-1 has a second row"), "{problems:?}");
    assert!(problems[2].starts_with("reports/new-1/ has no row"), "{problems:?}");

    assert!(parse_index("| [a](a.md) | q | `d` |\n").is_err(), "a row must link a report's README.md");
    let command = "x\n```\nanalyze --input reports/data/m/a --criterion 'reports/data/m/c' --out reports/a\n```\n";
    assert_eq!(
        command_inputs(command).unwrap(),
        BTreeSet::from(["reports/data/m/a".to_string(), "reports/data/m/c".to_string()])
    );
}
