//! The experiment file: a grid of runs read from TOML, validated so that every error names the
//! file, the line and the key of the bad value.

use super::conv;
use super::schedule::{validate_decay_at, LrSchedule, DEFAULT_DECAY_FACTOR};
use super::spans::{Document, TomlPath};
use super::{
    Activation, Arch, DatasetKind, DatasetOptions, Family, Init, ModelConfig, Norm, OptimizerConfig, OptimizerKind,
    ResidualScale,
};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An experiment file: every list is a grid axis and the sweep runs the Cartesian product.
///
/// `family = "conv"` grids the ResNet paper's conv nets over `archs`, `depths` (6n + 2),
/// `seeds` and the optimizers, with `base_channels` filters in the first stage; the MLP axes
/// (`widths`, `activations`, `norms`, `residual_scales`, `inits`, `block_layers`) are left out
/// or state the paper's one value (see [`Experiment::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    pub dataset: DatasetKind,
    #[serde(default)]
    pub dataset_options: DatasetOptions,
    /// `mlp` (the default) or `conv`.
    #[serde(default)]
    pub family: Family,
    /// Conv nets only: filters of the stem and stage 1 (default 16, the paper's).
    #[serde(default)]
    pub base_channels: Option<usize>,
    pub archs: Vec<Arch>,
    pub depths: Vec<usize>,
    /// MLPs only (required for them).
    #[serde(default)]
    pub widths: Vec<usize>,
    /// Required for MLPs; conv nets: left out or `["relu"]`.
    #[serde(default)]
    pub activations: Vec<Activation>,
    /// Required for MLPs; conv nets: left out or `["batch"]`.
    #[serde(default)]
    pub norms: Vec<Norm>,
    /// Applies to residual runs only; plain runs are not duplicated along this axis. Conv nets:
    /// left out or `["one"]`.
    #[serde(default)]
    pub residual_scales: Vec<ResidualScale>,
    /// Conv nets: 2 (the default; their blocks are two convs).
    #[serde(default = "default_block_layers")]
    pub block_layers: usize,
    /// Required for MLPs; conv nets: left out or `["he"]`.
    #[serde(default)]
    pub inits: Vec<Init>,
    pub seeds: Vec<u64>,
    pub steps: usize,
    pub batch_size: usize,
    #[serde(default = "default_checkpoints")]
    pub checkpoints: usize,
    /// One optimizer (a `[optimizer]` table) ...
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    /// ... or a grid of them (`[[optimizers]]` tables); exactly one of the two.
    #[serde(default)]
    pub optimizers: Option<Vec<OptimizerSpec>>,
    /// Record the shattered-gradients probe (see `mechanisms`).
    #[serde(default)]
    pub shattered_gradients: bool,
    /// Record the lesion study (see `mechanisms`); MLPs only.
    #[serde(default)]
    pub lesion: bool,
    /// Record how a one-ulp perturbation of the initial weights grows (see `sensitivity`).
    #[serde(default)]
    pub perturbation: bool,
    /// Record the instruments at every checkpoint: training and test error, per-layer
    /// gradient norms, update ratios and distance from initialisation (`record::InstrumentPoint`).
    #[serde(default)]
    pub instruments: bool,
    /// How many training (and test) samples the instruments evaluate, the first ones of each
    /// set (default [`DEFAULT_INSTRUMENT_SAMPLES`]): a checkpoint of ResNet-56 on 10 000 images
    /// costs as much as 80 training steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument_samples: Option<usize>,
    /// Points of the grid not to run (`[[exclude]]` tables), e.g. the paper's Fig. 6, which
    /// trains ResNet-110 but no plain-110.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Exclusion>,
}

/// An `[[exclude]]` table: the runs whose arch and depth match every field it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
}

impl Exclusion {
    pub fn matches(&self, arch: Arch, depth: usize) -> bool {
        self.arch.is_none_or(|a| a == arch) && self.depth.is_none_or(|d| d == depth)
    }
}

/// Samples of each set the instruments evaluate unless `instrument_samples` says otherwise.
pub const DEFAULT_INSTRUMENT_SAMPLES: usize = 10_000;

impl Experiment {
    /// `instrument_samples` of every run: 0 when the instruments are off.
    pub fn run_instrument_samples(&self) -> usize {
        if self.instruments {
            self.instrument_samples.unwrap_or(DEFAULT_INSTRUMENT_SAMPLES)
        } else {
            0
        }
    }
}

fn default_block_layers() -> usize {
    2
}
fn default_checkpoints() -> usize {
    30
}

/// An optimizer as an experiment file writes it: the optimizer's values and, optionally, a
/// learning-rate schedule (see [`LrSchedule`]):
/// - `lr_decay_at`: fractions of the run's steps after which the rate is multiplied by
///   `lr_decay_factor` (default 0.1), e.g. the paper's `[0.5, 0.75]`;
/// - `warmup_steps` updates at `warmup_lr` first, in the runs at least `warmup_min_depth`
///   deep (default: all; the paper warms up ResNet-110 only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub lr: f64,
    /// SGD only.
    #[serde(default)]
    pub momentum: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lr_decay_at: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_min_depth: Option<usize>,
}

