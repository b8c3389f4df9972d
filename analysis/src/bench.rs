//! Criterion rows → typed timing points: what the timing, overhead and machines sections share.
//!
//! Each network benchmark becomes a [`NetworkTime`] with its median time, GFLOP/s and
//! efficiency, every one as an [`Interval`]. Efficiency = achieved GFLOP/s ÷ the machine's GEMM
//! ceiling at the same width, where the ceiling is the best rate over every `gemm_ceiling`
//! function measured at that width (today the benches time one product, the forward shape
//! (B × w)·(w × w)ᵀ; a step also runs the two backward products, which the ceiling covers as
//! soon as the benches time them under the same group).
//!
//! An efficiency is only as good as both times behind it: where the benchmark or the ceiling
//! it is divided by is unstable ([`Stability`]), [`NetworkTime::stable_efficiency`] is `None`
//! and [`NetworkTime::efficiency_text`] says why instead of printing a number.

use crate::criterion::{BenchKind, BenchRow, BenchSet, Stability};
use crate::interval::Interval;
use degradation_bench::config::Arch;
use std::collections::BTreeMap;

/// The three timed network operations, in the order a step runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Forward,
    Backward,
    TrainStep,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::Forward, Op::Backward, Op::TrainStep];

    /// The criterion group id.
    pub fn group(self) -> &'static str {
        match self {
            Op::Forward => "forward",
            Op::Backward => "backward",
            Op::TrainStep => "train_step",
        }
    }

    pub fn from_group(group: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.group() == group)
    }
}

/// Which benchmark: the same key on two machines is the same work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BenchKey {
    pub op: Op,
    pub depth: usize,
    pub width: usize,
    pub arch: Arch,
}

impl BenchKey {
    /// "train_step plain d16 w256".
    pub fn describe(&self) -> String {
        format!("{} {} d{} w{}", self.op.group(), self.arch.as_str(), self.depth, self.width)
    }
}

/// One network benchmark on one machine: an MLP's by default, a conv net's with
/// `K = conv_bench::ConvKey`.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkTime<K = BenchKey> {
    pub key: K,
    /// Median ns per iteration with criterion's interval.
    pub time_ns: Interval,
    pub gflops: Option<Interval>,
    /// Achieved ÷ ceiling GFLOP/s, both intervals combined, whether or not the two times are
    /// stable: print [`Self::efficiency_text`], average [`Self::stable_efficiency`].
    pub efficiency: Option<Interval>,
    pub stability: Stability,
    /// Whether the ceiling this efficiency divides by is stable (`true` without a ceiling).
    pub ceiling_stable: bool,
}

impl<K> NetworkTime<K> {
    pub fn is_stable(&self) -> bool {
        self.stability.is_stable()
    }

    /// The efficiency when the benchmark and its ceiling are both stable: the only one that
    /// may be printed as a number, ranged or averaged.
    pub fn stable_efficiency(&self) -> Option<Interval> {
        self.efficiency.filter(|_| self.is_stable() && self.ceiling_stable)
    }

    /// For a table cell: "85% (80–90%)"; "102% (92–105%), over the ceiling" (a stable
    /// efficiency above 100% is never a bare number); "unstable" or "ceiling unstable" in place
    /// of a number.
    pub fn efficiency_text(&self) -> Option<String> {
        let efficiency = self.efficiency?;
        Some(if !self.is_stable() {
            "unstable".to_string()
        } else if !self.ceiling_stable {
            "ceiling unstable".to_string()
        } else if efficiency.point > 1.0 {
            format!("{}, over the ceiling", percent_text(&efficiency))
        } else {
            percent_text(&efficiency)
        })
    }
}

/// One machine's benchmarks, typed.
#[derive(Debug, Clone)]
pub struct MachineTimes {
    pub machine_id: String,
    /// Keyed and so sorted by operation, depth, width, arch.
    pub networks: BTreeMap<BenchKey, NetworkTime>,
    /// Best GEMM rate per width: (GFLOP/s, the row it came from).
    pub ceilings: BTreeMap<usize, (Interval, BenchRow)>,
    /// Every GEMM timed under `gemm_ceiling`, (width, kernel) → GFLOP/s and the stability of
    /// its time: the kernels compared.
    pub kernels: BTreeMap<(usize, String), (Interval, Stability)>,
    /// The core's f32 multiply-add peak in GFLOP/s and its instruction set, when measured.
    pub peak: Option<(f64, String)>,
}

