//! Typed configuration: one training run ([`RunConfig`]) and an experiment grid
//! ([`Experiment`], read from TOML). Validation turns every bad value into an
//! [`Error`] that names the field, so nothing downstream has to check again.
//!
//! The names (`enums`), the experiment file (`experiment`), locating errors in that file
//! (`spans`), what a conv run may say (`conv`) and the learning-rate schedule (`schedule`)
//! live in submodules; everything public is re-exported here.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub mod conv;
mod enums;
mod experiment;
mod schedule;
mod spans;

pub use enums::{Activation, Arch, DatasetKind, Family, Init, Norm, OptimizerKind, ResidualScale};
pub use experiment::{Exclusion, Experiment, OptimizerSpec, DEFAULT_INSTRUMENT_SAMPLES};
pub use schedule::{LrSchedule, DEFAULT_DECAY_FACTOR};

/// The network's shape and variant. Depth counts hidden w×w weight layers only. A conv run
/// (`RunConfig::family`) reads some fields differently: see `config::conv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub arch: Arch,
    pub depth: usize,
    pub width: usize,
    pub input_dim: usize,
    pub output_dim: usize,
    pub activation: Activation,
    pub norm: Norm,
    /// Ignored for plain networks.
    pub residual_scale: ResidualScale,
    /// Weight layers per residual block (1 or 2). Ignored for plain networks.
    pub block_layers: usize,
    pub init: Init,
}

impl ModelConfig {
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(Error::invalid("depth", self.depth, "must be at least 1"));
        }
        if self.width == 0 {
            return Err(Error::invalid("width", self.width, "must be at least 1"));
        }
        if self.input_dim == 0 {
            return Err(Error::invalid("input_dim", self.input_dim, "must be at least 1"));
        }
        if self.output_dim == 0 {
            return Err(Error::invalid("output_dim", self.output_dim, "must be at least 1"));
        }
        if self.arch == Arch::Residual {
            if !(self.block_layers == 1 || self.block_layers == 2) {
                return Err(Error::invalid("block_layers", self.block_layers, "must be 1 or 2"));
            }
            if self.depth % self.block_layers != 0 {
                return Err(Error::invalid(
                    "depth",
                    self.depth,
                    format!(
                        "a residual net with {}-layer blocks needs a depth divisible by {}",
                        self.block_layers, self.block_layers
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Number of hidden states h_k after the stem: K = D for plain nets, D / block_layers for residual ones.
    pub fn blocks(&self) -> usize {
        blocks(self.arch, self.depth, self.block_layers)
    }
}

/// Hidden states h_k after the stem of a net of `depth` weight layers: K = D for plain nets,
/// D / block_layers for residual ones.
pub fn blocks(arch: Arch, depth: usize, block_layers: usize) -> usize {
    match arch {
        Arch::Plain => depth,
        Arch::Residual => depth / block_layers.max(1),
    }
}

/// Optimizer hyper-parameters. Adam's β₁, β₂, ε are the usual defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub lr: f64,
    /// SGD only.
    #[serde(default)]
    pub momentum: f64,
    #[serde(default)]
    pub weight_decay: f64,
}

impl OptimizerConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid("optimizer.lr", self.lr, "must be finite and > 0"));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(Error::invalid("optimizer.momentum", self.momentum, "must be in [0, 1)"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::invalid("optimizer.weight_decay", self.weight_decay, "must be finite and >= 0"));
        }
        Ok(())
    }
}

