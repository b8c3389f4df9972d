//! The sweep's own step rates beside criterion's train step, per machine. The two time the
//! same step code but not the same work: a sweep run trains on real data at its own batch,
//! beside other runs on the other threads, while criterion repeats one step on fixed random
//! data at batch 128, alone on one thread. Absolute rates therefore differ; the plain ÷ residual
//! ratio at one depth and width cancels batch and load, and should agree between the two
//! unless what the weights hold changes the cost of the arithmetic (which only training on real
//! data can bring about).

use crate::bench::{BenchKey, MachineTimes, Op};
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::stats::median_with_infinities;
use crate::table::{format_sig, spec, Format, Table};
use degradation_bench::config::{Arch, Family};
use polars::prelude::{Column, DataFrame};
use std::collections::BTreeMap;

/// The least factor between the sweep's and the benches' plain ÷ residual ratios that counts as
/// disagreement, whatever the seeds' spread.
pub const LEAST_DISAGREEMENT: f64 = 1.25;

/// The factor by which the two plain ÷ residual ratios must differ to disagree: the widest
/// seed-to-seed spread (highest ÷ lowest rate) of any sweep configuration in `rates`, since a
/// ratio of two rates that vary that much between seeds moves as far without meaning anything,
/// and at least [`LEAST_DISAGREEMENT`].
pub fn disagreement_factor(rates: &[StepRates]) -> f64 {
    rates
        .iter()
        .flat_map(|r| [r.sweep.0, r.sweep.1])
        .flatten()
        .map(|s| s.highest / s.lowest)
        .fold(LEAST_DISAGREEMENT, f64::max)
}

/// The sweep's steps per second over the runs (seeds) of one arch at one depth and width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRate {
    pub median: f64,
    pub lowest: f64,
    pub highest: f64,
    pub runs: usize,
    /// Median final training loss of those runs (`None` when all diverged).
    pub final_loss: Option<f64>,
}

/// One machine, depth and width: the sweep's rates and criterion's, plain and residual.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRates {
    pub machine_id: String,
    pub depth: usize,
    pub width: usize,
    pub batch: usize,
    /// (plain, residual).
    pub sweep: (Option<SweepRate>, Option<SweepRate>),
    /// Criterion's train steps per second (plain, residual) where benchmarked and stable.
    pub bench: (Option<f64>, Option<f64>),
    /// Whether criterion timed this depth and width at all (stable or not).
    pub benchmarked: bool,
}

impl StepRates {
    pub fn sweep_ratio(&self) -> Option<f64> {
        Some(self.sweep.0?.median / self.sweep.1?.median)
    }

    pub fn bench_ratio(&self) -> Option<f64> {
        Some(self.bench.0? / self.bench.1?)
    }

    /// Both ratios known and more than `factor` apart ([`disagreement_factor`]).
    pub fn disagrees(&self, factor: f64) -> bool {
        match (self.sweep_ratio(), self.bench_ratio()) {
            (Some(sweep), Some(bench)) => (sweep / bench).ln().abs() > factor.ln(),
            _ => false,
        }
    }
}

/// Every (machine, width, depth, batch) the sweeps trained MLPs at, with criterion's train step
/// of the same machine, depth and width beside it. `benches`: each machine's times by id.
pub fn step_rates(inputs: &Inputs, benches: &BTreeMap<String, MachineTimes>) -> Vec<StepRates> {
    // (machine, width, depth, batch) → (plain, residual) runs as (steps/s, final train loss).
    type Key = (String, usize, usize, usize);
    type Runs = Vec<(f64, Option<f64>)>;
    let mut groups: BTreeMap<Key, (Runs, Runs)> = BTreeMap::new();
    for set in &inputs.results {
        for run in &set.runs {
            let r = &run.record;
            if r.setup.family != Family::Mlp
                || r.implementation.is_some()
                || r.result.steps_per_second.is_nan()
                || r.result.steps_per_second <= 0.0
            {
                continue;
            }
            let key = (r.machine_id.clone(), r.setup.width, r.setup.depth, r.setup.batch_size);
            let entry = groups.entry(key).or_default();
            let side = if r.setup.arch == Arch::Plain { &mut entry.0 } else { &mut entry.1 };
            side.push((r.result.steps_per_second, r.result.final_train_loss));
        }
    }
    let summary = |runs: &[(f64, Option<f64>)]| -> Option<SweepRate> {
        if runs.is_empty() {
            return None;
        }
        let rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let losses: Vec<f64> = runs.iter().filter_map(|r| r.1).collect();
        Some(SweepRate {
            median: median_with_infinities(rates.iter().copied())?,
            lowest: rates.iter().copied().fold(f64::INFINITY, f64::min),
            highest: rates.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            runs: rates.len(),
            final_loss: median_with_infinities(losses),
        })
    };
    groups
        .into_iter()
        .map(|((machine_id, width, depth, batch), (plain, residual))| {
            let times = benches.get(&machine_id);
            let bench = |arch: Arch| {
                let key = BenchKey { op: Op::TrainStep, depth, width, arch };
                times?.networks.get(&key).filter(|n| n.is_stable()).map(|n| 1e9 / n.time_ns.point)
            };
            let benchmarked = times.is_some_and(|t| {
                t.networks.keys().any(|k| k.op == Op::TrainStep && k.depth == depth && k.width == width)
            });
            StepRates {
                machine_id,
                depth,
                width,
                batch,
                sweep: (summary(&plain), summary(&residual)),
                bench: (bench(Arch::Plain), bench(Arch::Residual)),
                benchmarked,
            }
        })
        .collect()
}

