//! The instruments of a run (`RunRecord::instruments`: one point per checkpoint, step 0 first;
//! errors on the first `instrument_samples` training and test samples) as the sections read them: error curves in percent, where the training error stops
//! improving, and per-layer values over checkpoints. Knows no section.

use crate::inputs::Inputs;
use crate::variant::Run;
use degradation_bench::record::{InstrumentPoint, RunRecord};

/// A run has stopped improving at a checkpoint when its training error falls by no more than
/// this many percentage points over the next [`STALL_WINDOW`] of its steps.
pub const STALL_IMPROVEMENT_PP: f64 = 1.0;
/// The look-ahead of a stall, as a fraction of the run's steps.
pub const STALL_WINDOW: f64 = 0.2;
/// A layer is quiet when its update moves its weights by less than this fraction of their norm.
pub const QUIET_UPDATE_RATIO: f64 = 1e-4;

/// One checkpoint's errors in percent (`None` where not recorded or not finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorPoint {
    pub step: usize,
    pub train: Option<f64>,
    pub test: Option<f64>,
}

/// The run's errors at every checkpoint, in percent.
pub fn error_curve(run: &RunRecord) -> Vec<ErrorPoint> {
    let percent = |e: Option<f64>| e.filter(|e| e.is_finite()).map(|e| 100.0 * e);
    run.result
        .instruments
        .iter()
        .map(|p| ErrorPoint { step: p.step, train: percent(p.train_error), test: percent(p.test_error) })
        .collect()
}

/// Whether the run recorded a training error at two checkpoints or more: something to draw.
pub fn has_error_curve(run: &RunRecord) -> bool {
    run.result.instruments.iter().filter(|p| p.train_error.is_some_and(f64::is_finite)).count() >= 2
}

/// The inputs' training runs that recorded an error curve: what the instrument sections read.
pub fn instrumented_runs(inputs: &Inputs) -> Vec<Run> {
    inputs.training_runs().into_iter().filter(|r| has_error_curve(&r.record)).collect()
}

/// The last checkpoint with both errors, in percent: (train, test).
pub fn final_errors(run: &RunRecord) -> (Option<f64>, Option<f64>) {
    let curve = error_curve(run);
    let last = curve.iter().rev().find(|p| p.train.is_some());
    (last.and_then(|p| p.train), curve.iter().rev().find_map(|p| p.test))
}

/// How many samples the runs' instruments evaluated, as a phrase to put before "training
/// samples" or "test samples": "the first (at most) 10000", "the first (at most) 2000–10000"
/// (several runs); a set smaller than the count is evaluated whole.
pub fn samples_phrase<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> String {
    let mut counts: Vec<usize> = runs.into_iter().map(|r| r.result.instrument_samples).filter(|&n| n > 0).collect();
    counts.sort_unstable();
    counts.dedup();
    match (counts.first(), counts.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!("the first (at most) {lo}"),
        (Some(lo), Some(hi)) => format!("the first (at most) {lo}–{hi}"),
        _ => "a fixed subset of the".to_string(),
    }
}

/// Where a run's training error stopped improving.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    pub step: usize,
    /// Training error there, in percent.
    pub error: f64,
    /// How far the error still fell after it, to the run's lowest (percentage points): a big
    /// fall later (a learning-rate decay, say) makes the stall a plateau, not the end.
    pub later_fall: f64,
    /// Fraction of the layers whose update ratio is below [`QUIET_UPDATE_RATIO`] there (at
    /// step 0, which has no update, the first recorded update's).
    pub quiet_fraction: Option<f64>,
}

impl Stall {
    /// A stop at an error of [`STALL_IMPROVEMENT_PP`] or less is the net fitting its training
    /// samples: there is not a point left to gain.
    pub fn fitted(&self) -> bool {
        self.error <= STALL_IMPROVEMENT_PP
    }
}

/// How a run's training error progressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    Stalled(Stall),
    /// Every checkpoint with a full window after it was followed by a fall of more than
    /// [`STALL_IMPROVEMENT_PP`].
    KeptImproving,
    /// Fewer than two training errors, or the run diverged.
    NoCurve,
}

impl Progress {
    pub fn stall(&self) -> Option<&Stall> {
        match self {
            Progress::Stalled(stall) => Some(stall),
            _ => None,
        }
    }
}

/// The first checkpoint t whose lowest training error over (t, t + [`STALL_WINDOW`]·steps] (at
/// least the next checkpoint) is no more than [`STALL_IMPROVEMENT_PP`] below its own. Only
/// checkpoints with the whole window inside the run are candidates.
pub fn progress(run: &RunRecord) -> Progress {
    if run.result.diverged {
        return Progress::NoCurve;
    }
    let points: Vec<(usize, f64)> = error_curve(run).iter().filter_map(|p| Some((p.step, p.train?))).collect();
    let Some(&(last_step, _)) = points.last() else { return Progress::NoCurve };
    if points.len() < 2 {
        return Progress::NoCurve;
    }
    let window = (STALL_WINDOW * run.setup.steps as f64).ceil() as usize;
    for (i, &(step, error)) in points.iter().enumerate() {
        if i + 1 == points.len() || step + window > last_step {
            break;
        }
        let ahead = points[i + 1..].iter().take_while(|p| p.0 <= step + window).map(|p| p.1);
        let best_ahead = ahead.fold(points[i + 1].1, f64::min);
        if error - best_ahead <= STALL_IMPROVEMENT_PP {
            let lowest_later = points[i + 1..].iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            let quiet = run.result.instruments.iter().filter(|p| p.step >= step).find(|p| !p.update_ratios.is_empty());
            return Progress::Stalled(Stall {
                step,
                error,
                later_fall: (error - lowest_later).max(0.0),
                quiet_fraction: quiet.and_then(quiet_fraction),
            });
        }
    }
    Progress::KeptImproving
}

