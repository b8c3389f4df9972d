//! Where a run's wall time goes: the training steps against everything a run does around them
//! (probes, evaluations, mechanism probes, the perturbed twin). Recorded with every run, so the
//! cost of measuring shows beside the cost of training, and the report can say when the
//! measuring is no longer cheap.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Seconds spent in each part of one run. The parts do not overlap, and together they cover
/// the run from the start of `train` to its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    /// Building the network, optimizer, batch order and buffers.
    pub setup: f64,
    /// The training steps (gather, forward, loss, backward, update) and the loss curve's
    /// bookkeeping: what `steps_per_second` counts.
    pub steps: f64,
    /// Full-training-set evaluations at the checkpoints of the last 10% of steps (the robust loss).
    pub tail_evaluation: f64,
    /// The final evaluation on the training and the test set.
    pub final_evaluation: f64,
    /// Gradient and state probes at initialisation and at the end.
    pub probes: f64,
    /// Shattered gradients and lesions (zero unless asked for).
    pub mechanisms: f64,
    /// The perturbed twin's steps and distances (zero unless asked for).
    pub twin: f64,
}

impl TimeSplit {
    /// The parts with their names, in the order above (the names are the JSON field names).
    pub fn parts(&self) -> [(&'static str, f64); 7] {
        [
            ("setup", self.setup),
            ("steps", self.steps),
            ("tail_evaluation", self.tail_evaluation),
            ("final_evaluation", self.final_evaluation),
            ("probes", self.probes),
            ("mechanisms", self.mechanisms),
            ("twin", self.twin),
        ]
    }

    pub fn total(&self) -> f64 {
        self.parts().iter().map(|(_, s)| s).sum()
    }

    /// Adds `other` part by part (a sweep's totals over its runs).
    pub fn add(&mut self, other: &TimeSplit) {
        self.setup += other.setup;
        self.steps += other.steps;
        self.tail_evaluation += other.tail_evaluation;
        self.final_evaluation += other.final_evaluation;
        self.probes += other.probes;
        self.mechanisms += other.mechanisms;
        self.twin += other.twin;
    }
}

/// Charges the time between consecutive calls to the part each call names.
pub struct Stopwatch {
    last: Instant,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch { last: Instant::now() }
    }

    /// Adds the time since the previous call (or the start) to `part` and restarts.
    pub fn charge(&mut self, part: &mut f64) {
        let now = Instant::now();
        *part += now.duration_since(self.last).as_secs_f64();
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_sums_every_part() {
        let one = TimeSplit {
            setup: 1.0,
            steps: 2.0,
            tail_evaluation: 4.0,
            final_evaluation: 8.0,
            probes: 16.0,
            mechanisms: 32.0,
            twin: 64.0,
        };
        let mut sum = one;
        sum.add(&one);
        for ((name, twice), (_, once)) in sum.parts().into_iter().zip(one.parts()) {
            assert_eq!(twice, 2.0 * once, "{name}");
        }
        assert_eq!(one.total(), 127.0);
    }

    #[test]
    fn charges_each_interval_once_to_the_named_part() {
        let outer = Instant::now();
        let mut split = TimeSplit::default();
        let mut watch = Stopwatch::start();
        std::thread::sleep(std::time::Duration::from_millis(20));
        watch.charge(&mut split.probes);
        watch.charge(&mut split.steps);
        std::thread::sleep(std::time::Duration::from_millis(10));
        watch.charge(&mut split.twin);
        let elapsed = outer.elapsed().as_secs_f64();
        assert!(split.probes >= 0.020, "{split:?}");
        assert!(split.twin >= 0.010, "{split:?}");
        // Contiguous intervals: nothing counted twice, nothing outside the watch.
        assert!(split.total() <= elapsed, "{} s charged in {elapsed} s", split.total());
        assert!((split.total() - (split.probes + split.steps + split.twin)).abs() < 1e-12);
        assert_eq!(split.parts().map(|(name, _)| name)[1], "steps");
    }
}
