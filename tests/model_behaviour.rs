//! Model behaviour through the public API: BatchNorm's running statistics, and the f32 GEMM
//! against a naive f64 product on each of its routes.

use degradation_bench::config::{Activation, Arch, Init, ModelConfig, Norm, ResidualScale};
use degradation_bench::model::gemm::matmul;
use degradation_bench::model::{Mlp, Mode};
use ndarray::{Array2, ArrayView2};

const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.1;

/// Plain, depth 1, width 3, identity activation, BatchNorm: h₀ = W₀x + b₀,
/// h₁ = γ·(z − μ)/√(σ² + ε) + β with z = W₁h₀ + b₁, all computable by hand.
fn tiny_batch_norm_net() -> (Mlp<f64>, Vec<f64>, Vec<f64>) {
    let config = ModelConfig {
        arch: Arch::Plain,
        depth: 1,
        width: 3,
        input_dim: 2,
        output_dim: 2,
        activation: Activation::Identity,
        norm: Norm::Batch,
        residual_scale: ResidualScale::One,
        block_layers: 1,
        init: Init::He,
    };
    let mut mlp = Mlp::<f64>::new(&config, 4, 7).unwrap();
    let layer = mlp.hidden_linears()[0];
    // Non-trivial b₁, γ, β (the plain layer lays out W, b, then the norm's γ and β).
    let (bias, gamma, beta) = (vec![0.3, -0.2, 0.7], vec![1.5, 0.5, -2.0], vec![0.25, -1.0, 0.1]);
    for j in 0..3 {
        mlp.params[layer.bias + j] = bias[j];
        mlp.params[layer.bias + 3 + j] = gamma[j];
        mlp.params[layer.bias + 6 + j] = beta[j];
    }
    (mlp, gamma, beta)
}

/// z = W₁h₀ + b₁ from the network's own h₀ and its parameters, (n, 3).
fn pre_norm(mlp: &Mlp<f64>, h0: ArrayView2<'_, f64>) -> Array2<f64> {
    let layer = mlp.hidden_linears()[0];
    let w = layer.weight(&mlp.params);
    let b = layer.bias(&mlp.params);
    Array2::from_shape_fn((h0.nrows(), 3), |(i, j)| b[j] + (0..3).map(|p| w[[j, p]] * h0[[i, p]]).sum::<f64>())
}

fn batch(seed: f64) -> Array2<f64> {
    Array2::from_shape_fn((4, 2), |(i, j)| ((i * 2 + j) as f64 * 0.9 + seed).sin() * 1.3)
}

/// Running statistics after one Train forward on a batch whose pre-norm values are z.
fn update(mean: &mut [f64], var: &mut [f64], z: &Array2<f64>) {
    let n = z.nrows() as f64;
    for j in 0..3 {
        let mu = z.column(j).sum() / n;
        let unbiased = z.column(j).iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / (n - 1.0);
        mean[j] = (1.0 - MOMENTUM) * mean[j] + MOMENTUM * mu;
        var[j] = (1.0 - MOMENTUM) * var[j] + MOMENTUM * unbiased;
    }
}

fn assert_normalised(h1: ArrayView2<'_, f64>, z: &Array2<f64>, mean: &[f64], var: &[f64], g: &[f64], b: &[f64]) {
    for ((i, j), &got) in h1.indexed_iter() {
        let expected = g[j] * (z[[i, j]] - mean[j]) / (var[j] + EPS).sqrt() + b[j];
        assert!((got - expected).abs() < 1e-12, "h1[{i},{j}] = {got}, expected {expected}");
    }
}

#[test]
fn batch_norm_running_statistics_follow_momentum_with_the_unbiased_variance() {
    let (mut mlp, gamma, beta) = tiny_batch_norm_net();
    let (mut mean, mut var) = (vec![0.0; 3], vec![1.0; 3]);

    // A Train forward normalises with the batch's own (biased) statistics ...
    let x = batch(0.0);
    mlp.forward(x.view(), Mode::Train);
    let z = pre_norm(&mlp, mlp.states(4)[0]);
    let batch_mean: Vec<f64> = (0..3).map(|j| z.column(j).sum() / 4.0).collect();
    let batch_var: Vec<f64> =
        (0..3).map(|j| z.column(j).iter().map(|v| (v - batch_mean[j]).powi(2)).sum::<f64>() / 4.0).collect();
    assert_normalised(mlp.states(4)[1], &z, &batch_mean, &batch_var, &gamma, &beta);
    // ... and moves the running statistics by momentum 0.1 towards the unbiased batch variance.
    update(&mut mean, &mut var, &z);

    // Eval normalises any batch with the running statistics.
    let probe = batch(2.0);
    mlp.forward(probe.view(), Mode::Eval);
    let z_probe = pre_norm(&mlp, mlp.states(4)[0]);
    assert_normalised(mlp.states(4)[1], &z_probe, &mean, &var, &gamma, &beta);

    // Probe and Eval forwards leave them alone; more Train forwards keep following the rule.
    mlp.forward(batch(5.0).view(), Mode::Probe);
    for k in 1..4 {
        let x = batch(k as f64 * 0.7);
        mlp.forward(x.view(), Mode::Train);
        update(&mut mean, &mut var, &pre_norm(&mlp, mlp.states(4)[0]));
        mlp.forward(probe.view(), Mode::Eval);
        assert_normalised(mlp.states(4)[1], &z_probe, &mean, &var, &gamma, &beta);
    }
}

