//! Bad input: every invalid configuration gives an `Err` whose message
//! names the field and the offending value, and nothing panics. Experiment files
//! additionally name the file and the line of the offending key.

use degradation_bench::config::{
    conv, Activation, Arch, DatasetKind, DatasetOptions, Experiment, Family, Init, LrSchedule, MechanismProbes,
    ModelConfig, Norm, OptimizerConfig, OptimizerKind, ResidualScale, RunConfig,
};
use degradation_bench::data::{self, Split};
use degradation_bench::model::Mlp;
use degradation_bench::train::train;
use std::path::Path;
use std::sync::OnceLock;

fn digits() -> &'static Split {
    static SPLIT: OnceLock<Split> = OnceLock::new();
    SPLIT.get_or_init(|| data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap())
}

fn config() -> RunConfig {
    RunConfig {
        experiment: "bad-input".into(),
        dataset: DatasetKind::Digits,
        dataset_options: DatasetOptions::default(),
        model: ModelConfig {
            arch: Arch::Plain,
            depth: 2,
            width: 8,
            input_dim: 64,
            output_dim: 10,
            activation: Activation::Relu,
            norm: Norm::None,
            residual_scale: ResidualScale::One,
            block_layers: 2,
            init: Init::He,
        },
        optimizer: OptimizerConfig { kind: OptimizerKind::Adam, lr: 1e-3, momentum: 0.0, weight_decay: 0.0 },
        batch_size: 16,
        steps: 2,
        checkpoints: 1,
        seed: 0,
        family: Family::Mlp,
        lr_schedule: LrSchedule::default(),
        probes: MechanismProbes::default(),
    }
}

/// `train` must refuse `config` with a message naming `field` (in backticks) and `value`.
#[track_caller]
fn rejects(config: &RunConfig, split: &Split, field: &str, value: &str) {
    let message = match train(config, split) {
        Ok(_) => panic!("accepted a bad `{field}` = {value}"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains(&format!("`{field}`")), "message does not name `{field}`: {message}");
    assert!(message.contains(value), "message does not name the value {value}: {message}");
}

#[test]
fn baseline_config_is_accepted() {
    // The cases below each change one field of this config, so they fail for that field only.
    let result = train(&config(), digits()).unwrap();
    assert!(!result.diverged);
}

#[test]
fn bad_model_shapes() {
    let split = digits();
    let mut c = config();
    c.model.depth = 0;
    rejects(&c, split, "depth", "0");

    let mut c = config();
    c.model.width = 0;
    rejects(&c, split, "width", "0");

    // Odd depth with two-layer residual blocks; one-layer blocks accept it.
    let mut c = config();
    c.model.arch = Arch::Residual;
    c.model.depth = 3;
    rejects(&c, split, "depth", "3");
    c.model.block_layers = 1;
    assert!(train(&c, split).is_ok());

    let mut c = config();
    c.model.arch = Arch::Residual;
    c.model.block_layers = 3;
    c.model.depth = 6;
    rejects(&c, split, "block_layers", "3");

    // Model and data disagree on the input or output size.
    let mut c = config();
    c.model.input_dim = 63;
    rejects(&c, split, "model", "63");
    let mut c = config();
    c.model.output_dim = 3;
    rejects(&c, split, "model", "3");
}

#[test]
fn bad_batch_sizes() {
    let split = digits();
    let mut c = config();
    c.batch_size = 0;
    rejects(&c, split, "batch_size", "0");

    // Digits has 1437 training samples: 1437 is fine, 1438 is not.
    let mut c = config();
    c.batch_size = 1438;
    rejects(&c, split, "batch_size", "1438");
    c.batch_size = 1437;
    c.steps = 1;
    assert!(train(&c, split).is_ok());

    let message = Mlp::<f32>::new(&config().model, 0, 0).err().expect("batch 0 accepted").to_string();
    assert!(message.contains("`batch_size`"), "{message}");
}

#[test]
fn bad_learning_rates_and_optimizer_values() {
    let split = digits();
    for (lr, text) in
        [(0.0, "0"), (-1e-3, "-0.001"), (f64::NAN, "NaN"), (f64::INFINITY, "inf"), (f64::NEG_INFINITY, "-inf")]
    {
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let mut c = config();
            c.optimizer.kind = kind;
            c.optimizer.lr = lr;
            rejects(&c, split, "optimizer.lr", text);
        }
    }
    let mut c = config();
    c.optimizer.momentum = 1.0;
    rejects(&c, split, "optimizer.momentum", "1");
    let mut c = config();
    c.optimizer.weight_decay = f64::NAN;
    rejects(&c, split, "optimizer.weight_decay", "NaN");
    let mut c = config();
    c.optimizer.weight_decay = -0.5;
    rejects(&c, split, "optimizer.weight_decay", "-0.5");
}

