//! The same benchmarks on several machines: which machines (and at which commits), how much
//! faster the first is than each other one per benchmark and per operation (geometric mean,
//! with intervals), and whether their training runs agree bit for bit.

use crate::bench::{interval_text, BenchKey, MachineTimes, Op};
use crate::criterion::BenchSet;
use crate::error::{Error, Result};
use crate::inputs::{same_training, Inputs};
use crate::interval::{geometric_mean, Interval};
use crate::plot::{Axis, Cell, Chart, Figure, Panel, PanelBody};
use crate::section::Section;
use crate::table::{spec, Format, Table};
use degradation_bench::config::Arch;
use degradation_bench::record::{MachineInfo, RunRecord};
use plotters::style::RGBColor;
use polars::prelude::{Column, DataFrame};

/// Speedup of machine A over machine B on one benchmark: B's time ÷ A's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Speedup {
    pub key: BenchKey,
    pub ratio: Interval,
}

/// Per benchmark both machines ran, B's time ÷ A's time (above 1: A is faster).
pub fn speedups(a: &MachineTimes, b: &MachineTimes) -> Vec<Speedup> {
    a.networks
        .iter()
        .filter_map(|(key, on_a)| Some(Speedup { key: *key, ratio: b.networks.get(key)?.time_ns.ratio(on_a.time_ns) }))
        .collect()
}

/// The geometric mean of the speedups of one operation, with its bootstrap interval.
pub fn group_mean(speedups: &[Speedup], op: Op) -> Option<Interval> {
    let ratios: Vec<Interval> = speedups.iter().filter(|s| s.key.op == op).map(|s| s.ratio).collect();
    geometric_mean(&ratios)
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let sets: Vec<&BenchSet> = inputs.benches.iter().filter(|s| !s.rows.is_empty()).collect();
    if sets.len() < 2 {
        return Ok(None);
    }
    let mut section = Section::new("Machines compared");
    section.summary.push(
        "Speedup = the other machine's time ÷ the first machine's time for the same benchmark (above 1×: the first is \
         faster), each with an interval combining both machines' criterion intervals. The geometric mean per \
         operation carries a bootstrap interval over the benchmarks and their own intervals. Every benchmark ran on \
         one thread on every machine; the sweep's threads are listed separately."
            .into(),
    );
    section.tables.push(machines_table(inputs)?);
    section.findings.extend(commit_findings(inputs));
    let first = MachineTimes::from_set(sets[0]);
    let first_label = sets[0].machine_label();
    for other_set in &sets[1..] {
        let other_label = other_set.machine_label();
        let all = speedups(&first, &MachineTimes::from_set(other_set));
        if all.is_empty() {
            continue;
        }
        let versus = format!("{first_label} over {other_label}");
        section.findings.extend(speedup_findings(&versus, &all));
        if let Some(mean) = group_mean(&all, Op::TrainStep) {
            section.lead.push(format!(
                "{first_label} runs a train step {}× as fast as {other_label} (geometric mean over {} benchmarks, one \
                 thread each).",
                interval_text(&mean, 3),
                all.iter().filter(|s| s.key.op == Op::TrainStep).count()
            ));
        }
        section.tables.push(speedup_table(&other_set.machine_id, &versus, &all)?);
        section.charts.extend(speedup_chart(&other_set.machine_id, &versus, &all));
    }
    section.findings.extend(sweep_findings(inputs));
    Ok(Some(section))
}

/// Geometric mean per operation and overall, and on how many benchmarks A is slower.
pub fn speedup_findings(versus: &str, all: &[Speedup]) -> Vec<String> {
    let mut means = Vec::new();
    for op in Op::ALL {
        if let Some(mean) = group_mean(all, op) {
            means.push(format!("{} {}×", op.group(), interval_text(&mean, 3)));
        }
    }
    let overall = geometric_mean(&all.iter().map(|s| s.ratio).collect::<Vec<_>>());
    let mut out = Vec::new();
    if let Some(overall) = overall {
        out.push(format!(
            "Speedup of {versus}, geometric mean (95% interval): {}; all {} benchmarks {}×.",
            means.join(", "),
            all.len(),
            interval_text(&overall, 3)
        ));
    }
    let slower: Vec<&Speedup> = all.iter().filter(|s| s.ratio.point < 1.0).collect();
    let clearly: Vec<&&Speedup> = slower.iter().filter(|s| !s.ratio.contains(1.0)).collect();
    out.push(format!(
        "The first machine is slower in {} of {} benchmarks ({} of them beyond their intervals{}).",
        slower.len(),
        all.len(),
        clearly.len(),
        if clearly.is_empty() {
            String::new()
        } else {
            format!(": {}", clearly.iter().map(|s| s.key.describe()).collect::<Vec<_>>().join(", "))
        }
    ));
    out
}

