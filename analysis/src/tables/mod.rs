//! The benchmark tables (timing, the GEMM ceiling, across machines), built with polars from
//! per-benchmark frames. Timing statistics are criterion's medians; GFLOP/s = FLOPs per
//! iteration ÷ median ns.

mod timing;

pub use timing::{across_machines, bench_frames, ceiling, timing, timing_frame, timing_rows, BenchFrames, TimingRow};
