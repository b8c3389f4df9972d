//! Every committed report under `reports/` is regenerated, byte for byte, by the command it
//! prints, from the data committed under `reports/data/`.
//!
//! The command runs in a scratch directory whose `reports/data` links to the repository's, so
//! the paths it names (and prints) are the committed ones and nothing in the repository is
//! written. A report that fails here is stale: rerun the command it prints, from the
//! repository root, and commit the result.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the analysis crate sits in the workspace").to_path_buf()
}

/// The command a report prints: the first fenced block after the sentence that introduces it.
fn printed_command(readme: &str) -> Option<Vec<String>> {
    let after = readme.split_once("regenerates this report:")?.1;
    let block = after.split_once("```\n")?.1.split_once("\n```")?.0;
    let mut words = shell_words(block.trim());
    (words.first().map(String::as_str) == Some("analyze")).then(|| words.split_off(1))
}

/// Splits a command line as a POSIX shell would for the quoting `analyze` writes ('…').
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn committed_reports_are_regenerated_byte_for_byte() {
    let root = repository_root();
    let reports = root.join("reports");
    let mut checked = 0;
    let mut dirs: Vec<PathBuf> = fs::read_dir(&reports).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs.into_iter().filter(|d| d.join("README.md").is_file()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let readme = fs::read_to_string(dir.join("README.md")).unwrap();
        let args = printed_command(&readme).unwrap_or_else(|| panic!("{name}: prints no regenerating command"));
        let out = args.windows(2).find(|w| w[0] == "--out").map(|w| w[1].clone());
        assert_eq!(
            out.as_deref(),
            Some(format!("reports/{name}").as_str()),
            "{name}: --out must name the report itself"
        );
        for input in args.windows(2).filter(|w| w[0] == "--input" || w[0] == "--criterion") {
            assert!(input[1].starts_with("reports/data/"), "{name}: {} is not committed data", input[1]);
        }

        let scratch = tempfile::tempdir().unwrap();
        fs::create_dir(scratch.path().join("reports")).unwrap();
        std::os::unix::fs::symlink(reports.join("data"), scratch.path().join("reports/data")).unwrap();
        let output =
            Command::new(env!("CARGO_BIN_EXE_analyze")).current_dir(scratch.path()).args(&args).output().unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));

        let (committed, regenerated) = (files(&dir), files(&scratch.path().join("reports").join(&name)));
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            regenerated.keys().collect::<Vec<_>>(),
            "{name}: the regenerated report has other files"
        );
        for (file, bytes) in &committed {
            assert!(
                regenerated[file] == *bytes,
                "{name}/{file} differs from what `analyze {}` writes now: regenerate and commit it",
                args.join(" ")
            );
        }
        checked += 1;
    }
    assert!(checked >= 1, "no committed report found under {}", reports.display());
}

#[test]
fn shell_words_undo_the_quoting_analyze_writes() {
    assert_eq!(shell_words("analyze --input 'a b' --out x"), ["analyze", "--input", "a b", "--out", "x"]);
    assert_eq!(shell_words("'it'\\''s'"), ["it\\s"]);
}
