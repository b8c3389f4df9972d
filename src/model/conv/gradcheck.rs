//! Finite-difference checks of every hand-written backward of the conv layers and of whole
//! small plain and residual conv nets, in f64: central differences with step 1e-6, the error
//! taken relative to the gradient's largest component, as in `train::gradcheck`.

use super::batch_norm2d::BatchNorm2d;
use super::conv2d::{Conv2d, InputGrad};
use super::pool::{global_avg_pool_backward, global_avg_pool_forward};
use super::shortcut::Shortcut;
use super::{ConvNet, ConvNetConfig, MapShape};
use crate::config::Arch;
use crate::model::Mode;
use ndarray::{Array1, Array2};
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEP: f64 = 1e-6;
const TOLERANCE: f64 = 1e-6;

fn uniform(len: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// ∂loss/∂values by central differences, one coordinate at a time.
fn central_differences(values: &mut [f64], mut loss: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    (0..values.len())
        .map(|i| {
            let original = values[i];
            values[i] = original + STEP;
            let plus = loss(values);
            values[i] = original - STEP;
            let minus = loss(values);
            values[i] = original;
            (plus - minus) / (2.0 * STEP)
        })
        .collect()
}

/// The worst disagreement relative to the gradient's overall scale (as `train::gradcheck`).
fn worst_error(analytic: &[f64], numeric: &[f64]) -> f64 {
    assert_eq!(analytic.len(), numeric.len());
    assert!(numeric.iter().any(|v| v.abs() > 1e-4), "the loss does not depend on these values");
    let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
    analytic.iter().zip(numeric).map(|(a, n)| (a - n).abs() / scale).fold(0.0, f64::max)
}

fn assert_close(what: &str, analytic: &[f64], numeric: &[f64]) {
    let error = worst_error(analytic, numeric);
    eprintln!("{what}: worst relative error {error:.2e}");
    assert!(error < TOLERANCE, "{what}: off by {error:.2e}");
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// L = Σ r ⊙ conv(x), checked in W and x, for `batch` images in blocks of `images_per_gemm`.
fn check_conv(input: MapShape, out_channels: usize, stride: usize, batch: usize, images_per_gemm: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut offset = 0;
    let mut conv = Conv2d::allocate(input, out_channels, stride, &mut offset);
    conv.images_per_gemm = images_per_gemm;
    let params = uniform(offset, &mut rng);
    let x = uniform(batch * input.len(), &mut rng);
    let r = uniform(batch * conv.output.len(), &mut rng);
    let mut cols = vec![0.0; conv.cols_len()];
    let mut loss = |params: &[f64], x: &[f64]| {
        let mut y = vec![0.0; r.len()];
        conv.forward(&Array1::from(params.to_vec()), x, &mut y, &mut cols);
        dot(&r, &y)
    };
    let numeric_w = central_differences(&mut params.clone(), |p| loss(p, &x));
    let numeric_x = central_differences(&mut x.clone(), |x| loss(&params, x));

    let (params_array, mut grads) = (Array1::from(params.clone()), Array1::zeros(offset));
    let mut dx = vec![f64::NAN; x.len()];
    conv.backward(&params_array, &mut grads, &x, &r, InputGrad::Overwrite(&mut dx), &mut cols);
    let what = format!("conv {input:?} → {out_channels} stride {stride}, {images_per_gemm} images per GEMM");
    assert_close(&format!("{what}, ∂L/∂W"), grads.as_slice().unwrap(), &numeric_w);
    assert_close(&format!("{what}, ∂L/∂x"), &dx, &numeric_x);

    // Accumulating adds to what is there; the input-only pass gives the same dx.
    let mut accumulated = vec![1.0; x.len()];
    conv.backward(&params_array, &mut grads, &x, &r, InputGrad::Accumulate(&mut accumulated), &mut cols);
    let mut alone = vec![f64::NAN; x.len()];
    conv.backward_input(&params_array, &r, &mut alone, &mut cols);
    for ((a, b), c) in accumulated.iter().zip(&dx).zip(&alone) {
        assert!((a - 1.0 - b).abs() < 1e-12 && (c - b).abs() < 1e-12);
    }
}

#[test]
fn conv_stride_1_matches_finite_differences() {
    check_conv(MapShape::new(5, 4, 3), 4, 1, 3, 2);
    check_conv(MapShape::new(3, 3, 1), 2, 1, 2, 1);
}

#[test]
fn conv_stride_2_matches_finite_differences() {
    check_conv(MapShape::new(6, 6, 2), 4, 2, 3, 2);
    check_conv(MapShape::new(7, 5, 2), 3, 2, 2, 8);
}

/// L = Σ (r ⊙ y + y²/2) with y = BN(x): quadratic in y, so ∂L/∂y = r + y.
fn check_batch_norm(mode: Mode) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (channels, rows) = (3, 2 * 3 * 2);
    let mut offset = 0;
    let mut bn = BatchNorm2d::<f64>::allocate(channels, &mut offset);
    let params = uniform(offset, &mut rng);
    // Channel offsets and scales away from (0, 1), so the statistics matter.
    let x: Vec<f64> = uniform(rows * channels, &mut rng)
        .iter()
        .enumerate()
        .map(|(i, v)| v * (1.0 + (i % channels) as f64) + (i % channels) as f64 - 1.0)
        .collect();
    let r = uniform(x.len(), &mut rng);
    // A training forward moves the running statistics off (0, 1) for the evaluation check.
    bn.forward(&Array1::from(params.clone()), &mut x.clone(), &mut vec![0.0; x.len()], Mode::Train);
    let mut loss = |params: &[f64], x: &[f64]| {
        let mut y = vec![0.0; x.len()];
        bn.forward(&Array1::from(params.to_vec()), &mut x.to_vec(), &mut y, mode);
        dot(&r, &y) + 0.5 * dot(&y, &y)
    };
    let numeric_params = central_differences(&mut params.clone(), |p| loss(p, &x));
    let numeric_x = central_differences(&mut x.clone(), |x| loss(&params, x));

    let params_array = Array1::from(params.clone());
    let (mut xhat, mut y) = (x.clone(), vec![0.0; x.len()]);
    bn.forward(&params_array, &mut xhat, &mut y, mode);
    let mut grad: Vec<f64> = r.iter().zip(&y).map(|(r, y)| r + y).collect();
    let mut grads = Array1::zeros(offset);
    bn.backward(&params_array, &mut grads, &xhat, &mut grad);
    assert_close(&format!("batch norm {mode:?}, ∂L/∂(γ, β)"), grads.as_slice().unwrap(), &numeric_params);
    assert_close(&format!("batch norm {mode:?}, ∂L/∂x"), &grad, &numeric_x);
}

#[test]
fn batch_norm_matches_finite_differences_in_training() {
    check_batch_norm(Mode::Train);
}

#[test]
fn batch_norm_matches_finite_differences_with_running_statistics() {
    check_batch_norm(Mode::Eval);
}

#[test]
fn global_average_pool_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (shape, batch) = (MapShape::new(3, 2, 4), 2);
    let mut x = uniform(batch * shape.len(), &mut rng);
    let r = uniform(batch * shape.channels, &mut rng);
    let numeric = central_differences(&mut x, |x| {
        let mut y = vec![0.0; r.len()];
        global_avg_pool_forward(shape, x, &mut y);
        dot(&r, &y)
    });
    let mut dx = vec![f64::NAN; x.len()];
    global_avg_pool_backward(shape, &r, &mut dx);
    assert_close("global average pool, ∂L/∂x", &dx, &numeric);
}

