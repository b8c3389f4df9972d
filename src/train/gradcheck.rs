//! Finite-difference checks of every hand-written backward of the MLP, in f64, through the
//! loss the trainer uses, over every combination of arch × norm × activation × residual
//! scale × block layers × loss (here, beside the loss, so the model imports nothing above it).

use crate::config::{Activation, Arch, Init, ModelConfig, Norm, ResidualScale};
use crate::model::{Mlp, Mode};
use crate::train::loss::{loss_and_grad, BatchTargets};
use ndarray::Array2;
use ndarray_rand::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BATCH: usize = 6;
const INPUT: usize = 3;
const OUTPUT: usize = 3;

#[derive(Clone, Copy, Debug)]
enum LossKind {
    CrossEntropy,
    Mse,
}

struct Problem {
    inputs: Array2<f64>,
    labels: Vec<u32>,
    values: Array2<f32>,
    loss: LossKind,
}

impl Problem {
    fn new(loss: LossKind, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Problem {
            inputs: Array2::from_shape_simple_fn((BATCH, INPUT), || rng.random_range(-1.5..1.5)),
            labels: (0..BATCH).map(|_| rng.random_range(0..OUTPUT as u32)).collect(),
            values: Array2::from_shape_simple_fn((BATCH, OUTPUT), || rng.random_range(-1.0..1.0)),
            loss,
        }
    }

    fn targets(&self) -> BatchTargets<'_> {
        match self.loss {
            LossKind::CrossEntropy => BatchTargets::Classes(&self.labels),
            LossKind::Mse => BatchTargets::Values(self.values.view()),
        }
    }

    fn loss(&self, mlp: &mut Mlp<f64>, mode: Mode) -> f64 {
        let logits = mlp.forward(self.inputs.view(), mode);
        loss_and_grad(logits, self.targets(), None).loss
    }

    fn analytic_gradient(&self, mlp: &mut Mlp<f64>, mode: Mode) -> Vec<f64> {
        let logits = mlp.forward(self.inputs.view(), mode);
        let mut dlogits = Array2::zeros(logits.raw_dim());
        loss_and_grad(logits, self.targets(), Some(dlogits.view_mut()));
        mlp.backward(self.inputs.view(), dlogits.view(), None);
        mlp.grads.to_vec()
    }
}

/// Central differences of the loss w.r.t. every parameter.
fn numeric_gradient(mlp: &mut Mlp<f64>, problem: &Problem, mode: Mode) -> Vec<f64> {
    let h = 1e-6;
    (0..mlp.params.len())
        .map(|i| {
            let original = mlp.params[i];
            mlp.params[i] = original + h;
            let plus = problem.loss(mlp, mode);
            mlp.params[i] = original - h;
            let minus = problem.loss(mlp, mode);
            mlp.params[i] = original;
            (plus - minus) / (2.0 * h)
        })
        .collect()
}

/// Index and size of the worst disagreement, relative to the gradient's overall scale.
fn worst_error(analytic: &[f64], numeric: &[f64]) -> (usize, f64) {
    let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
    analytic.iter().zip(numeric).map(|(a, n)| (a - n).abs() / scale).enumerate().fold((0, 0.0), |worst, (i, e)| {
        if e > worst.1 {
            (i, e)
        } else {
            worst
        }
    })
}

const TOLERANCE: f64 = 1e-6;

fn config(arch: Arch, norm: Norm, activation: Activation, scale: ResidualScale, block_layers: usize) -> ModelConfig {
    ModelConfig {
        arch,
        depth: 4,
        width: 5,
        input_dim: INPUT,
        output_dim: OUTPUT,
        activation,
        norm,
        residual_scale: scale,
        block_layers,
        init: Init::He,
    }
}

/// Builds the network and moves every parameter off its initial value (biases, norm gains,
/// ReZero α), so no gradient path is trivially zero.
fn perturbed_network(config: &ModelConfig, seed: u64) -> Mlp<f64> {
    let mut mlp = Mlp::<f64>::new(config, BATCH, seed).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000);
    for p in mlp.params.iter_mut() {
        *p += rng.random_range(-0.3..0.3);
    }
    mlp
}

fn check(config: &ModelConfig, loss: LossKind, mode: Mode) -> (usize, f64) {
    let problem = Problem::new(loss, 7);
    let mut mlp = perturbed_network(config, 3);
    let analytic = problem.analytic_gradient(&mut mlp, mode);
    let numeric = numeric_gradient(&mut mlp, &problem, mode);
    assert!(numeric.iter().any(|v| v.abs() > 1e-4), "{config:?}: the loss does not depend on the parameters");
    worst_error(&analytic, &numeric)
}

