//! The same benchmarks on several machines: which machines (and at which commits), how much
//! faster the first is than each other one per benchmark and per operation (geometric mean,
//! with intervals), and whether their training runs agree bit for bit. A benchmark unstable on
//! either machine ([`crate::criterion::stability`]) keeps its row, labelled, and stays out of
//! every mean, range and count.

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
use plotters::style::{RGBColor, WHITE};
use polars::prelude::{Column, DataFrame};

mod step_rates;

/// Speedup of machine A over machine B on one benchmark: B's time ÷ A's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Speedup {
    pub key: BenchKey,
    pub ratio: Interval,
    /// Whether the benchmark's time is stable on A and on B.
    pub stable: (bool, bool),
}

impl Speedup {
    /// Stable on both machines: the only speedups that enter a mean, a range or a count.
    pub fn is_stable(&self) -> bool {
        self.stable.0 && self.stable.1
    }
}

/// Per benchmark both machines ran, B's time ÷ A's time (above 1: A is faster).
pub fn speedups(a: &MachineTimes, b: &MachineTimes) -> Vec<Speedup> {
    a.networks
        .iter()
        .filter_map(|(key, on_a)| {
            let on_b = b.networks.get(key)?;
            let stable = (on_a.is_stable(), on_b.is_stable());
            Some(Speedup { key: *key, ratio: on_b.time_ns.ratio(on_a.time_ns), stable })
        })
        .collect()
}

/// A geometric mean of speedups over a fixed set of benchmarks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupMean {
    pub mean: Interval,
    /// Lowest and highest speedup in the set: the spread over the grid, not an uncertainty.
    pub range: (f64, f64),
    pub count: usize,
}

impl GroupMean {
    /// "1.16 (1.15–1.17)×, range 0.82–1.57×".
    pub fn text(&self) -> String {
        use crate::table::format_sig;
        format!(
            "{}×, range {}–{}×",
            interval_text(&self.mean, 3),
            format_sig(self.range.0, 3),
            format_sig(self.range.1, 3)
        )
    }
}

/// Over the stable speedups of one operation (all operations for `None`): their geometric
/// mean, its interval from their own measurement uncertainty (the grid held fixed:
/// [`geometric_mean`]), their range and count.
pub fn group_mean(speedups: &[Speedup], op: Option<Op>) -> Option<GroupMean> {
    let stable: Vec<&Speedup> =
        speedups.iter().filter(|s| s.is_stable() && op.is_none_or(|op| s.key.op == op)).collect();
    let points = stable.iter().map(|s| s.ratio.point);
    let range = (points.clone().fold(f64::INFINITY, f64::min), points.fold(f64::NEG_INFINITY, f64::max));
    let mean = geometric_mean(&stable.iter().map(|s| s.ratio).collect::<Vec<_>>())?;
    Some(GroupMean { mean, range, count: stable.len() })
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
         operation is taken over the benchmarks stable on both machines (the timing section gives the rules); its \
         interval carries only their measurement uncertainty (each benchmark's interval propagated in log space, the \
         set held fixed), because the benchmarks are a designed grid of depths and widths, not a random sample whose \
         resampling would mean anything. How much the speedup varies over the grid is the range beside it (lowest \
         and highest benchmark). Every benchmark ran on one thread on every machine; the sweep's threads are listed \
         separately."
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
        if let Some(step) = group_mean(&all, Some(Op::TrainStep)) {
            let unstable = all.iter().filter(|s| s.key.op == Op::TrainStep && !s.is_stable()).count();
            let left_out = if unstable == 0 { String::new() } else { format!(", {unstable} unstable left out") };
            section.lead.push(format!(
                "{first_label} runs a train step {}× as fast as {other_label} (geometric mean over the {} benchmarks \
                 stable on both machines{left_out}, one thread each; 95% interval from measurement alone; over the \
                 grid the speedup ranges {}–{}×).",
                interval_text(&step.mean, 3),
                step.count,
                crate::table::format_sig(step.range.0, 3),
                crate::table::format_sig(step.range.1, 3)
            ));
        }
        let labels = (sets[0].machine_short_label(), other_set.machine_short_label());
        section.tables.push(speedup_table(&other_set.machine_id, &versus, &all, &labels)?);
        section.charts.extend(speedup_chart(&other_set.machine_id, &versus, &all));
    }
    section.findings.extend(sweep_findings(inputs));
    let benches = sets.iter().map(|set| (set.machine_id.clone(), MachineTimes::from_set(set))).collect();
    let rates = step_rates::step_rates(inputs, &benches);
    if rates.iter().any(|r| r.sweep_ratio().is_some()) {
        section.findings.extend(step_rates::step_rate_findings(&rates));
        section.tables.push(step_rates::step_rate_table(&rates)?);
    }
    Ok(Some(section))
}