#[test]
fn option_a_shortcut_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let cases = [
        (MapShape::new(3, 4, 2), MapShape::new(3, 4, 2)),
        (MapShape::new(6, 4, 2), MapShape::new(3, 2, 4)),
        (MapShape::new(5, 7, 2), MapShape::new(3, 4, 6)),
    ];
    for (input, output) in cases {
        let shortcut = Shortcut::new(input, output);
        let batch = 2;
        let mut x = uniform(batch * input.len(), &mut rng);
        let r = uniform(batch * output.len(), &mut rng);
        let numeric = central_differences(&mut x, |x| {
            let mut y = vec![0.0; r.len()];
            shortcut.forward_add(x, &mut y);
            dot(&r, &y)
        });
        let mut dx = vec![f64::NAN; x.len()];
        shortcut.backward(&r, &mut dx);
        assert_close(&format!("shortcut {input:?} → {output:?}, ∂L/∂x"), &dx, &numeric);
    }
}

/// A small net with a stage transition at every stage boundary (8×8 → 4×4 → 2×2, channels
/// 4 → 8 → 16, so both zero-padded shortcuts) and two input channels.
fn small_config(arch: Arch) -> ConvNetConfig {
    ConvNetConfig { arch, blocks_per_stage: 1, base_channels: 4, input: MapShape::new(8, 8, 2), classes: 3 }
}