/// Fraction of a checkpoint's layers (finite ratios) updated by less than [`QUIET_UPDATE_RATIO`].
pub fn quiet_fraction(point: &InstrumentPoint) -> Option<f64> {
    let finite: Vec<f64> = point.update_ratios.iter().copied().filter(|r| r.is_finite()).collect();
    (!finite.is_empty())
        .then(|| finite.iter().filter(|&&r| r < QUIET_UPDATE_RATIO).count() as f64 / finite.len() as f64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::inputs::Inputs;
    use crate::variant::tests::{synthetic_conv_run, synthetic_run, typed};
    use crate::variant::Run;

    /// Runs as the inputs of a report (one results set).
    pub fn inputs(runs: Vec<Run>) -> Inputs {
        Inputs::of_runs("resnet", runs)
    }

    /// Fig. 6 in miniature: plain-20 and both ResNets keep improving; plain-56 stalls at 45%
    /// from step 30 with every layer's update below 1e-5 from then on. `seeds` seeds each, 11
    /// checkpoints of 100 steps, 6n weight layers.
    pub fn fig6(seeds: u64) -> Vec<Run> {
        let mut runs = Vec::new();
        for (arch, depth) in [("plain", 20), ("plain", 56), ("residual", 20), ("residual", 56)] {
            for seed in 0..seeds {
                let offset = 0.01 * seed as f64;
                let train: Vec<f64> = (0..=10)
                    .map(|i| match (arch, depth) {
                        ("plain", 56) => [0.9, 0.7, 0.5][..].get(i).copied().unwrap_or(0.45),
                        ("plain", _) => 0.9 - 0.08 * i as f64,
                        _ => 0.9 - 0.085 * i as f64,
                    } + offset)
                    .collect();
                let stalls = arch == "plain" && depth == 56;
                let ratio = move |step: usize| if stalls && step >= 30 { 1e-5 } else { 1e-2 };
                let record = synthetic_conv_run(arch, depth, seed, Some(0.1));
                runs.push(typed(with_instruments(record, &train, (depth - 2) / 6 * 6, ratio)));
            }
        }
        runs
    }

    /// A run of `steps` steps whose instruments record `train` (fractions) at evenly spaced
    /// checkpoints, test error 5 points above, every layer's update ratio `ratio(step)`.
    pub fn with_instruments(
        mut run: RunRecord,
        train: &[f64],
        layers: usize,
        ratio: impl Fn(usize) -> f64,
    ) -> RunRecord {
        let every = run.setup.steps / (train.len() - 1).max(1);
        run.result.instruments = train
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let step = i * every;
                let per_layer = |v: f64| if step == 0 { Vec::new() } else { vec![v; layers] };
                InstrumentPoint {
                    step,
                    train_loss: Some(e),
                    train_error: Some(e),
                    test_loss: Some(e),
                    test_error: Some(e + 0.05),
                    weight_grad_norms: per_layer(1.0),
                    update_ratios: per_layer(ratio(step)),
                    distance_from_init: (0..layers).map(|l| 0.01 * (l + 1) as f64 * step as f64).collect(),
                }
            })
            .collect();
        run
    }

    fn run(train: &[f64]) -> RunRecord {
        // 100 steps, checkpoints every 10: the window is 20 steps, two checkpoints.
        with_instruments(synthetic_run("plain", 4, 0, Some(0.1)), train, 3, |s| if s >= 40 { 1e-5 } else { 1e-2 })
    }

    #[test]
    fn a_plateau_is_the_first_checkpoint_without_a_point_of_progress_ahead() {
        let train = [0.9, 0.7, 0.5, 0.4, 0.395, 0.386, 0.389, 0.388, 0.2, 0.19, 0.19];
        let Progress::Stalled(stall) = progress(&run(&train)) else { panic!("a plateau from step 40") };
        assert_eq!(stall.step, 40, "at 40 the next 20 steps gain 0.9 points; at 30 they gain 1.4");
        assert!((stall.error - 39.5).abs() < 1e-9);
        assert!((stall.later_fall - 20.5).abs() < 1e-9, "the drop at step 80 comes after the plateau");
        assert_eq!(stall.quiet_fraction, Some(1.0));
        assert!(!stall.fitted());
    }

    #[test]
    fn steady_progress_never_stalls_and_a_fit_is_not_a_plateau() {
        let steady: Vec<f64> = (0..=10).map(|i| 0.9 - 0.08 * i as f64).collect();
        assert_eq!(progress(&run(&steady)), Progress::KeptImproving);
        let fit = [0.9, 0.5, 0.1, 0.005, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let stall = *progress(&run(&fit)).stall().expect("stops at the fit");
        assert_eq!(stall.step, 30);
        assert!(stall.fitted());
        assert_eq!(stall.quiet_fraction, Some(0.0), "updates at step 30 are still 1e-2");
        let stuck = [0.9; 11];
        assert_eq!(progress(&run(&stuck)).stall().map(|s| (s.step, s.quiet_fraction)), Some((0, Some(0.0))));
        assert_eq!(progress(&run(&[0.9])), Progress::NoCurve);
        let mut diverged = run(&stuck);
        diverged.result.diverged = true;
        assert_eq!(progress(&diverged), Progress::NoCurve);
    }

    #[test]
    fn errors_read_in_percent_from_the_last_checkpoint() {
        let record = run(&[0.9, 0.5, 0.25]);
        assert!(has_error_curve(&record));
        let (train, test) = final_errors(&record);
        assert_eq!(train, Some(25.0));
        assert!((test.unwrap() - 30.0).abs() < 1e-9);
        assert!(!has_error_curve(&synthetic_run("plain", 4, 0, Some(0.1))));
    }
}
