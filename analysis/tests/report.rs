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

/// Rows of a CSV file as header → field maps (RFC 4180 quoting, as the report writes it).
fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parse = |line: &str| -> Vec<String> {
        let (mut fields, mut field, mut quoted, mut chars) =
            (Vec::new(), String::new(), false, line.chars().peekable());
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                (c, _) => field.push(c),
            }
        }
        fields.push(field);
        fields
    };
    let mut lines = text.lines();
    let header = parse(lines.next().expect("a header line"));
    lines
        .map(|l| {
            let fields = parse(l);
            assert_eq!(fields.len(), header.len(), "{}: {l}", path.display());
            header.iter().cloned().zip(fields).collect()
        })
        .collect()
}

fn number(row: &std::collections::HashMap<String, String>, column: &str) -> Option<f64> {
    let text = row.get(column).unwrap_or_else(|| panic!("no column {column} in {row:?}"));
    (!text.is_empty()).then(|| text.parse().unwrap_or_else(|e| panic!("{column} = {text:?}: {e}")))
}

/// An SVG the report wrote: a whole document, at most 1000 px wide (a repository page), with
/// every expected text.
fn check_svg(path: &Path, texts: &[&str]) {
    let svg = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{} is not a whole SVG", path.display());
    let width: f64 = svg
        .split_once("width=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{}: no width", path.display()));
    assert!(width <= 1000.0, "{}: {width} px wide", path.display());
    for text in texts {
        assert!(svg.contains(text), "{} lacks {text:?}", path.display());
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
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
        "| residual α=1/√K | 128 |",
        "interquartile range",
        "![Degradation: training loss vs depth](degradation.svg)",
        "The chance level is 2.30 = ln 10",
        "## Gradient flow",
        "| theory log₂RMS² per k |",
        "## Timing",
        "| train_step | residual | 64 | 1024 |",
        "[`degradation.csv`](degradation.csv)",
        "```toml",
        "```\nanalyze --input results/quick/m1 --criterion criterion --out reports/r\n```",
    ] {
        assert!(readme.contains(needle), "README lacks {needle:?}:\n{readme}");
    }
    // Nothing that changes from one run to the next (the report is regenerated byte for byte).
    assert!(!readme.contains("UTC"), "{readme}");

    // Every degradation row against the median over seeds computed here from the generator.
    let rows = read_csv(&report.join("degradation.csv"));
    assert_eq!(rows.len(), 14, "7 depths × 2 variants");
    let depths = [2, 4, 8, 16, 32, 64, 128];
    for (arch, scale, label) in [("plain", None, "plain"), ("residual", Some("inv_sqrt_blocks"), "residual α=1/√K")]
    {
        for depth in depths {
            let losses: Vec<f64> =
                (0..3).map(|s| common::run(arch, scale, depth, s, "m1").final_train_loss.unwrap()).collect();
            let row = rows
                .iter()
                .find(|r| r["variant"] == label && r["depth"] == depth.to_string())
                .unwrap_or_else(|| panic!("no row {label} {depth}"));
            let got = number(row, "loss_median").unwrap();
            assert!((got - median(losses.clone())).abs() < 1e-12, "{label} {depth}: {got} vs {losses:?}");
            assert_eq!(number(row, "runs"), Some(3.0));
            assert_eq!(number(row, "diverged"), Some(0.0));
        }
    }
    // The findings and the opening sentences, from the same hand-computed medians.
    let plain_median =
        |d: usize| median((0..3).map(|s| common::run("plain", None, d, s, "m1").final_train_loss.unwrap()).collect());
    let best = *depths.iter().min_by(|a, b| plain_median(**a).total_cmp(&plain_median(**b))).unwrap();
    assert!(readme.contains(&format!("- plain: lowest median final train loss at depth {best}")), "{readme}");
    let stalled = depths.iter().find(|&&d| plain_median(d) >= 0.9 * 10f64.ln()).unwrap();
    assert!(
        readme.contains(&format!("Plain nets train best at depth {best} (median final training loss ")),
        "{readme}"
    );
    assert!(readme.contains(&format!("; from depth {stalled} they learn nothing")), "{readme}");
    assert!(readme.contains("With the residual connection, residual nets (α=1/√K) reach "), "{readme}");

    // Gradient flow: theory 0 for plain He, none for α = 1/√K (the symmetric-stream line is gone).
    for row in read_csv(&report.join("gradient_flow.csv")) {
        let theory = number(&row, "theory_rms2_slope");
        match (row["variant"].as_str(), row["phase"].as_str()) {
            ("plain", "init") => assert_eq!(theory, Some(0.0), "{row:?}"),
            _ => assert_eq!(theory, None, "{row:?}"),
        }
    }
    check_svg(&report.join("degradation.svg"), &["residual α=1/√K", "chance level, ln 10 = 2.30", "depth"]);
    check_svg(&report.join("training_curves.svg"), &["depth 128", "training step"]);
    check_svg(&report.join("gradient_profile.svg"), &["theory at init", "k (layer)", "k (block)"]);
    check_svg(&report.join("state_rms_profile.svg"), &["log₂ RMS(h_k)"]);
    for svg in ["timing_vs_depth.svg", "residual_overhead.svg"] {
        let text = fs::read_to_string(report.join(svg)).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{svg}");
    }
    for csv in ["timing.csv", "gemm_ceiling.csv"] {
        assert!(!read_csv(&report.join(csv)).is_empty(), "{csv} has no rows");
    }
}