fn all_configs() -> Vec<ModelConfig> {
    let mut configs = Vec::new();
    for &norm in Norm::ALL {
        for &activation in Activation::ALL {
            configs.push(config(Arch::Plain, norm, activation, ResidualScale::One, 2));
            for &scale in ResidualScale::ALL {
                for block_layers in [1, 2] {
                    configs.push(config(Arch::Residual, norm, activation, scale, block_layers));
                }
            }
        }
    }
    configs
}

#[test]
fn backward_matches_finite_differences_for_every_combination() {
    let configs = all_configs();
    assert_eq!(configs.len(), 3 * 4 * (1 + 3 * 2));
    let mut failures = Vec::new();
    for config in &configs {
        for loss in [LossKind::CrossEntropy, LossKind::Mse] {
            let (index, error) = check(config, loss, Mode::Probe);
            if error > TOLERANCE {
                failures.push(format!("{config:?} {loss:?}: parameter {index} off by {error:.2e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn backward_matches_finite_differences_with_running_batch_statistics() {
    for arch in [Arch::Plain, Arch::Residual] {
        let config = config(arch, Norm::Batch, Activation::Tanh, ResidualScale::Rezero, 2);
        let (index, error) = check(&config, LossKind::CrossEntropy, Mode::Eval);
        assert!(error < TOLERANCE, "{arch}: parameter {index} off by {error:.2e}");
    }
}

#[test]
fn rezero_at_initialisation_has_gradient_only_through_alpha_and_the_ends() {
    // tanh, not ReLU: with α = 0 the stream holds ReLU's exact zeros, where φ has a kink and
    // the loss is not differentiable in α.
    let config = config(Arch::Residual, Norm::None, Activation::Tanh, ResidualScale::Rezero, 2);
    let mut mlp = Mlp::<f64>::new(&config, BATCH, 5).unwrap();
    let problem = Problem::new(LossKind::CrossEntropy, 1);
    let analytic = problem.analytic_gradient(&mut mlp, Mode::Probe);
    let numeric = numeric_gradient(&mut mlp, &problem, Mode::Probe);
    assert!(worst_error(&analytic, &numeric).1 < TOLERANCE);
    // α = 0 blocks every branch weight's gradient, but not α's own.
    assert!(mlp.weight_grad_norms().iter().all(|&g| g == 0.0));
    let alpha_grad: f64 = analytic.iter().zip(&mlp.params).filter(|(_, &p)| p == 0.0).map(|(g, _)| g.abs()).sum();
    assert!(alpha_grad > 0.0);
}

#[test]
fn the_check_detects_a_wrong_gradient() {
    let config = config(Arch::Residual, Norm::Layer, Activation::Gelu, ResidualScale::One, 2);
    let problem = Problem::new(LossKind::Mse, 2);
    let mut mlp = perturbed_network(&config, 4);
    let mut analytic = problem.analytic_gradient(&mut mlp, Mode::Probe);
    let numeric = numeric_gradient(&mut mlp, &problem, Mode::Probe);
    assert!(worst_error(&analytic, &numeric).1 < TOLERANCE);
    // Dropping the identity path's "+1" in one block would change gradients by O(1); even a
    // 1% error in a single component must be caught.
    let largest = (0..analytic.len()).max_by(|&a, &b| analytic[a].abs().total_cmp(&analytic[b].abs())).unwrap();
    analytic[largest] *= 1.01;
    assert!(worst_error(&analytic, &numeric).1 > TOLERANCE);
}

#[test]
fn f32_and_f64_networks_agree() {
    let config = config(Arch::Residual, Norm::Batch, Activation::Relu, ResidualScale::InvSqrtBlocks, 2);
    let problem = Problem::new(LossKind::CrossEntropy, 9);
    let mut wide = Mlp::<f64>::new(&config, BATCH, 11).unwrap();
    let mut narrow = Mlp::<f32>::new(&config, BATCH, 11).unwrap();
    let inputs32 = problem.inputs.mapv(|v| v as f32);
    let a = wide.forward(problem.inputs.view(), Mode::Train).to_owned();
    let b = narrow.forward(inputs32.view(), Mode::Train).to_owned();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - *y as f64).abs() < 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
    }
}

#[test]
fn input_gradient_matches_finite_differences() {
    for arch in [Arch::Plain, Arch::Residual] {
        let config = config(arch, Norm::Layer, Activation::Gelu, ResidualScale::One, 2);
        let mut problem = Problem::new(LossKind::CrossEntropy, 13);
        let mut mlp = perturbed_network(&config, 6);
        problem.analytic_gradient(&mut mlp, Mode::Probe);
        let mut analytic = Array2::zeros((BATCH, INPUT));
        mlp.input_gradient(analytic.view_mut());
        let analytic = analytic.into_raw_vec_and_offset().0;
        let h = 1e-6;
        let numeric: Vec<f64> = (0..BATCH * INPUT)
            .map(|i| {
                let at = [i / INPUT, i % INPUT];
                let original = problem.inputs[at];
                problem.inputs[at] = original + h;
                let plus = problem.loss(&mut mlp, Mode::Probe);
                problem.inputs[at] = original - h;
                let minus = problem.loss(&mut mlp, Mode::Probe);
                problem.inputs[at] = original;
                (plus - minus) / (2.0 * h)
            })
            .collect();
        let (index, error) = worst_error(&analytic, &numeric);
        assert!(error < TOLERANCE, "{arch}: input {index} off by {error:.2e}");
    }
}

#[test]
fn a_lesioned_layer_or_block_is_the_identity() {
    for arch in [Arch::Plain, Arch::Residual] {
        let config = config(arch, Norm::None, Activation::Tanh, ResidualScale::One, 2);
        let problem = Problem::new(LossKind::Mse, 3);
        let mut mlp = perturbed_network(&config, 8);
        mlp.forward(problem.inputs.view(), Mode::Eval);
        let intact: Vec<Array2<f64>> = mlp.states(BATCH).iter().map(|s| s.to_owned()).collect();
        mlp.set_lesion(Some(1));
        mlp.forward(problem.inputs.view(), Mode::Eval);
        let lesioned: Vec<Array2<f64>> = mlp.states(BATCH).iter().map(|s| s.to_owned()).collect();
        assert_eq!(lesioned[0], intact[0]);
        assert_eq!(lesioned[1], intact[1]);
        assert_eq!(lesioned[2], lesioned[1], "{arch}: the lesioned position passes its input through");
        assert_ne!(lesioned[2], intact[2]);
        mlp.set_lesion(None);
        mlp.forward(problem.inputs.view(), Mode::Eval);
        assert_eq!(mlp.states(BATCH)[2], intact[2]);
    }
}

#[test]
fn rezero_alpha_gradients_match_finite_differences_one_by_one() {
    // With Norm::None a block's parameters are its branch layers then α, so block k's α sits
    // right after the bias of its last weight layer.
    for block_layers in [1, 2] {
        let config = config(Arch::Residual, Norm::None, Activation::Tanh, ResidualScale::Rezero, block_layers);
        let mut mlp = Mlp::<f64>::new(&config, BATCH, 5).unwrap();
        let linears = mlp.hidden_linears();
        let offsets: Vec<usize> =
            linears.chunks(block_layers).map(|block| block.last().unwrap().bias + config.width).collect();
        assert_eq!(offsets.len(), config.blocks());
        assert!(offsets.iter().all(|&i| mlp.params[i] == 0.0), "ReZero α starts at 0");
        let problem = Problem::new(LossKind::CrossEntropy, 1);
        let analytic = problem.analytic_gradient(&mut mlp, Mode::Probe);
        let h = 1e-6;
        for (k, &i) in offsets.iter().enumerate() {
            mlp.params[i] = h;
            let plus = problem.loss(&mut mlp, Mode::Probe);
            mlp.params[i] = -h;
            let minus = problem.loss(&mut mlp, Mode::Probe);
            mlp.params[i] = 0.0;
            let numeric = (plus - minus) / (2.0 * h);
            assert!(numeric.abs() > 1e-3, "block {k}: ∂L/∂α = {numeric} is too small to test");
            assert!(
                (analytic[i] - numeric).abs() < 1e-7 * numeric.abs().max(1.0),
                "block {k} (layers {block_layers}): ∂L/∂α analytic {} vs numeric {numeric}",
                analytic[i]
            );
        }
    }
}

#[test]
fn backward_overwrites_gradients_instead_of_accumulating() {
    for arch in [Arch::Plain, Arch::Residual] {
        for norm in [Norm::None, Norm::Batch] {
            let config = config(arch, norm, Activation::Tanh, ResidualScale::Rezero, 2);
            let problem = Problem::new(LossKind::CrossEntropy, 4);
            let mut mlp = perturbed_network(&config, 2);
            let first = problem.analytic_gradient(&mut mlp, Mode::Probe);
            assert!(first.iter().all(|g| g.is_finite()) && first.iter().any(|&g| g != 0.0));
            let second = problem.analytic_gradient(&mut mlp, Mode::Probe);
            assert!(first == second, "{arch} {norm}: the second backward changed the gradients");
        }
    }
}
