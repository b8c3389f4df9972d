//! End to end: synthetic results and criterion trees in, a whole report out, through the
//! `analyze` binary as a user runs it.

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
fn writes_a_whole_report_from_one_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_results(&root.join("results/quick/m1"), "m1");
    common::write_criterion(&root.join("criterion"), "m1", "Test CPU", 1.0);

    let output = analyze(root, &["--input", "results/quick/m1", "--criterion", "criterion", "--out", "reports/r"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let report = root.join("reports/r");
    for file in [
        "README.md",
        "degradation.csv",
        "gradient_flow.csv",
        "timing.csv",
        "gemm_ceiling.csv",
        "degradation.svg",
        "training_curves.svg",
        "gradient_profile.svg",
        "state_rms_profile.svg",
        "timing_vs_depth.svg",
        "residual_overhead.svg",
        "machine-m1.json",
    ] {
        assert!(report.join(file).is_file(), "missing {file}");
    }
    // One machine: no across-machines table or chart.
    assert!(!report.join("across_machines.csv").exists());
    assert!(!report.join("machines.svg").exists());
    // Nothing left behind by the atomic write.
    let leftovers: Vec<_> = fs::read_dir(root.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["r"]);

    let readme = fs::read_to_string(report.join("README.md")).unwrap();
    for needle in [
        "## What was run",
        "AMD EPYC 9R14 (synthetic)",
        "`m1`",
        "abc1234",
        "## Degradation",
        "| variant | depth | final train loss (median) | IQR low (q25) | IQR high (q75) |",
        "| plain | 128 |",
        "| residual α=inv_sqrt_blocks | 128 |",
        "interquartile range",
        "![Degradation: training loss vs depth](degradation.svg)",
        "## Gradient flow",
        "| theory log₂RMS² per k |",
        "## Timing",
        "| train_step | residual | 64 | 1024 |",
        "[`degradation.csv`](degradation.csv)",
        "```toml",
    ] {
        assert!(readme.contains(needle), "README lacks {needle:?}:\n{readme}");
    }
    // The synthetic plain nets are best at depth 8 and near chance at 128: the findings say so.
    assert!(readme.contains("- plain: lowest median final train loss at depth 8"), "{readme}");
    // 7 depths × 2 variants.
    let csv = fs::read_to_string(report.join("degradation.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 14);
    assert!(csv
        .starts_with("variant,facet,line,arch,depth,loss_median,loss_q25,loss_q75,test_accuracy_mean,runs,diverged\n"));
    let svg = fs::read_to_string(report.join("degradation.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("residual α=inv_sqrt_blocks"));
}

#[test]
fn bad_input_fails_cleanly_and_keeps_the_old_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_results(&root.join("res"), "m1");
    let output = analyze(root, &["--input", "res", "--out", "out", "--no-default-criterion"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let before = fs::read_to_string(root.join("out/README.md")).unwrap();

    // A garbage line in the middle: error naming file and line, exit non-zero, old report intact.
    let runs = fs::read_to_string(root.join("res/runs.jsonl")).unwrap();
    let mut lines: Vec<&str> = runs.lines().collect();
    lines.insert(2, "{garbage");
    fs::write(root.join("res/runs.jsonl"), lines.join("\n") + "\n").unwrap();
    let output = analyze(root, &["--input", "res", "--out", "out", "--no-default-criterion"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("runs.jsonl:3:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(fs::read_to_string(root.join("out/README.md")).unwrap(), before);
    let entries = fs::read_dir(root).unwrap().count();
    assert_eq!(entries, 2, "a temporary directory was left behind");

    // A missing machine.json.
    fs::create_dir_all(root.join("bare")).unwrap();
    fs::write(root.join("bare/runs.jsonl"), "").unwrap();
    let output = analyze(root, &["--input", "bare", "--no-default-criterion"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("machine.json"), "{}", stderr(&output));

    // Nothing to analyse at all.
    let output = analyze(root, &["--no-default-criterion"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no inputs"), "{}", stderr(&output));

    // A criterion directory with no estimates.
    fs::create_dir_all(root.join("crit/report")).unwrap();
    let output = analyze(root, &["--criterion", "crit"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no criterion estimates"), "{}", stderr(&output));
}

#[test]
fn a_truncated_last_line_is_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_results(&root.join("res"), "m1");
    let mut runs = fs::read_to_string(root.join("res/runs.jsonl")).unwrap();
    let extra = serde_json::to_string(&common::run("plain", None, 256, 0, "m1")).unwrap();
    runs.push_str(&extra[..extra.len() / 3]);
    fs::write(root.join("res/runs.jsonl"), runs).unwrap();
    let output = analyze(root, &["--input", "res", "--out", "out", "--no-default-criterion"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("truncated last line"), "{}", stderr(&output));
    let readme = fs::read_to_string(root.join("out/README.md")).unwrap();
    assert!(readme.contains("## Warnings while loading"));
    assert!(!readme.contains("| plain | 256 |"), "the truncated run must not be counted");
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_results(&root.join("res"), "m1");
    fs::create_dir_all(root.join("reports/keep")).unwrap();
    fs::write(root.join("reports/notes.txt"), "mine").unwrap();
    let output = analyze(root, &["--input", "res", "--out", "reports", "--no-default-criterion"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("not a report written by analyze"), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(root.join("reports/notes.txt")).unwrap(), "mine");
    assert!(root.join("reports/keep").is_dir());
    // An earlier report is replaced.
    let output = analyze(root, &["--input", "res", "--out", "reports/r", "--no-default-criterion"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = analyze(root, &["--input", "res", "--out", "reports/r", "--no-default-criterion"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn mechanism_probes_and_longer_training_get_their_sections() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let depths = [2, 8, 32, 128];
    let mechanisms: Vec<_> = depths
        .iter()
        .flat_map(|&d| [common::mechanisms_run("plain", d), common::mechanisms_run("residual", d)])
        .collect();
    common::write_runs(&root.join("mech"), "mechanisms", &mechanisms);
    // The quick preset's plain nets, and the same nets trained 3× longer to a 10× lower loss,
    // except at depth 128 where they stay at chance.
    let short: Vec<_> = depths
        .iter()
        .map(|&d| {
            let mut r = common::run("plain", None, d, 0, "m1");
            r.experiment = "degradation".into();
            // Inputs are deduplicated by run id: real ids hash the configuration.
            r.run_id = format!("{}-short", r.run_id);
            r
        })
        .collect();
    let long: Vec<_> = short
        .iter()
        .map(|r| {
            let mut l = r.clone();
            l.experiment = "longer".into();
            l.steps = 4500;
            l.run_id = format!("{}-long", r.run_id);
            if l.depth < 128 {
                l.final_train_loss = l.final_train_loss.map(|v| v / 10.0);
            }
            l
        })
        .collect();
    common::write_runs(&root.join("short"), "degradation", &short);
    common::write_runs(&root.join("long"), "longer", &long);

    let args = ["--input", "mech", "--input", "long", "--input", "short", "--no-default-criterion", "--out", "r"];
    let output = analyze(root, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = root.join("r");
    for file in [
        "shattered_gradients.csv",
        "shattered_gradients.svg",
        "lesions.csv",
        "lesions.svg",
        "branch_ratios.csv",
        "branch_ratios.svg",
        "longer_training.csv",
        "longer_training.svg",
    ] {
        assert!(report.join(file).is_file(), "missing {file}");
    }
    let readme = fs::read_to_string(report.join("README.md")).unwrap();
    for needle in [
        "## Shattered gradients",
        "## Lesions",
        "## Residual-branch magnitude",
        "## Longer training",
        "Balduzzi et al., 2017",
        "![Shattered gradients: gradient autocorrelation vs depth](shattered_gradients.svg)",
        // ρ(1) = 1 − 128/256 for plain d128.
        "Shattered gradients at init: at depth 128 plain ρ(1) = 0.50 vs residual α=inv_sqrt_blocks 0.97",
        "removing one block of residual α=inv_sqrt_blocks d128 raises the loss by a median factor 2.0×",
        "Agrees with Veit et al. (2016)",
        "| loss at 1500 steps | loss at 4500 steps | longer ÷ shorter |",
        "as He et al. (2015, footnote 3) report.",
    ] {
        assert!(readme.contains(needle), "README lacks {needle:?}:\n{readme}");
    }
    assert!(
        readme.contains("removing one layer of plain d8 raises the loss by a median factor 1000× (0.011 → 11)"),
        "{readme}"
    );
    // Branch ratio at init ÷ α = 1.2 for every depth.
    let csv = fs::read_to_string(report.join("branch_ratios.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.contains(",1.2")), "{csv}");
    // Longer training: 4 shared depths, 10× lower loss except at 128.
    let csv = fs::read_to_string(report.join("longer_training.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4);
    assert!(csv.lines().nth(1).unwrap().contains(",0.1"), "{csv}");
    let svg = fs::read_to_string(report.join("lesions.svg")).unwrap();
    assert!(svg.contains("depth 128") && svg.contains("unlesioned"));

    // The quick preset alone has none of these sections.
    common::write_results(&root.join("quick"), "m1");
    let output = analyze(root, &["--input", "quick", "--no-default-criterion", "--out", "q"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let readme = fs::read_to_string(root.join("q/README.md")).unwrap();
    for absent in ["## Shattered gradients", "## Lesions", "## Longer training", "## Residual-branch magnitude"] {
        assert!(!readme.contains(absent), "{absent} without data");
    }
}