impl MachineTimes {
    pub fn from_set(set: &BenchSet) -> MachineTimes {
        let mut ceilings: BTreeMap<usize, (Interval, BenchRow)> = BTreeMap::new();
        let mut kernels = BTreeMap::new();
        for row in &set.rows {
            if let (BenchKind::Ceiling { width }, Some(rate)) = (&row.kind, row.gflops()) {
                kernels.insert((*width, row.function.clone()), (rate, row.stability.clone()));
                let better = ceilings.get(width).is_none_or(|(best, _)| rate.point > best.point);
                if better {
                    ceilings.insert(*width, (rate, row.clone()));
                }
            }
        }
        let mut networks = BTreeMap::new();
        for row in &set.rows {
            let BenchKind::Network { arch, depth, width } = &row.kind else { continue };
            let (Some(op), Some(arch)) =
                (Op::from_group(&row.group), Arch::ALL.iter().copied().find(|a| a.as_str() == arch))
            else {
                continue;
            };
            let key = BenchKey { op, depth: *depth, width: *width, arch };
            let efficiency = match (row.flops, ceilings.get(width)) {
                (Some(flops), Some((_, ceiling))) => {
                    // (flops ÷ t) ÷ (ceiling flops ÷ ceiling t) = (flops ÷ ceiling flops) · (ceiling t ÷ t)
                    ceiling.flops.map(|ceiling_flops| ceiling.median.ratio(row.median).scaled(flops / ceiling_flops))
                }
                _ => None,
            };
            let ceiling_stable = ceilings.get(width).is_none_or(|(_, ceiling)| ceiling.stability.is_stable());
            let time = NetworkTime {
                key,
                time_ns: row.median,
                gflops: row.gflops(),
                efficiency,
                stability: row.stability.clone(),
                ceiling_stable,
            };
            networks.insert(key, time);
        }
        let peak = set.peak.as_ref().map(|p| (p.peak_gflops, p.isa.clone()));
        MachineTimes { machine_id: set.machine_id.clone(), networks, ceilings, kernels, peak }
    }

    /// residual ÷ plain time at each (op, depth, width) measured for both.
    pub fn residual_ratios(&self) -> Vec<(BenchKey, Interval)> {
        residual_ratios(&self.networks)
    }
}

/// A benchmark key that names an arch: a plain and a residual benchmark of one key differ only
/// there (MLP and conv keys alike).
pub trait ArchKey: Copy + Ord {
    fn arch(&self) -> Arch;
    fn with_arch(self, arch: Arch) -> Self;
}

impl ArchKey for BenchKey {
    fn arch(&self) -> Arch {
        self.arch
    }
    fn with_arch(self, arch: Arch) -> Self {
        BenchKey { arch, ..self }
    }
}

/// residual ÷ plain time at each key timed for both.
pub fn residual_ratios<K: ArchKey>(networks: &BTreeMap<K, NetworkTime<K>>) -> Vec<(K, Interval)> {
    networks
        .iter()
        .filter(|(key, _)| key.arch() == Arch::Residual)
        .filter_map(|(key, residual)| {
            let plain = networks.get(&key.with_arch(Arch::Plain))?;
            Some((*key, residual.time_ns.ratio(plain.time_ns)))
        })
        .collect()
}

/// "1.23 (1.10–1.40)": a point with its interval, `digits` significant digits.
pub fn interval_text(interval: &Interval, digits: usize) -> String {
    use crate::table::format_sig;
    format!(
        "{} ({}–{})",
        format_sig(interval.point, digits),
        format_sig(interval.lower, digits),
        format_sig(interval.upper, digits)
    )
}

/// "+2.1% (+0.9% to +3.4%)" for a ratio.
pub fn percent_change_text(ratio: &Interval) -> String {
    let (point, lower, upper) = ratio.as_percent_change();
    format!("{point:+.1}% ({lower:+.1}% to {upper:+.1}%)")
}

