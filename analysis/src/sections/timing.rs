//! What a step costs: forward, backward and train_step times by depth and width with
//! criterion's confidence intervals, GFLOP/s, and efficiency against the same machine's GEMM
//! ceiling (both intervals combined).

use crate::bench::{interval_text, percent_text, MachineTimes, NetworkTime, Op};
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::interval::Interval;
use crate::plot::{sequential, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::table::{spec, Format, Table};
use degradation_bench::config::Arch;
use polars::prelude::{Column, DataFrame};

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let machines: Vec<(String, MachineTimes)> = inputs
        .benches
        .iter()
        .map(|set| (set.machine_label(), MachineTimes::from_set(set)))
        .filter(|(_, times)| !times.networks.is_empty())
        .collect();
    if machines.is_empty() {
        return Ok(None);
    }
    let mut section = Section::new("Timing");
    section.summary.push(
        "Criterion's median time per iteration with its 95% bootstrap confidence interval (in brackets; criterion \
         resamples the iterations it timed). GFLOP/s = the benchmark's FLOPs per iteration ÷ time, so its interval is \
         the time's, inverted. Efficiency = achieved GFLOP/s ÷ the machine's GEMM ceiling at the same width: the best \
         rate of any GEMM the `gemm_ceiling` group timed at that width — today one product, the forward shape \
         (128 × w)·(w × w)ᵀ; its interval combines both measurements' intervals (in log space, in quadrature). The \
         benchmarks ran on one thread."
            .into(),
    );
    for (label, times) in &machines {
        section.lead.extend(lead(label, times));
        section.findings.extend(efficiency_findings(label, times));
        section.findings.extend(peak_findings(label, times));
    }
    section.charts.extend(time_chart(&machines));
    section.tables.push(timing_table(&machines)?);
    if machines.iter().any(|(_, t)| !t.ceilings.is_empty()) {
        section.tables.push(ceiling_table(&machines)?);
    }
    Ok(Some(section))
}

/// One sentence per machine: the range of the train step's efficiency over the grid, and the
/// GEMM ceiling's range as a share of the core's peak when that was measured.
pub fn lead(label: &str, times: &MachineTimes) -> Vec<String> {
    let steps: Vec<&NetworkTime> = times.networks.values().filter(|n| n.key.op == Op::TrainStep).collect();
    let efficiencies: Vec<f64> = steps.iter().filter_map(|n| Some(n.efficiency?.point)).collect();
    let (Some(lo), Some(hi)) =
        (efficiencies.iter().copied().min_by(f64::total_cmp), efficiencies.iter().copied().max_by(f64::total_cmp))
    else {
        return Vec::new();
    };
    // "40–50%", or "50%" when both ends round alike.
    let range = |lo: f64, hi: f64| {
        let (lo, hi) = (format!("{:.0}", 100.0 * lo), format!("{:.0}", 100.0 * hi));
        if lo == hi {
            format!("{hi}%")
        } else {
            format!("{lo}–{hi}%")
        }
    };
    let mut sentence = format!(
        "On {label}, one thread, a train step runs at {} of the GEMM ceiling over the {} points timed",
        range(lo, hi),
        efficiencies.len()
    );
    if let Some((peak, _)) = &times.peak {
        let shares: Vec<f64> = times.ceilings.values().map(|(rate, _)| rate.point / peak).collect();
        let (clo, chi) = shares.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        sentence
            .push_str(&format!(", and the ceiling is {} of the core's f32 peak ({peak:.1} GFLOP/s)", range(clo, chi)));
    }
    sentence.push('.');
    vec![sentence]
}

