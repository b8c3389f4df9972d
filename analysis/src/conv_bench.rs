//! The conv bench's criterion rows (`benches/conv.rs`) → typed timing points: the paper's conv
//! nets per operation, arch, depth and input side, each against the conv GEMM ceiling of its
//! input side.
//!
//! A conv step runs the three products of every conv (forward, weight gradient, input
//! gradient) on equal FLOPs, and its three stages hold nearly equal shares of the FLOPs, so the
//! rate it would reach if it were nothing but these GEMMs is the **harmonic mean** of the nine
//! `gemm_ceiling_conv` rates of its side (3 products × 3 stages): that is the side's ceiling.
//! Its interval takes the nine lower ends together and the nine upper ends together (errors
//! treated as fully correlated: the wider choice). As for the MLPs, an efficiency is printed as
//! a number only when the step and every GEMM of its ceiling are stable.

use crate::bench::{residual_ratios, ArchKey, NetworkTime, Op};
use crate::criterion::{BenchKind, BenchSet, Stability};
use crate::interval::Interval;
use degradation_bench::config::Arch;
use std::collections::BTreeMap;

/// Which conv benchmark: ordered by operation, input side, depth, arch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConvKey {
    pub op: Op,
    pub side: usize,
    pub depth: usize,
    pub arch: Arch,
}

/// One conv net benchmark on one machine; its efficiency divides by the side's ceiling, and
/// `ceiling_stable` says whether every GEMM behind that ceiling is stable.
pub type ConvTime = NetworkTime<ConvKey>;

/// One GEMM of the conv ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvGemm {
    pub side: usize,
    pub channels: usize,
    /// `forward`, `weight_grad` or `input_grad`.
    pub product: String,
    pub gflops: Interval,
    pub stability: Stability,
}

/// A side's ceiling: the harmonic mean of its GEMMs' rates.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvCeiling {
    pub gflops: Interval,
    pub gemms: usize,
    pub stable: bool,
}

/// One machine's conv benchmarks, typed.
#[derive(Debug, Clone)]
pub struct ConvTimes {
    pub networks: BTreeMap<ConvKey, ConvTime>,
    /// Every GEMM timed, by side, then channels, then product.
    pub gemms: Vec<ConvGemm>,
    /// Per input side.
    pub ceilings: BTreeMap<usize, ConvCeiling>,
    /// The core's f32 multiply-add peak in GFLOP/s and its instruction set, when measured.
    pub peak: Option<(f64, String)>,
}

impl ConvTimes {
    pub fn from_set(set: &BenchSet) -> ConvTimes {
        let mut gemms: Vec<ConvGemm> = set
            .rows
            .iter()
            .filter_map(|row| {
                let BenchKind::ConvCeiling { side, channels } = row.kind else { return None };
                Some(ConvGemm {
                    side,
                    channels,
                    product: row.function.clone(),
                    gflops: row.gflops()?,
                    stability: row.stability.clone(),
                })
            })
            .collect();
        gemms.sort_by(|a, b| (a.side, a.channels, &a.product).cmp(&(b.side, b.channels, &b.product)));
        let mut ceilings = BTreeMap::new();
        for side in gemms.iter().map(|g| g.side).collect::<std::collections::BTreeSet<_>>() {
            let of_side: Vec<&ConvGemm> = gemms.iter().filter(|g| g.side == side).collect();
            let harmonic = |end: fn(&Interval) -> f64| {
                of_side.len() as f64 / of_side.iter().map(|g| 1.0 / end(&g.gflops)).sum::<f64>()
            };
            let level = of_side[0].gflops.level;
            let Ok(gflops) = Interval::new(harmonic(|i| i.point), harmonic(|i| i.lower), harmonic(|i| i.upper), level)
            else {
                continue;
            };
            let stable = of_side.iter().all(|g| g.stability.is_stable());
            ceilings.insert(side, ConvCeiling { gflops, gemms: of_side.len(), stable });
        }
        let mut networks = BTreeMap::new();
        for row in &set.rows {
            let BenchKind::ConvNetwork { arch, depth, side } = &row.kind else { continue };
            let op = Op::ALL.into_iter().find(|op| row.group.strip_prefix("conv_") == Some(op.group()));
            let arch = Arch::ALL.iter().copied().find(|a| a.as_str() == arch);
            let (Some(op), Some(arch)) = (op, arch) else { continue };
            let key = ConvKey { op, side: *side, depth: *depth, arch };
            let ceiling = ceilings.get(side);
            let gflops = row.gflops();
            let efficiency = gflops.zip(ceiling).map(|(rate, ceiling)| rate.ratio(ceiling.gflops));
            let ceiling_stable = ceiling.is_none_or(|c| c.stable);
            let time = ConvTime {
                key,
                time_ns: row.median,
                gflops,
                efficiency,
                stability: row.stability.clone(),
                ceiling_stable,
            };
            networks.insert(key, time);
        }
        let peak = set.peak.as_ref().map(|p| (p.peak_gflops, p.isa.clone()));
        ConvTimes { networks, gemms, ceilings, peak }
    }