/// "85% (80–90%)" for a fraction.
pub fn percent_text(fraction: &Interval) -> String {
    format!("{:.0}% ({:.0}–{:.0}%)", fraction.point * 100.0, fraction.lower * 100.0, fraction.upper * 100.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(group: &str, arch: &str, depth: usize, width: usize, ns: [f64; 3], flops: f64) -> BenchRow {
        let kind = if group == "gemm_ceiling" {
            BenchKind::Ceiling { width }
        } else {
            BenchKind::Network { arch: arch.into(), depth, width }
        };
        row_of_kind(group, arch, kind, ns, flops)
    }

    /// A stable row of any kind: `ns` = median and its interval, `flops` per iteration.
    pub(crate) fn row_of_kind(group: &str, function: &str, kind: BenchKind, ns: [f64; 3], flops: f64) -> BenchRow {
        BenchRow {
            machine_id: "m".into(),
            group: group.into(),
            function: function.into(),
            param: String::new(),
            kind,
            median: Interval::new(ns[0], ns[1], ns[2], 0.95).unwrap(),
            mean: None,
            // Stable whatever the interval, so a test sets instability on purpose.
            stability: Stability { samples: None, spread: None, problems: Vec::new() },
            flops: Some(flops),
        }
    }

    #[test]
    fn efficiency_uses_the_best_ceiling_and_both_intervals() {
        let rows = vec![
            // Two ceiling kernels at width 64: 10 and 20 GFLOP/s; the best (20) is the ceiling.
            row("gemm_ceiling", "f32", 0, 64, [100.0, 100.0, 100.0], 1_000.0),
            row("gemm_ceiling", "other", 0, 64, [50.0, 40.0, 50.0], 1_000.0),
            // 8000 FLOPs in 1000 ns (800–1250): 8 GFLOP/s, 40% of 20.
            row("train_step", "plain", 4, 64, [1_000.0, 800.0, 1_250.0], 8_000.0),
            row("train_step", "residual", 4, 64, [1_100.0, 1_100.0, 1_100.0], 8_000.0),
        ];
        let set = BenchSet::of_rows("m", rows);
        let times = MachineTimes::from_set(&set);
        assert_eq!(times.ceilings[&64].0.point, 20.0);
        let key = BenchKey { op: Op::TrainStep, depth: 4, width: 64, arch: Arch::Plain };
        let e = times.networks[&key].efficiency.unwrap();
        assert!((e.point - 0.4).abs() < 1e-12, "{e:?}");
        // Efficiency is low when the step is slow (its time's upper side, ln(1250/1000)) and
        // the ceiling fast (its time's lower side, ln(50/40)): down = hypot(ln 1.25, ln 1.25).
        // It is high only through the step's lower side, ln(1000/800) (the ceiling's upper
        // bound equals its point): up = ln 1.25.
        let down = (1.25f64.ln()).hypot(1.25f64.ln());
        let up = 1.25f64.ln();
        assert!((e.lower - 0.4 * (-down).exp()).abs() < 1e-12, "{e:?}");
        assert!((e.upper - 0.4 * up.exp()).abs() < 1e-12, "{e:?}");
        let ratios = times.residual_ratios();
        assert_eq!(ratios.len(), 1);
        assert!((ratios[0].1.point - 1.1).abs() < 1e-12);
        assert_eq!(percent_change_text(&Interval::new(1.021, 1.013, 1.03, 0.95).unwrap()), "+2.1% (+1.3% to +3.0%)");
    }

    /// A step that would read as 131% of its ceiling: never a bare number. Unstable itself, or
    /// divided by an unstable ceiling, it has no efficiency at all; stable, it is marked.
    #[test]
    fn an_efficiency_over_100_percent_is_never_a_bare_number() {
        use crate::criterion::Instability;
        let unstable = Stability {
            samples: Some(10),
            spread: Some(1.8),
            problems: vec![Instability::TwoClusters { gap: 0.8, below: 3, above: 7 }],
        };
        let set = |step_unstable: bool, ceiling_unstable: bool| {
            // Ceiling 10 GFLOP/s; the step 13.1 GFLOP/s.
            let mut ceiling = row("gemm_ceiling", "f32", 0, 64, [100.0, 99.0, 101.0], 1_000.0);
            let mut step = row("train_step", "plain", 4, 64, [1_000.0, 990.0, 1_010.0], 13_100.0);
            if ceiling_unstable {
                ceiling.stability = unstable.clone();
            }
            if step_unstable {
                step.stability = unstable.clone();
            }
            let set = BenchSet::of_rows("m", vec![ceiling, step]);
            let times = MachineTimes::from_set(&set);
            times.networks.values().next().unwrap().clone()
        };
        let step = set(true, false);
        assert!((step.efficiency.unwrap().point - 1.31).abs() < 1e-12);
        assert_eq!(step.stable_efficiency(), None);
        assert_eq!(step.efficiency_text().as_deref(), Some("unstable"));
        let step = set(false, true);
        assert_eq!((step.stable_efficiency(), step.efficiency_text().as_deref()), (None, Some("ceiling unstable")));
        let step = set(false, false);
        assert_eq!(step.efficiency_text().as_deref(), Some("131% (129–133%), over the ceiling"));
        assert!(step.stable_efficiency().is_some());
    }
}