/// At each machine's deepest depth, the sweep's plain ÷ residual rate; where the benches time
/// the same depth and width, whether they agree; and, where machines differ, what might explain
/// it, said as a hypothesis.
pub fn step_rate_findings(rates: &[StepRates]) -> Vec<String> {
    let mut out = Vec::new();
    let factor = disagreement_factor(rates);
    let mut machines: Vec<&str> = rates.iter().map(|r| r.machine_id.as_str()).collect();
    machines.dedup();
    let mut deepest_parts = Vec::new();
    let mut slow_plain = Vec::new();
    for machine in &machines {
        let Some(deepest) = rates
            .iter()
            .filter(|r| r.machine_id == *machine && r.sweep_ratio().is_some())
            .max_by_key(|r| (r.depth, r.width))
        else {
            continue;
        };
        let (Some(plain), Some(residual)) = deepest.sweep else { continue };
        deepest_parts.push(format!(
            "{:.2} on {machine} ({} against {} steps/s, medians of {} and {} runs)",
            plain.median / residual.median,
            format_sig(plain.median, 3),
            format_sig(residual.median, 3),
            plain.runs,
            residual.runs
        ));
        if plain.median / residual.median < 1.0 / factor {
            slow_plain.push((deepest.machine_id.clone(), deepest.depth, plain));
        }
    }
    if let Some(deepest) = rates.iter().filter(|r| r.sweep_ratio().is_some()).map(|r| r.depth).max() {
        if !deepest_parts.is_empty() {
            out.push(format!(
                "Sweep step rate (steps ÷ the seconds its steps took, from each run's record), plain ÷ residual at each \
                 machine's deepest depth (depth {deepest} here): {}.",
                deepest_parts.join("; ")
            ));
        }
    }
    let compared: Vec<&StepRates> = rates.iter().filter(|r| r.sweep_ratio().is_some() && r.benchmarked).collect();
    if !compared.is_empty() {
        let parts: Vec<String> = compared
            .iter()
            .map(|r| {
                let bench = r.bench_ratio().map_or_else(|| "unstable".to_string(), |b| format!("{b:.2}"));
                let verdict = if r.disagrees(factor) { ", disagree" } else { "" };
                format!(
                    "{} d{} w{}: sweep {:.2}, criterion {bench}{verdict}",
                    r.machine_id,
                    r.depth,
                    r.width,
                    r.sweep_ratio().unwrap_or(f64::NAN)
                )
            })
            .collect();
        let disagreeing = compared.iter().filter(|r| r.disagrees(factor)).count();
        out.push(format!(
            "Where criterion timed the sweep's depth and width, plain ÷ residual step rate in the sweep against \
             criterion's train step: {}. {disagreeing} of {} disagree, i.e. lie more than {factor:.2}× apart, the \
             widest seed-to-seed spread of any sweep rate in the table (\"unstable\": one of the two benchmarks is).",
            parts.join("; "),
            compared.len()
        ));
    }
    for (machine, depth, plain) in slow_plain {
        let others: Vec<String> = rates
            .iter()
            .filter(|r| r.machine_id != machine && r.depth == depth)
            .filter_map(|r| Some(format!("{} (plain ÷ residual {:.2})", r.machine_id, r.sweep_ratio()?)))
            .collect();
        let loss = plain
            .final_loss
            .map_or_else(String::new, |l| format!(" (their median final training loss is {})", format_sig(l, 3)));
        out.push(format!(
            "On {machine} the sweep's plain nets at depth {depth} step more than {factor:.2}× more slowly than its residual \
             ones{loss}{}. A \
             hypothesis, not measured here: a plain net whose signal collapsed computes on subnormal floats, which \
             many x86 cores process far more slowly than normal ones. No record counts subnormal values, so this \
             report cannot tell; timing the collapsed net's step with flush-to-zero on and off would test it.",
            if others.is_empty() { String::new() } else { format!(", unlike on {}", others.join(", ")) }
        ));
    }
    out
}

