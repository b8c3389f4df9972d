//! Names and shapes of the tensors inside the flat parameter buffer, so that another
//! implementation can load them into its own modules.
//!
//! The names are the parameter names (`state_dict` keys) of the PyTorch modules in
//! `peers/pytorch/`. MLP (`network.py`): `stem.weight`, `layers.3.linear.bias`,
//! `blocks.0.branch.1.norm.weight`, `blocks.5.alpha`, `head.weight`; weights are
//! (fan_out, fan_in) row-major, as in `torch.nn.Linear`, and the order and offsets are those
//! `Mlp::new` lays out. Conv net (`conv_network.py`): `conv.weight`, `bn.weight`,
//! `blocks.4.conv2.weight`, `blocks.4.bn2.bias`, `fc.weight`, in the order `ConvNet::new` lays
//! them out; a conv weight is exported (C_out, C_in, 3, 3) as `torch.nn.Conv2d` holds it,
//! which is *not* the buffer's (C_out, 3, 3, C_in) (see [`ExportLayout`]). BatchNorm2d's
//! running statistics, which are state but not parameters, are [`ExportLayout::buffers`].

use crate::config::{Arch, Family, ModelConfig, Norm, ResidualScale, RunConfig};
use crate::error::{Error, Result};
use crate::model::conv::ConvNetConfig;
use serde::{Deserialize, Serialize};

/// One tensor of the flat parameter buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedTensor {
    pub name: String,
    /// Index of the first element in the flat buffer.
    pub offset: usize,
    /// Row-major shape: [fan_out, fan_in] for linear weights, [C_out, C_in, 3, 3] for conv
    /// weights, [width] for biases and norm parameters, [] for a ReZero α.
    pub shape: Vec<usize>,
}

impl NamedTensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Lays tensors out one after another, as the model's constructors advance their offset.
#[derive(Default)]
struct Layout {
    tensors: Vec<NamedTensor>,
    offset: usize,
}

impl Layout {
    fn push(&mut self, name: String, shape: Vec<usize>) {
        let tensor = NamedTensor { name, offset: self.offset, shape };
        self.offset += tensor.len();
        self.tensors.push(tensor);
    }

    fn linear(&mut self, prefix: &str, fan_in: usize, fan_out: usize) {
        self.push(format!("{prefix}.weight"), vec![fan_out, fan_in]);
        self.push(format!("{prefix}.bias"), vec![fan_out]);
    }

    fn norm(&mut self, prefix: &str, norm: Norm, width: usize) {
        if norm != Norm::None {
            self.push(format!("{prefix}.weight"), vec![width]);
            self.push(format!("{prefix}.bias"), vec![width]);
        }
    }
}

/// Every tensor of the network `model`, in buffer order; their lengths add up to
/// `Mlp::num_params`.
pub fn named_tensors(model: &ModelConfig) -> Vec<NamedTensor> {
    let w = model.width;
    let mut layout = Layout::default();
    layout.linear("stem", model.input_dim, w);
    match model.arch {
        Arch::Plain => {
            // A plain layer lays out W, b, then its norm's γ, β.
            for l in 0..model.depth {
                layout.linear(&format!("layers.{l}.linear"), w, w);
                layout.norm(&format!("layers.{l}.norm"), model.norm, w);
            }
        }
        Arch::Residual => {
            // A branch layer lays out its norm's γ, β, then W, b; a learned α follows the branch.
            for k in 0..model.blocks() {
                for s in 0..model.block_layers {
                    layout.norm(&format!("blocks.{k}.branch.{s}.norm"), model.norm, w);
                    layout.linear(&format!("blocks.{k}.branch.{s}.linear"), w, w);
                }
                if model.residual_scale == ResidualScale::Rezero {
                    layout.push(format!("blocks.{k}.alpha"), Vec::new());
                }
            }
        }
    }
    layout.linear("head", w, model.output_dim);
    layout.tensors
}

/// The conv units of a conv net, input side first, as (conv name, BN name, C_in, C_out): the
/// stem, then conv₁/BN₁ and conv₂/BN₂ of each block (`ConvNet::new`'s order).
fn conv_units(net: &ConvNetConfig) -> Vec<(String, String, usize, usize)> {
    let base = net.base_channels;
    let mut units = vec![("conv".to_string(), "bn".to_string(), net.input.channels, base)];
    let mut channels = base;
    for stage in 0..3 {
        let out = base << stage;
        for block in stage * net.blocks_per_stage..(stage + 1) * net.blocks_per_stage {
            units.push((format!("blocks.{block}.conv1"), format!("blocks.{block}.bn1"), channels, out));
            units.push((format!("blocks.{block}.conv2"), format!("blocks.{block}.bn2"), out, out));
            channels = out;
        }
    }
    units
}

