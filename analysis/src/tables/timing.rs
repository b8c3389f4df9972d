//! Benchmark tables: criterion rows → time, GFLOP/s, efficiency against the same machine's
//! GEMM ceiling, residual overhead, and the machines side by side.

use crate::criterion::{BenchKind, BenchRow, LAYER_GROUPS};
use crate::error::{Error, Result};
use crate::table::{spec, Format, Table};
use polars::frame::PivotColumnNaming;
use polars::prelude::*;

/// Benchmarks as frames: network passes, and each machine's GEMM ceiling per width.
pub struct BenchFrames {
    pub network: DataFrame,
    pub ceiling: DataFrame,
}

pub fn bench_frames(rows: &[BenchRow]) -> Result<BenchFrames> {
    let mut net = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ceiling = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        match &row.kind {
            BenchKind::Network { arch, depth, width } => {
                let group_order = LAYER_GROUPS.iter().position(|g| *g == row.group).unwrap_or(LAYER_GROUPS.len());
                net.0.push(row.machine_id.clone());
                net.1.push(row.group.clone());
                net.2.push(group_order as u32);
                net.3.push(arch.clone());
                net.4.push(*depth as u64);
                net.5.push(*width as u64);
                net.6.push(row.median.point);
                net.7.push(row.gflops().map(|g| g.point));
            }
            BenchKind::Ceiling { width } => {
                ceiling.0.push(row.machine_id.clone());
                ceiling.1.push(*width as u64);
                ceiling.2.push(row.median.point);
                ceiling.3.push(row.gflops().map(|g| g.point));
            }
        }
    }
    let network = DataFrame::new_infer_height(vec![
        Column::new("machine_id".into(), net.0),
        Column::new("group".into(), net.1),
        Column::new("group_order".into(), net.2),
        Column::new("arch".into(), net.3),
        Column::new("depth".into(), net.4),
        Column::new("width".into(), net.5),
        Column::new("median_ns".into(), net.6),
        Column::new("gflops".into(), net.7),
    ])
    .map_err(Error::polars("timing"))?;
    // Several ceiling functions at one width (e.g. two kernels): the machine's ceiling is the best.
    let ceiling = DataFrame::new_infer_height(vec![
        Column::new("machine_id".into(), ceiling.0),
        Column::new("width".into(), ceiling.1),
        Column::new("ceiling_ns".into(), ceiling.2),
        Column::new("ceiling_gflops".into(), ceiling.3),
    ])
    .map_err(Error::polars("gemm_ceiling"))?
    .lazy()
    .group_by_stable([col("machine_id"), col("width")])
    .agg([col("ceiling_ns").min(), col("ceiling_gflops").max()])
    .sort_by_exprs([col("machine_id"), col("width")], SortMultipleOptions::default())
    .collect()
    .map_err(Error::polars("gemm_ceiling"))?;
    Ok(BenchFrames { network, ceiling })
}

/// The timing frame behind tables 3 and 4: time, GFLOP/s, efficiency and residual overhead.
pub fn timing_frame(frames: &BenchFrames) -> Result<DataFrame> {
    let keys = || [col("machine_id"), col("group"), col("depth"), col("width")];
    let plain = frames.network.clone().lazy().filter(col("arch").eq(lit("plain"))).select([
        col("machine_id"),
        col("group"),
        col("depth"),
        col("width"),
        col("median_ns").alias("plain_ns"),
    ]);
    frames
        .network
        .clone()
        .lazy()
        .join(
            frames.ceiling.clone().lazy(),
            [col("machine_id"), col("width")],
            [col("machine_id"), col("width")],
            JoinArgs::new(JoinType::Left),
        )
        .join(plain, keys(), keys(), JoinArgs::new(JoinType::Left))
        .with_columns([
            (col("median_ns") / lit(1e6)).alias("median_ms"),
            (col("gflops") / col("ceiling_gflops")).alias("efficiency"),
            when(col("arch").eq(lit("residual")))
                .then((col("median_ns") / col("plain_ns") - lit(1.0)) * lit(100.0))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("residual_overhead_pct"),
        ])
        .sort_by_exprs(
            [col("machine_id"), col("group_order"), col("width"), col("depth"), col("arch")],
            SortMultipleOptions::default(),
        )
        .select([
            col("machine_id"),
            col("group"),
            col("arch"),
            col("depth"),
            col("width"),
            col("median_ms"),
            col("gflops"),
            col("ceiling_gflops"),
            col("efficiency"),
            col("residual_overhead_pct"),
        ])
        .collect()
        .map_err(Error::polars("timing"))
}

