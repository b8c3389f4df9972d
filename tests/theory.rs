//! Theory at initialisation: signal propagation of the canonical networks (docs/method.md,
//! "Networks") must reproduce the textbook slopes. Every check is averaged over
//! seeds and fitted over depth, and every tolerance is derived below from the theory and the
//! sample size; the negative controls at the end show that each tolerance discriminates.
//!
//! Setting: inputs x ~ N(0, I) (dimension W), width W = 128, batch N = 32, ReLU, biases 0, no
//! normalisation, f64. Write S_k = E[h_k²] (the squared RMS the probes report, mean included).
//!
//! Plain, h_l = φ(W_l h_{l−1}), W_l ~ N(0, c/W) (fan_in = fan_out = W): given h_{l−1}, each
//! pre-activation z_i is N(0, c·S_{l−1}) exactly, and ReLU keeps half of a symmetric
//! variable's second moment, so E[S_l | h_{l−1}] = (c/2)·S_{l−1}:
//!   He      c = 2  → S flat:        slope of log₂ S_l per layer = 0
//!   Xavier  c = 1  → S halves:      slope = −1
//! Backward, ∂L/∂h_{l−1} = W_lᵀ (φ'(z_l) ⊙ ∂L/∂h_l): the same factor c/2, so ‖∂L/∂h_k‖² is
//! flat under He (and doubles per layer towards the output under Xavier).
//!
//! Finite width only adds noise and a small drift to log S (Jensen: E log ≠ log E). The
//! ratio S_l/S_{l−1} fluctuates by O(1/√W) per layer (the batch's samples share the weights,
//! so a larger batch does not help); the OLS slope over D = 24 layers of that random walk
//! has a measured std of 0.044 per seed (48 seeds), so 0.018 over 6 seeds, and the drift is
//! −0.011. A tolerance of 0.1 on the slope is therefore > 5 standard errors wide, yet a
//! tenth of the distance to the nearest wrong answer (slope −1 for the Xavier/He mix-up, +1
//! for a missing ReLU, ±1 for a factor 2 in the variance; a variance of 1.5/W instead of 2/W
//! gives −0.41 and fails too).
//!
//! Residual, two-layer pre-activation blocks: u = W₁ φ(h_{k−1}), v = W₂ φ(u),
//! h_k = h_{k−1} + α v, He init. Given h_{k−1}, u_i ~ N(0, 2·R_{k−1}) with
//! R = E[φ(h)²] (the ReLU'd stream), so E[φ(u)²] = R_{k−1} and E[v_j²] = 2·R_{k−1}; v is
//! uncorrelated with h_{k−1} (W₂ → −W₂ flips it), hence exactly
//!   S_k = S_{k−1} + 2α²·R_{k−1}.
//! Two regimes of R: if the stream is symmetric about 0, R = S/2 and S_k = (1 + α²)·S_{k−1};
//! in any case 0 ≤ R ≤ S. The stem's output h₀ = φ(W₀x) is non-negative, so R₀ = S₀ and the
//! first block multiplies S by 1 + 2α² (3 for α = 1); every later block adds a zero-mean
//! symmetric branch, the stream becomes symmetric and the factor tends to 1 + α² from above
//! (the leftover of h₀'s positive mean decays like 2^(−k/2) relative to the stream).
//!   α = 1      → factor 3, then → 2 per block: slope of log₂ S_k ≈ +1, fitted from k = 2 on
//!                (measured over 48 seeds at K = 12: 1.046 ± 0.065 per seed; the +0.05 is the
//!                decaying transient of h₀'s mean);
//!   α = 1/√K   → S_K/S₀ = Π (1 + 2α²R/S) lies between (1 + 1/K)^K ≥ 2 and (1 + 2/K)^K < e²
//!                ≈ 7.39 whatever K: bounded, instead of ~2^K. Note that the often quoted
//!                bound e (which assumes a symmetric stream, R = S/2) does not hold here: with a
//!                small α the stream keeps h₀'s positive mean, R/S stays ≈ 0.71 and S_K/S₀ is
//!                4.3, 4.7, 5.0, 5.2 at K = 4, 8, 16, 32 (48 seeds, ± 0.2 in log₂ per seed).
//! The branch itself is checked against the exact constant: E‖αv‖² = 2α²·R_{k−1} (per block,
//! in expectation over the block's weights), i.e. c = (branch ratio² · S_{k−1}) / (2α²R_{k−1})
//! = 1 (measured 1.000 ± 0.045 per seed averaged over 12 blocks); Xavier would give 1/4
//! (each of the two layers halves it), a branch without ReLU 2.
//!
//! Measured values are printed with `cargo test --test theory -- --nocapture`.