/// The table: per machine, depth and width, the sweep's rates and criterion's.
pub fn step_rate_table(rates: &[StepRates]) -> Result<Table> {
    let factor = disagreement_factor(rates);
    let sweep_text = |rate: &Option<SweepRate>| {
        rate.map_or_else(
            || "–".to_string(),
            |r| format!("{} ({}–{})", format_sig(r.median, 3), format_sig(r.lowest, 3), format_sig(r.highest, 3)),
        )
    };
    let bench_text = |r: &StepRates, rate: Option<f64>| match (r.benchmarked, rate) {
        (false, _) => "–".to_string(),
        (true, None) => "unstable".to_string(),
        (true, Some(rate)) => format_sig(rate, 3),
    };
    let ratio_text = |ratio: Option<f64>| ratio.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"));
    let frame = DataFrame::new_infer_height(vec![
        Column::new("machine".into(), rates.iter().map(|r| r.machine_id.clone()).collect::<Vec<_>>()),
        Column::new("depth".into(), rates.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
        Column::new("width".into(), rates.iter().map(|r| r.width as u64).collect::<Vec<_>>()),
        Column::new("batch".into(), rates.iter().map(|r| r.batch as u64).collect::<Vec<_>>()),
        Column::new("sweep_plain".into(), rates.iter().map(|r| r.sweep.0.map(|s| s.median)).collect::<Vec<_>>()),
        Column::new("sweep_residual".into(), rates.iter().map(|r| r.sweep.1.map(|s| s.median)).collect::<Vec<_>>()),
        Column::new("sweep_plain_text".into(), rates.iter().map(|r| sweep_text(&r.sweep.0)).collect::<Vec<_>>()),
        Column::new("sweep_residual_text".into(), rates.iter().map(|r| sweep_text(&r.sweep.1)).collect::<Vec<_>>()),
        Column::new("sweep_ratio".into(), rates.iter().map(StepRates::sweep_ratio).collect::<Vec<_>>()),
        Column::new("sweep_ratio_text".into(), rates.iter().map(|r| ratio_text(r.sweep_ratio())).collect::<Vec<_>>()),
        Column::new("bench_plain".into(), rates.iter().map(|r| r.bench.0).collect::<Vec<_>>()),
        Column::new("bench_residual".into(), rates.iter().map(|r| r.bench.1).collect::<Vec<_>>()),
        Column::new("bench_plain_text".into(), rates.iter().map(|r| bench_text(r, r.bench.0)).collect::<Vec<_>>()),
        Column::new("bench_residual_text".into(), rates.iter().map(|r| bench_text(r, r.bench.1)).collect::<Vec<_>>()),
        Column::new("bench_ratio".into(), rates.iter().map(StepRates::bench_ratio).collect::<Vec<_>>()),
        Column::new("bench_ratio_text".into(), rates.iter().map(|r| ratio_text(r.bench_ratio())).collect::<Vec<_>>()),
        Column::new(
            "disagree".into(),
            rates.iter().map(|r| if r.disagrees(factor) { "disagree" } else { "" }).collect::<Vec<_>>(),
        ),
    ])
    .map_err(Error::polars("step_rates"))?;
    Ok(Table {
        slug: "step_rates".into(),
        title: "Sweep step rates beside criterion's train step".into(),
        note:
            "Sweep: steps per second of each run's training steps (the record's `steps_per_second`), median over its \
               runs (lowest–highest), at the sweep's batch, with the other threads training other runs. Criterion: \
               1 ÷ the median train-step time, batch 128, fixed random data, one thread alone; \"–\" where not \
               benchmarked, \"unstable\" where its time is not one number. The two rates are different work and are \
               not compared directly; their plain ÷ residual ratios are, and disagree when further apart than any \
               sweep rate varies between seeds here."
                .into(),
        frame,
        columns: vec![
            spec("machine", "machine", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("width", "width", Format::Integer),
            spec("batch", "sweep batch", Format::Integer),
            spec("sweep_plain_text", "sweep plain steps/s", Format::Text),
            spec("sweep_residual_text", "sweep residual steps/s", Format::Text),
            spec("sweep_ratio_text", "sweep plain ÷ residual", Format::Text),
            spec("bench_plain_text", "criterion plain steps/s", Format::Text),
            spec("bench_residual_text", "criterion residual steps/s", Format::Text),
            spec("bench_ratio_text", "criterion plain ÷ residual", Format::Text),
            spec("disagree", "", Format::Text),
        ],
    })
}
