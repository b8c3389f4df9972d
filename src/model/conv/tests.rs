//! Whole-network behaviour of the conv nets: the paper's parameter counts, plain and residual
//! sharing their parameters, f32 against f64, and training that lowers the loss.

use super::{ConvNet, ConvNetConfig, MapShape};
use crate::config::Arch;
use crate::model::Mode;
use ndarray::Array2;

const FASHION: MapShape = MapShape { height: 28, width: 28, channels: 1 };

#[test]
fn parameter_counts_match_pytorch_for_resnet_20_and_56() {
    // PyTorch's count for akamaster/pytorch_resnet_cifar10 with one input channel and 10
    // classes: conv weights, BN γ and β, FC weight and bias.
    for (blocks_per_stage, expected) in [(3, 269_434), (9, 852_730)] {
        for arch in [Arch::Plain, Arch::Residual] {
            let config = ConvNetConfig::paper(arch, blocks_per_stage, FASHION, 10);
            let net = ConvNet::<f32>::new(&config, 1, 0).unwrap();
            assert_eq!(net.num_params(), expected, "{arch}-{}", config.depth());
            assert_eq!(net.hidden_convs().len(), 6 * blocks_per_stage);
        }
    }
}

#[test]
fn plain_and_residual_nets_of_one_seed_hold_the_same_parameters() {
    let plain = ConvNet::<f64>::new(&ConvNetConfig::paper(Arch::Plain, 1, FASHION, 10), 2, 9).unwrap();
    let residual = ConvNet::<f64>::new(&ConvNetConfig::paper(Arch::Residual, 1, FASHION, 10), 2, 9).unwrap();
    assert_eq!(plain.params, residual.params);
}

#[test]
fn initialisation_is_kaiming_normal_with_unit_gains() {
    let net = ConvNet::<f64>::new(&ConvNetConfig::paper(Arch::Residual, 3, FASHION, 10), 1, 3).unwrap();
    for conv in net.hidden_convs() {
        let weight = conv.weight(&net.params);
        let var = weight.iter().map(|w| w * w).sum::<f64>() / weight.len() as f64;
        let expected = 2.0 / conv.fan_in() as f64;
        // Thousands of samples per layer: within 15% of 2/fan_in.
        assert!((var / expected - 1.0).abs() < 0.15, "variance {var} vs {expected}");
    }
    let ones = net.params.iter().filter(|&&p| p == 1.0).count();
    let bn_channels = 16 + 3 * 2 * (16 + 32 + 64);
    assert_eq!(ones, bn_channels, "every BN γ starts at 1");
}

#[test]
fn bad_configurations_are_rejected_with_the_field_named() {
    let good = ConvNetConfig::paper(Arch::Plain, 1, FASHION, 10);
    for (config, field) in [
        (ConvNetConfig { blocks_per_stage: 0, ..good.clone() }, "blocks_per_stage"),
        (ConvNetConfig { base_channels: 5, ..good.clone() }, "base_channels"),
        (ConvNetConfig { classes: 0, ..good.clone() }, "classes"),
    ] {
        let error = ConvNet::<f32>::new(&config, 4, 0).err().expect("rejected").to_string();
        assert!(error.contains(field), "{error}");
    }
    assert!(ConvNet::<f32>::new(&good, 0, 0).is_err());
}

fn small(arch: Arch) -> ConvNetConfig {
    ConvNetConfig { arch, blocks_per_stage: 1, base_channels: 4, input: MapShape::new(8, 8, 1), classes: 3 }
}

/// Deterministic images and labels, (n, 64) and n.
fn batch(n: usize) -> (Array2<f32>, Vec<usize>) {
    let images = Array2::from_shape_fn((n, 64), |(i, j)| (((i * 64 + j) * 7919 % 211) as f32 / 105.0) - 1.0);
    (images, (0..n).map(|i| i % 3).collect())
}

/// Mean softmax cross-entropy of f32 logits, in f64, and its gradient.
fn cross_entropy(logits: &Array2<f32>, labels: &[usize]) -> (f64, Array2<f32>) {
    let n = labels.len() as f64;
    let mut grad = Array2::zeros(logits.raw_dim());
    let mut total = 0.0;
    for (i, &label) in labels.iter().enumerate() {
        let row: Vec<f64> = logits.row(i).iter().map(|&v| v as f64).collect();
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let log_sum = row.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
        total += log_sum - row[label];
        for (j, v) in row.iter().enumerate() {
            grad[[i, j]] = (((v - log_sum).exp() - if j == label { 1.0 } else { 0.0 }) / n) as f32;
        }
    }
    (total / n, grad)
}

