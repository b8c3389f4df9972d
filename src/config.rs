//! Typed configuration: one training run ([`RunConfig`]) and an experiment grid
//! ([`Experiment`], read from TOML). Validation turns every bad value into an
//! [`Error`] that names the field, so nothing downstream has to check again.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use spans::{Document, TomlPath};
use std::fmt;
use std::path::Path;

mod spans;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::invalid(stringify!($name), s,
                        format!("expected one of: {}", [$($text),+].join(", ")))),
                }
            }
        }
    };
}

named_enum!(
    /// Plain stack of layers, or pre-activation residual blocks.
    Arch { Plain => "plain", Residual => "residual" }
);
named_enum!(
    /// The nonlinearity φ. `gelu` is the exact form x·Φ(x) (erf), as in PyTorch's default.
    Activation { Relu => "relu", Tanh => "tanh", Gelu => "gelu", Identity => "identity" }
);
named_enum!(
    /// Normalisation N applied before each activation.
    Norm { None => "none", Layer => "layer", Batch => "batch" }
);
named_enum!(
    /// α in h_k = h_{k−1} + α_k·v: 1, 1/√K, or a learnable scalar initialised to 0.
    ResidualScale { One => "one", InvSqrtBlocks => "inv_sqrt_blocks", Rezero => "rezero" }
);
named_enum!(
    /// Weight initialisation: He N(0, 2/fan_in) or Xavier N(0, 2/(fan_in+fan_out)).
    Init { He => "he", Xavier => "xavier" }
);
named_enum!(
    OptimizerKind { Sgd => "sgd", Adam => "adam" }
);
named_enum!(
    /// The built-in data sets; none is downloaded at run time.
    DatasetKind { Digits => "digits", Spirals => "spirals", Teacher => "teacher" }
);

/// The network's shape and variant. Depth counts hidden w×w weight layers only.
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
        match self.arch {
            Arch::Plain => self.depth,
            Arch::Residual => self.depth / self.block_layers,
        }
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

/// Options of the synthetic data sets (ignored by `digits`). All have defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetOptions {
    /// spirals: points per arm (train); teacher: training samples.
    pub samples: usize,
    /// Held-out samples for synthetic sets.
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
        }
    }
}

impl DatasetOptions {
    pub fn validate(&self, kind: DatasetKind) -> Result<()> {
        if kind == DatasetKind::Digits {
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
}

/// Everything one training run needs; a point of an [`Experiment`]'s grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub experiment: String,
    pub dataset: DatasetKind,
    pub dataset_options: DatasetOptions,
    pub model: ModelConfig,
    pub optimizer: OptimizerConfig,
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
        self.model.validate()?;
        self.optimizer.validate()?;
        self.dataset_options.validate(self.dataset)?;
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", self.batch_size, "must be at least 1"));
        }
        Ok(())
    }
}

/// An experiment file: every list is a grid axis and the sweep runs the Cartesian product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    pub dataset: DatasetKind,
    #[serde(default)]
    pub dataset_options: DatasetOptions,
    pub archs: Vec<Arch>,
    pub depths: Vec<usize>,
    pub widths: Vec<usize>,
    pub activations: Vec<Activation>,
    pub norms: Vec<Norm>,
    /// Applies to residual runs only; plain runs are not duplicated along this axis.
    pub residual_scales: Vec<ResidualScale>,
    #[serde(default = "default_block_layers")]
    pub block_layers: usize,
    pub inits: Vec<Init>,
    pub seeds: Vec<u64>,
    pub steps: usize,
    pub batch_size: usize,
    #[serde(default = "default_checkpoints")]
    pub checkpoints: usize,
    /// One optimizer (a `[optimizer]` table) ...
    #[serde(default)]
    pub optimizer: Option<OptimizerConfig>,
    /// ... or a grid of them (`[[optimizers]]` tables); exactly one of the two.
    #[serde(default)]
    pub optimizers: Option<Vec<OptimizerConfig>>,
    /// Record the shattered-gradients probe (see `mechanisms`).
    #[serde(default)]
    pub shattered_gradients: bool,
    /// Record the lesion study (see `mechanisms`).
    #[serde(default)]
    pub lesion: bool,
    /// Record how a one-ulp perturbation of the initial weights grows (see `sensitivity`).
    #[serde(default)]
    pub perturbation: bool,
}

