//! Where a run's wall time goes: the training steps against everything a run does around them
//! (probes, evaluations, mechanism probes, the perturbed twin). Recorded with every run, so the
//! cost of measuring shows beside the cost of training, and the report can say when the
//! measuring is no longer cheap.

use std::time::Instant;

#[cfg(test)]
use crate::record::TimeSplit;

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