#[test]
fn compares_machines_under_a_default_name() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_criterion(&root.join("a"), "m1", "CPU A", 1.0);
    common::write_criterion(&root.join("b"), "m2", "CPU B", 2.0);
    let output = analyze(root, &["--criterion", "a", "--criterion", "b"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = root.join("reports/compare-m1-m2");
    for file in ["README.md", "across_machines.csv", "machines.svg", "machine-m1.json", "machine-m2.json"] {
        assert!(report.join(file).is_file(), "missing {file}");
    }
    let readme = fs::read_to_string(report.join("README.md")).unwrap();
    assert!(readme.contains("## Across machines"));
    assert!(readme.contains("| ms on m1 | ms on m2 |"), "{readme}");
    // m2 is twice as fast at everything.
    assert!(readme.contains("m2 is 2.0× faster than m1 there."), "{readme}");
    let csv = fs::read_to_string(report.join("across_machines.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("median_ms@m1"));
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
        "![Shattered gradients: gradient autocorrelation vs depth](shattered_gradients.svg)",
        // ρ(1) = 1 − depth/256 for plain nets: 0.99 at depth 2, 0.50 at depth 128.
        "At init, ρ(1) of plain goes from 0.99 at depth 2 to 0.50 at depth 128; that of residual α=1/√K from 0.97 to 0.97",
        "the direction Balduzzi et al. (2017) predict",
        "one seed, one input line per run",
        "| loss at 1500 steps | loss at 4500 steps |",
        "degradation persists, as He et al. (2015, footnote 3) report for 3× the iterations",
        "by construction",
    ] {
        assert!(readme.contains(needle), "README lacks {needle:?}:\n{readme}");
    }
    // Lesions in absolute losses: a residual block removed doubles the loss, a plain layer ×1000.
    let loss = |arch: &str, depth: usize| common::mechanisms_run(arch, depth).final_train_loss.unwrap();
    let finding = readme
        .lines()
        .find(|l| l.starts_with("- residual α=1/√K at depth 128: unlesioned train loss "))
        .unwrap_or_else(|| panic!("no lesion finding for the deepest residual net:\n{readme}"));
    let stated = |after: &str| -> f64 {
        let rest = finding.split_once(after).unwrap_or_else(|| panic!("{after:?} in {finding}")).1;
        rest.split([',', ' ']).next().unwrap().parse().unwrap()
    };
    let unlesioned = loss("residual", 128);
    assert!((stated("unlesioned train loss ") / unlesioned - 1.0).abs() < 0.06, "{finding}");
    assert!((stated("the loss is ") / (2.0 * unlesioned) - 1.0).abs() < 0.06, "{finding}");
    for row in read_csv(&report.join("lesions.csv")) {
        let arch = row["arch"].clone();
        let depth: usize = row["depth"].parse().unwrap();
        let factor = if arch == "plain" { 1000.0 } else { 2.0 };
        let unlesioned = number(&row, "unlesioned_loss").unwrap();
        assert!((unlesioned - loss(&arch, depth)).abs() < 1e-12, "{row:?}");
        for column in ["lesion_median", "lesion_max"] {
            assert!((number(&row, column).unwrap() - factor * unlesioned).abs() < 1e-9 * factor, "{column}: {row:?}");
        }
        let increase = number(&row, "lesion_median_increase").unwrap();
        assert!((increase - (factor - 1.0) * unlesioned).abs() < 1e-9 * factor, "{row:?}");
    }
    // Branch ratios: 1.2·α at init and 1.5·α at the end, per row.
    let rows = read_csv(&report.join("branch_ratios.csv"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let depth: f64 = row["depth"].parse().unwrap();
        let alpha = 1.0 / (depth / 2.0).sqrt();
        assert!((number(row, "alpha").unwrap() - alpha).abs() < 1e-12, "{row:?}");
        assert!((number(row, "init_over_alpha").unwrap() - 1.2).abs() < 1e-9, "{row:?}");
        assert!((number(row, "end_over_alpha").unwrap() - 1.5).abs() < 1e-9, "{row:?}");
    }
    // Longer training: 4 shared depths, 10× lower loss except at 128.
    let rows = read_csv(&report.join("longer_training.csv"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let ratio = number(row, "loss_long").unwrap() / number(row, "loss_short").unwrap();
        let expected = if row["depth"] == "128" { 1.0 } else { 0.1 };
        assert!((ratio - expected).abs() < 1e-12, "{row:?}");
    }
    check_svg(&report.join("lesions.svg"), &["depth 128", "unlesioned"]);
    check_svg(&report.join("branch_ratios.svg"), &["after training", "α of that depth"]);
    check_svg(&report.join("shattered_gradients.svg"), &["after training", "at init"]);
    check_svg(&report.join("longer_training.svg"), &["plain, 4500 steps", "plain, 1500 steps"]);
    assert_eq!(read_csv(&report.join("shattered_gradients.csv")).len(), 8);

    // The quick preset alone has none of these sections.
    common::write_results(&root.join("quick"), "m1");
    let output = analyze(root, &["--input", "quick", "--no-default-criterion", "--out", "q"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let readme = fs::read_to_string(root.join("q/README.md")).unwrap();
    for absent in ["## Shattered gradients", "## Lesions", "## Longer training", "## Residual-branch magnitude"] {
        assert!(!readme.contains(absent), "{absent} without data");
    }
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
    assert!(err.contains("runs.jsonl:1: field `norm`: unknown value \"group\""), "{err}");
}
