//! Whether a paired overhead measurement can be taken at face value. The paired ratio cancels
//! a disturbance that lasts longer than a round; other work on the machine also slows the
//! steps unevenly within a round, and then the median ratio describes that machine rather than
//! the residual connection. Two checks say so from the data: the paired bench's absolute step
//! times against criterion's `train_step` medians of the same machine, depth, width and thread
//! count (the same work, so on an idle machine both give one time), and the 1-minute load
//! average the bench recorded around each point.

use super::Overhead;
use crate::bench::{interval_text, BenchKey, MachineTimes, Op};
use crate::criterion::{BenchSet, UNKNOWN_MACHINE};
use crate::error::{Error, Result};
use crate::interval::Interval;
use crate::paired::{LoadAverage, PairedPoint};
use crate::table::{format_sig, spec, Format, Table};
use degradation_bench::config::Arch;
use polars::prelude::{Column, DataFrame};

/// A paired median step time beyond this factor of criterion's, either way, was not timed on
/// the machine criterion timed. Criterion's own medians of one commit moved 0.93–1.38× between
/// sittings of one machine kind, so 1.5× leaves room for that drift.
pub const CRITERION_FACTOR_LIMIT: f64 = 1.5;

/// A 1-minute load average above the bench's threads by more than this is other work on the
/// machine: the bench's own threads account for up to their number once it has run a minute,
/// and the margin keeps a shell or a kernel thread from flagging an otherwise idle machine.
pub const LOAD_MARGIN: f64 = 0.5;

/// Criterion's medians of the same work on the same machine, ns per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriterionTimes {
    pub plain_ns: Interval,
    pub residual_ns: Interval,
}

/// What a paired point ran under, and the times to check it by.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    pub rounds: usize,
    /// Median ns per step over the rounds, with bootstrap intervals.
    pub plain_ns: Interval,
    pub residual_ns: Interval,
    /// The fastest plain sample, ns per step: near criterion's median when the code runs as
    /// fast as criterion saw it and only the load slowed the rest.
    pub plain_fastest_ns: f64,
    /// Per-round residual ÷ plain: 10th and 90th percentile.
    pub ratio_spread: (f64, f64),
    pub criterion: Option<CriterionTimes>,
    /// The commits the paired bench and criterion's medians were measured at, when recorded:
    /// the check compares two sittings, possibly of different code.
    pub commits: (Option<String>, Option<String>),
    pub load: Option<LoadAverage>,
    pub threads: Option<usize>,
    pub available_cpus: Option<usize>,
}

impl Conditions {
    /// The conditions of `point`, one of `own`'s, checked against the first of `sets` of the
    /// same machine (and thread count, where both are known) that timed both nets at its depth
    /// and width.
    pub fn of(point: &PairedPoint, own: &BenchSet, sets: &[BenchSet]) -> Conditions {
        let commit = |set: &BenchSet| set.machine.as_ref().and_then(|m| m.git_commit.clone());
        let criterion = sets
            .iter()
            .filter(|set| own.machine_id != UNKNOWN_MACHINE && set.machine_id == own.machine_id)
            .filter(|set| match (set.machine.as_ref().map(|m| m.threads), point.threads) {
                (Some(theirs), Some(ours)) => theirs == ours,
                _ => true,
            })
            .find_map(|set| {
                let times = MachineTimes::from_set(set);
                let median = |arch| {
                    let key = BenchKey { op: Op::TrainStep, depth: point.depth, width: point.width, arch };
                    times.networks.get(&key).map(|t| t.time_ns)
                };
                let times = CriterionTimes { plain_ns: median(Arch::Plain)?, residual_ns: median(Arch::Residual)? };
                Some((times, commit(set)))
            });
        let (criterion, criterion_commit) = criterion.unzip();
        Conditions {
            rounds: point.rounds(),
            plain_ns: point.plain_time(),
            residual_ns: point.residual_time(),
            plain_fastest_ns: point.plain_ns.iter().copied().fold(f64::INFINITY, f64::min),
            ratio_spread: point.ratio_spread(),
            criterion,
            commits: (commit(own), criterion_commit.flatten()),
            load: point.load,
            threads: point.threads,
            available_cpus: point.available_cpus,
        }
    }

