//! What a step of the paper's conv nets costs (`benches/conv.rs`): forward, backward and train
//! step times of plain and residual nets per depth and input side, GFLOP/s, and efficiency
//! against the conv GEMM ceiling of the same side and the core's peak ([`crate::conv_bench`]).
//! Unstable times keep their number, labelled, and get no efficiency.

use crate::bench::{interval_text, Op};
use crate::conv_bench::{ConvKey, ConvTime, ConvTimes};
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::section::Section;
use crate::table::{spec, Format, Table};
use degradation_bench::config::Arch;
use polars::prelude::{Column, DataFrame};

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let machines: Vec<(String, ConvTimes)> = inputs
        .benches
        .iter()
        .map(|set| (set.machine_label(), ConvTimes::from_set(set)))
        .filter(|(_, times)| !times.networks.is_empty())
        .collect();
    if machines.is_empty() {
        return Ok(None);
    }
    let mut section = Section::new("Conv timing");
    section.summary.push(
        "The ResNet paper's CIFAR conv nets (16 base filters, batch 128, one thread, one-channel I×I images): criterion's \
         median time per iteration with its 95% interval. GFLOP/s counts the convolutions and the classifier (3 × the \
         forward for a backward or a train step); batch norm, ReLU, pooling, shortcuts, loss and update are timed but \
         not counted. Efficiency = GFLOP/s ÷ the conv GEMM ceiling of the same side: the harmonic mean of the nine GEMM \
         rates `gemm_ceiling_conv` timed there (forward, weight gradient and input gradient at 16, 32 and 64 \
         channels), the rate a step would reach if it were nothing but its GEMMs. A time that is not one number gets \
         no efficiency (the rules of the Timing section)."
            .into(),
    );
    for (label, times) in &machines {
        section.lead.extend(lead(label, times));
        section.findings.extend(residual_findings(label, times));
    }
    section.tables.push(timing_table(&machines)?);
    section.tables.push(ceiling_table(&machines)?);
    Ok(Some(section))
}

/// Per machine: the train step's efficiency range over stable points, each side's ceiling and,
/// with the peak measured, the ceiling as a share of it.
pub fn lead(label: &str, times: &ConvTimes) -> Vec<String> {
    let steps: Vec<&ConvTime> = times.networks.values().filter(|n| n.key.op == Op::TrainStep).collect();
    let stable: Vec<f64> = steps.iter().filter_map(|n| Some(n.stable_efficiency()?.point)).collect();
    let left_out = steps.iter().filter(|n| n.efficiency.is_some() && n.stable_efficiency().is_none()).count();
    let (Some(lo), Some(hi)) =
        (stable.iter().copied().min_by(f64::total_cmp), stable.iter().copied().max_by(f64::total_cmp))
    else {
        return Vec::new();
    };
    let points = match left_out {
        0 => format!("the {} train steps timed", stable.len()),
        n => format!("the {} of {} train steps timed whose times and ceilings are stable", stable.len(), stable.len() + n),
    };
    let ceilings: Vec<String> =
        times.ceilings.iter().map(|(side, c)| format!("{side}×{side} {} GFLOP/s", interval_text(&c.gflops, 3))).collect();
    let of_peak = times.peak.as_ref().map_or(String::new(), |(peak, _)| {
        let shares: Vec<String> =
            times.ceilings.values().map(|c| format!("{:.0}%", 100.0 * c.gflops.point / peak)).collect();
        format!(", {} of the core's f32 peak of {peak:.1} GFLOP/s", shares.join(" and "))
    });
    vec![format!(
        "On {label}, one thread, a conv train step runs at {:.0}–{:.0}% of the conv GEMM ceiling over {points} \
         (ceilings: {}{of_peak}).",
        100.0 * lo,
        100.0 * hi,
        ceilings.join("; ")
    )]
}