use degradation_bench::config::{Activation, Arch, Init, ModelConfig, Norm, ResidualScale};
use degradation_bench::model::{Mlp, Mode};
use degradation_bench::train::loss::BatchTargets;
use degradation_bench::train::probe::probe;
use ndarray::Array2;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

const WIDTH: usize = 128;
/// The per-seed noise comes from the finite width (the batch's samples share the weights):
/// measured over 48 seeds, batch 32 and batch 128 give the same spreads, so the batch is small.
const BATCH: usize = 32;
const CLASSES: usize = 10;
/// Seeds averaged per measurement: per-seed standard deviations (measured over 48 seeds) are
/// 0.044 for the plain slopes, 0.065 for the residual slope and 0.045 for c, so the means
/// below have standard errors of 0.018, 0.027 and 0.018: the tolerances are 5.5, 3.9 (after the
/// +0.046 transient bias) and 5.5 of them, and each is still far from the nearest wrong answer.
const SEEDS: u64 = 6;

const PLAIN_DEPTH: usize = 24;
const RESIDUAL_BLOCKS: usize = 12;
/// |slope − theory| for plain nets (theory 0 or −1).
const PLAIN_SLOPE_TOLERANCE: f64 = 0.1;
/// |slope − 1| for residual α = 1 (the +0.05 transient bias plus ~4 standard errors).
const RESIDUAL_SLOPE_TOLERANCE: f64 = 0.15;
/// |c − 1| for the branch constant.
const BRANCH_CONSTANT_TOLERANCE: f64 = 0.1;

fn model(arch: Arch, depth: usize, init: Init, residual_scale: ResidualScale) -> ModelConfig {
    ModelConfig {
        arch,
        depth,
        width: WIDTH,
        input_dim: WIDTH,
        output_dim: CLASSES,
        activation: Activation::Relu,
        norm: Norm::None,
        residual_scale,
        block_layers: 2,
        init,
    }
}

fn plain(depth: usize, init: Init) -> ModelConfig {
    model(Arch::Plain, depth, init, ResidualScale::One)
}

fn residual(blocks: usize, init: Init, scale: ResidualScale) -> ModelConfig {
    model(Arch::Residual, 2 * blocks, init, scale)
}

/// x ~ N(0, I) and random labels, from their own seed (independent of the weights').
fn batch(seed: u64) -> (Array2<f64>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
    let inputs = Array2::from_shape_simple_fn((BATCH, WIDTH), || rng.sample(StandardNormal));
    let labels = (0..BATCH).map(|_| rng.random_range(0..CLASSES as u32)).collect();
    (inputs, labels)
}

/// Seed-averaged statistics of one configuration at initialisation.
#[derive(Debug)]
struct Measured {
    /// Mean over seeds of log₂ S_k, k = 0..K.
    log2_state_sq: Vec<f64>,
    /// Mean over seeds of log₂ ‖∂L/∂h_k‖², k = 0..K (only if `with_gradients`).
    log2_grad_sq: Vec<f64>,
    /// Residual nets: mean over seeds and blocks of c = ‖αv‖²/(2α²·Σφ(h_{k−1})²), theory 1.
    branch_constant: f64,
}