fn default_block_layers() -> usize {
    2
}
fn default_checkpoints() -> usize {
    30
}

impl Experiment {
    /// Reads and validates an experiment file; errors name the file, the line and the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, path)
    }

    /// Parses `text` (read from `path`) and validates it; every error names the file and, where
    /// the value is present in the file, its line, column and key.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self> {
        let document = Document::parse(text, path)?;
        let experiment = Experiment::deserialize(toml::de::Deserializer::from(document.table()))
            .map_err(|e| document.schema_error(&e))?;
        experiment.validate_at().map_err(|(error, at)| document.field_error(error, &at))?;
        Ok(experiment)
    }

    /// The optimizers axis, whichever way the file wrote it.
    pub fn optimizer_axis(&self) -> &[OptimizerConfig] {
        match (&self.optimizer, &self.optimizers) {
            (Some(one), None) => std::slice::from_ref(one),
            (None, Some(many)) => many,
            _ => &[],
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.validate_at().map_err(|(error, _)| error)
    }

    /// [`validate`](Self::validate), with the path of the offending value in the file, so that
    /// loading can name its line (the bad element of a list, the bad `[[optimizers]]` entry).
    fn validate_at(&self) -> std::result::Result<(), (Error, TomlPath)> {
        // Errors from a sub-config name their field (`optimizer.lr`); only the file path differs.
        let at_field = |error: Error| {
            let path = match &error {
                Error::InvalidField { field, .. } => TomlPath::field(field),
                _ => TomlPath::default(),
            };
            (error, path)
        };
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(at_field(Error::invalid(
                "name",
                format!("{:?}", self.name),
                "must be non-empty and use only letters, digits, '-' and '_' (it names a directory)",
            )));
        }
        let axes = [
            ("archs", self.archs.len()),
            ("depths", self.depths.len()),
            ("widths", self.widths.len()),
            ("activations", self.activations.len()),
            ("norms", self.norms.len()),
            ("inits", self.inits.len()),
            ("seeds", self.seeds.len()),
        ];
        for (field, len) in axes {
            if len == 0 {
                return Err(at_field(Error::invalid(field, "[]", "a grid axis must not be empty")));
            }
        }
        if self.archs.contains(&Arch::Residual) && self.residual_scales.is_empty() {
            return Err(at_field(Error::invalid(
                "residual_scales",
                "[]",
                "must not be empty when archs contains \"residual\"",
            )));
        }
        match (&self.optimizer, &self.optimizers) {
            (Some(_), Some(_)) => {
                return Err(at_field(Error::invalid(
                    "optimizers",
                    "both [optimizer] and [[optimizers]]",
                    "give one optimizer table or a list of them, not both",
                )))
            }
            (None, None) => {
                return Err(at_field(Error::invalid(
                    "optimizer",
                    "missing",
                    "an [optimizer] table (or [[optimizers]] list) is required",
                )))
            }
            (None, Some(list)) if list.is_empty() => {
                return Err(at_field(Error::invalid("optimizers", "[]", "a grid axis must not be empty")))
            }
            _ => {}
        }
        if let Some(optimizer) = &self.optimizer {
            optimizer.validate().map_err(at_field)?;
        }
        for (index, optimizer) in self.optimizers.iter().flatten().enumerate() {
            optimizer.validate().map_err(|error| {
                // `optimizer.lr` of the index-th `[[optimizers]]` table.
                let key = match &error {
                    Error::InvalidField { field, .. } => field.rsplit('.').next().unwrap_or(field).to_string(),
                    _ => String::new(),
                };
                let path = TomlPath::default().key("optimizers").index(index).key(&key);
                (error, path)
            })?;
        }
        if self.batch_size == 0 {
            return Err(at_field(Error::invalid("batch_size", self.batch_size, "must be at least 1")));
        }
        for (index, &width) in self.widths.iter().enumerate() {
            if width == 0 {
                return Err((
                    Error::invalid("widths", width, "must be at least 1"),
                    TomlPath::field("widths").index(index),
                ));
            }
        }
        self.dataset_options.validate(self.dataset).map_err(at_field)?;
        // Depth checks per arch, through the model's own validation (input/output dims are placeholders).
        for &arch in &self.archs {
            for (index, &depth) in self.depths.iter().enumerate() {
                let model = ModelConfig {
                    arch,
                    depth,
                    width: 1,
                    input_dim: 1,
                    output_dim: 1,
                    activation: Activation::Relu,
                    norm: Norm::None,
                    residual_scale: ResidualScale::One,
                    block_layers: self.block_layers,
                    init: Init::He,
                };
                model.validate().map_err(|e| match e {
                    Error::InvalidField { field, value, reason } if field == "depth" => {
                        (Error::invalid("depths", value, reason), TomlPath::field("depths").index(index))
                    }
                    other => at_field(other),
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        fn round_trip<T>(all: &[T], as_str: fn(T) -> &'static str)
        where
            T: Copy
                + PartialEq
                + std::fmt::Debug
                + std::str::FromStr<Err = Error>
                + Serialize
                + for<'a> Deserialize<'a>,
        {
            for &value in all {
                let name = as_str(value);
                assert_eq!(name.parse::<T>().unwrap(), value);
                assert_eq!(serde_json::to_string(&value).unwrap(), format!("\"{name}\""));
                assert_eq!(serde_json::from_str::<T>(&format!("\"{name}\"")).unwrap(), value);
            }
        }
        round_trip(Arch::ALL, Arch::as_str);
        round_trip(Activation::ALL, Activation::as_str);
        round_trip(Norm::ALL, Norm::as_str);
        round_trip(ResidualScale::ALL, ResidualScale::as_str);
        round_trip(Init::ALL, Init::as_str);
        round_trip(OptimizerKind::ALL, OptimizerKind::as_str);
        round_trip(DatasetKind::ALL, DatasetKind::as_str);
        assert_eq!(Arch::ALL.len(), 2);
        assert_eq!(Activation::ALL.len(), 4);
    }

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

    #[test]
    fn optimizer_axis_accepts_either_form() {
        let base = "name = \"t\"\ndataset = \"digits\"\narchs = [\"plain\"]\ndepths = [2]\nwidths = [4]\n\
                    activations = [\"relu\"]\nnorms = [\"none\"]\nresidual_scales = []\ninits = [\"he\"]\n\
                    seeds = [0]\nsteps = 1\nbatch_size = 1\n";
        let one = format!("{base}[optimizer]\nkind = \"sgd\"\nlr = 0.1\n");
        let experiment = Experiment::from_toml_str(&one, Path::new("one.toml")).unwrap();
        assert_eq!(experiment.optimizer_axis().len(), 1);
        let many =
            format!("{base}[[optimizers]]\nkind = \"sgd\"\nlr = 0.1\n[[optimizers]]\nkind = \"adam\"\nlr = 0.01\n");
        let experiment = Experiment::from_toml_str(&many, Path::new("many.toml")).unwrap();
        assert_eq!(experiment.optimizer_axis().len(), 2);
        let both = format!("{one}[[optimizers]]\nkind = \"adam\"\nlr = 0.01\n");
        let message = Experiment::from_toml_str(&both, Path::new("both.toml")).unwrap_err().to_string();
        assert!(message.contains("`optimizers`"), "{message}");
        let message = Experiment::from_toml_str(base, Path::new("none.toml")).unwrap_err().to_string();
        assert!(message.starts_with("none.toml") && message.contains("`optimizer`"), "{message}");
        // Residual runs need a residual scale.
        let residual = one.replace("archs = [\"plain\"]", "archs = [\"residual\"]");
        let message = Experiment::from_toml_str(&residual, Path::new("r.toml")).unwrap_err().to_string();
        assert!(message.starts_with("r.toml:8") && message.contains("`residual_scales`"), "{message}");
    }
}