/// Residual ÷ plain train-step time per depth and side, from two separately timed medians:
/// described, never a finding (a residual net does strictly more work than its plain twin, so
/// a ratio below 1 is drift between benches timed minutes apart; the paired `overhead` bench
/// is the test, for the MLPs).
pub fn residual_findings(label: &str, times: &ConvTimes) -> Vec<String> {
    let parts: Vec<String> = times
        .residual_ratios()
        .into_iter()
        .filter(|(key, _)| key.op == Op::TrainStep)
        .filter(|(key, _)| {
            let stable = |arch| times.networks.get(&ConvKey { arch, ..*key }).is_some_and(ConvTime::is_stable);
            stable(Arch::Plain) && stable(Arch::Residual)
        })
        .map(|(key, ratio)| format!("depth {} at {}×{} {}", key.depth, key.side, key.side, interval_text(&ratio, 3)))
        .collect();
    if parts.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{label}: a ResNet's train step ÷ its plain net's, from separately timed medians: {}. These describe two \
         benches timed minutes apart, not the cost of the shortcuts: a ResNet does strictly more work than its plain \
         net, so a ratio below 1 is drift that criterion's intervals do not contain.",
        parts.join("; ")
    )]
}

fn timing_table(machines: &[(String, ConvTimes)]) -> Result<Table> {
    let (mut machine, mut op, mut arch, mut depth, mut side) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut ms, mut gflops, mut efficiency, mut stable) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut time_text, mut gflops_text, mut efficiency_text, mut stability) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (label, times) in machines {
        for (key, time) in &times.networks {
            machine.push(label.clone());
            op.push(format!("conv_{}", key.op.group()));
            arch.push(key.arch.as_str());
            depth.push(key.depth as u64);
            side.push(key.side as u64);
            let time_ms = time.time_ns.scaled(1e-6);
            ms.push(time_ms.point);
            gflops.push(time.gflops.map(|g| g.point));
            efficiency.push(time.efficiency.map(|e| e.point));
            stable.push(time.is_stable());
            time_text.push(interval_text(&time_ms, 3));
            gflops_text.push(time.gflops.map(|g| interval_text(&g, 3)));
            efficiency_text.push(time.efficiency_text());
            stability.push(if time.is_stable() { "stable".to_string() } else { time.stability.describe() });
        }
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new("machine".into(), machine),
        Column::new("op".into(), op),
        Column::new("arch".into(), arch),
        Column::new("depth".into(), depth),
        Column::new("side".into(), side),
        Column::new("median_ms".into(), ms),
        Column::new("gflops".into(), gflops),
        Column::new("efficiency".into(), efficiency),
        Column::new("stable".into(), stable),
        Column::new("time_ms_ci".into(), time_text),
        Column::new("gflops_ci".into(), gflops_text),
        Column::new("efficiency_ci".into(), efficiency_text),
        Column::new("stability".into(), stability),
    ])
    .map_err(Error::polars("conv timing"))?;
    let columns = vec![
        spec("machine", "machine", Format::Text),
        spec("op", "op", Format::Text),
        spec("arch", "arch", Format::Text),
        spec("depth", "depth", Format::Integer),
        spec("side", "input side", Format::Integer),
        spec("time_ms_ci", "median ms (95% CI)", Format::Text),
        spec("gflops_ci", "GFLOP/s", Format::Text),
        spec("efficiency_ci", "of conv ceiling", Format::Text),
        spec("stability", "time", Format::Text),
    ];
    let note = "One thread, batch 128. Efficiency: GFLOP/s ÷ the conv GEMM ceiling of the same input side (next table)."
        .to_string();
    Ok(Table { slug: "conv_timing".into(), title: "Conv nets: time per iteration".into(), note, frame, columns })
}

