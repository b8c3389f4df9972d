//! End to end: shard directories merged by `analyze`, and bad field values in runs.jsonl.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn analyze(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyze")).current_dir(cwd).args(args).output().expect("run analyze")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_directory_of_shards_is_merged_and_checked_against_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_results(&root.join("whole"), "m1");
    // Split the 42 runs into three shards, and leave two out.
    let text = fs::read_to_string(root.join("whole/runs.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for shard in 0..3 {
        let dir = root.join(format!("shards/shard-{shard}"));
        fs::create_dir_all(&dir).unwrap();
        for file in ["machine.json", "experiment.toml"] {
            fs::copy(root.join("whole").join(file), dir.join(file)).unwrap();
        }
        let mine: String =
            lines.iter().skip(2).enumerate().filter(|(i, _)| i % 3 == shard).map(|(_, l)| format!("{l}\n")).collect();
        fs::write(dir.join("runs.jsonl"), mine).unwrap();
    }
    let output = analyze(root, &["--input", "shards", "--no-default-criterion", "--out", "r"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("`shards`: merged 3 shards, 40 runs."), "{}", stderr(&output));
    let readme = fs::read_to_string(root.join("r/README.md")).unwrap();
    assert!(readme.contains("`shards`: merged 3 shards, 40 runs."), "{readme}");
    // The synthetic runs carry made-up ids, so none is one the experiment file plans; the
    // coverage line says so instead of claiming the grid is complete.
    assert!(
        readme.contains("Coverage of `quick` on AMD EPYC 9R14 (synthetic): 0 of 42 planned runs present"),
        "{readme}"
    );
    assert!(readme.contains("40 run(s) present that the experiment file does not plan"), "{readme}");

    // The same run twice with the same results is counted once, with a warning.
    fs::write(root.join("shards/shard-2/runs.jsonl"), format!("{}\n", lines[2])).unwrap();
    let output = analyze(root, &["--input", "shards", "--no-default-criterion", "--out", "r"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("counted once"), "{}", stderr(&output));

    // The same run twice with different results is an error naming both files.
    let mut changed: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    changed["final_train_loss"] = serde_json::json!(0.5);
    fs::write(root.join("shards/shard-2/runs.jsonl"), format!("{changed}\n")).unwrap();
    let output = analyze(root, &["--input", "shards", "--no-default-criterion", "--out", "r"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("with different results") && err.contains("shard-0") && err.contains("shard-2"), "{err}");
}

#[test]
fn an_unknown_value_names_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_results(&root.join("res"), "m1");
    let text = fs::read_to_string(root.join("res/runs.jsonl")).unwrap();
    let text = text.replacen("\"norm\":\"none\"", "\"norm\":\"group\"", 1);
    fs::write(root.join("res/runs.jsonl"), text).unwrap();
    let output = analyze(root, &["--input", "res", "--no-default-criterion", "--out", "r"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    // The core's reader rejects the value while parsing the line, naming the line and the value.
    assert!(err.contains("runs.jsonl:1: not a run record: unknown variant `group`"), "{err}");
}