    /// residual ÷ plain time at each (op, side, depth) timed for both.
    pub fn residual_ratios(&self) -> Vec<(ConvKey, Interval)> {
        residual_ratios(&self.networks)
    }
}

impl ArchKey for ConvKey {
    fn arch(&self) -> Arch {
        self.arch
    }
    fn with_arch(self, arch: Arch) -> Self {
        ConvKey { arch, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tests::row_of_kind;

    #[test]
    fn the_ceiling_is_the_harmonic_mean_of_a_sides_gemms() {
        let gemm = |product: &str, channels: usize, ns: [f64; 3]| {
            row_of_kind("gemm_ceiling_conv", product, BenchKind::ConvCeiling { side: 28, channels }, ns, 1_000.0)
        };
        // 1000 FLOPs in 10, 20 and 40 ns: 100, 50 and 25 GFLOP/s; harmonic mean 3 ÷ (1/100 + 1/50
        // + 1/25) = 42.857…
        let mut rows = vec![
            gemm("forward", 16, [10.0, 9.0, 11.0]),
            gemm("weight_grad", 32, [20.0, 20.0, 20.0]),
            gemm("input_grad", 64, [40.0, 40.0, 40.0]),
        ];
        // A step of 6000 FLOPs in 200 ns: 30 GFLOP/s, 70% of the ceiling.
        let step = |arch: &str, ns: f64| {
            let kind = BenchKind::ConvNetwork { arch: arch.into(), depth: 20, side: 28 };
            row_of_kind("conv_train_step", arch, kind, [ns, ns, ns], 6_000.0)
        };
        rows.push(step("plain", 200.0));
        rows.push(step("residual", 210.0));
        let times = ConvTimes::from_set(&BenchSet::of_rows("m", rows));
        let ceiling = &times.ceilings[&28];
        assert_eq!(ceiling.gemms, 3);
        assert!((ceiling.gflops.point - 3.0 / 0.07).abs() < 1e-9, "{ceiling:?}");
        // The forward GEMM's fast end (9 ns) lifts the upper end only.
        assert!((ceiling.gflops.upper - 3.0 / (0.009 + 0.02 + 0.04)).abs() < 1e-9);
        assert!((ceiling.gflops.lower - 3.0 / (0.011 + 0.02 + 0.04)).abs() < 1e-9);
        let key = ConvKey { op: Op::TrainStep, side: 28, depth: 20, arch: Arch::Plain };
        let plain = &times.networks[&key];
        assert!((plain.efficiency.unwrap().point - 30.0 * 0.07 / 3.0).abs() < 1e-12);
        assert_eq!(plain.efficiency_text().as_deref(), Some("70% (69–71%)"));
        let ratios = times.residual_ratios();
        assert_eq!(ratios.len(), 1);
        assert!((ratios[0].1.point - 1.05).abs() < 1e-12);
    }
}