/// Every tensor of the conv net `net` in buffer order, conv weights in PyTorch's shape
/// (C_out, C_in, 3, 3); their lengths add up to `ConvNet::num_params`.
pub fn conv_tensors(net: &ConvNetConfig) -> Vec<NamedTensor> {
    let mut layout = Layout::default();
    let units = conv_units(net);
    for (conv, bn, c_in, c_out) in &units {
        // A unit lays out W, then its BN's γ, β.
        layout.push(format!("{conv}.weight"), vec![*c_out, *c_in, 3, 3]);
        layout.norm(bn, Norm::Batch, *c_out);
    }
    layout.linear("fc", 4 * net.base_channels, net.classes);
    layout.tensors
}

/// BatchNorm2d's running mean and (unbiased) variance per layer, in the order of
/// `ConvNet::batch_norms`: mean then variance of each, one flat array.
pub fn conv_buffers(net: &ConvNetConfig) -> Vec<NamedTensor> {
    let mut layout = Layout::default();
    for (_, bn, _, c_out) in conv_units(net) {
        layout.push(format!("{bn}.running_mean"), vec![c_out]);
        layout.push(format!("{bn}.running_var"), vec![c_out]);
    }
    layout.tensors
}

/// What a run exports of its network: the named parameter tensors, the named non-parameter
/// state, and how a flat buffer is rearranged into the exported layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLayout {
    pub tensors: Vec<NamedTensor>,
    /// BatchNorm2d running statistics (conv nets; empty for MLPs, whose running statistics
    /// are not exported).
    pub buffers: Vec<NamedTensor>,
    /// The conv weights, which the network stores (C_out, 3, 3, C_in) — channels innermost,
    /// im2col's column order (`conv2d`) — and the export writes (C_out, C_in, 3, 3): the
    /// tensors' indices. An MLP's buffer is written as it is.
    channels_last: Vec<usize>,
}

impl ExportLayout {
    /// The layout of `config`'s network; a conv net reads its input channels from `image`
    /// (C, H, W).
    pub fn for_run(config: &RunConfig, image: Option<[usize; 3]>) -> Result<Self> {
        match config.family {
            Family::Mlp => Ok(ExportLayout {
                tensors: named_tensors(&config.model),
                buffers: Vec::new(),
                channels_last: Vec::new(),
            }),
            Family::Conv => {
                let net = image.and_then(|image| ConvNetConfig::for_run(&config.model, image)).ok_or_else(|| {
                    Error::invalid("family", config.family, "a conv net needs a depth of 6n + 2 and images")
                })?;
                let tensors = conv_tensors(&net);
                let channels_last =
                    (tensors.iter().enumerate()).filter(|(_, t)| t.shape.len() == 4).map(|(index, _)| index).collect();
                Ok(ExportLayout { tensors, buffers: conv_buffers(&net), channels_last })
            }
        }
    }

    pub fn num_params(&self) -> usize {
        self.tensors.iter().map(NamedTensor::len).sum()
    }

    pub fn num_buffers(&self) -> usize {
        self.buffers.iter().map(NamedTensor::len).sum()
    }

