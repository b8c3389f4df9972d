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
//!                                         (none for Fashion-MNIST: see [`DataSource::FashionMnist`])
//! runs/<run_id>/run.json      RunExport: configuration, tensors, trajectory files
//! runs/<run_id>/batches.u32   (steps, batch_size) training-set row indices, step 1 first
//! runs/<run_id>/{f64,f32}/params_init.bin, grads_step_1.bin, params_step_<k>.bin, losses.bin
//! runs/<run_id>/{f64,f32}/buffers_step_<k>.bin    conv runs: BatchNorm2d running statistics
//! ```
//!
//! Conv-family runs (the ResNet paper's CIFAR nets, `model::conv`) are exported too: each
//! input row is one image in (C, H, W) order (`RunExport::image_shape`), the tensors carry
//! PyTorch's names and shapes, and the flat arrays are written in that layout (conv weights
//! (C_out, C_in, 3, 3), permuted from the network's own buffer: [`layout::ExportLayout`]). An
//! MLP run's files are what they were before conv runs could be exported.

pub mod files;
pub mod layout;
pub mod trajectory;

use crate::config::{DatasetKind, Experiment, Family, RunConfig};
use crate::data::{self, Dataset, Split, Targets};
use crate::error::{Error, Result};
use crate::model::conv::ConvNet;
use crate::model::{Mlp, Real};
use crate::sweep::{expand, DataShape};
use crate::train::BatchOrder;
use files::{write_floats, write_json, write_u32s, Precision};
use layout::{ExportLayout, NamedTensor};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
pub use trajectory::TrajectoryPlan;

/// Version of the export layout; a reader refuses others. 2: a split's data is either arrays
/// in the export or a reference to Fashion-MNIST's IDX files ([`DataSource`]).
pub const FORMAT_VERSION: u32 = 2;

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

/// One split: its size and where its data is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFiles {
    pub samples: usize,
    pub input_dim: usize,
    #[serde(flatten)]
    pub source: DataSource,
}