/// Geometric mean per operation and overall, and on how many benchmarks A is slower: over the
/// benchmarks stable on both machines, the unstable ones named.
pub fn speedup_findings(versus: &str, all: &[Speedup]) -> Vec<String> {
    let mut means = Vec::new();
    for op in Op::ALL {
        if let Some(group) = group_mean(all, Some(op)) {
            means.push(format!("{} {} ({} benchmarks)", op.group(), group.text(), group.count));
        }
    }
    let mut out = Vec::new();
    if let Some(overall) = group_mean(all, None) {
        out.push(format!(
            "Speedup of {versus}, geometric mean (95% interval from measurement alone; range over the grid): {}; all {} \
             stable benchmarks {}.",
            means.join(", "),
            overall.count,
            overall.text()
        ));
    }
    let unstable: Vec<String> = all.iter().filter(|s| !s.is_stable()).map(|s| s.key.describe()).collect();
    if !unstable.is_empty() {
        out.push(format!(
            "{} of {} benchmarks are unstable on at least one machine and are left out of the means, ranges and counts \
             (their rows say where): {}.",
            unstable.len(),
            all.len(),
            unstable.join(", ")
        ));
    }
    let stable: Vec<&Speedup> = all.iter().filter(|s| s.is_stable()).collect();
    let slower: Vec<&&Speedup> = stable.iter().filter(|s| s.ratio.point < 1.0).collect();
    let clearly: Vec<&&&Speedup> = slower.iter().filter(|s| !s.ratio.contains(1.0)).collect();
    out.push(format!(
        "The first machine is slower in {} of {} stable benchmarks ({} of them beyond their intervals{}).",
        slower.len(),
        stable.len(),
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
        let seconds: Vec<f64> = runs.iter().map(|r| r.result.wall_seconds).collect();
        out.push(wall_clock_finding(id, &seconds, *threads));
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

/// One machine's sweep: its run time in all and the least wall clock it can have taken. No
/// schedule over `threads` finishes before its longest run, nor before the total spread evenly
/// over the threads, so the bound is the larger of the two.
pub fn wall_clock_finding(machine_id: &str, run_seconds: &[f64], threads: usize) -> String {
    let total: f64 = run_seconds.iter().sum();
    let longest = run_seconds.iter().copied().fold(0.0, f64::max);
    let even = total / threads.max(1) as f64;
    let bound = if longest > even {
        format!(
            "its longest run, {longest:.1} s, is longer than the run time spread evenly over the threads ({even:.1} s)"
        )
    } else {
        format!(
            "the run time spread evenly over the threads, {even:.1} s, is longer than its longest run ({longest:.1} s)"
        )
    };
    format!(
        "Sweep on {machine_id}: {} runs, {total:.1} s of run time in all on {threads} thread(s). Its wall clock was at \
         least {:.1} s: {bound}.",
        run_seconds.len(),
        longest.max(even)
    )
}

fn speedup_table(machine_id: &str, versus: &str, all: &[Speedup], labels: &(String, String)) -> Result<Table> {
    let key = |f: fn(&BenchKey) -> String| all.iter().map(|s| f(&s.key)).collect::<Vec<String>>();
    let stability = |s: &Speedup| match s.stable {
        (true, true) => String::new(),
        (false, true) => format!("unstable on {}", labels.0),
        (true, false) => format!("unstable on {}", labels.1),
        (false, false) => "unstable on both".to_string(),
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("op".into(), key(|k| k.op.group().into())),
        Column::new("arch".into(), key(|k| k.arch.as_str().into())),
        Column::new("depth".into(), all.iter().map(|s| s.key.depth as u64).collect::<Vec<_>>()),
        Column::new("width".into(), all.iter().map(|s| s.key.width as u64).collect::<Vec<_>>()),
        Column::new("speedup".into(), all.iter().map(|s| s.ratio.point).collect::<Vec<_>>()),
        Column::new("speedup_lower".into(), all.iter().map(|s| s.ratio.lower).collect::<Vec<_>>()),
        Column::new("speedup_upper".into(), all.iter().map(|s| s.ratio.upper).collect::<Vec<_>>()),
        Column::new("speedup_ci".into(), all.iter().map(|s| interval_text(&s.ratio, 3)).collect::<Vec<_>>()),
        Column::new("stable".into(), all.iter().map(Speedup::is_stable).collect::<Vec<_>>()),
        Column::new("stability".into(), all.iter().map(stability).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("speedup"))?;
    Ok(Table {
        slug: format!("speedup_{machine_id}"),
        title: format!("Speedup of {versus}"),
        note:
            "The other machine's median time ÷ the first's, with a 95% interval from both criterion intervals. A row \
               unstable on a machine compares a time that is not one number there: shown, but in no mean or count."
                .into(),
        frame,
        columns: vec![
            spec("op", "operation", Format::Text),
            spec("arch", "arch", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("width", "width", Format::Integer),
            spec("speedup_ci", "speedup (95% CI)", Format::Text),
            spec("stability", "stability", Format::Text),
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
                let (fill, text) = if s.is_stable() {
                    (speedup_colour(&s.ratio), format!("{:.2}×", s.ratio.point))
                } else {
                    (WHITE, format!("({:.2}×)", s.ratio.point))
                };
                Some(Cell {
                    column: widths.iter().position(|w| *w == s.key.width)?,
                    row: rows.iter().position(|r| *r == (s.key.depth, s.key.arch))?,
                    fill,
                    text,
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
            // The row names ("d64 residual") say it; a description would sit on them.
            y_label: String::new(),
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
             grey where the interval includes 1× (not distinguishable), white with the value in \
             brackets where the benchmark is unstable on either machine. Rows: depth and arch. The table gives each \
             interval."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criterion::{BenchKind, BenchRow, Stability};

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
                stability: Stability { samples: None, spread: None, problems: Vec::new() },
                flops: Some(1e6),
            })
            .collect();
        BenchSet::of_rows(machine_id, rows)
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
        let step = group_mean(&all, Some(Op::TrainStep)).unwrap();
        assert!((step.mean.point - 2.0).abs() < 1e-12, "{step:?}");
        assert!(step.mean.lower < 2.0 && step.mean.upper > 2.0);
        // Measurement only: each ratio is ±1% on both machines (hypot ≈ 1.4% per ratio), so the
        // mean of three is within ±1%, far narrower than the grid's 0.5–8 spread.
        assert!(step.mean.upper < 2.02 && step.mean.lower > 1.98, "{step:?}");
        assert_eq!((step.range, step.count), ((0.5, 8.0), 3));
        let forward = group_mean(&all, Some(Op::Forward)).unwrap();
        assert!((forward.mean.point - 3.0).abs() < 1e-12, "{forward:?}");
        assert_eq!(group_mean(&all, Some(Op::Backward)), None);
        let found = speedup_findings("A over B", &all);
        assert!(
            found[0].starts_with(
                "Speedup of A over B, geometric mean (95% interval from measurement alone; range over the grid): \
                 forward 3.00 ("
            ),
            "{found:?}"
        );
        assert!(found[0].contains("train_step 2.00 ("), "{found:?}");
        assert!(found[0].contains("×, range 0.500–8.00× (3 benchmarks)"), "{found:?}");
        // Overall: (2·8·0.5·1.5·6)^(1/5) = 72^(1/5).
        assert!(
            found[0].contains(&format!("all 5 stable benchmarks {} (", crate::table::format_sig(72f64.powf(0.2), 3))),
            "{found:?}"
        );
        assert_eq!(
            found[1],
            "The first machine is slower in 1 of 5 stable benchmarks (1 of them beyond their intervals: train_step \
             plain d16 w64)."
        );

        // The 8× benchmark unstable on B: out of the mean, the range and the counts, and named.
        let mut shaky = all.clone();
        shaky.iter_mut().filter(|s| s.ratio.point > 7.0).for_each(|s| s.stable.1 = false);
        let step = group_mean(&shaky, Some(Op::TrainStep)).unwrap();
        assert_eq!((step.range, step.count), ((0.5, 2.0), 2));
        assert!((step.mean.point - 1.0).abs() < 1e-12, "{step:?}");
        let found = speedup_findings("A over B", &shaky);
        assert!(found[0].contains("all 4 stable benchmarks"), "{found:?}");
        assert_eq!(
            found[1],
            "1 of 5 benchmarks are unstable on at least one machine and are left out of the means, ranges and counts \
             (their rows say where): train_step residual d4 w64."
        );
    }

    /// 16 threads, runs of 14.7 s and 99.3 s in all: spread evenly they would need 7.1 s, but
    /// no schedule beats the longest run.
    #[test]
    fn wall_clock_is_never_shorter_than_the_longest_run() {
        let mut runs = vec![14.7];
        runs.extend(std::iter::repeat_n(99.3 / 41.0, 41));
        let text = wall_clock_finding("m1", &runs, 16);
        assert!(text.starts_with("Sweep on m1: 42 runs, 114.0 s of run time in all on 16 thread(s)."), "{text}");
        assert!(text.contains("Its wall clock was at least 14.7 s: its longest run, 14.7 s, is longer than"), "{text}");
        assert!(text.contains("(7.1 s)"), "{text}");
        assert!(!text.contains("at least 7.1"), "{text}");
        // Two threads: the spread-out total (57.0 s) is the bound.
        let text = wall_clock_finding("m2", &runs, 2);
        assert!(text.contains("Its wall clock was at least 57.0 s: the run time spread evenly"), "{text}");
    }
}