/// The widest SIMD extension a fingerprint lists, for the machines table.
fn widest_simd(machine: &MachineInfo) -> String {
    let has = |f: &str| machine.simd_features.iter().any(|s| s == f);
    let widest = if has("avx512f") {
        "AVX-512"
    } else if has("avx2") {
        "AVX2"
    } else if has("avx") {
        "AVX"
    } else if has("neon") {
        "NEON"
    } else {
        "SSE or none listed"
    };
    widest.to_string()
}

/// One row per machine: hardware, backend, threads and commits of its benches and its sweeps.
fn machines_table(inputs: &Inputs) -> Result<Table> {
    let mut cols: [Vec<String>; 10] = Default::default();
    for set in inputs.benches.iter().filter(|s| !s.rows.is_empty()) {
        let Some(bench) = &set.machine else { continue };
        let sweep = inputs.results.iter().find(|r| r.machine.machine_id == bench.machine_id).map(|r| &r.machine);
        let cores = match bench.physical_cores {
            Some(p) if p != bench.logical_cores => format!("{p} ({} threads)", bench.logical_cores),
            Some(p) => p.to_string(),
            None => bench.logical_cores.to_string(),
        };
        let commit = |m: Option<&MachineInfo>| m.and_then(|m| m.git_commit.clone()).unwrap_or_else(|| "–".into());
        let values = [
            set.machine_label(),
            bench.machine_id.clone(),
            cores,
            widest_simd(bench),
            bench.gemm_backend.clone(),
            bench.threads.to_string(),
            sweep.map_or("–".into(), |m| m.threads.to_string()),
            commit(Some(bench)),
            commit(sweep),
            bench.recorded_at.get(..10).unwrap_or(&bench.recorded_at).to_string(),
        ];
        for (col, value) in cols.iter_mut().zip(values) {
            col.push(value);
        }
    }
    let names = [
        ("cpu", "CPU"),
        ("machine_id", "machine id"),
        ("cores", "cores"),
        ("simd", "widest SIMD"),
        ("gemm_backend", "GEMM backend"),
        ("bench_threads", "bench threads"),
        ("sweep_threads", "sweep threads"),
        ("bench_commit", "bench commit"),
        ("sweep_commit", "sweep commit"),
        ("bench_date", "bench date"),
    ];
    let frame = DataFrame::new_infer_height(
        names.iter().zip(cols).map(|((name, _), values)| Column::new((*name).into(), values)).collect(),
    )
    .map_err(Error::polars("machines"))?;
    Ok(Table {
        slug: "machines".into(),
        title: "Machines".into(),
        note:
            "From the fingerprint each bench and sweep writes (machine.json). Bench threads: threads inside each GEMM \
               of the criterion benches; sweep threads: runs trained in parallel by the sweep."
                .into(),
        frame,
        columns: names.iter().map(|(name, header)| spec(name, header, Format::Text)).collect(),
    })
}

/// Flags inputs recorded at different commits.
pub fn commit_findings(inputs: &Inputs) -> Vec<String> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for set in &inputs.benches {
        if let Some(m) = &set.machine {
            seen.push((
                m.git_commit.clone().unwrap_or_else(|| "unknown".into()),
                format!("benches on {}", set.machine_label()),
            ));
        }
    }
    for results in &inputs.results {
        let m = &results.machine;
        seen.push((
            m.git_commit.clone().unwrap_or_else(|| "unknown".into()),
            format!("{} sweep on {}", results.experiment, m.machine_id),
        ));
    }
    let mut commits: Vec<&str> = seen.iter().map(|(c, _)| c.as_str()).collect();
    commits.sort_unstable();
    commits.dedup();
    if commits.len() <= 1 {
        return Vec::new();
    }
    let list: Vec<String> = seen.iter().map(|(c, what)| format!("{what} at {c}")).collect();
    vec![format!(
        "The inputs come from {} different commits ({}): differences between machines may include code changes.",
        commits.len(),
        list.join("; ")
    )]
}

