//! Grid expansion: an [`Experiment`] becomes a list of [`PlannedRun`]s, each with a stable
//! run id, in a deterministic order (by run id) that sharding partitions.

use crate::config::{conv, Arch, Experiment, Family, ModelConfig, ResidualScale, RunConfig};
use crate::error::{Error, Result};
use crate::model::conv::ConvNetConfig;
use sha2::{Digest, Sha256};
use std::str::FromStr;

/// One point of the grid, ready to train.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub run_id: String,
    pub config: RunConfig,
    /// Floating-point operations of the whole run (training, evaluation, probes); used for
    /// longest-first scheduling and the dry-run estimate.
    pub flops: f64,
}

/// `--shard I/N`: this process runs the runs whose position (in run-id order) is ≡ I mod N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        let parse = || -> Option<Shard> {
            let (i, n) = text.split_once('/')?;
            let (index, count) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
            (count > 0 && index < count).then_some(Shard { index, count })
        };
        parse().ok_or_else(|| Error::Shard(text.to_string()))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Sizes of the data a run trains and evaluates on, for the FLOP estimate.
#[derive(Debug, Clone, Copy)]
pub struct DataShape {
    pub input_dim: usize,
    pub output_dim: usize,
    pub train_len: usize,
    pub test_len: usize,
    /// (C, H, W) of image sets (what a conv net's cost depends on).
    pub image_shape: Option<[usize; 3]>,
}

impl DataShape {
    /// The shape of a loaded data set's split.
    pub fn of(split: &crate::data::Split) -> DataShape {
        DataShape {
            input_dim: split.train.input_dim(),
            output_dim: split.train.output_dim(),
            train_len: split.train.len(),
            test_len: split.test.len(),
            image_shape: split.train.image_shape,
        }
    }
}

/// Every run of the experiment, sorted by run id. Plain runs are not repeated along the
/// residual-scale axis.
pub fn expand(experiment: &Experiment, data: DataShape) -> Vec<PlannedRun> {
    let mut runs = Vec::new();
    for optimizer in experiment.optimizer_axis() {
        for model in models(experiment, data) {
            for &seed in &experiment.seeds {
                let config = RunConfig {
                    experiment: experiment.name.clone(),
                    dataset: experiment.dataset,
                    dataset_options: experiment.dataset_options.clone(),
                    family: experiment.family,
                    lr_schedule: optimizer.schedule(model.depth),
                    model: model.clone(),
                    optimizer: optimizer.optimizer(),
                    batch_size: experiment.batch_size,
                    steps: experiment.steps,
                    checkpoints: experiment.checkpoints,
                    seed,
                    probes: crate::config::MechanismProbes {
                        shattered_gradients: experiment.shattered_gradients,
                        lesion: experiment.lesion,
                        perturbation: experiment.perturbation,
                        instrument_samples: experiment.run_instrument_samples(),
                    },
                };
                let flops = run_flops(&config, data);
                runs.push(PlannedRun { run_id: run_id(&config), config, flops });
            }
        }
    }
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    runs.dedup_by(|a, b| a.run_id == b.run_id);
    runs
}

