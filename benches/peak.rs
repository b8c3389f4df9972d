//! `peak`: the f32 multiply-add throughput of one core, the hardware's own limit, so a report
//! can say how far the GEMM kernel (`gemm_ceiling`) and a network step are from it — and so
//! tell a slow machine from a slow kernel.
//!
//! The loop keeps everything in registers: `acc ← acc·a + b` on enough independent
//! accumulators to cover the multiply-add latency (4–5 cycles) times the units that issue
//! them (2 on current x86 cores), so no iteration waits on another and no memory is touched.
//! Each instruction set the CPU has is measured — AVX-512F (16 lanes), AVX2+FMA (8 lanes) and
//! the compiler's code for a plain loop — because on some cores (AMD Zen 4) AVX-512 runs at the
//! AVX2 rate, which decides whether a wider kernel can pay. The widest is the peak.
//!
//! FLOP convention: a fused multiply-add counts 2, as in every GEMM count of the benches.
//!
//! Output: `peak.json` in criterion's output directory (beside `machine.json`), with the
//! machine id, the instruction set of the peak, and for each instruction set the GFLOP/s of
//! 101 interleaved samples of ~2 ms: median with its 95 % interval, best decile, best. The
//! peak is the widest instruction set's best decile: other work on the core can only slow a
//! sample down, so the upper samples are the hardware's rate and the median is the machine's
//! load (the two agree on an idle machine).

mod common;

use common::{criterion_home, filters, selected, write_json, Invocation, Summary};
use degradation_bench::machine::fingerprint;
use degradation_bench::model::gemm::GEMM_BACKEND;
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Many short samples rather than a few long ones: on a shared machine a 2 ms sample often
/// runs between two preemptions, and the best decile of them is the hardware's rate.
const SAMPLES: usize = 101;
const SAMPLE_TIME: Duration = Duration::from_millis(2);
/// Long enough for the core to reach its sustained clock (and, on cores that lower it for
/// wide vectors, its wide-vector clock) before anything counts.
const WARM_UP: Duration = Duration::from_millis(500);
/// The accumulators' fixed point: 1·½ + ½ = 1 exactly, so values never drift towards
/// overflow or subnormals however long the loop runs, and the checksum is known.
const MULTIPLIER: f32 = 0.5;
const ADDEND: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Avx512f,
    Avx2Fma,
    Portable,
}

impl Isa {
    /// Widest first.
    const ALL: [Isa; 3] = [Isa::Avx512f, Isa::Avx2Fma, Isa::Portable];