/// c = c₀ + scale·a·b in f64 from the same f32 values.
fn reference(c0: &Array2<f32>, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, scale: f32, acc: bool) -> Array2<f64> {
    Array2::from_shape_fn(c0.dim(), |(i, j)| {
        let dot: f64 = (0..a.ncols()).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum();
        scale as f64 * dot + if acc { c0[[i, j]] as f64 } else { 0.0 }
    })
}

/// Each f32 product and sum rounds once (relative 2⁻²⁴, an FMA only helps), so a length-k
/// dot product is off by at most k·2⁻²⁴·Σ|a||b| (to first order); scaling and accumulating
/// add two roundings. The bound is elementwise: (k + 2)·2⁻²⁴·(|scale|·Σ_p|a_ip||b_pj| + |c₀|).
fn assert_within_rounding(
    c: &Array2<f32>,
    c0: &Array2<f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    scale: f32,
    acc: bool,
    route: &str,
) {
    let expected = reference(c0, a, b, scale, acc);
    let k = a.ncols();
    let u = 2f64.powi(-24);
    for ((i, j), &got) in c.indexed_iter() {
        let magnitude: f64 = (0..k).map(|p| (a[[i, p]] as f64 * b[[p, j]] as f64).abs()).sum::<f64>()
            * (scale as f64).abs()
            + if acc { (c0[[i, j]] as f64).abs() } else { 0.0 };
        let bound = (k as f64 + 2.0) * u * magnitude;
        let error = (got as f64 - expected[[i, j]]).abs();
        assert!(
            error <= bound,
            "{route} acc={acc}: c[{i},{j}] = {got} vs {} (error {error:.3e} > {bound:.3e})",
            expected[[i, j]]
        );
    }
}

fn filled(rows: usize, cols: usize, salt: f64) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| (((i * cols + j) as f64 * 0.618 + salt).sin() * 1.7) as f32)
}

#[test]
fn f32_gemm_matches_an_f64_product_on_every_route() {
    let scale = -0.75f32;
    for acc in [false, true] {
        // Direct route, every operand row-major (a hidden layer's backward dx = dz·W).
        let (a, b) = (filled(9, 37, 0.1), filled(37, 13, 0.2));
        let c0 = filled(9, 13, 0.3);
        let mut c = c0.clone();
        matmul(c.view_mut(), a.view(), b.view(), scale, acc);
        assert_within_rounding(&c, &c0, a.view(), b.view(), scale, acc, "row-major");

        // Direct route with transposed operands and a column-major c (∂L/∂W = dzᵀ·x).
        let (at, bt) = (filled(37, 9, 0.4), filled(13, 37, 0.5));
        let c0t = filled(13, 9, 0.6);
        let mut ct = c0t.clone();
        matmul(ct.view_mut().reversed_axes(), at.t(), bt.t(), scale, acc);
        let (c, c0) = (ct.t().to_owned(), c0t.t().to_owned());
        assert_within_rounding(&c, &c0, at.t(), bt.t(), scale, acc, "strided");

        // A small weight read transposed: below the size threshold, so the direct route.
        let w = filled(64, 48, 0.7);
        let x = filled(16, 48, 0.8);
        let c0 = filled(16, 64, 0.9);
        let mut c = c0.clone();
        matmul(c.view_mut(), x.view(), w.t(), scale, acc);
        assert_within_rounding(&c, &c0, x.view(), w.t(), scale, acc, "small transposed weight");

        // Transposed route: batch 128 against a 512-wide weight read transposed
        // (n = 512 ≥ 4·128, k·n = 2¹⁸), as in Linear::forward at width 512; c row-major ...
        let w = filled(512, 512, 1.0);
        let x = filled(128, 512, 1.1);
        let c0 = filled(128, 512, 1.2);
        let mut c = c0.clone();
        matmul(c.view_mut(), x.view(), w.t(), scale, acc);
        assert_within_rounding(&c, &c0, x.view(), w.t(), scale, acc, "transposed route");
        // ... and c column-major (the transposed route's strided write-back).
        let c0t = filled(512, 128, 1.3);
        let mut ct = c0t.clone();
        matmul(ct.view_mut().reversed_axes(), x.view(), w.t(), scale, acc);
        let (c, c0) = (ct.t().to_owned(), c0t.t().to_owned());
        assert_within_rounding(&c, &c0, x.view(), w.t(), scale, acc, "transposed route, column-major c");

        // Inner dimension 0: c = c₀ (accumulate) or 0.
        let c0 = filled(3, 4, 1.4);
        let mut c = c0.clone();
        matmul(c.view_mut(), Array2::<f32>::zeros((3, 0)).view(), Array2::<f32>::zeros((0, 4)).view(), scale, acc);
        assert_eq!(c, if acc { c0 } else { Array2::zeros((3, 4)) });
    }
}

#[test]
fn f32_gemm_is_deterministic_at_width_512() {
    let w = filled(512, 512, 2.0);
    let x = filled(128, 512, 2.1);
    let dz = filled(128, 512, 2.2);
    let run = || {
        let mut forward = Array2::<f32>::zeros((128, 512));
        matmul(forward.view_mut(), x.view(), w.t(), 1.0, false);
        let mut dx = Array2::<f32>::zeros((128, 512));
        matmul(dx.view_mut(), dz.view(), w.view(), 1.0, false);
        let mut dw = Array2::<f32>::ones((512, 512));
        matmul(dw.view_mut(), dz.t(), x.view(), 0.5, true);
        (forward, dx, dw)
    };
    let (first, second) = (run(), run());
    let bits = |m: &Array2<f32>| m.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    assert!(bits(&first.0) == bits(&second.0), "forward (transposed route) differs between calls");
    assert!(bits(&first.1) == bits(&second.1), "dx differs between calls");
    assert!(bits(&first.2) == bits(&second.2), "dW differs between calls");
}
