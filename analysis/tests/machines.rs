//! End to end: two machines' criterion trees (and sweeps) in, the comparison report out, its
//! numbers checked against values computed by hand.
//!
//! The second machine is not uniformly slower: per benchmark, first machine's speedup
//! (second's time ÷ first's) differs, so a wrong row, an arithmetic mean, or criterion's mean
//! instead of its median would each print a different number.

mod common;

use degradation_bench::record::MachineInfo;
use std::fs;
use std::path::Path;
use std::process::Command;

fn analyze(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_analyze")).current_dir(dir).args(args).output().expect("analyze runs")
}

fn machine(id: &str, cpu: &str, commit: &str, threads: usize) -> MachineInfo {
    MachineInfo { git_commit: Some(commit.into()), threads, cpu_model: cpu.into(), ..common::machine(id, cpu) }
}

/// A criterion estimate whose mean is `mean_factor` × its median: reading the mean shows.
fn write_bench(root: &Path, group: &str, function: &str, param: &str, median_ns: f64, mean_factor: f64) {
    let dir = root.join(group).join(function).join(param).join("new");
    fs::create_dir_all(&dir).unwrap();
    let estimate = |point: f64| {
        serde_json::json!({"point_estimate": point, "standard_error": point * 0.001,
            "confidence_interval": {"confidence_level": 0.95, "lower_bound": point * 0.99, "upper_bound": point * 1.01}})
    };
    let estimates = serde_json::json!({"mean": estimate(median_ns * mean_factor), "median": estimate(median_ns)});
    fs::write(dir.join("estimates.json"), estimates.to_string()).unwrap();
    let benchmark = serde_json::json!({"group_id": group, "function_id": function, "value_str": param,
        "throughput": {"Elements": 1_000_000}});
    fs::write(dir.join("benchmark.json"), benchmark.to_string()).unwrap();
}

/// (group, arch, depth, first machine's ns, speedup of the first machine) at width 64.
/// train_step: 2, 8, 0.5, 1.25 → geometric mean (2·8·0.5·1.25)^(1/4) = 10^(1/4) = 1.778
///   (arithmetic mean 2.94, median 1.625); the first machine is slower at d16 plain.
/// forward: 1.5, 6, 3, 3 → 81^(1/4) = 3.00 (arithmetic mean 3.375).
const BENCHES: [(&str, &str, usize, f64, f64); 8] = [
    ("train_step", "plain", 4, 1_000.0, 2.0),
    ("train_step", "residual", 4, 1_100.0, 8.0),
    ("train_step", "plain", 16, 4_000.0, 0.5),
    ("train_step", "residual", 16, 4_400.0, 1.25),
    ("forward", "plain", 4, 300.0, 1.5),
    ("forward", "residual", 4, 330.0, 6.0),
    ("forward", "plain", 16, 1_200.0, 3.0),
    ("forward", "residual", 16, 1_320.0, 3.0),
];