fn measure(config: &ModelConfig, with_gradients: bool, seeds: u64) -> Measured {
    let blocks = config.blocks();
    let alpha_sq = match (config.arch, config.residual_scale) {
        (Arch::Plain, _) => 0.0,
        (Arch::Residual, ResidualScale::One) => 1.0,
        (Arch::Residual, ResidualScale::InvSqrtBlocks) => 1.0 / blocks as f64,
        (Arch::Residual, ResidualScale::Rezero) => panic!("α = 0 at initialisation: nothing to measure"),
    };
    let mut measured =
        Measured { log2_state_sq: vec![0.0; blocks + 1], log2_grad_sq: Vec::new(), branch_constant: 0.0 };
    if with_gradients {
        measured.log2_grad_sq = vec![0.0; blocks + 1];
    }
    let weight = 1.0 / seeds as f64;
    for seed in 0..seeds {
        let (inputs, labels) = batch(seed);
        let mut mlp = Mlp::<f64>::new(config, BATCH, seed).unwrap();
        if with_gradients {
            let stats = probe(&mut mlp, inputs.view(), BatchTargets::Classes(&labels)).expect("finite probe");
            assert_eq!(stats.state_grad_norms.len(), blocks + 1);
            for (m, norm) in measured.log2_grad_sq.iter_mut().zip(&stats.state_grad_norms) {
                *m += weight * (norm * norm).log2();
            }
        } else {
            mlp.forward(inputs.view(), Mode::Probe);
        }
        let states = mlp.state_rms(BATCH);
        assert_eq!(states.len(), blocks + 1);
        for (m, rms) in measured.log2_state_sq.iter_mut().zip(&states) {
            *m += weight * (rms * rms).log2();
        }
        if config.arch == Arch::Residual {
            // ‖αv_k‖² / ‖h_{k−1}‖² from the model, ‖h_{k−1}‖² and ‖φ(h_{k−1})‖² from its states.
            let ratios = mlp.branch_ratios(BATCH);
            let hidden = mlp.states(BATCH);
            for k in 0..blocks {
                let h = hidden[k];
                let sq: f64 = h.iter().map(|v| v * v).sum();
                let relu_sq: f64 = h.iter().map(|v| v.max(0.0).powi(2)).sum();
                let c = ratios[k] * ratios[k] * sq / (2.0 * alpha_sq * relu_sq);
                measured.branch_constant += weight * c / blocks as f64;
            }
        }
    }
    measured
}

/// Ordinary least-squares slope of ys against their index.
fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, &y) in ys.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    sxy / sxx
}

// The checks, as predicates so the negative controls can show each one rejecting a wrong network.

/// Plain He: log₂ S_k and log₂ ‖∂L/∂h_k‖² flat across depth.
fn flat(slope: f64) -> bool {
    slope.abs() < PLAIN_SLOPE_TOLERANCE
}

/// Plain Xavier: S halves per layer.
fn halves_per_layer(slope: f64) -> bool {
    (slope + 1.0).abs() < PLAIN_SLOPE_TOLERANCE
}

/// Residual α = 1: the stream's S doubles per block (slope fitted from k = 2).
fn doubles_per_block(log2_state_sq: &[f64]) -> bool {
    (slope(&log2_state_sq[2..]) - 1.0).abs() < RESIDUAL_SLOPE_TOLERANCE
}

/// E‖αv‖² = 2α²·‖φ(h_{k−1})‖² (He branch).
fn branch_matches_theory(c: f64) -> bool {
    (c - 1.0).abs() < BRANCH_CONSTANT_TOLERANCE
}

/// Residual α = 1/√K: (1 + 1/K)^K ≤ S_K/S₀ < e².
fn bounded_growth(log2_state_sq: &[f64]) -> bool {
    let k = (log2_state_sq.len() - 1) as f64;
    let growth = (log2_state_sq[log2_state_sq.len() - 1] - log2_state_sq[0]).exp2();
    (1.0 + 1.0 / k).powf(k) <= growth && growth < std::f64::consts::E.powi(2)
}

fn growth(log2_state_sq: &[f64]) -> f64 {
    (log2_state_sq[log2_state_sq.len() - 1] - log2_state_sq[0]).exp2()
}

#[test]
fn plain_he_relu_keeps_states_and_gradients_flat() {
    let m = measure(&plain(PLAIN_DEPTH, Init::He), true, SEEDS);
    let (state, grad) = (slope(&m.log2_state_sq), slope(&m.log2_grad_sq));
    eprintln!("plain He, depth {PLAIN_DEPTH}: slope log2 RMS^2 = {state:+.4}, slope log2 |dL/dh|^2 = {grad:+.4}");
    assert!(flat(state), "state slope {state}: {:?}", m.log2_state_sq);
    assert!(flat(grad), "gradient slope {grad}: {:?}", m.log2_grad_sq);
    // Negative control the other way round: He does not pass for Xavier.
    assert!(!halves_per_layer(state));
}

#[test]
fn plain_xavier_relu_halves_the_squared_state_per_layer() {
    let m = measure(&plain(PLAIN_DEPTH, Init::Xavier), true, SEEDS);
    let (state, grad) = (slope(&m.log2_state_sq), slope(&m.log2_grad_sq));
    eprintln!("plain Xavier, depth {PLAIN_DEPTH}: slope log2 RMS^2 = {state:+.4}, slope log2 |dL/dh|^2 = {grad:+.4}");
    assert!(halves_per_layer(state), "state slope {state}: {:?}", m.log2_state_sq);
    // Negative control: the He checks reject Xavier, for the forward and the backward pass
    // (the gradient halves per layer towards the input: slope +1 in k).
    assert!(!flat(state), "the flatness check must reject Xavier (state slope {state})");
    assert!(!flat(grad) && (grad - 1.0).abs() < PLAIN_SLOPE_TOLERANCE, "gradient slope {grad}");
}