    /// `flat` (the network's parameter or gradient buffer) in the exported layout: every conv
    /// weight W[o, ky, kx, c] moved to [o, c, ky, kx], everything else where it was.
    pub fn export_order<T: Copy>(&self, flat: &[T]) -> Vec<T> {
        assert_eq!(flat.len(), self.num_params(), "a flat buffer of another network");
        let mut out = flat.to_vec();
        for tensor in self.channels_last.iter().map(|&index| &self.tensors[index]) {
            let (c_out, c_in) = (tensor.shape[0], tensor.shape[1]);
            let stored = &flat[tensor.offset..tensor.offset + tensor.len()];
            let exported = &mut out[tensor.offset..tensor.offset + tensor.len()];
            for o in 0..c_out {
                for tap in 0..9 {
                    for c in 0..c_in {
                        exported[(o * c_in + c) * 9 + tap] = stored[(o * 9 + tap) * c_in + c];
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, Init};
    use crate::model::Mlp;

    fn model(arch: Arch, norm: Norm, residual_scale: ResidualScale, block_layers: usize) -> ModelConfig {
        ModelConfig {
            arch,
            depth: 4,
            width: 48,
            input_dim: 5,
            output_dim: 3,
            activation: Activation::Relu,
            norm,
            residual_scale,
            block_layers,
            init: Init::He,
        }
    }

    /// The layout must match what `Mlp` writes where: after initialisation norm gains are 1,
    /// biases, norm shifts and α are 0, and each weight has the He standard deviation.
    #[test]
    fn layout_matches_the_initialised_network() {
        let mut configs = Vec::new();
        for norm in [Norm::None, Norm::Layer, Norm::Batch] {
            configs.push(model(Arch::Plain, norm, ResidualScale::One, 1));
            for scale in [ResidualScale::InvSqrtBlocks, ResidualScale::Rezero] {
                for block_layers in [1, 2] {
                    configs.push(model(Arch::Residual, norm, scale, block_layers));
                }
            }
        }
        for config in configs {
            let mlp = Mlp::<f64>::new(&config, 2, 7).unwrap();
            let params: Vec<f64> = mlp.params.to_vec();
            let tensors = named_tensors(&config);
            let total: usize = tensors.iter().map(NamedTensor::len).sum();
            assert_eq!(total, params.len(), "{config:?}");
            for t in &tensors {
                let values = &params[t.offset..t.offset + t.len()];
                let is_norm = t.name.contains(".norm.");
                if is_norm && t.name.ends_with(".weight") {
                    assert!(values.iter().all(|&v| v == 1.0), "{}: {config:?}", t.name);
                } else if t.name.ends_with(".weight") {
                    let fan_in = t.shape[1];
                    let std = (values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64).sqrt();
                    let he = (2.0 / fan_in as f64).sqrt();
                    assert!((std / he - 1.0).abs() < 0.25, "{}: std {std} vs {he}: {config:?}", t.name);
                } else {
                    assert!(values.iter().all(|&v| v == 0.0), "{}: {config:?}", t.name);
                }
            }
        }
    }

    #[test]
    fn names_follow_the_module_structure() {
        let names: Vec<String> = named_tensors(&model(Arch::Residual, Norm::Layer, ResidualScale::Rezero, 2))
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            &names[..8],
            [
                "stem.weight",
                "stem.bias",
                "blocks.0.branch.0.norm.weight",
                "blocks.0.branch.0.norm.bias",
                "blocks.0.branch.0.linear.weight",
                "blocks.0.branch.0.linear.bias",
                "blocks.0.branch.1.norm.weight",
                "blocks.0.branch.1.norm.bias",
            ]
        );
        assert!(names.contains(&"blocks.1.alpha".to_string()));
        assert_eq!(names.last().map(String::as_str), Some("head.bias"));
    }

    fn conv_net(arch: Arch, blocks_per_stage: usize, channels: usize) -> ConvNetConfig {
        let input = crate::model::conv::MapShape::new(6, 5, channels);
        ConvNetConfig { arch, blocks_per_stage, base_channels: 4, input, classes: 3 }
    }

    /// As for the MLP: the offsets are where `ConvNet` keeps each tensor, conv weights have
    /// the He standard deviation, BN γ = 1, β = 0, the FC bias 0; the running statistics come
    /// out as the layout names them.
    #[test]
    fn conv_layout_matches_the_initialised_network() {
        use crate::export::trajectory::ExportedBuffers;
        use crate::model::conv::ConvNet;
        for (arch, blocks_per_stage, channels) in [(Arch::Plain, 1, 1), (Arch::Residual, 2, 3)] {
            let config = conv_net(arch, blocks_per_stage, channels);
            let net = ConvNet::<f64>::new(&config, 2, 7).unwrap();
            let params = net.params.as_slice().unwrap();
            let tensors = conv_tensors(&config);
            assert_eq!(tensors.iter().map(NamedTensor::len).sum::<usize>(), net.num_params());
            let conv_offsets: Vec<usize> = tensors.iter().filter(|t| t.shape.len() == 4).map(|t| t.offset).collect();
            assert_eq!(conv_offsets, net.convs().iter().map(|c| c.weight).collect::<Vec<_>>());
            for t in &tensors {
                let values = &params[t.offset..t.offset + t.len()];
                if t.shape.len() == 4 || t.name == "fc.weight" {
                    let fan_in: usize = t.shape[1..].iter().product();
                    let std = (values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64).sqrt();
                    let he = (2.0 / fan_in as f64).sqrt();
                    assert!((std / he - 1.0).abs() < 0.35, "{}: std {std} vs {he}", t.name);
                } else if t.name.ends_with(".weight") {
                    assert!(values.iter().all(|&v| v == 1.0), "{}", t.name);
                } else {
                    assert!(values.iter().all(|&v| v == 0.0), "{}", t.name);
                }
            }
            let buffers = conv_buffers(&config);
            let values = net.exported_buffers();
            assert_eq!(buffers.iter().map(NamedTensor::len).sum::<usize>(), values.len());
            for b in &buffers {
                let initial = if b.name.ends_with(".running_mean") { 0.0 } else { 1.0 };
                assert!(values[b.offset..b.offset + b.len()].iter().all(|&v| v == initial), "{}", b.name);
            }
        }
        let paper = ConvNetConfig::paper(Arch::Residual, 3, crate::model::conv::MapShape::new(8, 8, 1), 10);
        assert_eq!(conv_tensors(&paper).iter().map(NamedTensor::len).sum::<usize>(), 269_434);
    }

    #[test]
    fn conv_names_are_pytorchs() {
        let names: Vec<String> = conv_tensors(&conv_net(Arch::Residual, 1, 1)).into_iter().map(|t| t.name).collect();
        assert_eq!(
            &names[..7],
            [
                "conv.weight",
                "bn.weight",
                "bn.bias",
                "blocks.0.conv1.weight",
                "blocks.0.bn1.weight",
                "blocks.0.bn1.bias",
                "blocks.0.conv2.weight"
            ]
        );
        assert_eq!(&names[names.len() - 3..], ["blocks.2.bn2.bias", "fc.weight", "fc.bias"]);
        let buffers: Vec<String> = conv_buffers(&conv_net(Arch::Plain, 1, 1)).into_iter().map(|t| t.name).collect();
        assert_eq!(&buffers[..3], ["bn.running_mean", "bn.running_var", "blocks.0.bn1.running_mean"]);
    }

    /// A conv weight is written [o, c, ky, kx] from the network's W[o, (ky·3 + kx)·C_in + c];
    /// everything else, and every MLP buffer, is written as it is.
    #[test]
    fn export_order_moves_conv_weights_to_pytorchs_layout() {
        use crate::config::{conv, DatasetKind, DatasetOptions, Family, LrSchedule, MechanismProbes};
        use crate::config::{OptimizerConfig, OptimizerKind};
        use crate::model::conv::ConvNet;
        let config = conv_net(Arch::Residual, 1, 3);
        let run = RunConfig {
            experiment: "e".into(),
            dataset: DatasetKind::Digits,
            dataset_options: DatasetOptions::default(),
            family: Family::Conv,
            model: conv::model(Arch::Residual, 8, 4, 90, 3),
            optimizer: OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.1, momentum: 0.9, weight_decay: 1e-4 },
            lr_schedule: LrSchedule::default(),
            batch_size: 2,
            steps: 1,
            checkpoints: 1,
            seed: 3,
            probes: MechanismProbes::default(),
        };
        let layout = ExportLayout::for_run(&run, Some([3, 6, 5])).unwrap();
        assert_eq!(layout.tensors, conv_tensors(&config));
        let net = ConvNet::<f64>::new(&config, 2, 3).unwrap();
        let exported = layout.export_order(net.params.as_slice().unwrap());
        let mut moved = 0;
        for (tensor, conv) in layout.tensors.iter().filter(|t| t.shape.len() == 4).zip(net.convs()) {
            let weight = conv.weight(&net.params);
            let [c_out, c_in, _, _] = tensor.shape[..] else { unreachable!() };
            for (o, c, ky, kx) in (0..c_out * c_in * 9).map(|i| (i / (c_in * 9), i / 9 % c_in, i / 3 % 3, i % 3)) {
                let at = tensor.offset + ((o * c_in + c) * 3 + ky) * 3 + kx;
                assert_eq!(exported[at], weight[[o, (ky * 3 + kx) * c_in + c]], "{}", tensor.name);
                moved += 1;
            }
        }
        let not_conv = layout.tensors.iter().filter(|t| t.shape.len() != 4);
        for t in not_conv {
            assert_eq!(
                exported[t.offset..t.offset + t.len()],
                net.params.as_slice().unwrap()[t.offset..t.offset + t.len()]
            );
        }
        assert_eq!(moved, net.convs().iter().map(|c| c.weight_len()).sum::<usize>());

        let mlp_run =
            RunConfig { family: Family::Mlp, model: model(Arch::Plain, Norm::Batch, ResidualScale::One, 1), ..run };
        let mlp_layout = ExportLayout::for_run(&mlp_run, None).unwrap();
        assert!(mlp_layout.buffers.is_empty());
        let flat: Vec<f64> = (0..mlp_layout.num_params()).map(|i| i as f64).collect();
        assert_eq!(mlp_layout.export_order(&flat), flat);
    }
}