    fn name(self) -> &'static str {
        match self {
            Isa::Avx512f => "avx512f",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Portable => "portable",
        }
    }

    fn available(self) -> bool {
        match self {
            #[cfg(all(target_arch = "x86_64", avx512_intrinsics))]
            Isa::Avx512f => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    fn lanes(self) -> usize {
        match self {
            Isa::Avx512f => 16,
            Isa::Avx2Fma => 8,
            Isa::Portable => 1,
        }
    }

    /// Independent dependency chains: ≥ latency × issue width (4 × 2 on Zen 4, 4 × 2 on
    /// Skylake-X/Ice Lake), leaving registers for the two operands (32 zmm, 16 ymm).
    fn accumulators(self) -> usize {
        match self {
            Isa::Avx512f => 16,
            Isa::Avx2Fma => 12,
            Isa::Portable => 8,
        }
    }

    fn flops_per_iteration(self) -> u64 {
        2 * (self.lanes() * self.accumulators()) as u64
    }

    /// Runs `iterations` of the loop; returns the sum of all lanes of all accumulators.
    fn run(self, iterations: u64) -> f32 {
        let (a, b) = (black_box(MULTIPLIER), black_box(ADDEND));
        match self {
            // SAFETY: `available()` checked the features before any run.
            #[cfg(all(target_arch = "x86_64", avx512_intrinsics))]
            Isa::Avx512f => unsafe { x86::multiply_add_avx512(iterations, a, b) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { x86::multiply_add_avx2(iterations, a, b) },
            Isa::Portable => multiply_add_portable(iterations, a, b),
            #[allow(unreachable_patterns)]
            _ => unreachable!("{} is not available here", self.name()),
        }
    }

    /// What `run` must return: every lane of every accumulator sits at the fixed point 1.
    fn checksum(self) -> f32 {
        (self.lanes() * self.accumulators()) as f32
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Compiled only where build.rs found AVX-512 intrinsics stable (Rust ≥ 1.89), hence
    /// the allowance below the crate's minimum version.
    #[cfg(avx512_intrinsics)]
    #[allow(clippy::incompatible_msrv)]
    #[target_feature(enable = "avx512f")]
    pub fn multiply_add_avx512(iterations: u64, a: f32, b: f32) -> f32 {
        let (a, b) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
        let mut acc = [_mm512_set1_ps(1.0); 16];
        for _ in 0..iterations {
            for x in &mut acc {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn multiply_add_avx2(iterations: u64, a: f32, b: f32) -> f32 {
        let (a, b) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iterations {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        let mut total = 0.0;
        for x in acc {
            // SAFETY: `lanes` holds 8 f32, the width of one unaligned store.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), x) };
            total += lanes.iter().sum::<f32>();
        }
        total
    }
}

/// What the compiler makes of a plain multiply-add loop for the baseline target (separate
/// multiply and add where the target has no FMA): the fallback on CPUs without AVX2.
fn multiply_add_portable(iterations: u64, a: f32, b: f32) -> f32 {
    let mut acc = [1.0f32; 8];
    for _ in 0..iterations {
        for x in &mut acc {
            *x = *x * a + b;
        }
    }
    acc.iter().sum()
}

/// Iterations that take about `SAMPLE_TIME`.
fn calibrate(isa: Isa) -> u64 {
    let mut iterations = 1u64 << 12;
    loop {
        let start = Instant::now();
        black_box(isa.run(iterations));
        let elapsed = start.elapsed();
        if elapsed >= SAMPLE_TIME / 4 {
            return (iterations as f64 * SAMPLE_TIME.as_secs_f64() / elapsed.as_secs_f64()).ceil() as u64;
        }
        iterations *= 2;
    }
}

#[derive(Serialize)]
struct IsaResult {
    isa: &'static str,
    lanes: usize,
    accumulators: usize,
    iterations_per_sample: u64,
    gflops: Summary,
}

#[derive(Serialize)]
struct Peak {
    machine_id: String,
    cpu_model: String,
    threads: usize,
    /// The widest instruction set, whose rate is the peak.
    isa: &'static str,
    peak_gflops: f64,
    by_isa: Vec<IsaResult>,
    method: &'static str,
}

fn main() {
    let invocation = Invocation::from_args();
    let filters = filters();
    let isas: Vec<Isa> = Isa::ALL
        .into_iter()
        .filter(|isa| isa.available() && selected(&format!("peak/{}", isa.name()), &filters))
        .collect();
    match invocation {
        Invocation::List => {
            isas.iter().for_each(|isa| println!("peak/{}: bench", isa.name()));
            return;
        }
        Invocation::Smoke => {
            for isa in &isas {
                let sum = isa.run(1000);
                assert_eq!(sum, isa.checksum(), "{}: the loop left its fixed point", isa.name());
                println!("peak/{}: ok", isa.name());
            }
            return;
        }
        Invocation::Measure => {}
    }

    let warm_up_end = Instant::now() + WARM_UP;
    while Instant::now() < warm_up_end {
        for isa in &isas {
            black_box(isa.run(1 << 14));
        }
    }
    let iterations: Vec<u64> = isas.iter().map(|&isa| calibrate(isa)).collect();
    let mut rates = vec![Vec::with_capacity(SAMPLES); isas.len()];
    for _ in 0..SAMPLES {
        for (i, &isa) in isas.iter().enumerate() {
            let start = Instant::now();
            let sum = isa.run(iterations[i]);
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(sum, isa.checksum(), "{}: the loop left its fixed point", isa.name());
            rates[i].push((iterations[i] * isa.flops_per_iteration()) as f64 / seconds / 1e9);
        }
    }

    let by_isa: Vec<IsaResult> = isas
        .iter()
        .zip(&iterations)
        .zip(&rates)
        .map(|((&isa, &iterations_per_sample), rates)| IsaResult {
            isa: isa.name(),
            lanes: isa.lanes(),
            accumulators: isa.accumulators(),
            iterations_per_sample,
            gflops: Summary::of(rates, true),
        })
        .collect();
    for r in &by_isa {
        let g = r.gflops;
        println!(
            "peak/{:<9} best decile {:6.1} GFLOP/s, median {:.1} [{:.1}, {:.1}] (95% CI), best {:.1}, {} samples",
            r.isa, g.best_decile, g.median, g.low, g.high, g.best, g.samples
        );
    }
    let Some((isa, peak_gflops)) = by_isa.first().map(|widest| (widest.isa, widest.gflops.best_decile)) else {
        eprintln!("peak: no instruction set selected");
        return;
    };
    let info = fingerprint(1, GEMM_BACKEND);
    let peak = Peak {
        machine_id: info.machine_id,
        cpu_model: info.cpu_model,
        threads: 1,
        isa,
        peak_gflops,
        by_isa,
        method: "one thread; register-only acc = acc*a + b on independent accumulators; \
                 a fused multiply-add counts 2 FLOP; interleaved ~2 ms samples; \
                 peak = the widest instruction set's best decile",
    };
    match write_json(&criterion_home(), "peak.json", &peak) {
        Ok(path) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("warning: could not write peak.json: {e}"),
    }
}
