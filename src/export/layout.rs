//! Names and shapes of the tensors inside the flat parameter buffer, so that another
//! implementation can load them into its own modules.
//!
//! The names are the parameter names (`state_dict` keys) of the PyTorch modules in
//! `peers/pytorch/`: `stem.weight`, `layers.3.linear.bias`, `blocks.0.branch.1.norm.weight`,
//! `blocks.5.alpha`, `head.weight`. Weights are (fan_out, fan_in) row-major, as in
//! `torch.nn.Linear`. The order and offsets are those `Mlp::new` lays out.

use crate::config::{Arch, ModelConfig, Norm, ResidualScale};
use serde::{Deserialize, Serialize};

/// One tensor of the flat parameter buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedTensor {
    pub name: String,
    /// Index of the first element in the flat buffer.
    pub offset: usize,
    /// Row-major shape: [fan_out, fan_in] for weights, [width] for biases and norm
    /// parameters, [] for a ReZero α.
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
    let mut layout = Layout { tensors: Vec::new(), offset: 0 };
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
}
