//! A criterion measurement that reads the benchmark thread's CPU time instead of the wall
//! clock (`DEGRADATION_BENCH_CLOCK=thread_cpu`).
//!
//! Why: on a machine shared with other work, wall time counts the time the thread waits for a
//! core, so it measures the machine's load as much as the code. A single-threaded benchmark's
//! CPU time counts only the time it ran; on an idle machine the two agree. What it still
//! includes — refilling caches after another process ran, a lower clock while both cores are
//! busy — makes it an upper bound on the idle-machine time, never an undercount.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use std::time::Duration;

/// Thread CPU time (`CLOCK_THREAD_CPUTIME_ID`); criterion runs the timed closure on the
/// thread that calls it, so this is the benchmark's own time. Values are durations, so
/// criterion's files keep their unit (ns) and the analysis reads them unchanged.
pub struct ThreadCpuTime {
    /// Only lends its duration formatter (criterion keeps its own private).
    wall: WallTime,
}

impl Default for ThreadCpuTime {
    fn default() -> Self {
        ThreadCpuTime { wall: WallTime }
    }
}

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// Which clock the benches read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Wall,
    ThreadCpu,
}

impl Clock {
    /// `DEGRADATION_BENCH_CLOCK`: `wall` (default) or `thread_cpu`.
    pub fn from_env() -> Self {
        match std::env::var("DEGRADATION_BENCH_CLOCK").as_deref() {
            Err(_) | Ok("") | Ok("wall") => Clock::Wall,
            Ok("thread_cpu") => Clock::ThreadCpu,
            Ok(other) => panic!("DEGRADATION_BENCH_CLOCK={other}: expected `wall` or `thread_cpu`"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall",
            Clock::ThreadCpu => "thread_cpu",
        }
    }
}