    /// Paired ÷ criterion median step time, plain and residual.
    pub fn against_criterion(&self) -> Option<(f64, f64)> {
        let c = self.criterion?;
        Some((self.plain_ns.point / c.plain_ns.point, self.residual_ns.point / c.residual_ns.point))
    }

    /// Why the point was measured under load; empty when nothing recorded says so.
    pub fn reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if let (Some((plain, residual)), Some(criterion)) = (self.against_criterion(), self.criterion) {
            let far = |factor: f64| !(1.0 / CRITERION_FACTOR_LIMIT..=CRITERION_FACTOR_LIMIT).contains(&factor);
            if far(plain) || far(residual) {
                let fastest = self.plain_fastest_ns / criterion.plain_ns.point;
                reasons.push(format!(
                    "its median steps took {plain:.2}× (plain) and {residual:.2}× (residual) criterion's times on \
                     the same machine (its fastest plain sample {fastest:.2}× criterion's)"
                ));
            }
        }
        if let (Some(load), Some(threads)) = (self.load, self.threads) {
            if load.peak() > threads as f64 + LOAD_MARGIN {
                reasons.push(format!(
                    "the 1-minute load average reached {:.2} against its {threads} thread{}",
                    load.peak(),
                    if threads == 1 { "" } else { "s" }
                ));
            }
        }
        reasons
    }

    pub fn under_load(&self) -> bool {
        !self.reasons().is_empty()
    }

    /// Whether either check could be made.
    pub fn checked(&self) -> bool {
        self.criterion.is_some() || (self.load.is_some() && self.threads.is_some())
    }

    /// "0.25 → 1.50", or "load not recorded".
    pub fn load_text(&self) -> String {
        match self.load {
            Some(load) => format!("{:.2} → {:.2}", load.before, load.after),
            None => "load not recorded".into(),
        }
    }

    /// How the point may be read: "measured under load", "comparable with criterion", "not checked".
    pub fn verdict(&self) -> &'static str {
        if self.under_load() {
            "measured under load"
        } else if self.checked() {
            "comparable with criterion"
        } else {
            "not checked"
        }
    }
}