/// Table 3: per group × arch × depth × width (and machine, when there are several).
pub fn timing(timing_frame: &DataFrame, several_machines: bool) -> Table {
    let mut columns = Vec::new();
    if several_machines {
        columns.push(spec("machine_id", "machine", Format::Text));
    }
    columns.extend([
        spec("group", "group", Format::Text),
        spec("arch", "arch", Format::Text),
        spec("depth", "depth", Format::Integer),
        spec("width", "width", Format::Integer),
        spec("median_ms", "median time (ms)", Format::Sig(3)),
        spec("gflops", "GFLOP/s", Format::Sig(3)),
        spec("efficiency", "efficiency vs GEMM ceiling", Format::Percent(0)),
        spec("residual_overhead_pct", "residual overhead", Format::SignedPercent(1)),
    ]);
    Table {
        slug: "timing".into(),
        title: "Timing (criterion)".into(),
        note: "Median time per iteration from criterion. GFLOP/s = the benchmark's FLOPs per iteration ÷ median time. \
               Efficiency = GFLOP/s ÷ the same machine's gemm_ceiling GFLOP/s at the same width. \
               Residual overhead = residual time ÷ plain time − 1 at the same group, depth and width."
            .into(),
        frame: timing_frame.clone(),
        columns,
    }
}

/// The GEMM ceiling per machine and width.
pub fn ceiling(frames: &BenchFrames, several_machines: bool) -> Table {
    let mut columns = Vec::new();
    if several_machines {
        columns.push(spec("machine_id", "machine", Format::Text));
    }
    columns.extend([
        spec("width", "width", Format::Integer),
        spec("ceiling_ns", "median time (ns)", Format::Sig(3)),
        spec("ceiling_gflops", "GFLOP/s", Format::Sig(3)),
    ]);
    Table {
        slug: "gemm_ceiling".into(),
        title: "GEMM ceiling".into(),
        note:
            "A raw f32 GEMM of the layer shape (batch × width × width) with the same kernel: the machine's own limit."
                .into(),
        frame: frames.ceiling.clone(),
        columns,
    }
}

/// Table 4: the timing rows side by side, one column set per machine (polars pivot).
pub fn across_machines(timing_frame: &DataFrame, machine_ids: &[String]) -> Result<Table> {
    let on_columns = DataFrame::new_infer_height(vec![Column::new("machine_id".into(), machine_ids.to_vec())])
        .map_err(Error::polars("across_machines"))?;
    let index = ["group", "arch", "depth", "width"];
    let values = ["median_ms", "efficiency"];
    let frame = timing_frame
        .clone()
        .lazy()
        .pivot(
            by_name(["machine_id"], true, false),
            Arc::new(on_columns),
            by_name(index, true, false),
            by_name(values, true, false),
            element().first(),
            true,
            "@".into(),
            PivotColumnNaming::Combine,
        )
        .collect()
        .map_err(Error::polars("across_machines"))?;
    let mut columns: Vec<_> = index
        .iter()
        .map(|name| {
            let format = if *name == "depth" || *name == "width" { Format::Integer } else { Format::Text };
            spec(name, name, format)
        })
        .collect();
    for value in values {
        for id in machine_ids {
            let (header, format) = match value {
                "median_ms" => (format!("ms on {id}"), Format::Sig(3)),
                _ => (format!("efficiency on {id}"), Format::Percent(0)),
            };
            columns.push(spec(&format!("{value}@{id}"), &header, format));
        }
    }
    Ok(Table {
        slug: "across_machines".into(),
        title: "Across machines".into(),
        note: "The same benchmarks side by side: absolute median time, and efficiency (GFLOP/s ÷ that machine's own \
               gemm_ceiling at the same width), which is what travels between machines."
            .into(),
        frame,
        columns,
    })
}

