//! What a step costs: forward, backward and train_step times by depth and width with
//! criterion's confidence intervals, GFLOP/s, and efficiency against the same machine's GEMM
//! ceiling (both intervals combined). A benchmark whose time is not one number (two clusters,
//! drift, too wide a spread: [`crate::criterion::stability`]) keeps its time, labelled unstable,
//! and gets no efficiency; no range or headline includes it.

use crate::bench::{interval_text, percent_text, MachineTimes, NetworkTime, Op};
use crate::criterion::stability::{CLUSTER_GAP, CLUSTER_SHARE, DRIFT, EDGE_POSITION, EDGE_REACH, SPREAD, WIDE};
use crate::criterion::Stability;
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::interval::Interval;
use crate::section::Section;
use crate::table::{spec, Format, Table};
use degradation_bench::config::Arch;
use polars::prelude::{Column, DataFrame};

mod chart;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let (machines, short_labels): (Vec<(String, MachineTimes)>, Vec<String>) = inputs
        .benches
        .iter()
        .map(|set| ((set.machine_label(), MachineTimes::from_set(set)), set.machine_short_label()))
        .filter(|((_, times), _)| !times.networks.is_empty())
        .unzip();
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
    section.summary.push(stability_rules());
    for (label, times) in &machines {
        section.lead.extend(lead(label, times));
        section.findings.extend(stability_findings(label, times));
        section.findings.extend(efficiency_findings(label, times));
        section.findings.extend(peak_findings(label, times));
    }
    section.charts.extend(chart::time_chart(&machines, &short_labels));
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
    let efficiencies: Vec<f64> = steps.iter().filter_map(|n| Some(n.stable_efficiency()?.point)).collect();
    let left_out = steps.iter().filter(|n| n.efficiency.is_some() && n.stable_efficiency().is_none()).count();
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
    let points = if left_out == 0 {
        format!("the {} points timed", efficiencies.len())
    } else {
        format!(
            "the {} of {} points timed whose times and ceilings are stable ({left_out} left out as unstable)",
            efficiencies.len(),
            efficiencies.len() + left_out
        )
    };
    let mut sentence =
        format!("On {label}, one thread, a train step runs at {} of the GEMM ceiling over {points}", range(lo, hi));
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
        let Some(deepest) = deepest.filter(|n| n.efficiency.is_some()) else { continue };
        let depth = deepest.key.depth;
        parts.push(match deepest.stable_efficiency() {
            Some(e) => format!("{} at width {width} (depth {depth})", percent_text(&e)),
            None if !deepest.is_stable() => format!("no efficiency at width {width} (depth {depth}: unstable)"),
            None => format!("no efficiency at width {width} (depth {depth}: its ceiling is unstable)"),
        });
        for arch_time in times.networks.values().filter(|n| n.key.width == width) {
            if let Some(e) = arch_time.stable_efficiency().filter(|e| e.point > 1.0) {
                above.push((arch_time.key, e));
            }
        }
    }
    if !parts.is_empty() {
        out.push(format!("{label}: plain `{}` runs at {} of the GEMM ceiling.", op.group(), parts.join(", ")));
    }
    // Only stable benchmarks against stable ceilings reach here: an unstable one above 100% is
    // the stability findings' business, and its efficiency is never printed.
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

/// The rules [`crate::criterion::stability`] applies, with their thresholds, for the summary.
fn stability_rules() -> String {
    format!(
        "A benchmark is unstable when its time is not one number. With criterion's raw sample kept (`sample.json`; \
         time per iteration in the order taken): two clusters (sorted, two neighbouring times more than {:.0}% \
         apart with at least {:.0}% of the samples, and at least 2, on each side), drift (the median of the last \
         third more than {:.0}% from that of the first third) or spread (the 90th percentile above {SPREAD} × the \
         10th). With the estimates only: the median within the outer {:.0}% of its 95% interval while the interval \
         reaches more than {:.0}% of the median beyond it on the far side (a median that jumps between two \
         clusters when resampled), or an interval wider than {:.0}% of the median. The mean against the median and \
         the standard deviation against the MAD are not used: a few slow outliers move both while the median stays \
         put. An unstable benchmark keeps its time in the table, labelled, but gets no efficiency, and no range, \
         mean or headline includes it; nor does any efficiency divided by an unstable ceiling. A stable efficiency \
         above 100% is marked as such: the ceiling is one product timed at another moment, not a bound.",
        CLUSTER_GAP * 100.0,
        CLUSTER_SHARE * 100.0,
        DRIFT * 100.0,
        EDGE_POSITION * 100.0,
        EDGE_REACH * 100.0,
        WIDE * 100.0
    )
}