/// Options of the data sets: most are the synthetic sets' (ignored by `digits` and
/// `fashion_mnist`); `dir` and `train_samples` are `fashion_mnist`'s only. All have defaults.
///
/// Serialised inside every run's configuration, whose JSON the run id hashes: fields added
/// later are left out of that JSON at their defaults, so earlier run ids stay as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetOptions {
    /// spirals: points per arm (train); teacher: training samples.
    pub samples: usize,
    /// Held-out samples for synthetic sets. (`fashion_mnist` always uses its whole test set:
    /// this option's default, 250, would otherwise cut it without being asked to.)
    pub test_samples: usize,
    /// spirals: turns of each arm.
    pub turns: f64,
    /// spirals: Gaussian noise std on each coordinate; teacher: on each target.
    pub noise: f64,
    /// teacher: input dimension.
    pub input_dim: usize,
    /// teacher: output dimension.
    pub output_dim: usize,
    /// teacher: hidden layers of the teacher MLP.
    pub teacher_depth: usize,
    /// teacher: width of the teacher MLP.
    pub teacher_width: usize,
    /// Seed of the data set itself (independent of the run seed, so all runs see the same data).
    pub data_seed: u64,
    /// fashion_mnist: the directory holding its four IDX files (default
    /// `/usr/share/datasets/fashion-mnist`, where the Debian package puts them; a relative path
    /// is taken from the working directory). It says where the data is, not what it is, so it
    /// is never serialised: a run's id does not depend on where its data was read from.
    #[serde(skip_serializing)]
    pub dir: Option<PathBuf>,
    /// fashion_mnist: train on the first N training images (0, the default: all of them).
    #[serde(skip_serializing_if = "is_zero")]
    pub train_samples: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            samples: 1000,
            test_samples: 250,
            turns: 2.0,
            noise: 0.05,
            input_dim: 16,
            output_dim: 4,
            teacher_depth: 4,
            teacher_width: 32,
            data_seed: 0,
            dir: None,
            train_samples: 0,
        }
    }
}

impl DatasetOptions {
    pub fn validate(&self, kind: DatasetKind) -> Result<()> {
        // The options only a data set read from files has: elsewhere they would be ignored
        // silently, and a subset the user asked for would not be taken.
        if kind != DatasetKind::FashionMnist {
            if let Some(dir) = &self.dir {
                return Err(Error::invalid(
                    "dataset_options.dir",
                    dir.display(),
                    format!("only fashion_mnist reads files; {kind} would ignore it"),
                ));
            }
            if self.train_samples != 0 {
                return Err(Error::invalid(
                    "dataset_options.train_samples",
                    self.train_samples,
                    format!("only fashion_mnist takes a subset of its training set; {kind} would ignore it"),
                ));
            }
        }
        // Both are fixed sets; `train_samples` (0 = all) is checked against the file it counts.
        if matches!(kind, DatasetKind::Digits | DatasetKind::FashionMnist) {
            return Ok(());
        }
        let positive = [
            ("dataset_options.samples", self.samples),
            ("dataset_options.test_samples", self.test_samples),
            ("dataset_options.input_dim", self.input_dim),
            ("dataset_options.output_dim", self.output_dim),
            ("dataset_options.teacher_width", self.teacher_width),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(Error::invalid(field, value, "must be at least 1"));
            }
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::invalid("dataset_options.noise", self.noise, "must be finite and >= 0"));
        }
        if !(self.turns.is_finite() && self.turns > 0.0) {
            return Err(Error::invalid("dataset_options.turns", self.turns, "must be finite and > 0"));
        }
        Ok(())
    }
}

/// Optional mechanism probes (see `mechanisms`); both off by default because they cost
/// extra passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MechanismProbes {
    /// Autocorrelation of input gradients along a line of inputs, at init and at the end.
    pub shattered_gradients: bool,
    /// Training loss with each hidden layer / block removed, after training.
    pub lesion: bool,
    /// Train a twin whose initial weights are one ulp away, and record how far it drifts (see
    /// `sensitivity`). Left out of the serialised config when off, so run ids stay as they were.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub perturbation: bool,
    /// Evaluate fit and per-layer learning at every checkpoint (`record::InstrumentPoint`) on
    /// the first this many training and test samples; 0 = off, and then left out of the
    /// serialised config, as `perturbation`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub instrument_samples: usize,
}

/// Everything one training run needs; a point of an [`Experiment`]'s grid.
///
/// Its JSON is what a run id hashes. The fields added with conv nets and schedules are
/// written only when they say something (`family` when `conv`, `lr_schedule` when not
/// constant), so an MLP run with a constant rate serialises, and is identified, exactly as
/// before they existed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub experiment: String,
    pub dataset: DatasetKind,
    pub dataset_options: DatasetOptions,
    /// Which network `model` describes; absent means `mlp`.
    #[serde(default, skip_serializing_if = "Family::is_mlp")]
    pub family: Family,
    pub model: ModelConfig,
    pub optimizer: OptimizerConfig,
    /// Absent means constant (the optimizer's own rate throughout).
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    pub batch_size: usize,
    pub steps: usize,
    pub checkpoints: usize,
    pub seed: u64,
    #[serde(default)]
    pub probes: MechanismProbes,
}