/// Whether the same runs trained on different machines agree bit for bit, and each machine's
/// sweep time.
pub fn sweep_findings(inputs: &Inputs) -> Vec<String> {
    let mut out = Vec::new();
    let mut by_machine: Vec<(&str, Vec<&RunRecord>, usize)> = Vec::new();
    for set in &inputs.results {
        let id = set.machine.machine_id.as_str();
        match by_machine.iter_mut().find(|(m, _, _)| *m == id) {
            Some(entry) => entry.1.extend(set.runs.iter().map(|r| &r.record)),
            None => by_machine.push((id, set.runs.iter().map(|r| &r.record).collect(), set.machine.threads)),
        }
    }
    for (id, runs, threads) in &by_machine {
        let total: f64 = runs.iter().map(|r| r.wall_seconds).sum();
        out.push(format!(
            "Sweep on {id}: {} runs, {:.1} s of run time in all on {threads} thread(s) (about {:.1} s of wall clock \
             when the runs spread evenly over the threads).",
            runs.len(),
            total,
            total / (*threads).max(1) as f64
        ));
    }
    if by_machine.len() >= 2 {
        let (first_id, first_runs, _) = &by_machine[0];
        for (other_id, other_runs, _) in &by_machine[1..] {
            let mut compared = 0;
            let mut differing = Vec::new();
            for run in first_runs {
                let Some(other) = other_runs.iter().find(|o| o.run_id == run.run_id) else { continue };
                compared += 1;
                if !same_training(run, other) {
                    differing.push(run.run_id.clone());
                }
            }
            if compared == 0 {
                continue;
            }
            out.push(if differing.is_empty() {
                format!("{compared} of {compared} runs present on both {first_id} and {other_id} are bit-identical across the machines (every loss, accuracy and probe value).")
            } else {
                format!(
                    "{} of {compared} runs present on both {first_id} and {other_id} are bit-identical; these differ: {}.",
                    compared - differing.len(),
                    differing.join(", ")
                )
            });
        }
    }
    out
}

