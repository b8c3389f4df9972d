//! What was run: the sweeps and benchmarks behind the report, and the machines they ran on.

use crate::error::Result;
use crate::inputs::Inputs;
use crate::section::Section;
use degradation_bench::record::MachineInfo;
use std::fmt::Write as _;

fn join_display<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}

fn gib(bytes: u64) -> String {
    format!("{:.0} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn machine_row(m: &MachineInfo) -> String {
    let cores = match m.physical_cores {
        Some(p) => format!("{} logical / {p} physical", m.logical_cores),
        None => format!("{} logical", m.logical_cores),
    };
    format!(
        "| `{}` | {} | {} | {} | {} | {} | {} | {} | `{}` | {} | {} | {} |",
        m.machine_id,
        m.cpu_model,
        cores,
        join_display(&m.simd_features),
        join_display(&m.caches),
        gib(m.memory_bytes),
        m.os,
        m.rustc_version,
        m.git_commit.as_deref().unwrap_or("unknown"),
        m.gemm_backend,
        m.threads,
        m.recorded_at
    )
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let mut out = String::new();
    if !inputs.results.is_empty() {
        let _ = writeln!(out, "Training sweeps:\n");
        let _ = writeln!(out, "| experiment | results directory | runs | dataset | archs | depths | widths | seeds | steps | machine | sweep wall time |");
        let _ = writeln!(out, "|:--|:--|--:|:--|:--|:--|:--|:--|--:|:--|--:|");
        for set in &inputs.results {
            let (dataset, archs, depths, widths, seeds, steps) = match &set.experiment_config {
                Some(e) => (
                    e.dataset.to_string(),
                    join_display(&e.archs),
                    join_display(&e.depths),
                    join_display(&e.widths),
                    join_display(&e.seeds),
                    e.steps.to_string(),
                ),
                // No experiment file: describe what the runs themselves cover.
                None => {
                    fn distinct<T: Ord + std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
                        let mut v: Vec<T> = values.collect();
                        v.sort();
                        v.dedup();
                        join_display(&v)
                    }
                    let runs = &set.runs;
                    (
                        distinct(runs.iter().map(|r| r.record.setup.dataset)),
                        distinct(runs.iter().map(|r| r.record.setup.arch)),
                        distinct(runs.iter().map(|r| r.record.setup.depth)),
                        distinct(runs.iter().map(|r| r.record.setup.width)),
                        distinct(runs.iter().map(|r| r.record.setup.seed)),
                        distinct(runs.iter().map(|r| r.record.setup.steps)),
                    )
                }
            };
            let wall: f64 = set.runs.iter().map(|r| r.record.result.wall_seconds).sum();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {dataset} | {archs} | {depths} | {widths} | {seeds} | {steps} | `{}` | {:.1} s (sum over runs) |",
                set.experiment,
                set.dir.display(),
                set.runs.len(),
                set.machine.machine_id,
                wall
            );
        }
        let _ = writeln!(out);
    }
    if !inputs.benches.is_empty() {
        let _ = writeln!(out, "Criterion benchmarks:\n");
        let _ = writeln!(out, "| criterion directory | benchmarks | machine |");
        let _ = writeln!(out, "|:--|--:|:--|");
        for set in &inputs.benches {
            let _ = writeln!(out, "| `{}` | {} | `{}` |", set.dir.display(), set.rows.len(), set.machine_id);
        }
        let _ = writeln!(out);
    }
    let machines = inputs.machines();
    if !machines.is_empty() {
        let _ = writeln!(out, "Machines (fingerprints copied beside this file as `machine-<id>.json`):\n");
        let _ = writeln!(out, "| machine_id | CPU | cores | SIMD | caches | memory | OS | rustc | commit | GEMM backend | threads | recorded |");
        let _ = writeln!(out, "|:--|:--|:--|:--|:--|--:|:--|:--|:--|:--|--:|:--|");
        for m in &machines {
            let _ = writeln!(out, "{}", machine_row(m));
        }
        let _ = writeln!(out);
    }

    let mut section = Section::new("What was run");
    section.summary.push(out.trim_end().to_string());
    Ok(Some(section))
}
