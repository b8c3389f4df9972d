//! The phenomenon itself: on the real digits data with width
//! 64, Adam lr 1e-3, batch 64, 1500 steps, He init and no normalisation, a plain net trains
//! well at depth 4 and fails at depth 128 (it stays near chance, ln 10 ≈ 2.30), while a
//! residual net with α = 1/√K trains at depth 128.
//!
//! Part of the default `cargo test --workspace --release` (a few seconds there); a debug build
//! trains some 30× slower, so there the runner lists it as ignored (never as passed).
//! (`sweep --preset quick` trains the whole grid, depths 2–128.)

mod common;

use common::digits_run;
use degradation_bench::config::{Arch, DatasetKind, DatasetOptions, RunConfig};
use degradation_bench::data;
use degradation_bench::train::train;
use rayon::prelude::*;

fn run(arch: Arch, depth: usize, seed: u64) -> RunConfig {
    RunConfig { seed, ..digits_run("degradation-test", arch, depth, 64) }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "minutes of training in a debug build: run `cargo test --release --test degradation`"
)]
fn deep_plain_nets_degrade_and_residual_nets_do_not() {
    let split = data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap();
    let seed = 0;
    let configs = [run(Arch::Plain, 4, seed), run(Arch::Plain, 128, seed), run(Arch::Residual, 128, seed)];
    let started = std::time::Instant::now();
    let results: Vec<_> = configs.par_iter().map(|c| train(c, &split).unwrap()).collect();
    let mut losses = Vec::new();
    for (config, result) in configs.iter().zip(&results) {
        let loss = result.final_train_loss.unwrap_or(f64::INFINITY);
        eprintln!(
            "{:<8} depth {:>3}: final train loss {:.3e}, test accuracy {:.3}",
            config.model.arch,
            config.model.depth,
            loss,
            result.test_accuracy.unwrap_or(f64::NAN)
        );
        assert!(!result.diverged, "{} {} diverged", config.model.arch, config.model.depth);
        losses.push(loss);
    }
    eprintln!("{:.1} s", started.elapsed().as_secs_f64());
    let (plain_4, plain_128, residual_128) = (losses[0], losses[1], losses[2]);
    // Shallow plain and deep residual nets fit the 1437 training digits almost perfectly
    // (measured ~3e-4 and ~4e-6); the deep plain net does not learn (measured 2.30 = chance).
    assert!(plain_4 < 0.05, "plain depth 4 did not train: {plain_4}");
    assert!(residual_128 < 0.05, "residual depth 128 did not train: {residual_128}");
    assert!(plain_128 > 10.0 * plain_4, "no degradation: plain 128 {plain_128} vs plain 4 {plain_4}");
    assert!(plain_128 > 10.0 * residual_128, "residual 128 {residual_128} not better than plain 128 {plain_128}");
    assert!(plain_128 > 1.0, "plain depth 128 learned more than expected: {plain_128}");
    // Test accuracy tells the same story.
    let (acc_plain_128, acc_residual_128) = (results[1].test_accuracy.unwrap(), results[2].test_accuracy.unwrap());
    assert!(acc_residual_128 > 0.9 && acc_plain_128 < acc_residual_128 - 0.3, "{acc_plain_128} vs {acc_residual_128}");
}