fn write_machines(root: &Path) {
    for (dir, id, cpu, commit) in [("a", "m1", "Fast CPU", "aaaa111"), ("b", "m2", "Slow CPU", "bbbb222")] {
        let tree = root.join(dir);
        for (group, arch, depth, ns, speedup) in BENCHES {
            // The means differ by machine (3× and 1.5× the median), so mean ratios are off by 2×.
            let (ns, mean_factor) = if id == "m1" { (ns, 3.0) } else { (ns * speedup, 1.5) };
            write_bench(&tree, group, arch, &format!("d{depth}_w64"), ns, mean_factor);
        }
        write_bench(&tree, "gemm_ceiling", "f32", "w64", 50.0, 1.0);
        let json = serde_json::to_string_pretty(&machine(id, cpu, commit, 1)).unwrap();
        fs::write(tree.join("machine.json"), json).unwrap();
    }
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap();
    text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn compares_two_machines_with_non_uniform_speeds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_machines(root);
    // The same sweep on both machines (2 threads each), one run trained differently on m2.
    common::write_results(&root.join("ra"), "m1");
    common::write_results(&root.join("rb"), "m2");
    let runs = fs::read_to_string(root.join("rb/runs.jsonl")).unwrap();
    let total_runs = runs.lines().count();
    let mut lines: Vec<serde_json::Value> = runs.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let changed = lines[0]["run_id"].as_str().unwrap().to_string();
    let loss = lines[0]["final_train_loss"].as_f64().unwrap();
    lines[0]["final_train_loss"] = serde_json::json!(loss * (1.0 + f64::EPSILON));
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    fs::write(root.join("rb/runs.jsonl"), text).unwrap();

    let args = ["--criterion", "a", "--criterion", "b", "--input", "ra", "--input", "rb", "--out", "cmp"];
    let output = analyze(root, &args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let readme = fs::read_to_string(root.join("cmp/README.md")).unwrap();

    // Per benchmark: the speedup of the matching row, from medians (not means).
    let speedups = csv_rows(&root.join("cmp/speedup_m2.csv"));
    assert_eq!(speedups[0][..5], ["op", "arch", "depth", "width", "speedup"]);
    assert_eq!(speedups.len(), 1 + 8);
    for (group, arch, depth, _, expected) in BENCHES {
        let row = speedups
            .iter()
            .find(|r| r[0] == group && r[1] == arch && r[2] == depth.to_string())
            .unwrap_or_else(|| panic!("no row {group} {arch} d{depth}"));
        let value: f64 = row[4].parse().unwrap();
        assert!((value - expected).abs() < 1e-9, "{group} {arch} d{depth}: {value} vs {expected}");
    }
    // Geometric means per group, and where the first machine is slower.
    // 10^(1/4) = 1.778 at three significant digits.
    assert!(readme.contains("train_step 1.78 ("), "{readme}");
    assert!(readme.contains("forward 3.00 ("), "{readme}");
    assert!(
        readme.contains(
            "The first machine is slower in 1 of 8 stable benchmarks (1 of them beyond their intervals: train_step plain d16 w64)."
        ),
        "{readme}"
    );
    assert!(readme.contains("Fast CPU (1 core) runs a train step 1.78 ("), "{readme}");
    // Machines table: CPU names, one bench thread, the sweep's two, both commits.
    let machines = csv_rows(&root.join("cmp/machines.csv"));
    assert_eq!(machines.len(), 3);
    let header = &machines[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(machines[1][column("cpu")], "Fast CPU (1 core)");
    assert_eq!(machines[2][column("cpu")], "Slow CPU (1 core)");
    for row in &machines[1..] {
        assert_eq!((row[column("bench_threads")].as_str(), row[column("sweep_threads")].as_str()), ("1", "2"));
    }
    assert_eq!(machines[2][column("bench_commit")], "bbbb222");
    assert!(readme.contains("The inputs come from 3 different commits"), "{readme}");
    // Training: every run but the changed one is bit-identical.
    let identical = format!(
        "{} of {total_runs} runs present on both m1 and m2 are bit-identical; these differ: {changed}.",
        total_runs - 1
    );
    assert!(readme.contains(&identical), "{readme}");
    assert!(root.join("cmp/speedup_m2.svg").is_file());
}

#[test]
fn identical_sweeps_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_machines(root);
    common::write_results(&root.join("ra"), "m1");
    common::write_results(&root.join("rb"), "m2");
    let total_runs = fs::read_to_string(root.join("ra/runs.jsonl")).unwrap().lines().count();
    let args = ["--criterion", "a", "--criterion", "b", "--input", "ra", "--input", "rb", "--out", "cmp"];
    let output = analyze(root, &args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let readme = fs::read_to_string(root.join("cmp/README.md")).unwrap();
    let identical =
        format!("{total_runs} of {total_runs} runs present on both m1 and m2 are bit-identical across the machines");
    assert!(readme.contains(&identical), "{readme}");
}