impl RunConfig {
    /// Checks everything that does not need the data (see `train` for batch size vs data size).
    pub fn validate(&self) -> Result<()> {
        match self.family {
            Family::Mlp => self.model.validate()?,
            Family::Conv => {
                conv::validate_model(&self.model)?;
                if !self.dataset.has_images() {
                    return Err(Error::invalid(
                        "dataset",
                        self.dataset,
                        "a conv net reads images, and this data set has none (digits and fashion_mnist do)",
                    ));
                }
                if self.probes.lesion {
                    return Err(Error::invalid(
                        "lesion",
                        true,
                        "the lesion study removes hidden layers of an MLP; conv nets have none to remove",
                    ));
                }
            }
        }
        self.optimizer.validate()?;
        self.lr_schedule.validate("lr_schedule")?;
        self.dataset_options.validate(self.dataset)?;
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", self.batch_size, "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_count_hidden_states() {
        let mut model = ModelConfig {
            arch: Arch::Plain,
            depth: 8,
            width: 4,
            input_dim: 2,
            output_dim: 2,
            activation: Activation::Relu,
            norm: Norm::None,
            residual_scale: ResidualScale::One,
            block_layers: 2,
            init: Init::He,
        };
        assert_eq!(model.blocks(), 8);
        model.arch = Arch::Residual;
        assert_eq!(model.blocks(), 4);
        model.block_layers = 1;
        assert_eq!(model.blocks(), 8);
        // Plain nets ignore block_layers entirely.
        model.arch = Arch::Plain;
        model.block_layers = 7;
        model.depth = 3;
        assert!(model.validate().is_ok());
    }

    /// The JSON every run id so far hashed for the default options.
    const DEFAULT_OPTIONS_JSON: &str = r#"{"samples":1000,"test_samples":250,"turns":2.0,"noise":0.05,"input_dim":16,"output_dim":4,"teacher_depth":4,"teacher_width":32,"data_seed":0}"#;

    #[test]
    fn dataset_options_serialise_as_before_at_their_defaults() {
        assert_eq!(serde_json::to_string(&DatasetOptions::default()).unwrap(), DEFAULT_OPTIONS_JSON);
        let read: DatasetOptions = serde_json::from_str(DEFAULT_OPTIONS_JSON).unwrap();
        assert_eq!(read, DatasetOptions::default());
        assert_eq!(serde_json::to_string(&read).unwrap(), DEFAULT_OPTIONS_JSON);
    }

    #[test]
    fn dir_is_never_serialised_and_train_samples_only_when_set() {
        let options: DatasetOptions = toml::from_str("dir = \"data/fashion\"\ntrain_samples = 5000\n").unwrap();
        assert_eq!(options.dir.as_deref(), Some(std::path::Path::new("data/fashion")));
        assert_eq!(options.train_samples, 5000);
        let json = serde_json::to_string(&options).unwrap();
        assert_eq!(json, DEFAULT_OPTIONS_JSON.replace('}', r#","train_samples":5000}"#));
        let without_dir = DatasetOptions { dir: None, ..options };
        assert_eq!(serde_json::from_str::<DatasetOptions>(&json).unwrap(), without_dir);
    }

    #[test]
    fn file_options_belong_to_fashion_mnist() {
        let dir = DatasetOptions { dir: Some("somewhere".into()), ..DatasetOptions::default() };
        let subset = DatasetOptions { train_samples: 100, ..DatasetOptions::default() };
        for kind in [DatasetKind::Digits, DatasetKind::Spirals, DatasetKind::Teacher] {
            let err = dir.validate(kind).unwrap_err().to_string();
            assert!(err.contains("`dataset_options.dir`") && err.contains("somewhere"), "{err}");
            let err = subset.validate(kind).unwrap_err().to_string();
            assert!(err.contains("`dataset_options.train_samples`") && err.contains(": 100"), "{err}");
        }
        assert!(dir.validate(DatasetKind::FashionMnist).is_ok());
        assert!(subset.validate(DatasetKind::FashionMnist).is_ok());
        // The synthetic sets' sizes are not fashion_mnist's: they are not checked for it.
        let synthetic = DatasetOptions { samples: 0, test_samples: 0, ..DatasetOptions::default() };
        assert!(synthetic.validate(DatasetKind::FashionMnist).is_ok());
    }
}