impl OptimizerSpec {
    /// The optimizer's own values.
    pub fn optimizer(&self) -> OptimizerConfig {
        OptimizerConfig { kind: self.kind, lr: self.lr, momentum: self.momentum, weight_decay: self.weight_decay }
    }

    /// The schedule of a run `depth` deep, in canonical form (a factor only where there is a
    /// decay, a warm-up rate only where there is a warm-up), so equal schedules are equal runs.
    pub fn schedule(&self, depth: usize) -> LrSchedule {
        let warms_up = depth >= self.warmup_min_depth.unwrap_or(0);
        let warmup_steps = if warms_up { self.warmup_steps.unwrap_or(0) } else { 0 };
        LrSchedule {
            decay_at: self.lr_decay_at.clone(),
            decay_factor: match self.lr_decay_at.is_empty() {
                true => DEFAULT_DECAY_FACTOR,
                false => self.lr_decay_factor.unwrap_or(DEFAULT_DECAY_FACTOR),
            },
            warmup_steps,
            warmup_lr: if warmup_steps > 0 { self.warmup_lr.unwrap_or(0.0) } else { 0.0 },
        }
    }

    /// Checks the optimizer and its schedule; errors name `optimizer.<key>` as the file writes it.
    pub fn validate(&self) -> Result<()> {
        self.optimizer().validate()?;
        validate_decay_at(&self.lr_decay_at, "optimizer.lr_decay_at")?;
        if let Some(factor) = self.lr_decay_factor {
            if self.lr_decay_at.is_empty() {
                return Err(Error::invalid(
                    "optimizer.lr_decay_factor",
                    factor,
                    "has no effect without lr_decay_at; leave it out",
                ));
            }
            if !(factor.is_finite() && factor > 0.0 && factor < 1.0) {
                return Err(Error::invalid("optimizer.lr_decay_factor", factor, "must be in (0, 1)"));
            }
        }
        let warmup_steps = self.warmup_steps.unwrap_or(0);
        if warmup_steps == 0 {
            let unused = [
                ("optimizer.warmup_lr", self.warmup_lr.map(|v| v.to_string())),
                ("optimizer.warmup_min_depth", self.warmup_min_depth.map(|v| v.to_string())),
            ];
            for (field, value) in unused {
                if let Some(value) = value {
                    return Err(Error::invalid(field, value, "has no effect without warmup_steps; leave it out"));
                }
            }
            return Ok(());
        }
        match self.warmup_lr {
            Some(lr) if lr.is_finite() && lr > 0.0 => Ok(()),
            Some(lr) => Err(Error::invalid("optimizer.warmup_lr", lr, "must be finite and > 0")),
            None => Err(Error::invalid("optimizer.warmup_lr", "missing", "a warm-up needs its rate")),
        }
    }
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
    pub fn optimizer_axis(&self) -> &[OptimizerSpec] {
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
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(at_field(Error::invalid(
                "name",
                format!("{:?}", self.name),
                "must be non-empty and use only letters, digits, '-' and '_' (it names a directory)",
            )));
        }
        let mut axes = vec![("archs", self.archs.len()), ("depths", self.depths.len())];
        if self.family == Family::Mlp {
            axes.extend([
                ("widths", self.widths.len()),
                ("activations", self.activations.len()),
                ("norms", self.norms.len()),
                ("inits", self.inits.len()),
            ]);
        }
        axes.push(("seeds", self.seeds.len()));
        for (field, len) in axes {
            if len == 0 {
                return Err(at_field(Error::invalid(field, "[]", "a grid axis must not be empty")));
            }
        }
        match self.family {
            Family::Mlp => self.validate_mlp_only()?,
            Family::Conv => self.validate_conv_only()?,
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
        match (self.instruments, self.instrument_samples) {
            (false, Some(n)) => {
                return Err(at_field(Error::invalid("instrument_samples", n, "is given but `instruments` is not true")))
            }
            (true, Some(0)) => return Err(at_field(Error::invalid("instrument_samples", 0, "must be at least 1"))),
            _ => {}
        }
        self.validate_depths()?;
        self.validate_exclusions()
    }

    /// Whether the grid point (`arch`, `depth`) is excluded.
    pub fn excludes(&self, arch: Arch, depth: usize) -> bool {
        self.exclude.iter().any(|exclusion| exclusion.matches(arch, depth))
    }