/// Per width, the train step's efficiency at the deepest depth (the share of a step spent in
/// GEMMs is largest there), and an explanation for any value above 100%.
pub fn efficiency_findings(label: &str, times: &MachineTimes) -> Vec<String> {
    let mut out = Vec::new();
    let op =
        [Op::TrainStep, Op::Backward, Op::Forward].into_iter().find(|op| times.networks.keys().any(|k| k.op == *op));
    let Some(op) = op else { return out };
    let widths: std::collections::BTreeSet<usize> = times.networks.keys().map(|k| k.width).collect();
    let mut parts = Vec::new();
    let mut above = Vec::new();
    for width in widths {
        let deepest = times
            .networks
            .values()
            .filter(|n| n.key.op == op && n.key.width == width && n.key.arch == Arch::Plain)
            .max_by_key(|n| n.key.depth);
        let Some(NetworkTime { key, efficiency: Some(e), .. }) = deepest else { continue };
        parts.push(format!("{} at width {width} (depth {})", percent_text(e), key.depth));
        for arch_time in times.networks.values().filter(|n| n.key.width == width) {
            if let Some(e) = arch_time.efficiency.filter(|e| e.point > 1.0) {
                above.push((arch_time.key, e));
            }
        }
    }
    if !parts.is_empty() {
        out.push(format!("{label}: plain `{}` runs at {} of the GEMM ceiling.", op.group(), parts.join(", ")));
    }
    let (noise, real): (Vec<_>, Vec<_>) = above.iter().partition(|(_, e)| e.contains(1.0));
    if !noise.is_empty() {
        out.push(format!(
            "{label}: {} benchmark(s) show an efficiency above 100% whose interval includes 100% ({}): within noise of \
             the ceiling, not faster than it.",
            noise.len(),
            noise.iter().map(|(k, e)| format!("{} {} {}", k.describe(), "at", percent_text(e))).collect::<Vec<_>>().join("; ")
        ));
    }
    if !real.is_empty() {
        out.push(format!(
            "{label}: {} benchmark(s) exceed the ceiling beyond their intervals ({}). The ceiling times only the forward \
             product (128 × w)·(w × w)ᵀ; a step also runs ∂W = ∂Yᵀ·X and ∂X = ∂Y·W, which the kernel can run faster, \
             and the ceiling was measured at another moment than the step. Timing those two products under \
             `gemm_ceiling` makes the ceiling cover them.",
            real.len(),
            real.iter().map(|(k, e)| format!("{} at {}", k.describe(), percent_text(e))).collect::<Vec<_>>().join("; ")
        ));
    }
    out
}

fn timing_table(machines: &[(String, MachineTimes)]) -> Result<Table> {
    type KeyColumns<'a> = (Vec<String>, Vec<&'a str>, Vec<&'a str>, Vec<u64>, Vec<u64>);
    let mut c: KeyColumns = Default::default();
    let mut numbers: [Vec<Option<f64>>; 9] = Default::default();
    let (mut samples, mut time_text, mut gflops_text, mut efficiency_text) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (label, times) in machines {
        for (key, time) in &times.networks {
            c.0.push(label.clone());
            c.1.push(key.op.group());
            c.2.push(key.arch.as_str());
            c.3.push(key.depth as u64);
            c.4.push(key.width as u64);
            let ms = time.time_ns.scaled(1e-6);
            let parts = [Some(ms), time.gflops, time.efficiency];
            for (i, part) in parts.iter().enumerate() {
                numbers[3 * i].push(part.map(|p| p.point));
                numbers[3 * i + 1].push(part.map(|p| p.lower));
                numbers[3 * i + 2].push(part.map(|p| p.upper));
            }
            samples.push(time.samples.map(|s| s as u64));
            time_text.push(interval_text(&ms, 3));
            gflops_text.push(time.gflops.map(|g| interval_text(&g, 3)));
            efficiency_text.push(time.efficiency.map(|e| percent_text(&e)));
        }
    }
    let names = [
        "median_ms",
        "median_ms_lower",
        "median_ms_upper",
        "gflops",
        "gflops_lower",
        "gflops_upper",
        "efficiency",
        "efficiency_lower",
        "efficiency_upper",
    ];
    let mut columns = vec![
        Column::new("machine".into(), c.0),
        Column::new("op".into(), c.1),
        Column::new("arch".into(), c.2),
        Column::new("depth".into(), c.3),
        Column::new("width".into(), c.4),
    ];
    for (name, values) in names.iter().zip(numbers) {
        columns.push(Column::new((*name).into(), values));
    }
    columns.push(Column::new("samples".into(), samples));
    columns.push(Column::new("time_ms_ci".into(), time_text));
    columns.push(Column::new("gflops_ci".into(), gflops_text));
    columns.push(Column::new("efficiency_ci".into(), efficiency_text));
    let frame = DataFrame::new_infer_height(columns).map_err(Error::polars("timing"))?;
    let mut shown = Vec::new();
    if machines.len() > 1 {
        shown.push(spec("machine", "machine", Format::Text));
    }
    shown.extend([
        spec("op", "operation", Format::Text),
        spec("arch", "arch", Format::Text),
        spec("depth", "depth", Format::Integer),
        spec("width", "width", Format::Integer),
        spec("time_ms_ci", "median ms (95% CI)", Format::Text),
        spec("gflops_ci", "GFLOP/s (95% CI)", Format::Text),
        spec("efficiency_ci", "of GEMM ceiling (95% CI)", Format::Text),
    ]);
    Ok(Table {
        slug: "timing".into(),
        title: "Timing (criterion, one thread)".into(),
        note: "Median ms per iteration and its 95% confidence interval from criterion; GFLOP/s and efficiency carry the \
               same uncertainty. The CSV holds the bounds as numbers, and the sample count when criterion's sample.json \
               was kept (the committed trees keep only the estimates)."
            .into(),
        frame,
        columns: shown,
    })
}