fn ceiling_table(machines: &[(String, ConvTimes)]) -> Result<Table> {
    let (mut machine, mut side, mut channels, mut product) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut gflops, mut gflops_text, mut of_peak, mut stability) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (label, times) in machines {
        let share = |rate: f64| times.peak.as_ref().map(|(peak, _)| rate / peak);
        for gemm in &times.gemms {
            machine.push(label.clone());
            side.push(gemm.side as u64);
            channels.push(Some(gemm.channels as u64));
            product.push(gemm.product.clone());
            gflops.push(gemm.gflops.point);
            gflops_text.push(interval_text(&gemm.gflops, 3));
            of_peak.push(share(gemm.gflops.point));
            stability.push(if gemm.stability.is_stable() { "stable".to_string() } else { gemm.stability.describe() });
        }
        for (s, ceiling) in &times.ceilings {
            machine.push(label.clone());
            side.push(*s as u64);
            channels.push(None);
            product.push(format!("ceiling: harmonic mean of {}", ceiling.gemms));
            gflops.push(ceiling.gflops.point);
            gflops_text.push(interval_text(&ceiling.gflops, 3));
            of_peak.push(share(ceiling.gflops.point));
            stability.push(if ceiling.stable { "stable" } else { "not every GEMM stable" }.to_string());
        }
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new("machine".into(), machine),
        Column::new("side".into(), side),
        Column::new("channels".into(), channels),
        Column::new("product".into(), product),
        Column::new("gflops".into(), gflops),
        Column::new("gflops_ci".into(), gflops_text),
        Column::new("of_peak".into(), of_peak),
        Column::new("stability".into(), stability),
    ])
    .map_err(Error::polars("conv GEMM ceiling"))?;
    let columns = vec![
        spec("machine", "machine", Format::Text),
        spec("side", "input side", Format::Integer),
        spec("channels", "channels", Format::Integer),
        spec("product", "GEMM", Format::Text),
        spec("gflops_ci", "GFLOP/s (95% CI)", Format::Text),
        spec("of_peak", "÷ core peak", Format::Percent(0)),
        spec("stability", "time", Format::Text),
    ];
    let note = "Each GEMM a stride-1 C→C conv runs per block of images, on the operands as the layer lays them out \
                (forward y = cols·Wᵀ, weight_grad ∂W += dyᵀ·cols, input_grad ∂cols = dy·W), one thread; a side's \
                ceiling is the harmonic mean of its rates, its interval the harmonic means of the lower and of the \
                upper ends. ÷ core peak: the `peak` bench's f32 multiply-add rate, when measured."
        .to_string();
    Ok(Table { slug: "conv_gemm_ceiling".into(), title: "Conv GEMM ceiling".into(), note, frame, columns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tests::row_of_kind;
    use crate::criterion::{BenchKind, BenchSet};
    use crate::peak::Peak;

    #[test]
    fn lead_states_efficiency_range_ceilings_and_shares_of_peak() {
        let gemm = |channels: usize| {
            row_of_kind("gemm_ceiling_conv", "forward", BenchKind::ConvCeiling { side: 8, channels }, [10.0, 10.0, 10.0], 500.0)
        };
        let step = |arch: &str, depth: usize, ns: f64| {
            let kind = BenchKind::ConvNetwork { arch: arch.into(), depth, side: 8 };
            row_of_kind("conv_train_step", arch, kind, [ns, ns * 0.99, ns * 1.01], 2_000.0)
        };
        // Ceiling 50 GFLOP/s; steps at 20 and 25 GFLOP/s: 40% and 50%.
        let rows = vec![gemm(16), gemm(32), step("plain", 20, 100.0), step("residual", 20, 80.0)];
        let peak = Peak { machine_id: "m".into(), isa: "avx512f".into(), peak_gflops: 100.0 };
        let set = BenchSet { peak: Some(peak), ..BenchSet::of_rows("m", rows) };
        let times = ConvTimes::from_set(&set);
        assert_eq!(
            lead("CPU", &times),
            ["On CPU, one thread, a conv train step runs at 40–50% of the conv GEMM ceiling over the 2 train steps \
              timed (ceilings: 8×8 50.0 (50.0–50.0) GFLOP/s, 50% of the core's f32 peak of 100.0 GFLOP/s)."]
        );
        let findings = residual_findings("CPU", &times);
        assert_eq!(findings.len(), 1);
        assert!(findings[0].contains("depth 20 at 8×8 0.800 (") && findings[0].contains("not the cost"), "{findings:?}");
        let machines = vec![("CPU".to_string(), times)];
        assert_eq!(timing_table(&machines).unwrap().height(), 2);
        // Two GEMMs and the side's ceiling.
        assert_eq!(ceiling_table(&machines).unwrap().height(), 3);
    }
}
