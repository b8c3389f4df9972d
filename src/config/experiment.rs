//! The experiment file: a grid of runs read from TOML, validated so that every error names the
//! file, the line and the key of the bad value.

use super::spans::{Document, TomlPath};
use super::{Activation, Arch, DatasetKind, DatasetOptions, Init, ModelConfig, Norm, OptimizerConfig, ResidualScale};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

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