/// The networks of the grid: for MLPs every arch × depth × width × activation × norm ×
/// (residual scale, residual runs only) × init; for conv nets arch × depth, with the paper's
/// fixed choices (`config::conv`); less the `[[exclude]]`d archs and depths.
fn models(experiment: &Experiment, data: DataShape) -> Vec<ModelConfig> {
    let mut models = Vec::new();
    for &arch in &experiment.archs {
        if experiment.family == Family::Conv {
            let base_channels = experiment.base_channels.unwrap_or(conv::DEFAULT_BASE_CHANNELS);
            for &depth in &experiment.depths {
                models.push(conv::model(arch, depth, base_channels, data.input_dim, data.output_dim));
            }
            continue;
        }
        let scales = match arch {
            Arch::Plain => &experiment.residual_scales[..experiment.residual_scales.len().min(1)],
            Arch::Residual => &experiment.residual_scales[..],
        };
        // A plain run still needs some value in its config; it is ignored and recorded as null.
        let scales = if scales.is_empty() { &[ResidualScale::One][..] } else { scales };
        for &depth in &experiment.depths {
            for &width in &experiment.widths {
                for &activation in &experiment.activations {
                    for &norm in &experiment.norms {
                        for &residual_scale in scales {
                            for &init in &experiment.inits {
                                models.push(ModelConfig {
                                    arch,
                                    depth,
                                    width,
                                    input_dim: data.input_dim,
                                    output_dim: data.output_dim,
                                    activation,
                                    norm,
                                    residual_scale: if arch == Arch::Plain {
                                        ResidualScale::One
                                    } else {
                                        residual_scale
                                    },
                                    block_layers: if arch == Arch::Plain { 1 } else { experiment.block_layers },
                                    init,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    models.retain(|model| !experiment.excludes(model.arch, model.depth));
    models
}

/// A readable prefix plus a hash of the whole configuration: equal ids mean equal runs.
pub fn run_id(config: &RunConfig) -> String {
    let canonical = serde_json::to_string(config).expect("a RunConfig always serialises");
    let digest = Sha256::digest(canonical.as_bytes());
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let m = &config.model;
    format!("{}-d{}-w{}-s{}-{hash}", m.arch, m.depth, m.width, config.seed)
}

/// FLOPs of one forward pass per sample of an MLP: 2 per multiply-add of every weight layer.
pub fn forward_flops_per_sample(model: &ModelConfig) -> f64 {
    let w = model.width as f64;
    2.0 * (model.depth as f64 * w * w + model.input_dim as f64 * w + w * model.output_dim as f64)
}

/// FLOPs of one forward pass per sample of the run's network: an MLP's weight layers, or a
/// conv net's convs and classifier (see [`ConvNetConfig::forward_flops_per_sample`]; a conv
/// run on data without an image shape is refused before it trains, and costs 0 here).
pub fn run_forward_flops(config: &RunConfig, data: DataShape) -> f64 {
    match config.family {
        Family::Mlp => forward_flops_per_sample(&config.model),
        Family::Conv => data
            .image_shape
            .and_then(|image| ConvNetConfig::for_run(&config.model, image))
            .map_or(0.0, |net| net.forward_flops_per_sample()),
    }
}

/// Training steps cost 3× a forward (forward, input gradient, weight gradient); evaluation
/// of both sets, the probes and the optional mechanism probes (a perturbed twin: training
/// again) are added.
pub fn run_flops(config: &RunConfig, data: DataShape) -> f64 {
    let forward = run_forward_flops(config, data);
    let train = 3.0 * forward * (config.steps * config.batch_size) as f64;
    let eval = forward * (data.train_len + data.test_len) as f64;
    let probes = 2.0 * 3.0 * forward * config.batch_size as f64;
    let shattered = if config.probes.shattered_gradients {
        2.0 * 3.0 * forward * crate::train::mechanisms::LINE_POINTS as f64
    } else {
        0.0
    };
    let lesion = if config.probes.lesion { (config.model.blocks() * data.train_len) as f64 * forward } else { 0.0 };
    // The perturbed twin trains in lockstep: the training cost once more.
    let twin = if config.probes.perturbation { train } else { 0.0 };
    // Checkpoints in the last tenth of the steps evaluate the whole training set too (besides
    // the final evaluation above): on a large set this is not small.
    let checkpoints = crate::train::run::checkpoint_steps(config.steps, config.checkpoints);
    let tail = checkpoints.iter().filter(|&&step| step >= crate::train::run::tail_start(config.steps)).count();
    let tail_evaluation = forward * (tail * data.train_len) as f64;
    // The instruments evaluate part of both sets at step 0 and at every checkpoint.
    let samples = config.probes.instrument_samples;
    let instrument_points = if samples > 0 { checkpoints.len() + 1 } else { 0 };
    let instruments = forward * (instrument_points * (samples.min(data.train_len) + samples.min(data.test_len))) as f64;
    train + eval + probes + shattered + lesion + twin + tail_evaluation + instruments
}

/// The runs that belong to `shard`: positions ≡ index (mod count) in run-id order.
pub fn select_shard(runs: Vec<PlannedRun>, shard: Option<Shard>) -> Vec<PlannedRun> {
    match shard {
        None => runs,
        Some(shard) => {
            runs.into_iter().enumerate().filter(|(i, _)| i % shard.count == shard.index).map(|(_, r)| r).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The digits set's shape (64 pixels, 10 classes); set sizes do not enter run ids.
    const DIGITS: DataShape =
        DataShape { input_dim: 64, output_dim: 10, train_len: 0, test_len: 0, image_shape: Some([1, 8, 8]) };

    const FASHION: DataShape =
        DataShape { input_dim: 784, output_dim: 10, train_len: 0, test_len: 0, image_shape: Some([1, 28, 28]) };

    /// The run ids an experiment file (or one shard of it) expands to, with its data set's
    /// shape (the ids hash the model's input size); the committed sets are digits and
    /// Fashion-MNIST.
    fn ids_of(experiment_toml: &Path, shard: Option<Shard>) -> Vec<String> {
        let experiment = Experiment::from_file(experiment_toml).unwrap();
        let shape = match experiment.dataset {
            crate::config::DatasetKind::FashionMnist => FASHION,
            crate::config::DatasetKind::Digits => DIGITS,
            other => panic!("{}: no shape for {other} here", experiment_toml.display()),
        };
        select_shard(expand(&experiment, shape), shard).into_iter().map(|r| r.run_id).collect()
    }

    /// The shard a published directory holds, from its name's `-shard-I-of-N` suffix (the
    /// sweep's own naming): such a directory records exactly that shard's runs.
    fn shard_of_directory(dir: &Path) -> Option<Shard> {
        let name = dir.file_name()?.to_str()?;
        let (_, tail) = name.rsplit_once("-shard-")?;
        let (index, count) = tail.split_once("-of-")?;
        format!("{index}/{count}").parse().ok()
    }

    /// Resume skips the runs whose ids are already recorded, so a change to the id (the
    /// config's serialisation, the hash, the prefix) would silently retrain every result set.
    /// The committed results sets pin them: each experiment file expands to exactly the ids
    /// its sweep recorded (a shard's directory: exactly its shard's ids).
    #[test]
    fn run_ids_of_the_committed_experiments_are_stable() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/data");
        let mut checked = 0;
        for machine_dir in std::fs::read_dir(&data).unwrap() {
            for set in std::fs::read_dir(machine_dir.unwrap().path()).unwrap() {
                let dir = set.unwrap().path();
                let (toml, runs) = (dir.join("experiment.toml"), dir.join(crate::record::RUNS_JSONL));
                if !(toml.is_file() && runs.is_file()) {
                    continue;
                }
                let mut recorded: Vec<String> =
                    crate::record::read_runs(&runs).unwrap().records.into_iter().map(|r| r.run_id).collect();
                recorded.sort();
                let expected = ids_of(&toml, shard_of_directory(&dir));
                assert_eq!(expected, recorded, "{}", dir.display());
                checked += 1;
            }
        }
        assert!(checked >= 4, "only {checked} committed results sets found");
    }

    #[test]
    fn run_ids_of_the_quick_preset_are_pinned() {
        let ids = ids_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/quick.toml"), None);
        assert_eq!(ids.len(), 42);
        assert_eq!(ids[0], "plain-d128-w64-s0-9e1c205f7b");
        assert_eq!(ids[1], "plain-d128-w64-s1-d70207541f");
        assert_eq!(ids[41], "residual-d8-w64-s2-71004f02e9");
    }

    /// The JSON the id of the committed run `plain-d128-w64-s1-d70207541f`
    /// (reports/data/fcada670a40e/degradation) hashed, before conv nets and schedules existed.
    const DEGRADATION_PLAIN_128_SEED_1: &str = concat!(
        r#"{"experiment":"degradation","dataset":"digits","dataset_options":{"samples":1000,"test_samples":250,"#,
        r#""turns":2.0,"noise":0.05,"input_dim":16,"output_dim":4,"teacher_depth":4,"teacher_width":32,"data_seed":0},"#,
        r#""model":{"arch":"plain","depth":128,"width":64,"input_dim":64,"output_dim":10,"activation":"relu","#,
        r#""norm":"none","residual_scale":"one","block_layers":1,"init":"he"},"#,
        r#""optimizer":{"kind":"adam","lr":0.001,"momentum":0.9,"weight_decay":0.0},"#,
        r#""batch_size":64,"steps":1500,"checkpoints":30,"seed":1,"probes":{"shattered_gradients":false,"lesion":false}}"#
    );

    #[test]
    fn an_mlp_run_serialises_and_is_identified_as_before_conv_nets_and_schedules() {
        let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/data/fcada670a40e/degradation/experiment.toml");
        let experiment = Experiment::from_file(&toml).unwrap();
        let runs = expand(&experiment, DIGITS);
        let run = runs.iter().find(|r| r.run_id == "plain-d128-w64-s1-d70207541f").expect("the committed run id");
        assert_eq!(serde_json::to_string(&run.config).unwrap(), DEGRADATION_PLAIN_128_SEED_1);
        // And the JSON reads back into the same configuration: absent family = mlp, absent
        // schedule = constant.
        let read: RunConfig = serde_json::from_str(DEGRADATION_PLAIN_128_SEED_1).unwrap();
        assert_eq!(read, run.config);
        assert_eq!((read.family, read.lr_schedule.is_constant()), (Family::Mlp, true));
    }

    #[test]
    fn conv_runs_and_schedules_are_written_into_the_config_and_change_the_id() {
        let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/data/fcada670a40e/degradation/experiment.toml");
        let experiment = Experiment::from_file(&toml).unwrap();
        let mlp = expand(&experiment, DIGITS).into_iter().find(|r| r.run_id == "plain-d128-w64-s1-d70207541f").unwrap();
        let scheduled = RunConfig {
            lr_schedule: crate::config::LrSchedule { decay_at: vec![0.5], ..Default::default() },
            ..mlp.config.clone()
        };
        let json = serde_json::to_string(&scheduled).unwrap();
        assert!(json.contains(r#","lr_schedule":{"decay_at":[0.5],"decay_factor":0.1},"batch_size""#), "{json}");
        assert_ne!(run_id(&scheduled), mlp.run_id);
        let conv =
            RunConfig { family: Family::Conv, model: conv::model(Arch::Plain, 20, 16, 64, 10), ..mlp.config.clone() };
        let json = serde_json::to_string(&conv).unwrap();
        assert!(json.contains(r#""family":"conv","model":{"arch":"plain","depth":20,"width":16,"#), "{json}");
        assert!(run_id(&conv).starts_with("plain-d20-w16-s1-"));
        assert_eq!(serde_json::from_str::<RunConfig>(&json).unwrap(), conv);
    }

    #[test]
    fn conv_flops_follow_the_network_and_mlp_flops_are_unchanged() {
        let experiment = Experiment::from_toml_str(
            "name = \"c\"\ndataset = \"fashion_mnist\"\nfamily = \"conv\"\narchs = [\"residual\"]\ndepths = [20, 56]\n\
             seeds = [0]\nsteps = 100\nbatch_size = 128\ncheckpoints = 10\n[optimizer]\nkind = \"sgd\"\nlr = 0.1\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let fashion =
            DataShape { input_dim: 784, output_dim: 10, train_len: 0, test_len: 0, image_shape: Some([1, 28, 28]) };
        let runs = expand(&experiment, fashion);
        let step = |depth: usize| {
            let run = runs.iter().find(|r| r.config.model.depth == depth).unwrap();
            3.0 * run_forward_flops(&run.config, fashion) * 128.0 / 1e9
        };
        // 23.7 and 73.6 GFLOP per training step of 128 images (3 × the forward FLOPs).
        assert!((step(20) - 23.67).abs() < 0.01, "{}", step(20));
        assert!((step(56) - 73.6).abs() < 0.1, "{}", step(56));
        // No data sizes here, so a run is its steps and probes: 100 + 2 steps' worth.
        let run = &runs[0];
        let per_step = 3.0 * run_forward_flops(&run.config, fashion) * 128.0;
        assert!((run.flops / per_step - 102.0).abs() < 1e-9);
        // An MLP's cost is its weight layers, as before.
        let model = ModelConfig {
            arch: Arch::Plain,
            depth: 4,
            width: 8,
            input_dim: 3,
            output_dim: 2,
            activation: crate::config::Activation::Relu,
            norm: crate::config::Norm::None,
            residual_scale: ResidualScale::One,
            block_layers: 1,
            init: crate::config::Init::He,
        };
        assert_eq!(forward_flops_per_sample(&model), 2.0 * (4.0 * 64.0 + 24.0 + 16.0));
    }
}