/// Every GEMM kernel timed per machine and width, with its interval; the best one at a width
/// is that width's ceiling. With the core's peak measured, each rate also as a share of it.
fn ceiling_table(machines: &[(String, MachineTimes)]) -> Result<Table> {
    struct Row<'a> {
        machine: &'a str,
        width: usize,
        kernel: &'a str,
        rate: &'a Interval,
        best: bool,
        of_peak: Option<f64>,
    }
    let mut rows: Vec<Row> = Vec::new();
    for (label, times) in machines {
        for ((width, kernel), rate) in &times.kernels {
            let best = times.ceilings.get(width).is_some_and(|(_, row)| row.function == *kernel);
            let of_peak = times.peak.as_ref().map(|(peak, _)| rate.point / peak);
            rows.push(Row { machine: label, width: *width, kernel, rate, best, of_peak });
        }
    }
    let several_kernels = machines.iter().any(|(_, t)| t.kernels.len() > t.ceilings.len());
    let with_peak = machines.iter().any(|(_, t)| t.peak.is_some());
    let frame = DataFrame::new_infer_height(vec![
        Column::new("machine".into(), rows.iter().map(|r| r.machine).collect::<Vec<_>>()),
        Column::new("width".into(), rows.iter().map(|r| r.width as u64).collect::<Vec<_>>()),
        Column::new("kernel".into(), rows.iter().map(|r| r.kernel).collect::<Vec<_>>()),
        Column::new("ceiling".into(), rows.iter().map(|r| if r.best { "ceiling" } else { "" }).collect::<Vec<_>>()),
        Column::new("gflops".into(), rows.iter().map(|r| r.rate.point).collect::<Vec<_>>()),
        Column::new("gflops_lower".into(), rows.iter().map(|r| r.rate.lower).collect::<Vec<_>>()),
        Column::new("gflops_upper".into(), rows.iter().map(|r| r.rate.upper).collect::<Vec<_>>()),
        Column::new("gflops_ci".into(), rows.iter().map(|r| interval_text(r.rate, 3)).collect::<Vec<_>>()),
        Column::new("of_peak".into(), rows.iter().map(|r| r.of_peak).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("gemm_ceiling"))?;
    let mut columns = vec![
        spec("machine", "machine", Format::Text),
        spec("width", "width", Format::Integer),
        spec("kernel", "kernel", Format::Text),
    ];
    if several_kernels {
        columns.push(spec("ceiling", "best", Format::Text));
    }
    columns.push(spec("gflops_ci", "GFLOP/s (95% CI)", Format::Text));
    if with_peak {
        columns.push(spec("of_peak", "÷ core peak", Format::Percent(0)));
    }
    let mut note = "The GEMM rates timed at each width (`gemm_ceiling`: the forward product (128 × w)·(w × w)ᵀ, one \
                    thread; kernel `f32` is the model's own entry `model::gemm::matmul`, others are alternatives \
                    timed on the same operands), with the interval of the median time. The best at a width is that \
                    width's ceiling."
        .to_string();
    if with_peak {
        note.push_str(" ÷ core peak: the rate as a share of the core's f32 multiply-add peak (`peak` bench).");
    }
    Ok(Table { slug: "gemm_ceiling".into(), title: "GEMM ceiling".into(), note, frame, columns })
}

/// With the core's peak measured: the ceiling as a share of it, and the step's efficiency
/// against the peak beside its efficiency against the ceiling.
pub fn peak_findings(label: &str, times: &MachineTimes) -> Vec<String> {
    let Some((peak, isa)) = &times.peak else { return Vec::new() };
    let mut parts = Vec::new();
    for (width, (rate, _)) in &times.ceilings {
        let step = times
            .networks
            .values()
            .filter(|n| n.key.op == Op::TrainStep && n.key.width == *width && n.key.arch == Arch::Plain)
            .max_by_key(|n| n.key.depth)
            .and_then(|n| Some((n.key.depth, n.gflops?)));
        let mut part = format!("width {width}: ceiling {:.0}% of peak", 100.0 * rate.point / peak);
        if let Some((depth, gflops)) = step {
            part.push_str(&format!(", plain train step (depth {depth}) {:.0}%", 100.0 * gflops.point / peak));
        }
        parts.push(part);
    }
    vec![format!("{label}: one core's f32 peak is {peak:.1} GFLOP/s ({isa}); {}.", parts.join("; "))]
}

/// Time against depth, one panel per operation and machine, one colour per width, plain solid
/// and residual dashed, each point with its confidence interval as an error bar.
fn time_chart(machines: &[(String, MachineTimes)]) -> Option<Chart> {
    let all: Vec<&NetworkTime> = machines.iter().flat_map(|(_, t)| t.networks.values()).collect();
    let x = Axis::fit(Scale::Log2, all.iter().map(|n| n.key.depth as f64))?;
    let y = Axis::fit(Scale::Log10, all.iter().flat_map(|n| [n.time_ns.lower / 1e6, n.time_ns.upper / 1e6]))?;
    let mut widths: Vec<usize> = all.iter().map(|n| n.key.width).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut panels = Vec::new();
    for (label, times) in machines {
        for op in Op::ALL {
            let mut lines = Vec::new();
            for (wi, &width) in widths.iter().enumerate() {
                for &arch in Arch::ALL {
                    let points: Vec<&NetworkTime> = times
                        .networks
                        .values()
                        .filter(|n| n.key.op == op && n.key.width == width && n.key.arch == arch)
                        .collect();
                    if points.is_empty() {
                        continue;
                    }
                    let style = LineStyle {
                        label: format!("width {width} {}", arch.as_str()),
                        color: sequential(wi, widths.len()),
                        dashed: arch == Arch::Residual,
                        marker: if arch == Arch::Plain { Marker::Circle } else { Marker::Triangle },
                    };
                    let mut line =
                        Line::new(style, points.iter().map(|n| (n.key.depth as f64, n.time_ns.point / 1e6)).collect());
                    line.error_bars = points
                        .iter()
                        .map(|n| (n.key.depth as f64, n.time_ns.lower / 1e6, n.time_ns.upper / 1e6))
                        .collect();
                    lines.push(line);
                }
            }
            if lines.is_empty() {
                continue;
            }
            let title = if machines.len() > 1 { format!("{} on {label}", op.group()) } else { op.group().to_string() };
            panels.push(Panel {
                title,
                x: x.clone(),
                y: y.clone(),
                x_label: "depth (log scale)".into(),
                y_label: "ms per iteration (log scale)".into(),
                body: PanelBody::Lines(lines),
            });
        }
    }
    if panels.is_empty() {
        return None;
    }
    let mut figure = Figure::new("Time per iteration against depth, with 95% intervals", panels, 3);
    figure.panel_size = (300, 300);
    figure.legend_note =
        Some("Solid, circles: plain. Dashed, triangles: residual. Colour: width. Bars: 95% CI.".into());
    Some(Chart {
        figure,
        file: "timing_vs_depth.svg".into(),
        caption: "Criterion's median time per iteration against depth (log–log), one colour per width, with its 95% \
                  confidence interval as an error bar. Plain (solid) and residual (dashed) lines of one width lie on top \
                  of each other where their times agree; the overhead section gives their ratio."
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tests::row;
    use crate::criterion::BenchSet;
    use crate::peak::Peak;
    use std::path::PathBuf;

    #[test]
    fn every_kernel_listed_with_the_best_marked_and_shares_of_peak() {
        let rows = vec![
            // Width 64: `f32` 10 GFLOP/s, `matrixmultiply` 20 (the ceiling); 1000 FLOPs each.
            row("gemm_ceiling", "f32", 0, 64, [100.0, 90.0, 110.0], 1_000.0),
            row("gemm_ceiling", "matrixmultiply", 0, 64, [50.0, 40.0, 50.0], 1_000.0),
            // 8000 FLOPs in 1000 ns: 8 GFLOP/s, 20% of a 40 GFLOP/s peak.
            row("train_step", "plain", 4, 64, [1_000.0, 800.0, 1_250.0], 8_000.0),
            row("train_step", "plain", 16, 64, [3_200.0, 3_000.0, 3_500.0], 32_000.0),
        ];
        let peak = Peak { machine_id: "m".into(), isa: "avx2+fma".into(), peak_gflops: 40.0 };
        let set = BenchSet {
            dir: PathBuf::new(),
            machine: None,
            machine_id: "m".into(),
            rows,
            paired: Vec::new(),
            peak: Some(peak),
        };
        let times = MachineTimes::from_set(&set);
        let machines = vec![("CPU (2 cores)".to_string(), times)];
        let table = ceiling_table(&machines).unwrap();
        assert_eq!(table.height(), 2);
        assert_eq!(table.text("kernel", 0).as_deref(), Some("f32"));
        assert_eq!(table.text("ceiling", 0).as_deref(), Some(""));
        assert_eq!(table.text("ceiling", 1).as_deref(), Some("ceiling"));
        assert!((table.number("of_peak", 1).unwrap() - 0.5).abs() < 1e-12);
        assert!((table.number("of_peak", 0).unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(
            peak_findings(&machines[0].0, &machines[0].1),
            ["CPU (2 cores): one core's f32 peak is 40.0 GFLOP/s (avx2+fma); width 64: ceiling 50% of peak, plain \
              train step (depth 16) 25%."]
        );
        let without = MachineTimes { peak: None, ..machines[0].1.clone() };
        assert!(peak_findings("x", &without).is_empty());
        // Efficiencies against the 20 GFLOP/s ceiling: 8 ÷ 20 and 10 ÷ 20.
        assert_eq!(
            lead(&machines[0].0, &machines[0].1),
            ["On CPU (2 cores), one thread, a train step runs at 40–50% of the GEMM ceiling over the 2 points timed, \
              and the ceiling is 50% of the core's f32 peak (40.0 GFLOP/s)."]
        );
        assert_eq!(
            lead("x", &without),
            ["On x, one thread, a train step runs at 40–50% of the GEMM ceiling over the 2 points timed."]
        );
    }
}
