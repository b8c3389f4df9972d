//! What the configuration of a conv run (`family = "conv"`) may say.
//!
//! The conv nets are the ResNet paper's CIFAR family (`model::conv`), which fixes what an MLP
//! leaves open: ReLU, batch norm after every conv, Kaiming-normal (He) init, shortcuts that add
//! with α = 1, two convs per block. A conv run's [`ModelConfig`] states exactly these values, so
//! its record reads truthfully; any other value is an error naming the field, never silently
//! replaced. The fields mean:
//! - `depth`: weight layers counted as the paper counts them, stem and classifier included:
//!   6n + 2 with n ≥ 1 blocks per stage (8, 14, 20, 32, 44, 56, 110, …). (An MLP's depth counts
//!   hidden layers only.)
//! - `width`: the base channels, the filters of the stem and stage 1 (16 in the paper; stages 2
//!   and 3 have twice and four times as many); even, because the option-A shortcut pads half of
//!   the new channels on each side.
//! - `input_dim`: C·H·W of the data set's images; the image shape itself comes from the data.

use super::{Activation, Arch, Init, ModelConfig, Norm, ResidualScale};
use crate::error::{Error, Result};

/// The paper's base channels.
pub const DEFAULT_BASE_CHANNELS: usize = 16;
/// The values a conv net's model configuration must hold.
pub const ACTIVATION: Activation = Activation::Relu;
pub const NORM: Norm = Norm::Batch;
pub const INIT: Init = Init::He;
pub const RESIDUAL_SCALE: ResidualScale = ResidualScale::One;
/// Two 3×3 convs per block, in plain and residual nets alike.
pub const BLOCK_LAYERS: usize = 2;

/// n, the blocks per stage, of a conv net of `depth` = 6n + 2 weight layers; `None` if the depth
/// is not of that form with n ≥ 1.
pub fn blocks_per_stage(depth: usize) -> Option<usize> {
    (depth >= 8 && (depth - 2) % 6 == 0).then(|| (depth - 2) / 6)
}

/// The model configuration of a conv net: `arch`, `depth` = 6n + 2, `base_channels`, on images
/// of `input_dim` = C·H·W values into `output_dim` classes.
pub fn model(arch: Arch, depth: usize, base_channels: usize, input_dim: usize, output_dim: usize) -> ModelConfig {
    ModelConfig {
        arch,
        depth,
        width: base_channels,
        input_dim,
        output_dim,
        activation: ACTIVATION,
        norm: NORM,
        residual_scale: RESIDUAL_SCALE,
        block_layers: BLOCK_LAYERS,
        init: INIT,
    }
}

/// A depth that is not 6n + 2 (n ≥ 1) is an error naming `field`.
pub fn validate_depth(depth: usize, field: &str) -> Result<()> {
    match blocks_per_stage(depth) {
        Some(_) => Ok(()),
        None => Err(Error::invalid(
            field,
            depth,
            "a conv net's depth is 6n + 2 with n ≥ 1 blocks per stage (8, 14, 20, 32, 44, 56, 110, …)",
        )),
    }
}

/// Base channels must be even (the option-A shortcut pads half the new channels on each side).
pub fn validate_base_channels(base_channels: usize, field: &str) -> Result<()> {
    if base_channels == 0 || base_channels % 2 != 0 {
        return Err(Error::invalid(
            field,
            base_channels,
            "a conv net's base channels must be even and at least 2 (the shortcut pads half the new channels on each side)",
        ));
    }
    Ok(())
}

/// Checks a conv run's model configuration (see the module docs for what each field means).
pub fn validate_model(model: &ModelConfig) -> Result<()> {
    validate_depth(model.depth, "depth")?;
    validate_base_channels(model.width, "width")?;
    if model.input_dim == 0 {
        return Err(Error::invalid("input_dim", model.input_dim, "must be at least 1"));
    }
    if model.output_dim == 0 {
        return Err(Error::invalid("output_dim", model.output_dim, "must be at least 1"));
    }
    let fixed = "is fixed for conv nets (the paper's";
    if model.activation != ACTIVATION {
        return Err(Error::invalid("activation", model.activation, format!("{fixed} {ACTIVATION})")));
    }
    if model.norm != NORM {
        return Err(Error::invalid("norm", model.norm, format!("{fixed} {NORM} norm after every conv)")));
    }
    if model.init != INIT {
        return Err(Error::invalid("init", model.init, format!("{fixed} Kaiming-normal `{INIT}`)")));
    }
    if model.residual_scale != RESIDUAL_SCALE {
        return Err(Error::invalid(
            "residual_scale",
            model.residual_scale,
            format!("{fixed} shortcut adds with α = 1)"),
        ));
    }
    if model.block_layers != BLOCK_LAYERS {
        return Err(Error::invalid("block_layers", model.block_layers, format!("{fixed} blocks are two convs)")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_are_6n_plus_2() {
        let accepted: Vec<usize> = (0..120).filter(|&d| blocks_per_stage(d).is_some()).collect();
        assert_eq!(accepted[..8], [8, 14, 20, 26, 32, 38, 44, 50]);
        assert_eq!(blocks_per_stage(20), Some(3));
        assert_eq!(blocks_per_stage(56), Some(9));
        assert_eq!(blocks_per_stage(110), Some(18));
        for depth in [0, 1, 2, 7, 21, 64] {
            let message = validate_depth(depth, "depths").unwrap_err().to_string();
            assert!(message.contains("`depths`") && message.contains(&format!(": {depth} ")), "{message}");
        }
    }

    #[test]
    fn a_conv_model_states_the_paper_and_nothing_else_passes() {
        let good = model(Arch::Residual, 20, 16, 64, 10);
        assert!(validate_model(&good).is_ok());
        let cases = [
            (ModelConfig { depth: 21, ..good.clone() }, "`depth`", "21"),
            (ModelConfig { width: 15, ..good.clone() }, "`width`", "15"),
            (ModelConfig { input_dim: 0, ..good.clone() }, "`input_dim`", "0"),
            (ModelConfig { activation: Activation::Tanh, ..good.clone() }, "`activation`", "tanh"),
            (ModelConfig { norm: Norm::Layer, ..good.clone() }, "`norm`", "layer"),
            (ModelConfig { init: Init::Xavier, ..good.clone() }, "`init`", "xavier"),
            (ModelConfig { residual_scale: ResidualScale::Rezero, ..good.clone() }, "`residual_scale`", "rezero"),
            (ModelConfig { block_layers: 1, ..good.clone() }, "`block_layers`", "1"),
        ];
        for (config, field, value) in cases {
            let message = validate_model(&config).unwrap_err().to_string();
            assert!(message.contains(field) && message.contains(value), "{message}");
        }
    }
}