fn speedup_table(machine_id: &str, versus: &str, all: &[Speedup]) -> Result<Table> {
    let key = |f: fn(&BenchKey) -> String| all.iter().map(|s| f(&s.key)).collect::<Vec<String>>();
    let frame = DataFrame::new_infer_height(vec![
        Column::new("op".into(), key(|k| k.op.group().into())),
        Column::new("arch".into(), key(|k| k.arch.as_str().into())),
        Column::new("depth".into(), all.iter().map(|s| s.key.depth as u64).collect::<Vec<_>>()),
        Column::new("width".into(), all.iter().map(|s| s.key.width as u64).collect::<Vec<_>>()),
        Column::new("speedup".into(), all.iter().map(|s| s.ratio.point).collect::<Vec<_>>()),
        Column::new("speedup_lower".into(), all.iter().map(|s| s.ratio.lower).collect::<Vec<_>>()),
        Column::new("speedup_upper".into(), all.iter().map(|s| s.ratio.upper).collect::<Vec<_>>()),
        Column::new("speedup_ci".into(), all.iter().map(|s| interval_text(&s.ratio, 3)).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("speedup"))?;
    Ok(Table {
        slug: format!("speedup_{machine_id}"),
        title: format!("Speedup of {versus}"),
        note: "The other machine's median time ÷ the first's, with a 95% interval from both criterion intervals."
            .into(),
        frame,
        columns: vec![
            spec("op", "operation", Format::Text),
            spec("arch", "arch", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("width", "width", Format::Integer),
            spec("speedup_ci", "speedup (95% CI)", Format::Text),
        ],
    })
}

/// Blue where the first machine is faster, orange where slower, grey within noise; deeper
/// colour for a larger factor (full at 2× either way).
fn speedup_colour(ratio: &Interval) -> RGBColor {
    if ratio.contains(1.0) {
        return RGBColor(225, 225, 225);
    }
    let strength = ratio.point.log2().abs().min(1.0);
    let (r, g, b) = if ratio.point > 1.0 { (0.0, 114.0, 178.0) } else { (213.0, 94.0, 0.0) };
    let mix = |c: f64| (255.0 + (c - 255.0) * (0.25 + 0.6 * strength)).round() as u8;
    RGBColor(mix(r), mix(g), mix(b))
}

/// Width × (depth, arch) heatmaps of the speedup, one panel per operation.
fn speedup_chart(machine_id: &str, versus: &str, all: &[Speedup]) -> Option<Chart> {
    let mut widths: Vec<usize> = all.iter().map(|s| s.key.width).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut rows: Vec<(usize, Arch)> = all.iter().map(|s| (s.key.depth, s.key.arch)).collect();
    rows.sort_by_key(|(d, a)| (*d, a.as_str()));
    rows.dedup();
    let mut panels = Vec::new();
    for op in Op::ALL {
        let cells: Vec<Cell> = all
            .iter()
            .filter(|s| s.key.op == op)
            .filter_map(|s| {
                Some(Cell {
                    column: widths.iter().position(|w| *w == s.key.width)?,
                    row: rows.iter().position(|r| *r == (s.key.depth, s.key.arch))?,
                    fill: speedup_colour(&s.ratio),
                    text: format!("{:.2}×", s.ratio.point),
                })
            })
            .collect();
        if cells.is_empty() {
            continue;
        }
        panels.push(Panel {
            title: op.group().into(),
            x: Axis::categorical(widths.iter().map(|w| w.to_string()).collect()),
            y: Axis::categorical(rows.iter().map(|(d, a)| format!("d{d} {}", a.as_str())).collect()),
            x_label: "width".into(),
            y_label: "depth, arch".into(),
            body: PanelBody::Heatmap { cells },
        });
    }
    if panels.is_empty() {
        return None;
    }
    let mut figure = Figure::new(format!("Speedup of {versus}"), panels, 3);
    figure.panel_size = (300, 360);
    Some(Chart {
        figure,
        file: format!("speedup_{machine_id}.svg"),
        caption: format!(
            "Speedup of {versus} per benchmark: blue where the first machine is faster, orange where it is slower, \
             grey where the interval includes 1× (not distinguishable). The table gives each interval."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criterion::{BenchKind, BenchRow};
    use std::path::PathBuf;

    fn set(machine_id: &str, times: &[(&str, &str, usize, usize, f64)]) -> BenchSet {
        let rows = times
            .iter()
            .map(|&(group, arch, depth, width, ns)| BenchRow {
                machine_id: machine_id.into(),
                group: group.into(),
                function: arch.into(),
                param: format!("d{depth}_w{width}"),
                kind: BenchKind::Network { arch: arch.into(), depth, width },
                median: Interval::new(ns, ns * 0.99, ns * 1.01, 0.95).unwrap(),
                mean: None,
                samples: None,
                flops: Some(1e6),
            })
            .collect();
        BenchSet {
            dir: PathBuf::new(),
            machine: None,
            machine_id: machine_id.into(),
            rows,
            paired: Vec::new(),
            peak: None,
        }
    }

    /// Non-uniform speeds: B's time ÷ A's time is 2, 8, 0.5 for train_step (geometric mean
    /// (2·8·0.5)^(1/3) = 2, while the arithmetic mean would be 3.5 and the median 2 only by
    /// coincidence of order) and 1.5, 6 for forward (geometric mean 3, arithmetic 3.75,
    /// median 3.75). A is slower in one benchmark.
    #[test]
    fn speedups_take_the_matching_row_and_the_geometric_mean() {
        let a = set(
            "a",
            &[
                ("train_step", "plain", 4, 64, 100.0),
                ("train_step", "residual", 4, 64, 200.0),
                ("train_step", "plain", 16, 64, 400.0),
                ("forward", "plain", 4, 64, 10.0),
                ("forward", "plain", 16, 64, 30.0),
            ],
        );
        let b = set(
            "b",
            &[
                ("train_step", "plain", 4, 64, 200.0),
                ("train_step", "residual", 4, 64, 1_600.0),
                ("train_step", "plain", 16, 64, 200.0),
                ("forward", "plain", 4, 64, 15.0),
                ("forward", "plain", 16, 64, 180.0),
                ("backward", "plain", 4, 64, 1.0),
            ],
        );
        let all = speedups(&MachineTimes::from_set(&a), &MachineTimes::from_set(&b));
        assert_eq!(all.len(), 5, "only benchmarks both machines ran");
        let find = |op: Op, arch: Arch, depth: usize| {
            all.iter().find(|s| s.key == BenchKey { op, depth, width: 64, arch }).unwrap().ratio.point
        };
        assert!((find(Op::TrainStep, Arch::Residual, 4) - 8.0).abs() < 1e-12);
        assert!((find(Op::TrainStep, Arch::Plain, 16) - 0.5).abs() < 1e-12);
        let step = group_mean(&all, Op::TrainStep).unwrap();
        assert!((step.point - 2.0).abs() < 1e-12, "{step:?}");
        assert!(step.lower < 2.0 && step.upper > 2.0);
        let forward = group_mean(&all, Op::Forward).unwrap();
        assert!((forward.point - 3.0).abs() < 1e-12, "{forward:?}");
        assert_eq!(group_mean(&all, Op::Backward), None);
        let found = speedup_findings("A over B", &all);
        assert!(
            found[0].starts_with("Speedup of A over B, geometric mean (95% interval): forward 3.00 ("),
            "{found:?}"
        );
        assert!(found[0].contains("train_step 2.00 ("), "{found:?}");
        // Overall: (2·8·0.5·1.5·6)^(1/5) = 72^(1/5).
        assert!(
            found[0].contains(&format!("all 5 benchmarks {} (", crate::table::format_sig(72f64.powf(0.2), 3))),
            "{found:?}"
        );
        assert_eq!(
            found[1],
            "The first machine is slower in 1 of 5 benchmarks (1 of them beyond their intervals: train_step plain d16 w64)."
        );
    }
}