/// A row of the timing frame, for the charts and findings.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingRow {
    pub machine_id: String,
    pub group: String,
    pub arch: String,
    pub depth: usize,
    pub width: usize,
    pub median_ms: f64,
    pub gflops: Option<f64>,
    pub ceiling_gflops: Option<f64>,
    pub efficiency: Option<f64>,
    pub residual_overhead_pct: Option<f64>,
}

pub fn timing_rows(timing_frame: &DataFrame) -> Vec<TimingRow> {
    let table = Table {
        slug: String::new(),
        title: String::new(),
        note: String::new(),
        frame: timing_frame.clone(),
        columns: Vec::new(),
    };
    (0..table.height())
        .filter_map(|i| {
            Some(TimingRow {
                machine_id: table.text("machine_id", i)?,
                group: table.text("group", i)?,
                arch: table.text("arch", i)?,
                depth: table.number("depth", i)? as usize,
                width: table.number("width", i)? as usize,
                median_ms: table.number("median_ms", i)?,
                gflops: table.number("gflops", i),
                ceiling_gflops: table.number("ceiling_gflops", i),
                efficiency: table.number("efficiency", i),
                residual_overhead_pct: table.number("residual_overhead_pct", i),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(group: &str, arch: &str, depth: usize, width: usize, ns: f64, flops: f64) -> BenchRow {
        let kind = if group == "gemm_ceiling" {
            BenchKind::Ceiling { width }
        } else {
            BenchKind::Network { arch: arch.into(), depth, width }
        };
        BenchRow {
            machine_id: "m1".into(),
            group: group.into(),
            function: arch.into(),
            param: String::new(),
            kind,
            median: crate::interval::Interval::new(ns, ns, ns, 0.95).unwrap(),
            mean: None,
            samples: None,
            flops: Some(flops),
        }
    }

    #[test]
    fn timing_efficiency_and_overhead() {
        let rows = vec![
            bench("train_step", "plain", 4, 64, 1000.0, 50_000.0),
            bench("train_step", "residual", 4, 64, 1100.0, 50_000.0),
            bench("gemm_ceiling", "f32", 0, 64, 100.0, 10_000.0),
        ];
        let frames = bench_frames(&rows).unwrap();
        let frame = timing_frame(&frames).unwrap();
        let table = timing(&frame, false);
        assert_eq!(table.height(), 2);
        assert_eq!(table.text("arch", 0).as_deref(), Some("plain"));
        assert_eq!(table.number("gflops", 0), Some(50.0));
        assert_eq!(table.number("ceiling_gflops", 0), Some(100.0));
        assert_eq!(table.number("efficiency", 0), Some(0.5));
        assert_eq!(table.number("residual_overhead_pct", 0), None);
        assert!((table.number("residual_overhead_pct", 1).unwrap() - 10.0).abs() < 1e-9);
        assert!((table.number("median_ms", 1).unwrap() - 0.0011).abs() < 1e-15);
    }

    #[test]
    fn across_machines_pivots_side_by_side() {
        let mut rows = vec![
            bench("train_step", "plain", 4, 64, 1000.0, 50_000.0),
            bench("gemm_ceiling", "f32", 0, 64, 100.0, 10_000.0),
        ];
        let mut other: Vec<BenchRow> = rows.to_vec();
        for row in &mut other {
            row.machine_id = "m2".into();
            row.median = row.median.scaled(2.0);
        }
        rows.extend(other);
        let frames = bench_frames(&rows).unwrap();
        let frame = timing_frame(&frames).unwrap();
        let ids = vec!["m1".to_string(), "m2".to_string()];
        let table = across_machines(&frame, &ids).unwrap();
        assert_eq!(table.height(), 1);
        assert_eq!(table.number("median_ms@m1", 0), Some(0.001));
        assert_eq!(table.number("median_ms@m2", 0), Some(0.002));
        // Both machines are at half their own ceiling.
        assert_eq!(table.number("efficiency@m1", 0), Some(0.5));
        assert_eq!(table.number("efficiency@m2", 0), Some(0.5));
    }
}