#[test]
fn data_sets_too_small_for_the_batch() {
    // Two spirals with 5 points per arm: 10 training samples, batch 16.
    let options = DatasetOptions { samples: 5, test_samples: 5, ..DatasetOptions::default() };
    let split = data::load(DatasetKind::Spirals, &options).unwrap();
    assert_eq!(split.train.len(), 10);
    let mut c = config();
    c.dataset = DatasetKind::Spirals;
    c.dataset_options = options.clone();
    c.model.input_dim = 2;
    c.model.output_dim = 2;
    rejects(&c, &split, "batch_size", "16");
    c.batch_size = 10;
    assert!(train(&c, &split).is_ok());

    // A teacher regression set of 12 samples, batch 16.
    let options = DatasetOptions { samples: 12, test_samples: 4, ..DatasetOptions::default() };
    let split = data::load(DatasetKind::Teacher, &options).unwrap();
    let mut c = config();
    c.dataset = DatasetKind::Teacher;
    c.dataset_options = options.clone();
    c.model.input_dim = options.input_dim;
    c.model.output_dim = options.output_dim;
    rejects(&c, &split, "batch_size", "16");

    // Empty data sets are refused when they are built.
    for kind in [DatasetKind::Spirals, DatasetKind::Teacher] {
        let options = DatasetOptions { samples: 0, ..DatasetOptions::default() };
        let message = data::load(kind, &options).unwrap_err().to_string();
        assert!(message.contains("`dataset_options.samples`") && message.contains(": 0"), "{message}");
        let mut c = config();
        c.dataset = kind;
        c.dataset_options = options;
        rejects(&c, digits(), "dataset_options.samples", "0");
    }
    let options = DatasetOptions { noise: f64::NAN, ..DatasetOptions::default() };
    let message = data::load(DatasetKind::Spirals, &options).unwrap_err().to_string();
    assert!(message.contains("`dataset_options.noise`") && message.contains("NaN"), "{message}");
}

#[test]
fn unknown_names_in_code() {
    fn refuses<T: std::str::FromStr<Err = degradation_bench::Error>>(name: &str) {
        let message = name.parse::<T>().err().expect("an unknown name was accepted").to_string();
        assert!(message.contains(name), "{message}");
    }
    refuses::<Arch>("foo");
    refuses::<Activation>("swish");
    refuses::<Norm>("group");
    refuses::<ResidualScale>("two");
    refuses::<Init>("lecun");
    refuses::<OptimizerKind>("rmsprop");
    refuses::<DatasetKind>("mnist");
    // Names are exact: no case folding, no padding.
    refuses::<Arch>("Plain");
    refuses::<Arch>(" plain");
    assert_eq!("inv_sqrt_blocks".parse::<ResidualScale>().unwrap(), ResidualScale::InvSqrtBlocks);
}

const EXPERIMENT: &str = r#"name = "t"
dataset = "digits"
archs = ["plain", "residual"]
depths = [2, 4]
widths = [16]
activations = ["relu"]
norms = ["none"]
residual_scales = ["one"]
inits = ["he"]
seeds = [0]
steps = 10
batch_size = 8

[optimizer]
kind = "adam"
lr = 0.001
"#;