#[test]
fn a_few_sgd_steps_lower_the_loss() {
    for arch in [Arch::Plain, Arch::Residual] {
        let mut net = ConvNet::<f32>::new(&small(arch), 8, 1).unwrap();
        let (images, labels) = batch(8);
        let mut losses = Vec::new();
        for _ in 0..20 {
            let (loss, dlogits) = cross_entropy(&net.forward(images.view(), Mode::Train).to_owned(), &labels);
            losses.push(loss);
            net.backward(images.view(), dlogits.view(), None);
            let ConvNet { params, grads, .. } = &mut net;
            params.zip_mut_with(grads, |p, &g| *p -= 0.1 * g);
        }
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(losses.iter().all(|l| l.is_finite()));
        assert!(last < 0.5 * first, "{arch}: loss {first:.3} → {last:.3}");
        // Evaluation with the running statistics gives finite logits of the right shape.
        let logits = net.forward(images.view(), Mode::Eval);
        assert_eq!(logits.dim(), (8, 3));
        assert!(logits.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn f32_and_f64_networks_agree() {
    let config = small(Arch::Residual);
    let (images, _) = batch(4);
    let mut narrow = ConvNet::<f32>::new(&config, 4, 11).unwrap();
    let mut wide = ConvNet::<f64>::new(&config, 4, 11).unwrap();
    let a = narrow.forward(images.view(), Mode::Train).to_owned();
    let b = wide.forward(images.mapv(|v| v as f64).view(), Mode::Train).to_owned();
    for (x, y) in a.iter().zip(&b) {
        assert!((*x as f64 - y).abs() < 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn probes_report_one_value_per_state_and_per_hidden_conv() {
    let mut net = ConvNet::<f32>::new(&small(Arch::Residual), 4, 2).unwrap();
    let (images, labels) = batch(3);
    let (_, dlogits) = cross_entropy(&net.forward(images.view(), Mode::Probe).to_owned(), &labels);
    let mut grad_norms = Vec::new();
    net.backward(images.view(), dlogits.view(), Some(&mut grad_norms));
    let rms = net.state_rms(3);
    assert_eq!((rms.len(), grad_norms.len(), net.weight_grad_norms().len()), (4, 4, 6));
    // After a ReLU, with BN before it, each state's RMS is of order 1.
    assert!(rms.iter().all(|&r| r > 0.3 && r < 3.0), "{rms:?}");
    assert!(grad_norms.iter().chain(&net.weight_grad_norms()).all(|g| g.is_finite() && *g > 0.0));
}

#[test]
fn forward_flops_follow_the_built_network() {
    // ResNet-20 at 1×28×28: 3 × 128 × forward = 23.7 GFLOP per training step.
    let resnet20 = ConvNetConfig::paper(Arch::Residual, 3, FASHION, 10);
    let step = 3.0 * 128.0 * resnet20.forward_flops_per_sample();
    assert!((step / 1e9 - 23.67).abs() < 0.01, "{step}");
    // The same sum over the convs the network actually builds, plus its classifier.
    for config in [resnet20, small(Arch::Plain), ConvNetConfig::paper(Arch::Plain, 2, MapShape::new(8, 8, 1), 10)] {
        let net = ConvNet::<f32>::new(&config, 1, 0).unwrap();
        let macs: usize = net.convs().iter().map(|c| c.output.pixels() * c.fan_in() * c.output.channels).sum();
        let head = 4 * config.base_channels * config.classes;
        assert_eq!(config.forward_flops_per_sample(), 2.0 * (macs + head) as f64, "{config:?}");
    }
}

#[test]
fn a_conv_run_configuration_gives_the_papers_net() {
    let model = crate::config::conv::model(Arch::Plain, 20, 16, 784, 10);
    let config = ConvNetConfig::for_run(&model, [1, 28, 28]).unwrap();
    assert_eq!(config, ConvNetConfig::paper(Arch::Plain, 3, FASHION, 10));
    assert_eq!(config.depth(), 20);
    let odd = crate::config::ModelConfig { depth: 21, ..model };
    assert_eq!(ConvNetConfig::for_run(&odd, [1, 28, 28]), None);
}