    /// Each `[[exclude]]` names something and removes some of the grid, and not all of it: one
    /// that matches nothing is most likely a typo, and silently running what it meant to
    /// exclude would cost hours.
    fn validate_exclusions(&self) -> std::result::Result<(), (Error, TomlPath)> {
        let points = || self.archs.iter().flat_map(|&arch| self.depths.iter().map(move |&depth| (arch, depth)));
        for (index, exclusion) in self.exclude.iter().enumerate() {
            let at = TomlPath::field("exclude").index(index);
            let shown = serde_json::to_string(exclusion).unwrap_or_default();
            if exclusion.arch.is_none() && exclusion.depth.is_none() {
                return Err((Error::invalid("exclude", shown, "give an arch, a depth or both"), at));
            }
            if !points().any(|(arch, depth)| exclusion.matches(arch, depth)) {
                return Err((Error::invalid("exclude", shown, "matches no arch and depth of the grid"), at));
            }
        }
        if points().all(|(arch, depth)| self.excludes(arch, depth)) {
            return Err(at_field(Error::invalid("exclude", "every grid point", "leaves nothing to run")));
        }
        Ok(())
    }

    /// What only an MLP experiment checks: its residual scales, and no conv option.
    fn validate_mlp_only(&self) -> std::result::Result<(), (Error, TomlPath)> {
        if let Some(base_channels) = self.base_channels {
            return Err(at_field(Error::invalid(
                "base_channels",
                base_channels,
                "only conv nets have base channels; an MLP's width is `widths` (or set family = \"conv\")",
            )));
        }
        if self.archs.contains(&Arch::Residual) && self.residual_scales.is_empty() {
            return Err(at_field(Error::invalid(
                "residual_scales",
                "[]",
                "must not be empty when archs contains \"residual\"",
            )));
        }
        Ok(())
    }

    /// What a conv experiment checks: images to read, even base channels, and the MLP axes
    /// either left out or stating the paper's one value (see `config::conv`), never ignored.
    fn validate_conv_only(&self) -> std::result::Result<(), (Error, TomlPath)> {
        if !self.dataset.has_images() {
            return Err(at_field(Error::invalid(
                "dataset",
                self.dataset,
                "a conv net reads images, and this data set has none (digits and fashion_mnist do)",
            )));
        }
        if let Some(base_channels) = self.base_channels {
            conv::validate_base_channels(base_channels, "base_channels").map_err(at_field)?;
        }
        if !self.widths.is_empty() {
            return Err(at_field(Error::invalid(
                "widths",
                format!("{:?}", self.widths),
                "conv nets have no widths axis: their width is `base_channels` (default 16); leave `widths` out",
            )));
        }
        /// Every element of `values` must be `paper`; the error points at the first that is not.
        fn only<T: PartialEq + std::fmt::Display>(
            field: &str,
            values: &[T],
            paper: T,
            why: &str,
        ) -> std::result::Result<(), (Error, TomlPath)> {
            match values.iter().position(|v| *v != paper) {
                None => Ok(()),
                Some(index) => Err((
                    Error::invalid(
                        field,
                        &values[index],
                        format!("conv nets {why}: leave `{field}` out or write [\"{paper}\"]"),
                    ),
                    TomlPath::field(field).index(index),
                )),
            }
        }
        only("activations", &self.activations, conv::ACTIVATION, "use relu only (the paper's)")?;
        only("norms", &self.norms, conv::NORM, "always use batch norm after every conv (the paper's)")?;
        only("inits", &self.inits, conv::INIT, "are initialised Kaiming-normal (the paper's)")?;
        only("residual_scales", &self.residual_scales, conv::RESIDUAL_SCALE, "add their shortcut with α = 1")?;
        if self.block_layers != conv::BLOCK_LAYERS {
            return Err(at_field(Error::invalid(
                "block_layers",
                self.block_layers,
                "a conv net's blocks are two convs: leave `block_layers` out or write 2",
            )));
        }
        if self.lesion {
            return Err(at_field(Error::invalid(
                "lesion",
                true,
                "the lesion study removes hidden layers of an MLP; it is not implemented for conv nets",
            )));
        }
        Ok(())
    }

    /// Depth checks: an MLP's per arch, through the model's own validation (input/output dims
    /// are placeholders); a conv net's depth is 6n + 2.
    fn validate_depths(&self) -> std::result::Result<(), (Error, TomlPath)> {
        let at_depth = |index: usize| {
            move |error: Error| match error {
                Error::InvalidField { field, value, reason } if field == "depth" || field == "depths" => {
                    (Error::invalid("depths", value, reason), TomlPath::field("depths").index(index))
                }
                other => at_field(other),
            }
        };
        for (index, &depth) in self.depths.iter().enumerate() {
            if self.family == Family::Conv {
                conv::validate_depth(depth, "depths").map_err(at_depth(index))?;
                continue;
            }
            for &arch in &self.archs {
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
                model.validate().map_err(at_depth(index))?;
            }
        }
        Ok(())
    }
}

/// Errors from a sub-config name their field (`optimizer.lr`); only the file path differs.
fn at_field(error: Error) -> (Error, TomlPath) {
    let path = match &error {
        Error::InvalidField { field, .. } => TomlPath::field(field),
        _ => TomlPath::default(),
    };
    (error, path)
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
