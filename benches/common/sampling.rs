//! Criterion's sampling sized per benchmark from a rough guess of one iteration, unless the
//! command line sets it: what the criterion benches (`mlp`, `conv`) share.

use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, SamplingMode};
use std::time::Duration;

/// Criterion settings given on the command line; those win over the per-size defaults below.
pub struct CliOverrides {
    pub sample_size: bool,
    pub warm_up_time: bool,
    pub measurement_time: bool,
    pub nresamples: bool,
}

impl CliOverrides {
    pub fn from_args() -> Self {
        let given = |flag: &str| std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        CliOverrides {
            sample_size: given("--sample-size"),
            warm_up_time: given("--warm-up-time"),
            measurement_time: given("--measurement-time"),
            nresamples: given("--nresamples"),
        }
    }
}

/// Sizes each benchmark's sampling from a rough guess of one iteration's time, so the quick
/// grid fits in a few minutes on 2 cores: about 1 s warm-up and 2 s of measurement, at least
/// 10 samples (one iteration each, flat sampling) for the slow sizes, at most 100; 20 000
/// bootstrap resamples instead of criterion's 100 000 (its analysis took ~1 s per benchmark
/// here, a sixth of the quick grid's time, and the confidence intervals barely move).
pub fn configure<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, cli: &CliOverrides, estimated_seconds: f64) {
    const MEASUREMENT: f64 = 2.0;
    const WARM_UP: f64 = 1.0;
    const RESAMPLES: usize = 20_000;
    // Linear sampling with n samples runs n(n+1)/2 iterations at the smallest step.
    let linear_fits = |n: f64| n * (n + 1.0) / 2.0 * estimated_seconds <= MEASUREMENT;
    let (samples, mode) = if linear_fits(100.0) {
        (100, SamplingMode::Linear)
    } else {
        let flat_samples = (MEASUREMENT / estimated_seconds).floor().clamp(10.0, 100.0) as usize;
        (flat_samples, SamplingMode::Flat)
    };
    group.sampling_mode(mode);
    if !cli.nresamples {
        group.nresamples(RESAMPLES);
    }
    if !cli.sample_size {
        group.sample_size(samples);
    }
    if !cli.warm_up_time {
        group.warm_up_time(Duration::from_secs_f64(WARM_UP.max(estimated_seconds)));
    }
    if !cli.measurement_time {
        let needed = samples as f64 * estimated_seconds;
        group.measurement_time(Duration::from_secs_f64(MEASUREMENT.max(needed * 1.1)));
    }
}
