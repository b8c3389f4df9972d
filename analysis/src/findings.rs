//! Findings of the timing and machines sections, computed from the timing rows.

use crate::table::{format_ratio, format_sig};
use crate::tables::TimingRow;

fn range_text(values: &[f64], unit: impl Fn(f64) -> String) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if (hi - lo).abs() < 1e-12 {
        unit(lo)
    } else {
        format!("{} to {}", unit(lo), unit(hi))
    }
}

/// Timing on each machine: residual overhead and efficiency in train_step, small vs large widths.
pub fn timing(rows: &[TimingRow]) -> Vec<String> {
    let mut machines: Vec<&str> = rows.iter().map(|r| r.machine_id.as_str()).collect();
    machines.sort_unstable();
    machines.dedup();
    let mut out = Vec::new();
    for machine in &machines {
        let Some(group) = ["train_step", "backward", "forward"]
            .into_iter()
            .find(|g| rows.iter().any(|r| r.machine_id == *machine && r.group == *g))
        else {
            continue;
        };
        let mine: Vec<&TimingRow> = rows.iter().filter(|r| r.machine_id == *machine && r.group == group).collect();
        let mut widths: Vec<usize> = mine.iter().map(|r| r.width).collect();
        widths.sort_unstable();
        widths.dedup();
        let on = if machines.len() > 1 { format!(" on {machine}") } else { String::new() };
        let pct = |v: f64| format!("{v:+.1}%");
        let frac = |v: f64| format!("{:.0}%", v * 100.0);
        let bands: Vec<(String, Vec<&TimingRow>)> = match (widths.first(), widths.iter().find(|w| **w >= 256)) {
            (Some(&small), Some(&large)) if small < 256 => vec![
                (format!("width {small}"), mine.iter().copied().filter(|r| r.width == small).collect()),
                (format!("width ≥ {large}"), mine.iter().copied().filter(|r| r.width >= 256).collect()),
            ],
            _ => vec![("all widths".to_string(), mine.clone())],
        };
        for (band, members) in bands {
            let overhead: Vec<f64> = members.iter().filter_map(|r| r.residual_overhead_pct).collect();
            let efficiency: Vec<f64> = members.iter().filter_map(|r| r.efficiency).collect();
            let mut parts = Vec::new();
            if !overhead.is_empty() {
                parts.push(format!("residual overhead {}", range_text(&overhead, pct)));
            }
            if !efficiency.is_empty() {
                parts.push(format!("efficiency vs GEMM ceiling {}", range_text(&efficiency, frac)));
            }
            if !parts.is_empty() {
                out.push(format!("{group}{on}, {band} (all depths): {}.", parts.join("; ")));
            }
        }
    }
    out
}

/// Across machines: speed and efficiency of the same train_step at the largest common width.
pub fn machines(rows: &[TimingRow]) -> Vec<String> {
    let mut machines: Vec<&str> = rows.iter().map(|r| r.machine_id.as_str()).collect();
    machines.sort_unstable();
    machines.dedup();
    if machines.len() < 2 {
        return Vec::new();
    }
    let common = |r: &&TimingRow| {
        machines.iter().all(|m| {
            rows.iter().any(|o| {
                o.machine_id == *m && o.group == r.group && o.arch == r.arch && o.depth == r.depth && o.width == r.width
            })
        })
    };
    let Some(key) = rows
        .iter()
        .filter(|r| r.group == "train_step" && r.arch == "plain" && r.gflops.is_some())
        .filter(common)
        .max_by_key(|r| (r.width, r.depth))
    else {
        return Vec::new();
    };
    let same: Vec<&TimingRow> = machines
        .iter()
        .filter_map(|m| {
            rows.iter().find(|r| {
                r.machine_id == *m
                    && r.group == key.group
                    && r.arch == key.arch
                    && r.depth == key.depth
                    && r.width == key.width
            })
        })
        .collect();
    let fastest = same.iter().min_by(|a, b| a.median_ms.total_cmp(&b.median_ms)).copied();
    let slowest = same.iter().max_by(|a, b| a.median_ms.total_cmp(&b.median_ms)).copied();
    let parts: Vec<String> = same
        .iter()
        .map(|r| {
            let efficiency = r.efficiency.map(|e| format!(", {:.0}% of its ceiling", e * 100.0)).unwrap_or_default();
            format!("{} {} GFLOP/s{efficiency}", r.machine_id, format_sig(r.gflops.unwrap_or(f64::NAN), 3))
        })
        .collect();
    let mut out = vec![format!("train_step plain, depth {}, width {}: {}.", key.depth, key.width, parts.join("; "))];
    if let (Some(f), Some(s)) = (fastest, slowest) {
        if f.machine_id != s.machine_id {
            out.push(format!(
                "{} is {} faster than {} there.",
                f.machine_id,
                format_ratio(s.median_ms / f.median_ms),
                s.machine_id
            ));
        }
    }
    out
}