/// One row per paired overhead: its absolute times against criterion's, the spread of its
/// rounds, the load, and the verdict.
pub fn table(paired: &[Overhead]) -> Result<Table> {
    let points: Vec<(&Overhead, &Conditions)> =
        paired.iter().filter_map(|o| o.conditions.as_ref().map(|c| (o, c))).collect();
    let ms = |ns: Interval| ns.scaled(1e-6);
    let numbers = |f: &dyn Fn(&Conditions) -> Option<f64>| points.iter().map(|(_, c)| f(c)).collect::<Vec<_>>();
    let texts = |f: &dyn Fn(&Conditions) -> String| points.iter().map(|(_, c)| f(c)).collect::<Vec<_>>();
    let frame = DataFrame::new_infer_height(vec![
        Column::new("machine".into(), points.iter().map(|(o, _)| o.machine.clone()).collect::<Vec<_>>()),
        Column::new("depth".into(), points.iter().map(|(o, _)| o.depth as u64).collect::<Vec<_>>()),
        Column::new("width".into(), points.iter().map(|(o, _)| o.width as u64).collect::<Vec<_>>()),
        Column::new("rounds".into(), points.iter().map(|(_, c)| c.rounds as u64).collect::<Vec<_>>()),
        Column::new("plain_ms".into(), numbers(&|c| Some(ms(c.plain_ns).point))),
        Column::new("plain_ms_lower".into(), numbers(&|c| Some(ms(c.plain_ns).lower))),
        Column::new("plain_ms_upper".into(), numbers(&|c| Some(ms(c.plain_ns).upper))),
        Column::new("residual_ms".into(), numbers(&|c| Some(ms(c.residual_ns).point))),
        Column::new("residual_ms_lower".into(), numbers(&|c| Some(ms(c.residual_ns).lower))),
        Column::new("residual_ms_upper".into(), numbers(&|c| Some(ms(c.residual_ns).upper))),
        Column::new("round_ratio_q10".into(), numbers(&|c| Some(c.ratio_spread.0))),
        Column::new("round_ratio_q90".into(), numbers(&|c| Some(c.ratio_spread.1))),
        Column::new("criterion_plain_ms".into(), numbers(&|c| c.criterion.map(|t| ms(t.plain_ns).point))),
        Column::new("criterion_residual_ms".into(), numbers(&|c| c.criterion.map(|t| ms(t.residual_ns).point))),
        Column::new("plain_vs_criterion".into(), numbers(&|c| c.against_criterion().map(|r| r.0))),
        Column::new("residual_vs_criterion".into(), numbers(&|c| c.against_criterion().map(|r| r.1))),
        Column::new(
            "plain_fastest_vs_criterion".into(),
            numbers(&|c| c.criterion.map(|t| c.plain_fastest_ns / t.plain_ns.point)),
        ),
        Column::new("paired_commit".into(), points.iter().map(|(_, c)| c.commits.0.clone()).collect::<Vec<_>>()),
        Column::new("criterion_commit".into(), points.iter().map(|(_, c)| c.commits.1.clone()).collect::<Vec<_>>()),
        Column::new("loadavg_1min_before".into(), numbers(&|c| c.load.map(|l| l.before))),
        Column::new("loadavg_1min_after".into(), numbers(&|c| c.load.map(|l| l.after))),
        Column::new("threads".into(), numbers(&|c| c.threads.map(|t| t as f64))),
        Column::new("available_cpus".into(), numbers(&|c| c.available_cpus.map(|n| n as f64))),
        Column::new("measured_under_load".into(), points.iter().map(|(_, c)| c.under_load()).collect::<Vec<_>>()),
        Column::new("plain_ms_ci".into(), texts(&|c| interval_text(&ms(c.plain_ns), 3))),
        Column::new("residual_ms_ci".into(), texts(&|c| interval_text(&ms(c.residual_ns), 3))),
        Column::new(
            "round_ratio_spread".into(),
            texts(&|c| format!("{}–{}", format_sig(c.ratio_spread.0, 3), format_sig(c.ratio_spread.1, 3))),
        ),
        Column::new(
            "criterion_ms".into(),
            texts(&|c| match c.criterion {
                Some(t) => {
                    format!("{} / {}", format_sig(ms(t.plain_ns).point, 3), format_sig(ms(t.residual_ns).point, 3))
                }
                None => "none in the inputs".into(),
            }),
        ),
        Column::new(
            "vs_criterion".into(),
            texts(&|c| match c.against_criterion() {
                Some((plain, residual)) => format!("{plain:.2}× / {residual:.2}×"),
                None => String::new(),
            }),
        ),
        Column::new(
            "commits".into(),
            texts(&|c| {
                let commit = |commit: &Option<String>| commit.clone().unwrap_or_else(|| "?".into());
                match c.criterion {
                    Some(_) => format!("{} / {}", commit(&c.commits.0), commit(&c.commits.1)),
                    None => commit(&c.commits.0),
                }
            }),
        ),
        Column::new("load".into(), texts(&|c| c.load_text())),
        Column::new("verdict".into(), texts(&|c| c.verdict().to_string())),
    ])
    .map_err(Error::polars("residual_overhead_paired_times"))?;
    Ok(Table {
        slug: "residual_overhead_paired_times".into(),
        title: "Paired step times against criterion's, and the load".into(),
        note: format!(
            "Median ms per train step over the rounds with its 95% bootstrap interval; the 10th–90th percentile of \
             the per-round ratios residual ÷ plain; criterion's `train_step` medians of the same machine, depth, \
             width and thread count, and the paired median ÷ criterion's (plain / residual); the commits the two \
             were measured at; the machine's 1-minute load average before and after the point. Measured under load: a paired ÷ criterion time beyond \
             {CRITERION_FACTOR_LIMIT}× either way, or a load above the bench's threads + {LOAD_MARGIN}."
        ),
        frame,
        columns: vec![
            spec("machine", "machine", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("width", "width", Format::Integer),
            spec("plain_ms_ci", "plain ms (95% CI)", Format::Text),
            spec("residual_ms_ci", "residual ms (95% CI)", Format::Text),
            spec("round_ratio_spread", "per-round ratio, q10–q90", Format::Text),
            spec("criterion_ms", "criterion ms, plain / residual", Format::Text),
            spec("vs_criterion", "paired ÷ criterion", Format::Text),
            spec("commits", "commit, paired / criterion", Format::Text),
            spec("load", "1-min load, before → after", Format::Text),
            spec("verdict", "verdict", Format::Text),
        ],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::tests::row;

    /// A paired point of `rounds` rounds at d16 w64 whose plain steps take `plain_ns` and
    /// residual steps 2% longer.
    pub(crate) fn paired_point(plain_ns: f64, load: Option<LoadAverage>) -> PairedPoint {
        PairedPoint {
            depth: 16,
            width: 64,
            iters: 10,
            plain_ns: vec![plain_ns; 5],
            residual_ns: vec![plain_ns * 1.02; 5],
            threads: Some(1),
            available_cpus: Some(2),
            load,
        }
    }

    /// The set a paired point belongs to: machine "m", no criterion rows.
    pub(crate) fn paired_set() -> BenchSet {
        BenchSet { rows: Vec::new(), ..criterion_set("m", 1.0) }
    }

    fn criterion_set(machine_id: &str, plain_ns: f64) -> BenchSet {
        let mut rows = vec![
            row("train_step", "plain", 16, 64, [plain_ns, plain_ns * 0.98, plain_ns * 1.02], 1e6),
            row("train_step", "residual", 16, 64, [plain_ns * 1.03, plain_ns * 1.01, plain_ns * 1.05], 1e6),
        ];
        rows.iter_mut().for_each(|r| r.machine_id = machine_id.into());
        BenchSet::of_rows(machine_id, rows)
    }

    #[test]
    fn a_paired_point_four_times_slower_than_criterion_is_under_load() {
        let sets = [criterion_set("other", 2.7e6), criterion_set("m", 0.675e6)];
        // 2.70 ms paired against criterion's 0.675 ms on the same machine: 4×.
        let slow = Conditions::of(&paired_point(2.7e6, None), &paired_set(), &sets);
        let (plain, residual) = slow.against_criterion().unwrap();
        assert!((plain - 4.0).abs() < 1e-9 && (residual - 2.7 * 1.02 / (0.675 * 1.03)).abs() < 1e-9);
        assert!(slow.under_load());
        assert_eq!(slow.verdict(), "measured under load");
        assert_eq!(
            slow.reasons(),
            ["its median steps took 4.00× (plain) and 3.96× (residual) criterion's times on the same machine \
              (its fastest plain sample 4.00× criterion's)"]
        );
        assert_eq!(slow.load_text(), "load not recorded");
        // The same point at criterion's speed is comparable; another machine's times are not used.
        let fine = Conditions::of(&paired_point(0.7e6, None), &paired_set(), &sets);
        assert!(!fine.under_load() && fine.checked(), "{:?}", fine.reasons());
        assert_eq!(fine.verdict(), "comparable with criterion");
        let alone = Conditions::of(&paired_point(2.7e6, None), &paired_set(), &sets[..1]);
        assert_eq!((alone.criterion, alone.verdict()), (None, "not checked"));
        // 4× faster than criterion is as far from it as 4× slower.
        assert!(Conditions::of(&paired_point(0.17e6, None), &paired_set(), &sets).under_load());
    }

    #[test]
    fn a_load_above_the_threads_flags_the_point() {
        let loaded =
            Conditions::of(&paired_point(1e6, Some(LoadAverage { before: 2.1, after: 1.2 })), &paired_set(), &[]);
        assert_eq!(loaded.reasons(), ["the 1-minute load average reached 2.10 against its 1 thread"]);
        assert_eq!(loaded.load_text(), "2.10 → 1.20");
        // The bench's own thread shows in the load: 1.4 against 1 thread is within the margin.
        let idle =
            Conditions::of(&paired_point(1e6, Some(LoadAverage { before: 0.3, after: 1.4 })), &paired_set(), &[]);
        assert!(!idle.under_load() && idle.checked());
    }
}