/// Where a split's data is (`"source"` in export.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DataSource {
    /// Arrays written into the export, paths relative to the export directory.
    Arrays {
        /// f32, (samples, input_dim).
        inputs: String,
        targets: TargetFiles,
    },
    /// Fashion-MNIST, not copied (the training set alone would be 188 MB of f32): a reader
    /// loads the split from the four IDX files itself, as `data::load` does — the first
    /// `samples` images of `train-images-idx3-ubyte[.gz]` (all of `t10k-…` for the test set),
    /// pixels ÷ 255 as f32, one image per row — and checks what it got against the digests.
    FashionMnist {
        /// `dataset_options.dir` made absolute; `None`: the loader's default directory,
        /// `/usr/share/datasets/fashion-mnist` (where Debian's `dataset-fashion-mnist` puts it).
        dir: Option<PathBuf>,
        num_classes: usize,
        /// (channels, height, width) of each row's image.
        image_shape: [usize; 3],
        /// SHA-256 (hex) of the inputs as little-endian f32, row-major: the bytes the
        /// `Arrays` form would have written.
        inputs_sha256: String,
        /// SHA-256 (hex) of the labels as little-endian u32.
        labels_sha256: String,
    },
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
    /// Conv runs: (C, H, W) of the image each input row holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_shape: Option<[usize; 3]>,
    pub num_params: usize,
    pub tensors: Vec<NamedTensor>,
    /// Conv runs: BatchNorm2d's running statistics (`<bn>.running_mean`, `<bn>.running_var`),
    /// offsets into `buffers_step_<k>.bin`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buffers: Vec<NamedTensor>,
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
    // Fashion-MNIST's readers load the IDX files where they are; other sets are written out.
    let how = match (experiment.dataset, &experiment.dataset_options.dir) {
        (DatasetKind::FashionMnist, Some(dir)) => {
            SplitExport::FashionMnist { dir: Some(std::path::absolute(dir).map_err(|e| Error::io(dir, e))?) }
        }
        (DatasetKind::FashionMnist, None) => SplitExport::FashionMnist { dir: None },
        _ => SplitExport::Arrays,
    };
    let shape = DataShape::of(&split);
    let runs = expand(experiment, shape);
    if let Some(first) = runs.first() {
        crate::train::validate_against_data(&first.config, &split)?;
    }
    for run in &runs {
        exportable(&run.config, options)?;
    }
    create_dir(&match how {
        SplitExport::Arrays => out.join("data"),
        SplitExport::FashionMnist { .. } => out.to_path_buf(),
    })?;
    files::write_bytes(&out.join("experiment.toml"), experiment_text.as_bytes())?;
    crate::machine::write_machine_json(out, &crate::machine::fingerprint(1, crate::model::gemm::GEMM_BACKEND))?;
    let index = ExportIndex {
        format_version: FORMAT_VERSION,
        experiment: experiment.name.clone(),
        train: write_split(out, "train", &split.train, &how)?,
        test: write_split(out, "test", &split.test, &how)?,
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
    let image_shape = match config.family {
        Family::Conv => split.train.image_shape,
        Family::Mlp => None,
    };
    let layout = ExportLayout::for_run(config, image_shape)?;
    let trajectory = match options.trajectory_steps {
        None => None,
        Some(steps) => {
            let batches = batch_order(split.train.len(), config.batch_size, config.seed, steps);
            write_u32s(&dir.join("batches.u32"), batches.iter().flatten().map(|&i| i as u32))?;
            let plan = TrajectoryPlan {
                record_steps: options.record_steps.iter().copied().filter(|&k| (1..=steps).contains(&k)).collect(),
            };
            let f64_steps = record::<f64>(config, &split.train, &batches, &plan, &layout, &dir.join("f64"))?;
            let f32_steps = record::<f32>(config, &split.train, &batches, &plan, &layout, &dir.join("f32"))?;
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
    let export = RunExport {
        run_id: run_id.to_string(),
        config: config.clone(),
        image_shape,
        num_params: layout.num_params(),
        tensors: layout.tensors,
        buffers: layout.buffers,
        trajectory,
    };
    write_json(&dir.join("run.json"), &export)
}

/// [`trajectory::record`] with the run's network in `T`.
fn record<T: Real>(
    config: &RunConfig,
    train: &Dataset,
    batches: &[Vec<usize>],
    plan: &TrajectoryPlan,
    layout: &ExportLayout,
    dir: &Path,
) -> Result<usize> {
    match config.family {
        Family::Mlp => trajectory::record::<T, Mlp<T>>(config, train, batches, plan, layout, dir),
        Family::Conv => trajectory::record::<T, ConvNet<T>>(config, train, batches, plan, layout, dir),
    }
}

/// What the export and its readers handle: trajectories only at a constant learning rate (they
/// replay a constant-rate optimizer, and so does `parity.py check`).
fn exportable(config: &RunConfig, options: &ExportOptions) -> Result<()> {
    if options.trajectory_steps.is_some() && !config.lr_schedule.is_constant() {
        return Err(Error::invalid(
            "lr_schedule",
            "not constant",
            "trajectories replay a constant learning rate; export without --trajectory-steps \
             (`parity.py run` applies the schedule)",
        ));
    }
    Ok(())
}

/// The training set's row indices of the first `steps` minibatches, as training draws them.
pub fn batch_order(train_len: usize, batch: usize, seed: u64, steps: usize) -> Vec<Vec<usize>> {
    let mut order = BatchOrder::new(train_len, batch, seed);
    (0..steps).map(|_| order.next_batch().to_vec()).collect()
}

/// How the splits' data reach a reader.
enum SplitExport {
    /// Written into the export.
    Arrays,
    /// Referenced: Fashion-MNIST's IDX files in `dir` (absolute; `None`: the default directory).
    FashionMnist { dir: Option<PathBuf> },
}

/// Writes one split's arrays, or describes it (see [`SplitExport`]).
fn write_split(out: &Path, name: &str, data: &Dataset, how: &SplitExport) -> Result<DataFiles> {
    let (samples, input_dim) = (data.len(), data.input_dim());
    if let SplitExport::FashionMnist { dir } = how {
        return Ok(DataFiles { samples, input_dim, source: fashion_mnist_source(dir.clone(), data) });
    }
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
    Ok(DataFiles { samples, input_dim, source: DataSource::Arrays { inputs, targets } })
}

/// The reference to a Fashion-MNIST split, with the digests of what a reader must obtain.
fn fashion_mnist_source(dir: Option<PathBuf>, data: &Dataset) -> DataSource {
    let (labels, num_classes) = match &data.targets {
        Targets::Classes { labels, num_classes } => (labels, *num_classes),
        Targets::Values { .. } => unreachable!("Fashion-MNIST has classes"),
    };
    DataSource::FashionMnist {
        dir,
        num_classes,
        image_shape: data.image_shape.expect("Fashion-MNIST keeps its image shape"),
        inputs_sha256: sha256_hex(data.inputs.iter().map(|v| v.to_le_bytes())),
        labels_sha256: sha256_hex(labels.iter().map(|l| l.to_le_bytes())),
    }
}

/// SHA-256 (lowercase hex) of the concatenated 4-byte words.
fn sha256_hex(words: impl Iterator<Item = [u8; 4]>) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let mut chunk = Vec::with_capacity(1 << 16);
    for word in words {
        chunk.extend_from_slice(&word);
        if chunk.len() >= 1 << 16 {
            hash.update(&chunk);
            chunk.clear();
        }
    }
    hash.update(&chunk);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_sources_serialise_flat_and_read_back() {
        let arrays = DataFiles {
            samples: 3,
            input_dim: 2,
            source: DataSource::Arrays {
                inputs: "data/train_inputs.f32".into(),
                targets: TargetFiles::Classes { num_classes: 10, file: "data/train_labels.u32".into() },
            },
        };
        let json = serde_json::to_value(&arrays).unwrap();
        assert_eq!(json["source"], "arrays");
        assert_eq!(json["inputs"], "data/train_inputs.f32");
        assert_eq!(json["targets"]["kind"], "classes");
        assert_eq!(serde_json::from_value::<DataFiles>(json).unwrap(), arrays);

        let idx = DataFiles {
            samples: 3,
            input_dim: 784,
            source: DataSource::FashionMnist {
                dir: None,
                num_classes: 10,
                image_shape: [1, 28, 28],
                inputs_sha256: "ab".into(),
                labels_sha256: "cd".into(),
            },
        };
        let json = serde_json::to_value(&idx).unwrap();
        assert_eq!(json["source"], "fashion_mnist");
        assert_eq!(json["dir"], serde_json::Value::Null);
        assert_eq!(json["image_shape"], serde_json::json!([1, 28, 28]));
        assert_eq!(serde_json::from_value::<DataFiles>(json).unwrap(), idx);
    }

    #[test]
    fn only_constant_rate_trajectories_are_exported() {
        use crate::config::{
            Activation, Arch, DatasetOptions, Init, LrSchedule, MechanismProbes, ModelConfig, Norm, OptimizerConfig,
            OptimizerKind, ResidualScale,
        };
        let mlp = RunConfig {
            experiment: "e".into(),
            dataset: DatasetKind::FashionMnist,
            dataset_options: DatasetOptions::default(),
            family: Family::Mlp,
            model: ModelConfig {
                arch: Arch::Plain,
                depth: 2,
                width: 8,
                input_dim: 784,
                output_dim: 10,
                activation: Activation::Relu,
                norm: Norm::None,
                residual_scale: ResidualScale::One,
                block_layers: 2,
                init: Init::He,
            },
            optimizer: OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.1, momentum: 0.9, weight_decay: 1e-4 },
            lr_schedule: LrSchedule::default(),
            batch_size: 16,
            steps: 100,
            checkpoints: 5,
            seed: 0,
            probes: MechanismProbes::default(),
        };
        let plain = ExportOptions { trajectory_steps: None, record_steps: Vec::new() };
        let trajectories = ExportOptions { trajectory_steps: Some(10), record_steps: vec![1, 10] };
        assert!(exportable(&mlp, &plain).is_ok());
        assert!(exportable(&mlp, &trajectories).is_ok());
        let conv = RunConfig { family: Family::Conv, ..mlp.clone() };
        assert!(exportable(&conv, &trajectories).is_ok());
        let scheduled = RunConfig { lr_schedule: LrSchedule { decay_at: vec![0.5], ..LrSchedule::default() }, ..mlp };
        assert!(exportable(&scheduled, &plain).is_ok(), "a peer run applies the schedule");
        assert!(exportable(&scheduled, &trajectories).unwrap_err().to_string().contains("lr_schedule"));
    }

    /// A conv run end to end: its run.json says the image shape and names the running
    /// statistics, its arrays are in the exported layout, and the trajectory has the buffers.
    #[test]
    fn a_conv_run_exports_images_layout_and_running_statistics() {
        use crate::config::Arch;
        use crate::model::conv::{ConvNetConfig, MapShape};
        let text = "name = \"tiny_conv\"\ndataset = \"digits\"\nfamily = \"conv\"\nbase_channels = 2\n\
                    archs = [\"residual\"]\ndepths = [8]\nseeds = [0]\nsteps = 3\nbatch_size = 4\n\
                    checkpoints = 1\n[optimizer]\nkind = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n";
        let experiment = Experiment::from_toml_str(text, Path::new("tiny_conv.toml")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let options = ExportOptions { trajectory_steps: Some(3), record_steps: vec![1, 3] };
        let index = export_experiment(&experiment, text, out.path(), &options).unwrap();
        let dir = out.path().join("runs").join(&index.runs[0]);
        let json = std::fs::read_to_string(dir.join("run.json")).unwrap();
        let run: RunExport = serde_json::from_str(&json).unwrap();
        assert_eq!(run.image_shape, Some([1, 8, 8]));
        let layout = ExportLayout::for_run(&run.config, run.image_shape).unwrap();
        assert_eq!((&run.tensors, &run.buffers), (&layout.tensors, &layout.buffers));

        let image = MapShape::new(8, 8, 1);
        let net = ConvNetConfig { base_channels: 2, ..ConvNetConfig::paper(Arch::Residual, 1, image, 10) };
        let initial = ConvNet::<f64>::new(&net, 4, 0).unwrap();
        let written = std::fs::read(dir.join("f64/params_init.bin")).unwrap();
        let expected = layout.export_order(initial.params.as_slice().unwrap());
        assert_eq!(written, expected.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
        for (precision, bytes) in [("f64", 8), ("f32", 4)] {
            for step in [1, 3] {
                let buffers = std::fs::metadata(dir.join(format!("{precision}/buffers_step_{step}.bin"))).unwrap();
                assert_eq!(buffers.len() as usize, layout.num_buffers() * bytes);
            }
        }
    }

    #[test]
    fn digests_are_of_the_little_endian_words() {
        // Python: hashlib.sha256(struct.pack("<f", 1.0)) and of b"".join(struct.pack("<I", i)
        // for i in range(40000)): 160 000 bytes, so more than one chunk.
        assert_eq!(
            sha256_hex([1.0f32.to_le_bytes()].into_iter()),
            "e00e5eb9444182f352323374ef4e08ebcb784725fdd4fd612d7730540b3e0c8c"
        );
        assert_eq!(
            sha256_hex((0u32..40_000).map(u32::to_le_bytes)),
            "cc5fa6d2122711d545fc683b8d6007d277737cbd0ea2921790c627b8be60cc42"
        );
    }
}
