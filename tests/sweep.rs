//! End-to-end tests of the sweep: sharding and thread count never change results, and a
//! sweep killed at random moments resumes without losing or duplicating a run.

use degradation_bench::config::Experiment;
use degradation_bench::record::{self, RunRecord};
use degradation_bench::sweep::{self, Shard, SweepOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const SMALL_GRID: &str = r#"
name = "small"
dataset = "spirals"
archs = ["plain", "residual"]
depths = [2, 4]
widths = [8]
activations = ["tanh"]
norms = ["none", "layer"]
residual_scales = ["inv_sqrt_blocks", "rezero"]
inits = ["he"]
seeds = [0, 1]
steps = 30
batch_size = 16
checkpoints = 3
[dataset_options]
samples = 64
test_samples = 16
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
"#;

fn options(text: &str, out: &Path, threads: usize, shard: Option<Shard>) -> SweepOptions {
    SweepOptions {
        experiment: Experiment::from_toml_str(text, Path::new("small.toml")).unwrap(),
        experiment_text: text.to_string(),
        out: Some(out.to_path_buf()),
        threads: Some(threads),
        shard,
        dry_run: false,
        fresh: false,
        progress: false,
    }
}

/// Records by run id, with the timing fields (which differ from run to run) cleared.
fn records(dir: &Path) -> BTreeMap<String, RunRecord> {
    let runs = record::read_runs(&dir.join(record::RUNS_JSONL)).unwrap();
    assert!(runs.truncated_tail.is_none());
    let mut by_id = BTreeMap::new();
    for mut record in runs.records {
        record.clear_timings();
        assert!(by_id.insert(record.run_id.clone(), record).is_none(), "a run was recorded twice");
    }
    by_id
}

#[test]
fn shards_and_thread_counts_give_identical_records() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let outcome = sweep::run(&options(SMALL_GRID, &whole, 1, None)).unwrap();
    // plain: 2 depths × 2 norms × 2 seeds; residual: × 2 scales.
    assert_eq!(outcome.runs_total, 8 + 16);
    let reference = records(&whole);
    assert_eq!(reference.len(), 24);

    let two_threads = dir.path().join("two-threads");
    sweep::run(&options(SMALL_GRID, &two_threads, 2, None)).unwrap();
    assert_eq!(records(&two_threads), reference, "thread count changed results");

    let mut merged = BTreeMap::new();
    for index in 0..3 {
        let shard_dir = dir.path().join(format!("shard-{index}"));
        let shard = Shard { index, count: 3 };
        let outcome = sweep::run(&options(SMALL_GRID, &shard_dir, 2, Some(shard))).unwrap();
        assert_eq!(outcome.runs_total, 8);
        for (id, record) in records(&shard_dir) {
            assert!(merged.insert(id, record).is_none(), "a run appears in two shards");
        }
    }
    assert_eq!(merged, reference, "sharding changed results");
}

#[test]
fn rerunning_resumes_and_fresh_moves_the_old_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    sweep::run(&options(SMALL_GRID, &out, 2, Some(Shard { index: 0, count: 2 }))).unwrap();
    let again = sweep::run(&options(SMALL_GRID, &out, 2, Some(Shard { index: 0, count: 2 }))).unwrap();
    assert_eq!((again.runs_done, again.runs_skipped), (0, 12));

    let mut fresh = options(SMALL_GRID, &out, 2, Some(Shard { index: 0, count: 2 }));
    fresh.fresh = true;
    let outcome = sweep::run(&fresh).unwrap();
    assert_eq!(outcome.runs_done, 12);
    let backups: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("runs.jsonl.bak"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(record::read_runs(&backups[0]).unwrap().records.len(), 12);
}

#[test]
fn a_different_experiment_in_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    sweep::run(&options(SMALL_GRID, &out, 1, Some(Shard { index: 0, count: 8 }))).unwrap();
    let other = SMALL_GRID.replace("steps = 30", "steps = 31");
    let error = sweep::run(&options(&other, &out, 1, Some(Shard { index: 0, count: 8 }))).unwrap_err().to_string();
    assert!(error.contains("different experiment"), "{error}");
}

#[test]
fn a_truncated_last_line_is_moved_aside_and_that_run_redone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let shard = Some(Shard { index: 1, count: 4 });
    sweep::run(&options(SMALL_GRID, &out, 1, shard)).unwrap();
    let path = out.join(record::RUNS_JSONL);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    // Keep five whole lines and half of the sixth, as a kill during the write would.
    let cut = format!("{}\n{}", lines[..5].join("\n"), &lines[5][..lines[5].len() / 2]);
    std::fs::write(&path, &cut).unwrap();

    let outcome = sweep::run(&options(SMALL_GRID, &out, 1, shard)).unwrap();
    assert_eq!((outcome.runs_done, outcome.runs_skipped), (1, 5));
    assert_eq!(records(&out).len(), 6);
    let aside: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("runs.jsonl.truncated"))
        .collect();
    assert_eq!(aside.len(), 1, "the fragment is kept, not deleted");
}

#[test]
fn a_garbage_line_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let shard = Some(Shard { index: 2, count: 4 });
    sweep::run(&options(SMALL_GRID, &out, 1, shard)).unwrap();
    let path = out.join(record::RUNS_JSONL);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.insert_str(0, "this is not json\n");
    std::fs::write(&path, &text).unwrap();
    let error = sweep::run(&options(SMALL_GRID, &out, 1, shard)).unwrap_err().to_string();
    assert!(error.contains("runs.jsonl:1:"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "nothing was lost");
}

/// Kills a sweep process with SIGKILL at pseudo-random moments, resumes each time, and
/// checks that the union is the whole grid with every run exactly once.
#[test]
fn kill_minus_nine_then_resume_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kill.toml");
    let text = SMALL_GRID.replace("steps = 30", "steps = 400").replace("widths = [8]", "widths = [32]");
    std::fs::write(&config, &text).unwrap();
    let out = dir.path().join("out");
    let sweep_binary = env!("CARGO_BIN_EXE_sweep");
    let launch = || {
        Command::new(sweep_binary)
            .args(["--config", config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--threads", "2", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // A fixed pseudo-random sequence of kill delays (milliseconds), spread over a run's length.
    let mut state = 0x9e37_79b9_u32;
    let mut kills = 0;
    for _ in 0..6 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let delay = 40 + (state % 260) as u64;
        let mut child = launch();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        child.wait().unwrap();
    }
    let status = launch().wait().unwrap();
    assert!(status.success());
    assert!(kills >= 1, "the sweep finished before any kill; lengthen the runs");
    let runs = record::read_runs(&out.join(record::RUNS_JSONL)).unwrap();
    assert!(runs.truncated_tail.is_none());
    let mut ids: Vec<&str> = runs.records.iter().map(|r| r.run_id.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "a run was recorded twice");
    assert_eq!(ids.len(), 24, "a run was lost");
}