const BATCH: usize = 3;

/// Mean softmax cross-entropy and its gradient, (n, classes).
fn cross_entropy(logits: &Array2<f64>, labels: &[usize]) -> (f64, Array2<f64>) {
    let mut grad = Array2::zeros(logits.raw_dim());
    let n = labels.len() as f64;
    let mut total = 0.0;
    for (i, &label) in labels.iter().enumerate() {
        let row = logits.row(i);
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let log_sum = row.iter().map(|&v| (v - max).exp()).sum::<f64>().ln() + max;
        total += log_sum - row[label];
        for (j, &v) in row.iter().enumerate() {
            grad[[i, j]] = ((v - log_sum).exp() - if j == label { 1.0 } else { 0.0 }) / n;
        }
    }
    (total / n, grad)
}

/// Every parameter's and every input's gradient of a whole net against central differences.
fn check_network(arch: Arch, mode: Mode) {
    let config = small_config(arch);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = ConvNet::<f64>::new(&config, BATCH, 7).unwrap();
    // Move every parameter off its initial value (BN γ off 1, β and the FC bias off 0).
    for p in net.params.iter_mut() {
        *p += rng.random_range(-0.3..0.3);
    }
    let mut inputs = Array2::from_shape_fn((BATCH, config.input.len()), |_| rng.random_range(-1.5..1.5));
    let labels: Vec<usize> = (0..BATCH).map(|i| i % config.classes).collect();
    // Running statistics moved off (0, 1) for the evaluation-mode check.
    net.forward(inputs.view(), Mode::Train);

    let logits = net.forward(inputs.view(), mode).to_owned();
    let (_, dlogits) = cross_entropy(&logits, &labels);
    let mut state_grad_norms = Vec::new();
    net.backward(inputs.view(), dlogits.view(), Some(&mut state_grad_norms));
    assert_eq!(state_grad_norms.len(), 3 * config.blocks_per_stage + 1);
    assert!(state_grad_norms.iter().all(|g| g.is_finite() && *g > 0.0));
    let analytic = net.grads.to_vec();
    let mut input_grad = Array2::zeros(inputs.raw_dim());
    net.input_gradient(input_grad.view_mut());

    let mut params = net.params.to_vec();
    let numeric = central_differences(&mut params, |p| {
        net.params.assign(&Array1::from(p.to_vec()));
        cross_entropy(&net.forward(inputs.view(), mode).to_owned(), &labels).0
    });
    net.params.assign(&Array1::from(params));
    assert_close(&format!("{arch} net, {mode:?}, every ∂L/∂θ"), &analytic, &numeric);

    let shape = inputs.raw_dim();
    let flat_inputs = inputs.as_slice_mut().unwrap();
    let numeric_x = central_differences(flat_inputs, |x| {
        let x = Array2::from_shape_vec(shape, x.to_vec()).unwrap();
        cross_entropy(&net.forward(x.view(), mode).to_owned(), &labels).0
    });
    assert_close(&format!("{arch} net, {mode:?}, ∂L/∂x"), input_grad.as_slice().unwrap(), &numeric_x);

    // The check itself: a 1% error in the largest component of ∂L/∂θ must be caught.
    let mut wrong = analytic;
    let largest = (0..wrong.len()).max_by(|&a, &b| wrong[a].abs().total_cmp(&wrong[b].abs())).unwrap();
    wrong[largest] *= 1.01;
    assert!(worst_error(&wrong, &numeric) > TOLERANCE, "the check misses a 1% error");
}

#[test]
fn plain_network_matches_finite_differences() {
    check_network(Arch::Plain, Mode::Probe);
}

#[test]
fn residual_network_matches_finite_differences() {
    check_network(Arch::Residual, Mode::Probe);
}

#[test]
fn networks_match_finite_differences_with_running_statistics() {
    check_network(Arch::Plain, Mode::Eval);
    check_network(Arch::Residual, Mode::Eval);
}