#[test]
fn plain_he_without_relu_is_not_flat() {
    // Negative control: a network that lost its nonlinearity (identity instead of ReLU) keeps
    // the whole variance, so He doubles S per layer.
    let linear = ModelConfig { activation: Activation::Identity, ..plain(PLAIN_DEPTH, Init::He) };
    let s = slope(&measure(&linear, false, SEEDS).log2_state_sq);
    eprintln!("plain He without ReLU: slope log2 RMS^2 = {s:+.4} (theory +1)");
    assert!(!flat(s) && (s - 1.0).abs() < PLAIN_SLOPE_TOLERANCE, "slope {s}");
}

#[test]
fn residual_alpha_one_doubles_the_squared_stream_per_block() {
    let m = measure(&residual(RESIDUAL_BLOCKS, Init::He, ResidualScale::One), false, SEEDS);
    let increments: Vec<f64> = m.log2_state_sq.windows(2).map(|w| w[1] - w[0]).collect();
    let s = slope(&m.log2_state_sq[2..]);
    eprintln!(
        "residual alpha=1, {RESIDUAL_BLOCKS} blocks: slope log2 RMS^2 from k=2 = {s:+.4}, branch constant c = {:.4}, \
         log2 increments {increments:.3?}",
        m.branch_constant
    );
    assert!(doubles_per_block(&m.log2_state_sq), "slope {s}: {:?}", m.log2_state_sq);
    assert!(branch_matches_theory(m.branch_constant), "c = {}", m.branch_constant);
    // Negative control: such a stream is not bounded.
    let short = measure(&residual(4, Init::He, ResidualScale::One), false, SEEDS);
    eprintln!("residual alpha=1, 4 blocks: S_K/S_0 = {:.2}", growth(&short.log2_state_sq));
    assert!(!bounded_growth(&short.log2_state_sq));
}

#[test]
fn residual_inv_sqrt_blocks_keeps_the_stream_bounded() {
    // Fewer seeds for the deep nets: c averages over more blocks (per-seed std 0.024 at K = 32)
    // and log₂ S_K/S₀ (per-seed std 0.2) is 0.5 below log₂ e², so 3 seeds keep ≥ 4 standard errors.
    for (blocks, seeds) in [(4, SEEDS), (8, SEEDS), (16, 3), (32, 3)] {
        let m = measure(&residual(blocks, Init::He, ResidualScale::InvSqrtBlocks), false, seeds);
        let k = blocks as f64;
        eprintln!(
            "residual alpha=1/sqrt(K), K = {blocks}: S_K/S_0 = {:.3} (theory {:.3} .. {:.3}, bound e^2 = {:.3}), c = {:.4}",
            growth(&m.log2_state_sq),
            (1.0 + 1.0 / k).powf(k),
            (1.0 + 2.0 / k).powf(k),
            std::f64::consts::E.powi(2),
            m.branch_constant
        );
        assert!(bounded_growth(&m.log2_state_sq), "K = {blocks}: {:?}", m.log2_state_sq);
        assert!(branch_matches_theory(m.branch_constant), "K = {blocks}: c = {}", m.branch_constant);
        if blocks == 8 {
            // Negative control: a bounded stream does not pass for a doubling one.
            assert!(!doubles_per_block(&m.log2_state_sq));
        }
    }
}

#[test]
fn residual_xavier_fails_the_he_checks() {
    // Negative control: with Xavier each of the branch's two layers halves the variance, so
    // c = 1/4 and the stream grows by 1 + R/(2S) ≈ 1.25 per block (slope ≈ 0.3 plus the
    // transient): both residual checks reject it.
    let m = measure(&residual(RESIDUAL_BLOCKS, Init::Xavier, ResidualScale::One), false, SEEDS);
    let s = slope(&m.log2_state_sq[2..]);
    eprintln!("residual Xavier alpha=1: slope from k=2 = {s:+.4}, c = {:.4} (theory 0.25)", m.branch_constant);
    assert!(!doubles_per_block(&m.log2_state_sq), "slope {s}");
    assert!(!branch_matches_theory(m.branch_constant) && (m.branch_constant - 0.25).abs() < 0.05);
}