/// Which benchmarks and ceilings of one machine are unstable, and why; what that withholds.
pub fn stability_findings(label: &str, times: &MachineTimes) -> Vec<String> {
    let mut out = Vec::new();
    let unstable: Vec<&NetworkTime> = times.networks.values().filter(|n| !n.is_stable()).collect();
    if !unstable.is_empty() {
        let listed: Vec<String> = unstable
            .iter()
            .map(|n| {
                let ms = n.time_ns.scaled(1e-6);
                let mut text =
                    format!("{} at {} ms ({}", n.key.describe(), interval_text(&ms, 3), n.stability.evidence());
                if let Some(e) = n.efficiency.filter(|e| e.point > 1.0) {
                    text.push_str(&format!("; it would read as {:.0}% of the ceiling", e.point * 100.0));
                }
                text.push(')');
                text
            })
            .collect();
        out.push(format!(
            "{label}: {} of {} benchmarks are unstable ({}). Their times are shown labelled; they have no efficiency \
             and are left out of every range and mean.",
            unstable.len(),
            times.networks.len(),
            listed.join("; ")
        ));
    }
    for (width, (rate, row)) in times.ceilings.iter().filter(|(_, (_, row))| !row.stability.is_stable()) {
        let ms = row.median.scaled(1e-6);
        let affected = times.networks.values().filter(|n| n.key.width == *width && n.efficiency.is_some()).count();
        let above =
            times.networks.values().filter(|n| n.key.width == *width && n.efficiency.is_some_and(|e| e.point > 1.0));
        let above: Vec<String> = above.map(|n| n.key.describe()).collect();
        let mut text = format!(
            "{label}: the GEMM ceiling at width {width} (`{}`, {} ms, {} GFLOP/s) is unstable ({}), so none of the {affected} \
             benchmarks at that width gets an efficiency",
            row.function,
            interval_text(&ms, 3),
            interval_text(rate, 3),
            row.stability.evidence()
        );
        if !above.is_empty() {
            text.push_str(&format!(
                "; divided by its median, {} of them would read above 100% ({})",
                above.len(),
                above.join(", ")
            ));
        }
        text.push('.');
        out.push(text);
    }
    out
}

fn timing_table(machines: &[(String, MachineTimes)]) -> Result<Table> {
    type KeyColumns<'a> = (Vec<String>, Vec<&'a str>, Vec<&'a str>, Vec<u64>, Vec<u64>);
    let mut c: KeyColumns = Default::default();
    let mut numbers: [Vec<Option<f64>>; 9] = Default::default();
    let (mut samples, mut time_text, mut gflops_text, mut efficiency_text) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut stable, mut spread, mut stability_text, mut stability_short) =
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
            samples.push(time.stability.samples.map(|s| s as u64));
            spread.push(time.stability.spread);
            stable.push(time.is_stable());
            stability_text.push(time.stability.describe());
            stability_short.push(stability_cell(time));
            time_text.push(interval_text(&ms, 3));
            gflops_text.push(time.gflops.map(|g| interval_text(&g, 3)));
            efficiency_text.push(time.efficiency_text());
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
    let kept = samples.iter().any(Option::is_some);
    columns.push(Column::new("samples".into(), samples));
    columns.push(Column::new("spread_q90_q10".into(), spread));
    columns.push(Column::new("stable".into(), stable));
    columns.push(Column::new("stability".into(), stability_text));
    columns.push(Column::new("stability_cell".into(), stability_short));
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
        spec("stability_cell", if kept { "stability (samples, q90 ÷ q10)" } else { "stability" }, Format::Text),
    ]);
    Ok(Table {
        slug: "timing".into(),
        title: "Timing (criterion, one thread)".into(),
        note:
            "Median ms per iteration and its 95% confidence interval from criterion; GFLOP/s and efficiency carry the \
               same uncertainty. Stability: judged from criterion's raw sample where sample.json was kept (its count \
               and q90 ÷ q10 in brackets), from the median's interval otherwise (rules above); an unstable benchmark, \
               or one whose ceiling is unstable, has no efficiency. The CSV holds the bounds as numbers, the sample \
               count and spread where kept, and the full stability verdict."
                .into(),
        frame,
        columns: shown,
    })
}

/// "stable (100, 1.05)", "stable", "unstable: drift +12% (24, 1.15)": the table's short form.
fn stability_cell(time: &NetworkTime) -> String {
    let kept = match (time.stability.samples, time.stability.spread) {
        (Some(n), Some(spread)) => format!(" ({n}, {spread:.2})"),
        _ => String::new(),
    };
    if time.is_stable() {
        return format!("stable{kept}");
    }
    let reasons: Vec<String> = time.stability.problems.iter().map(|p| p.describe()).collect();
    format!("unstable: {}{kept}", reasons.join(", "))
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
        stability: &'a Stability,
    }
    let mut rows: Vec<Row> = Vec::new();
    for (label, times) in machines {
        for ((width, kernel), (rate, stability)) in &times.kernels {
            let best = times.ceilings.get(width).is_some_and(|(_, row)| row.function == *kernel);
            let of_peak = times.peak.as_ref().map(|(peak, _)| rate.point / peak);
            rows.push(Row { machine: label, width: *width, kernel, rate, best, of_peak, stability });
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
        Column::new("stable".into(), rows.iter().map(|r| r.stability.is_stable()).collect::<Vec<_>>()),
        Column::new("stability".into(), rows.iter().map(|r| r.stability.describe()).collect::<Vec<_>>()),
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
    columns.push(spec("stability", "stability", Format::Text));
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
            .filter(|n| n.is_stable())
            .and_then(|n| Some((n.key.depth, n.gflops?)));
        let mut part = format!("width {width}: ceiling {:.0}% of peak", 100.0 * rate.point / peak);
        if let Some((depth, gflops)) = step {
            part.push_str(&format!(", plain train step (depth {depth}) {:.0}%", 100.0 * gflops.point / peak));
        }
        parts.push(part);
    }
    vec![format!("{label}: one core's f32 peak is {peak:.1} GFLOP/s ({isa}); {}.", parts.join("; "))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tests::row;
    use crate::criterion::BenchSet;
    use crate::peak::Peak;

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
        let set = BenchSet { peak: Some(peak), ..BenchSet::of_rows("m", rows) };
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
