//! Export of an experiment for an independent implementation to run or check against: the
//! data split exactly as the runs see it, every run's configuration and the names and shapes
//! of its parameters, and optionally, per run, its exact starting point (initial parameters
//! and the minibatch order) with this implementation's trajectory from there in f64 and f32.
//! `peers/pytorch/parity.py` reads it (see its header for the checks).
//!
//! Layout of an export directory (arrays are raw little-endian, see [`files`]):
//! ```text
//! export.json                 ExportIndex: the data files and the run ids
//! experiment.toml             the experiment file it came from
//! machine.json                this machine's fingerprint (a peer run here records its machine_id)
//! data/{train,test}_inputs.f32            (samples, input_dim)
//! data/{train,test}_labels.u32            class per sample, or
//! data/{train,test}_values.f32            (samples, output_dim) regression targets
//! runs/<run_id>/run.json      RunExport: configuration, tensors, trajectory files
//! runs/<run_id>/batches.u32   (steps, batch_size) training-set row indices, step 1 first
//! runs/<run_id>/{f64,f32}/params_init.bin, grads_step_1.bin, params_step_<k>.bin, losses.bin
//! ```

pub mod files;
pub mod layout;
pub mod trajectory;

use crate::config::{Experiment, RunConfig};
use crate::data::{self, Dataset, Split, Targets};
use crate::error::{Error, Result};
use crate::sweep::{expand, DataShape};
use crate::train::BatchOrder;
use files::{write_floats, write_json, write_u32s, Precision};
use layout::{named_tensors, NamedTensor};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
pub use trajectory::TrajectoryPlan;

/// Version of the export layout; a reader refuses others.
pub const FORMAT_VERSION: u32 = 1;

/// `export.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportIndex {
    pub format_version: u32,
    pub experiment: String,
    pub train: DataFiles,
    pub test: DataFiles,
    /// Run ids, each a directory under `runs/`.
    pub runs: Vec<String>,
}

/// One split's files, relative to the export directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFiles {
    pub samples: usize,
    pub input_dim: usize,
    /// f32, (samples, input_dim).
    pub inputs: String,
    pub targets: TargetFiles,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TargetFiles {
    /// u32 class per sample.
    Classes { num_classes: usize, file: String },
    /// f32, (samples, dim).
    Values { dim: usize, file: String },
}

/// `runs/<run_id>/run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunExport {
    pub run_id: String,
    pub config: RunConfig,
    pub num_params: usize,
    pub tensors: Vec<NamedTensor>,
    /// Present when the export asked for trajectories.
    pub trajectory: Option<TrajectoryFiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryFiles {
    /// Steps in `batches.u32`.
    pub steps: usize,
    pub record_steps: Vec<usize>,
    /// One entry per float type, each in a directory named after it.
    pub precisions: Vec<PrecisionTrajectory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecisionTrajectory {
    pub precision: Precision,
    /// Steps taken: `steps` unless a loss was not finite (the last loss is that one).
    pub steps_done: usize,
}

/// What to export beyond the data and the configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Steps of starting point and trajectory per run; `None` exports no trajectories.
    pub trajectory_steps: Option<usize>,
    /// Steps after which the parameters are written (those beyond the trajectory are dropped).
    pub record_steps: Vec<usize>,
}

/// Writes the export of `experiment` (whose file text is `experiment_text`) into `out`.
/// Returns the index it wrote.
pub fn export_experiment(
    experiment: &Experiment,
    experiment_text: &str,
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportIndex> {
    experiment.validate()?;
    let split = data::load(experiment.dataset, &experiment.dataset_options)?;
    let shape = DataShape::of(&split);
    let runs = expand(experiment, shape);
    if let Some(first) = runs.first() {
        crate::train::validate_against_data(&first.config, &split)?;
    }
    create_dir(&out.join("data"))?;
    files::write_bytes(&out.join("experiment.toml"), experiment_text.as_bytes())?;
    crate::machine::write_machine_json(out, &crate::machine::fingerprint(1, crate::model::gemm::GEMM_BACKEND))?;
    let index = ExportIndex {
        format_version: FORMAT_VERSION,
        experiment: experiment.name.clone(),
        train: write_split(out, "train", &split.train)?,
        test: write_split(out, "test", &split.test)?,
        runs: runs.iter().map(|r| r.run_id.clone()).collect(),
    };
    for run in &runs {
        export_run(&run.run_id, &run.config, &split, out.join("runs").join(&run.run_id), options)?;
    }
    write_json(&out.join("export.json"), &index)?;
    Ok(index)
}

fn export_run(run_id: &str, config: &RunConfig, split: &Split, dir: PathBuf, options: &ExportOptions) -> Result<()> {
    create_dir(&dir)?;
    let tensors = named_tensors(&config.model);
    let num_params = tensors.iter().map(NamedTensor::len).sum();
    let trajectory = match options.trajectory_steps {
        None => None,
        Some(steps) => {
            let batches = batch_order(split.train.len(), config.batch_size, config.seed, steps);
            write_u32s(&dir.join("batches.u32"), batches.iter().flatten().map(|&i| i as u32))?;
            let plan = TrajectoryPlan {
                record_steps: options.record_steps.iter().copied().filter(|&k| (1..=steps).contains(&k)).collect(),
            };
            let f64_steps = trajectory::record::<f64>(config, &split.train, &batches, &plan, &dir.join("f64"))?;
            let f32_steps = trajectory::record::<f32>(config, &split.train, &batches, &plan, &dir.join("f32"))?;
            Some(TrajectoryFiles {
                steps,
                record_steps: plan.record_steps,
                precisions: vec![
                    PrecisionTrajectory { precision: Precision::F64, steps_done: f64_steps },
                    PrecisionTrajectory { precision: Precision::F32, steps_done: f32_steps },
                ],
            })
        }
    };
    let export = RunExport { run_id: run_id.to_string(), config: config.clone(), num_params, tensors, trajectory };
    write_json(&dir.join("run.json"), &export)
}

/// The training set's row indices of the first `steps` minibatches, as training draws them.
pub fn batch_order(train_len: usize, batch: usize, seed: u64, steps: usize) -> Vec<Vec<usize>> {
    let mut order = BatchOrder::new(train_len, batch, seed);
    (0..steps).map(|_| order.next_batch().to_vec()).collect()
}

fn write_split(out: &Path, name: &str, data: &Dataset) -> Result<DataFiles> {
    let inputs = format!("data/{name}_inputs.f32");
    write_floats(&out.join(&inputs), Precision::F32, data.inputs.iter().copied())?;
    let targets = match &data.targets {
        Targets::Classes { labels, num_classes } => {
            let file = format!("data/{name}_labels.u32");
            write_u32s(&out.join(&file), labels.iter().copied())?;
            TargetFiles::Classes { num_classes: *num_classes, file }
        }
        Targets::Values { values } => {
            let file = format!("data/{name}_values.f32");
            write_floats(&out.join(&file), Precision::F32, values.iter().copied())?;
            TargetFiles::Values { dim: values.ncols(), file }
        }
    };
    Ok(DataFiles { samples: data.len(), input_dim: data.input_dim(), inputs, targets })
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}