/// The experiment with the first occurrence of `from` replaced by `to` must be refused with a
/// message naming x.toml, the line `line` and every one of `names`.
#[track_caller]
fn experiment_rejects(from: &str, to: &str, line: usize, names: &[&str]) {
    assert!(EXPERIMENT.contains(from), "{from}");
    let text = EXPERIMENT.replacen(from, to, 1);
    let message = match Experiment::from_toml_str(&text, Path::new("x.toml")) {
        Ok(_) => panic!("accepted {to:?}"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.starts_with(&format!("x.toml:{line}:")) || message.starts_with(&format!("x.toml:{line} ")),
        "{to:?}: message does not give x.toml:{line}: {message}"
    );
    for name in names {
        assert!(message.contains(name), "{to:?}: message does not name {name}: {message}");
    }
}

#[test]
fn experiment_file_baseline_is_accepted() {
    let experiment = Experiment::from_toml_str(EXPERIMENT, Path::new("x.toml")).unwrap();
    assert_eq!(experiment.depths, vec![2, 4]);
}

#[test]
fn experiment_file_unknown_names() {
    experiment_rejects(r#"archs = ["plain", "residual"]"#, r#"archs = ["plain", "foo"]"#, 3, &["`archs`", "foo"]);
    experiment_rejects(r#"dataset = "digits""#, r#"dataset = "mnist""#, 2, &["`dataset`", "mnist"]);
    experiment_rejects(r#"activations = ["relu"]"#, r#"activations = ["swish"]"#, 6, &["`activations`", "swish"]);
    experiment_rejects(r#"norms = ["none"]"#, r#"norms = ["group"]"#, 7, &["`norms`", "group"]);
    experiment_rejects(
        r#"residual_scales = ["one"]"#,
        r#"residual_scales = ["two"]"#,
        8,
        &["`residual_scales`", "two"],
    );
    experiment_rejects(r#"inits = ["he"]"#, r#"inits = ["lecun"]"#, 9, &["`inits`", "lecun"]);
    experiment_rejects(r#"kind = "adam""#, r#"kind = "rmsprop""#, 15, &["`kind`", "rmsprop"]);
    // An unknown key, at the top level and inside a table.
    experiment_rejects("steps = 10", "steps = 10\ncolour = 3", 12, &["`colour`"]);
    experiment_rejects("lr = 0.001", "lr = 0.001\nbeta = 0.9", 17, &["`beta`"]);
}

#[test]
fn experiment_file_wrong_types() {
    experiment_rejects("steps = 10", r#"steps = "many""#, 11, &["`steps`", "many"]);
    experiment_rejects("steps = 10", "steps = -3", 11, &["`steps`", "-3"]);
    experiment_rejects(r#"inits = ["he"]"#, r#"inits = "he""#, 9, &["`inits`"]);
    experiment_rejects("lr = 0.001", r#"lr = "fast""#, 16, &["`lr`", "fast"]);
    // Inside a multi-line array the key is on an earlier line; the line reported is the value's.
    experiment_rejects("depths = [2, 4]", "depths = [\n  2,\n  \"four\",\n]", 6, &["`depths`", "four"]);
}

#[test]
fn experiment_file_bad_values() {
    experiment_rejects("depths = [2, 4]", "depths = []", 4, &["`depths`", "[]"]);
    experiment_rejects("seeds = [0]", "seeds = []", 10, &["`seeds`", "[]"]);
    experiment_rejects("widths = [16]", "widths = [16, 0]", 5, &["`widths`", "0"]);
    experiment_rejects("depths = [2, 4]", "depths = [2, 3]", 4, &["`depths`", "3"]);
    experiment_rejects("depths = [2, 4]", "depths = [0]", 4, &["`depths`", "0"]);
    experiment_rejects("batch_size = 8", "batch_size = 0", 12, &["`batch_size`", "0"]);
    experiment_rejects("lr = 0.001", "lr = -1.0", 16, &["`optimizer.lr`", "-1"]);
    experiment_rejects("lr = 0.001", "lr = nan", 16, &["`optimizer.lr`", "NaN"]);
    experiment_rejects("lr = 0.001", "lr = inf", 16, &["`optimizer.lr`", "inf"]);
    experiment_rejects(r#"name = "t""#, r#"name = "a/b""#, 1, &["`name`", "a/b"]);
}

#[test]
fn experiment_file_bad_optimizer_in_a_list_is_located() {
    let text = EXPERIMENT.replace(
        "[optimizer]\nkind = \"adam\"\nlr = 0.001\n",
        "[[optimizers]]\nkind = \"adam\"\nlr = 0.001\n\n[[optimizers]]\nkind = \"sgd\"\nlr = -2.0\nmomentum = 0.9\n",
    );
    let message = Experiment::from_toml_str(&text, Path::new("x.toml")).unwrap_err().to_string();
    assert!(
        message.starts_with("x.toml:20:") && message.contains("`optimizer.lr`") && message.contains("-2"),
        "{message}"
    );
}

/// `text` must be refused with a message that starts with `prefix` (file, line and column) and
/// names every one of `names`.
#[track_caller]
fn file_rejects(text: &str, prefix: &str, names: &[&str]) {
    let message = match Experiment::from_toml_str(text, Path::new("x.toml")) {
        Ok(_) => panic!("accepted {text}"),
        Err(e) => e.to_string(),
    };
    assert!(message.starts_with(prefix), "message does not start with {prefix}: {message}");
    for name in names {
        assert!(message.contains(name), "message does not name {name}: {message}");
    }
}

const OPTIMIZER_TABLE: &str = "[optimizer]\nkind = \"adam\"\nlr = 0.001\n";

#[test]
fn experiment_file_values_inside_inline_tables_and_multi_line_arrays() {
    // An inline optimizer table on line 14: the column is that of the bad value.
    let inline = |table: &str| EXPERIMENT.replace(OPTIMIZER_TABLE, table);
    file_rejects(&inline("optimizer = { kind = \"sgd\", lr = -1.0 }\n"), "x.toml:14:34:", &["`optimizer.lr`", "-1"]);
    file_rejects(&inline("optimizer = { kind = \"sgd\", lr = \"x\" }\n"), "x.toml:14:34:", &["`lr`", "\"x\""]);
    file_rejects(&inline("optimizer = { kind = \"sgd\", lr = 0.1, beta = 2 }\n"), "x.toml:14:39:", &["`beta`"]);
    // The bad element of a multi-line array, not the line of its key.
    let widths = EXPERIMENT.replace("widths = [16]", "widths = [\n  16,\n  0,\n]");
    file_rejects(&widths, "x.toml:7:3:", &["`widths`", "0", "widths[1]"]);
    let depths = EXPERIMENT.replace("depths = [2, 4]", "depths = [\n  2,\n  4,\n  5,\n]");
    file_rejects(&depths, "x.toml:7:3:", &["`depths`", "5", "depths[2]"]);
}

#[test]
fn experiment_file_keys_inside_table_sections() {
    let spirals = EXPERIMENT.replace("dataset = \"digits\"", "dataset = \"spirals\"");
    let with_options = |options: &str| format!("{spirals}\n[dataset_options]\n{options}");
    file_rejects(&with_options("samples = 10\nnoise = -1.0\n"), "x.toml:20:9:", &["`dataset_options.noise`", "-1"]);
    file_rejects(&with_options("samples = 0\n"), "x.toml:19:11:", &["`dataset_options.samples`", "0"]);
    file_rejects(&with_options("colour = 3\n"), "x.toml:19:1:", &["`colour`", "3"]);
    file_rejects(&with_options("turns = \"two\"\n"), "x.toml:19:9:", &["`turns`", "two", "dataset_options.turns"]);
    // The same key as a dotted key at the top level.
    let dotted = spirals.replace("steps = 10", "steps = 10\ndataset_options.noise = -0.5");
    file_rejects(&dotted, "x.toml:12:25:", &["`dataset_options.noise`", "-0.5"]);
    // A `[[optimizers]]` entry without its learning rate: the line of that entry's header.
    let list = EXPERIMENT
        .replace(OPTIMIZER_TABLE, "[[optimizers]]\nkind = \"adam\"\nlr = 0.001\n[[optimizers]]\nkind = \"sgd\"\n");
    file_rejects(&list, "x.toml:17:1:", &["`lr`", "optimizers[1]"]);
}

#[test]
fn experiment_file_duplicate_keys_and_syntax_errors() {
    file_rejects(&EXPERIMENT.replace("steps = 10", "steps = 10\nsteps = 20"), "x.toml:12:1:", &["duplicate", "steps"]);
    file_rejects(&format!("{EXPERIMENT}{OPTIMIZER_TABLE}"), "x.toml:17:2:", &["duplicate", "`optimizer`"]);
    file_rejects(&EXPERIMENT.replace("lr = 0.001", "lr = 0.0.1"), "x.toml:16:", &["`lr`", "float"]);
    file_rejects(&EXPERIMENT.replace("name = \"t\"", "name = \"t"), "x.toml:1:", &["`name`", "string"]);
    file_rejects(&EXPERIMENT.replace("kind = \"adam\"", "kind = adam"), "x.toml:15:8:", &["`kind`", "quoted"]);
    // An unclosed array: the parser notices at the next line's key, and names the array.
    file_rejects(&EXPERIMENT.replace("seeds = [0]", "seeds = [0"), "x.toml:11:1:", &["`seeds`"]);
}

#[test]
fn experiment_file_missing_keys_name_the_file_and_the_key() {
    // A missing top-level key has no line of its own: the message gives the file and the key.
    let message = Experiment::from_toml_str(&EXPERIMENT.replace("steps = 10\n", ""), Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("x.toml: ") && message.contains("`steps`"), "{message}");
    // A missing key of a table: the line of the table's header.
    let message = Experiment::from_toml_str(&EXPERIMENT.replace("lr = 0.001\n", ""), Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("x.toml:14:1:") && message.contains("`lr`"), "{message}");
}

/// A valid conv experiment: the paper's recipe on the digits.
const CONV_EXPERIMENT: &str = r#"name = "c"
dataset = "digits"
family = "conv"
archs = ["plain", "residual"]
depths = [8, 20]
seeds = [0]
steps = 10
batch_size = 8

[optimizer]
kind = "sgd"
lr = 0.1
momentum = 0.9
lr_decay_at = [0.5, 0.75]
"#;

/// [`CONV_EXPERIMENT`] with the first `from` replaced by `to` must be refused with a message
/// naming x.toml, the line `line` and every one of `names`.
#[track_caller]
fn conv_experiment_rejects(from: &str, to: &str, line: usize, names: &[&str]) {
    assert!(CONV_EXPERIMENT.contains(from), "{from}");
    let text = CONV_EXPERIMENT.replacen(from, to, 1);
    file_rejects(&text, &format!("x.toml:{line}:"), names);
}

#[test]
fn conv_experiment_baseline_is_accepted() {
    let experiment = Experiment::from_toml_str(CONV_EXPERIMENT, Path::new("x.toml")).unwrap();
    assert_eq!((experiment.family, experiment.base_channels), (Family::Conv, None));
    // The MLP axes may also be written out, as long as they state the paper's values.
    let explicit = CONV_EXPERIMENT.replace(
        "seeds = [0]",
        "seeds = [0]\nactivations = [\"relu\"]\nnorms = [\"batch\"]\ninits = [\"he\"]\nresidual_scales = [\"one\"]\nblock_layers = 2\nbase_channels = 8",
    );
    assert!(Experiment::from_toml_str(&explicit, Path::new("x.toml")).is_ok());
}

#[test]
fn conv_experiment_bad_values_name_their_key_and_line() {
    conv_experiment_rejects("depths = [8, 20]", "depths = [8, 21]", 5, &["`depths`", "21", "6n + 2", "depths[1]"]);
    conv_experiment_rejects("depths = [8, 20]", "depths = [2]", 5, &["`depths`", "2", "6n + 2"]);
    conv_experiment_rejects(r#"dataset = "digits""#, r#"dataset = "spirals""#, 2, &["`dataset`", "spirals", "images"]);
    conv_experiment_rejects(r#"family = "conv""#, r#"family = "cnn""#, 3, &["`family`", "cnn"]);
    let after_seeds = |extra: &str| format!("seeds = [0]\n{extra}");
    conv_experiment_rejects("seeds = [0]", &after_seeds("widths = [16]"), 7, &["`widths`", "16", "base_channels"]);
    conv_experiment_rejects("seeds = [0]", &after_seeds("base_channels = 5"), 7, &["`base_channels`", "5", "even"]);
    conv_experiment_rejects(
        "seeds = [0]",
        &after_seeds(r#"activations = ["relu", "tanh"]"#),
        7,
        &["`activations`", "tanh", "relu", "activations[1]"],
    );
    conv_experiment_rejects("seeds = [0]", &after_seeds(r#"norms = ["none"]"#), 7, &["`norms`", "none", "batch"]);
    conv_experiment_rejects("seeds = [0]", &after_seeds(r#"inits = ["xavier"]"#), 7, &["`inits`", "xavier"]);
    conv_experiment_rejects(
        "seeds = [0]",
        &after_seeds(r#"residual_scales = ["inv_sqrt_blocks"]"#),
        7,
        &["`residual_scales`", "inv_sqrt_blocks"],
    );
    conv_experiment_rejects("seeds = [0]", &after_seeds("block_layers = 1"), 7, &["`block_layers`", "1", "two convs"]);
    conv_experiment_rejects("seeds = [0]", &after_seeds("lesion = true"), 7, &["`lesion`", "true"]);
}

#[test]
fn conv_options_in_an_mlp_experiment_are_refused() {
    let text = EXPERIMENT.replace("seeds = [0]", "seeds = [0]\nbase_channels = 16");
    file_rejects(&text, "x.toml:11:", &["`base_channels`", "16", "conv"]);
    // An MLP experiment still needs its axes.
    let text = EXPERIMENT.replace("widths = [16]\n", "");
    file_rejects(&text, "x.toml: ", &["`widths`", "[]"]);
}

#[test]
fn schedule_bad_values_name_their_key_and_line() {
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        "lr_decay_at = [0.5, 1.5]",
        14,
        &["`optimizer.lr_decay_at`", "1.5"],
    );
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        "lr_decay_at = [0.75, 0.5]",
        14,
        &["`optimizer.lr_decay_at`", "0.5"],
    );
    let add = |extra: &str| format!("lr_decay_at = [0.5, 0.75]\n{extra}");
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        &add("lr_decay_factor = 1.5"),
        15,
        &["`optimizer.lr_decay_factor`", "1.5"],
    );
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        &add("warmup_lr = 0.01"),
        15,
        &["`optimizer.warmup_lr`", "0.01", "warmup_steps"],
    );
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        &add("warmup_min_depth = 110"),
        15,
        &["`optimizer.warmup_min_depth`", "110", "warmup_steps"],
    );
    // A warm-up without its rate: the line of the optimizer table.
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        &add("warmup_steps = 40"),
        10,
        &["`optimizer.warmup_lr`", "missing"],
    );
    conv_experiment_rejects(
        "lr_decay_at = [0.5, 0.75]",
        &add("warmup_steps = 40\nwarmup_lr = -0.01"),
        16,
        &["`optimizer.warmup_lr`", "-0.01"],
    );
    // A factor without decay points would do nothing.
    let text = EXPERIMENT.replace("lr = 0.001", "lr = 0.001\nlr_decay_factor = 0.5");
    file_rejects(&text, "x.toml:17:", &["`optimizer.lr_decay_factor`", "0.5", "lr_decay_at"]);
    // Inside the second of two [[optimizers]] tables.
    let list = EXPERIMENT.replace(
        OPTIMIZER_TABLE,
        "[[optimizers]]\nkind = \"adam\"\nlr = 0.001\n[[optimizers]]\nkind = \"sgd\"\nlr = 0.1\nlr_decay_at = [0.0]\n",
    );
    file_rejects(&list, "x.toml:20:", &["`optimizer.lr_decay_at`", "0", "optimizers[1]"]);
}

#[test]
fn bad_conv_run_configurations() {
    let split = digits();
    let conv_config =
        || RunConfig { family: Family::Conv, model: conv::model(Arch::Residual, 8, 8, 64, 10), ..config() };
    assert!(train(&RunConfig { steps: 1, ..conv_config() }, split).is_ok());
    let mut c = conv_config();
    c.model.depth = 9;
    rejects(&c, split, "depth", "9");
    let mut c = conv_config();
    c.model.width = 7;
    rejects(&c, split, "width", "7");
    let mut c = conv_config();
    c.model.norm = Norm::None;
    rejects(&c, split, "norm", "none");
    let mut c = conv_config();
    c.model.activation = Activation::Gelu;
    rejects(&c, split, "activation", "gelu");
    let mut c = conv_config();
    c.model.residual_scale = ResidualScale::Rezero;
    rejects(&c, split, "residual_scale", "rezero");
    let mut c = conv_config();
    c.probes.lesion = true;
    rejects(&c, split, "lesion", "true");
    let mut c = conv_config();
    c.dataset = DatasetKind::Teacher;
    rejects(&c, split, "dataset", "teacher");
    // The schedule of a run.
    let mut c = config();
    c.lr_schedule = LrSchedule { decay_at: vec![2.0], ..LrSchedule::default() };
    rejects(&c, split, "lr_schedule.decay_at", "2");
    let mut c = config();
    c.lr_schedule = LrSchedule { warmup_steps: 3, ..LrSchedule::default() };
    rejects(&c, split, "lr_schedule.warmup_lr", "0");
}

#[test]
fn exclusions_that_exclude_nothing_or_everything_are_refused() {
    let with = |tables: &str| format!("{CONV_EXPERIMENT}{tables}");
    let plain_20 = "\n[[exclude]]\narch = \"plain\"\ndepth = 20\n";
    let experiment = Experiment::from_toml_str(&with(plain_20), Path::new("x.toml")).unwrap();
    assert!(experiment.excludes(Arch::Plain, 20) && !experiment.excludes(Arch::Residual, 20));
    file_rejects(
        &with("\n[[exclude]]\narch = \"plain\"\ndepth = 14\n"),
        "x.toml:16:",
        &["`exclude`", "14", "matches no"],
    );
    file_rejects(&with("\n[[exclude]]\n"), "x.toml:16:", &["`exclude`", "arch"]);
    file_rejects(
        &with("\n[[exclude]]\ndepth = 8\n[[exclude]]\ndepth = 20\n"),
        "x.toml",
        &["`exclude`", "nothing to run"],
    );
    file_rejects(&with("\n[[exclude]]\nwidth = 8\n"), "x.toml:17:", &["`width`"]);
}

#[test]
fn instrument_samples_need_the_instruments_and_at_least_one_sample() {
    let base = "name = \"i\"\ndataset = \"digits\"\narchs = [\"plain\"]\ndepths = [2]\nwidths = [8]\nactivations = [\"relu\"]\n\
                norms = [\"none\"]\nresidual_scales = [\"one\"]\ninits = [\"he\"]\nseeds = [0]\nsteps = 10\nbatch_size = 8\n\
                checkpoints = 2\n[optimizer]\nkind = \"sgd\"\nlr = 0.1\n";
    let with = |extra: &str| base.replacen("seeds = [0]\n", &format!("seeds = [0]\n{extra}\n"), 1);
    let message =
        Experiment::from_toml_str(&with("instrument_samples = 100"), Path::new("x.toml")).unwrap_err().to_string();
    assert!(message.contains("`instrument_samples`") && message.contains("`instruments`"), "{message}");
    let message = Experiment::from_toml_str(&with("instruments = true\ninstrument_samples = 0"), Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("`instrument_samples`") && message.contains("at least 1"), "{message}");
    let on = Experiment::from_toml_str(&with("instruments = true"), Path::new("x.toml")).unwrap();
    assert_eq!(on.run_instrument_samples(), degradation_bench::config::DEFAULT_INSTRUMENT_SAMPLES);
    let off = Experiment::from_toml_str(base, Path::new("x.toml")).unwrap();
    assert_eq!(off.run_instrument_samples(), 0);
}
