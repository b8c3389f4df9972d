//! Conv nets end to end: a conv run trains through `train()` on the digits (1×8×8) and its loss
//! falls, with the probes of a conv net; a conv experiment sweeps into records that say
//! `"family":"conv"`; a learning-rate schedule changes a run exactly from the update after its
//! milestone (or after its warm-up) on.

mod common;

use common::digits_run;
use degradation_bench::config::{
    conv, Arch, DatasetKind, DatasetOptions, Experiment, Family, LrSchedule, OptimizerConfig, OptimizerKind, RunConfig,
};
use degradation_bench::data::{self, Split};
use degradation_bench::record::{self, LossPoint};
use degradation_bench::sweep::{self, SweepOptions};
use degradation_bench::train::train;
use std::path::Path;
use std::sync::OnceLock;

fn digits() -> &'static Split {
    static SPLIT: OnceLock<Split> = OnceLock::new();
    SPLIT.get_or_init(|| data::load(DatasetKind::Digits, &DatasetOptions::default()).unwrap())
}

/// The paper's recipe (SGD 0.1, momentum 0.9, weight decay 1e-4, ÷10 at 50% and 75%) on a
/// small conv net of depth 8 (n = 1) with 8 base channels.
fn conv_run(arch: Arch, steps: usize) -> RunConfig {
    RunConfig {
        family: Family::Conv,
        model: conv::model(arch, 8, 8, 64, 10),
        optimizer: OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.1, momentum: 0.9, weight_decay: 1e-4 },
        lr_schedule: LrSchedule { decay_at: vec![0.5, 0.75], ..LrSchedule::default() },
        batch_size: 32,
        steps,
        checkpoints: 10,
        ..digits_run("conv-test", arch, 8, 8)
    }
}

#[test]
fn a_conv_run_trains_end_to_end_on_the_digits() {
    for arch in [Arch::Plain, Arch::Residual] {
        let config = conv_run(arch, 150);
        let result = train(&config, digits()).unwrap();
        assert!(!result.diverged, "{arch}");
        let first = result.loss_curve[0].loss.unwrap();
        let last = result.loss_curve.last().unwrap().loss.unwrap();
        eprintln!("{arch}: loss {first:.3} → {last:.3}, train accuracy {:?}", result.final_train_accuracy);
        assert!(last < 0.3 * first, "{arch}: loss {first:.3} → {last:.3}");
        assert!(result.final_train_accuracy.unwrap() > 0.8, "{arch}: {:?}", result.final_train_accuracy);
        assert!(result.test_accuracy.unwrap() > 0.7, "{arch}: {:?}", result.test_accuracy);
        // n = 1: states h_0..h_3 (stem and three blocks), six block convs.
        for probe in [&result.init_probes(), &result.final_probes()] {
            assert_eq!(probe.state_rms.len(), 4, "{arch}");
            assert_eq!(probe.state_grad_norms.len(), 4, "{arch}");
            assert_eq!(probe.weight_grad_norms.len(), 6, "{arch}");
            let all = probe.state_rms.iter().chain(&probe.state_grad_norms).chain(&probe.weight_grad_norms);
            assert!(all.into_iter().all(|v| v.is_finite() && *v > 0.0), "{arch}: {probe:?}");
            assert!(probe.branch_ratios.is_empty());
        }
    }
}

#[test]
fn conv_runs_refuse_data_without_images() {
    let options = DatasetOptions { samples: 40, test_samples: 10, ..DatasetOptions::default() };
    let spirals = data::load(DatasetKind::Spirals, &options).unwrap();
    let mut config = conv_run(Arch::Residual, 2);
    config.dataset = DatasetKind::Spirals;
    config.dataset_options = options;
    config.model.input_dim = 2;
    config.model.output_dim = 2;
    let message = train(&config, &spirals).unwrap_err().to_string();
    assert!(message.contains("`dataset`") && message.contains("spirals") && message.contains("images"), "{message}");
}

/// The minibatch loss of every step (checkpoints at every step).
fn step_losses(config: &RunConfig) -> Vec<LossPoint> {
    let config = RunConfig { checkpoints: config.steps, ..config.clone() };
    train(&config, digits()).unwrap().loss_curve
}

#[test]
fn a_schedule_changes_the_run_from_the_update_after_its_milestone_on() {
    // Step t's loss is taken before update t. Decay after update 10 of 20: updates 1–10 are the
    // constant run's, so the losses of steps 0–11 agree bit for bit and step 12's does not.
    for config in [
        RunConfig { steps: 20, ..digits_run("schedule", Arch::Residual, 4, 16) },
        RunConfig { lr_schedule: LrSchedule::default(), steps: 20, ..conv_run(Arch::Plain, 20) },
    ] {
        let constant = step_losses(&config);
        let decayed = LrSchedule { decay_at: vec![0.5], ..LrSchedule::default() };
        let scheduled = step_losses(&RunConfig { lr_schedule: decayed, ..config.clone() });
        assert_eq!(constant.len(), 21);
        assert_eq!(constant[..12], scheduled[..12], "{}", config.family);
        assert_ne!(constant[12], scheduled[12], "{}", config.family);
        // A warm-up of 3 updates at another rate: only the initial loss and step 1's agree.
        let lr = config.optimizer.lr;
        let warm = LrSchedule { warmup_steps: 3, warmup_lr: lr / 10.0, ..LrSchedule::default() };
        let warmed = step_losses(&RunConfig { lr_schedule: warm, ..config.clone() });
        assert_eq!(constant[..2], warmed[..2], "{}", config.family);
        assert_ne!(constant[2], warmed[2], "{}", config.family);
        // A warm-up at the base rate is no change at all.
        let same = LrSchedule { warmup_steps: 3, warmup_lr: lr, ..LrSchedule::default() };
        assert_eq!(constant, step_losses(&RunConfig { lr_schedule: same, ..config.clone() }), "{}", config.family);
    }
}

const CONV_GRID: &str = r#"
name = "conv-grid"
dataset = "digits"
family = "conv"
base_channels = 4
archs = ["plain", "residual"]
depths = [8, 14]
seeds = [0]
steps = 6
batch_size = 16
checkpoints = 3
[optimizer]
kind = "sgd"
lr = 0.1
momentum = 0.9
weight_decay = 0.0001
lr_decay_at = [0.5, 0.75]
warmup_steps = 2
warmup_lr = 0.01
warmup_min_depth = 14

[[exclude]]
arch = "plain"
depth = 14
"#;

#[test]
fn a_conv_experiment_sweeps_into_records_that_say_conv() {
    let experiment = Experiment::from_toml_str(CONV_GRID, Path::new("conv.toml")).unwrap();
    let split = digits();
    let runs = sweep::expand(&experiment, sweep::DataShape::of(split));
    // 2 archs × 2 depths, less the excluded plain-14.
    assert_eq!(runs.len(), 3);
    assert!(!runs.iter().any(|r| r.config.model.arch == Arch::Plain && r.config.model.depth == 14));
    for run in &runs {
        let c = &run.config;
        assert_eq!((c.family, c.model.width, c.model.norm), (Family::Conv, 4, conv::NORM));
        // Only the depth-14 nets warm up; all decay at 3 and 4.5 → 5 of 6 steps.
        let warmup = if c.model.depth == 14 { 2 } else { 0 };
        assert_eq!(c.lr_schedule.warmup_steps, warmup, "{}", run.run_id);
        assert_eq!(c.lr_schedule.decay_at, [0.5, 0.75]);
        let json = serde_json::to_string(c).unwrap();
        assert!(
            json.contains(r#""family":"conv""#) && json.contains(r#""lr_schedule":{"decay_at":[0.5,0.75]"#),
            "{json}"
        );
        assert!(run.flops > 0.0);
    }
    // Deeper nets cost more.
    let cost = |depth: usize| runs.iter().find(|r| r.config.model.depth == depth).unwrap().flops;
    assert!(cost(14) > 1.5 * cost(8));

    let dir = tempfile::tempdir().unwrap();
    let outcome = sweep::run(&SweepOptions {
        experiment,
        experiment_text: CONV_GRID.to_string(),
        out: Some(dir.path().to_path_buf()),
        threads: Some(2),
        shard: None,
        dry_run: false,
        fresh: false,
        progress: false,
    })
    .unwrap();
    assert_eq!(outcome.runs_done, 3);
    let text = std::fs::read_to_string(dir.path().join(record::RUNS_JSONL)).unwrap();
    let records = record::parse_runs(Path::new("runs.jsonl"), &text).unwrap().records;
    assert_eq!(records.len(), 3);
    for (line, record) in text.lines().zip(&records) {
        assert!(line.contains(r#""family":"conv""#), "{line}");
        assert_eq!(record.setup.family, Family::Conv);
        assert_eq!((record.setup.width, record.setup.block_layers, record.setup.norm), (4, 2, conv::NORM));
        assert!(!record.result.diverged, "{line}");
        assert_eq!(record.result.state_rms_init.len(), 3 * (record.setup.depth - 2) / 6 + 1);
        assert_eq!(record.result.weight_grad_norms_init.len(), record.setup.depth - 2);
        assert_eq!(record::run_line(record).trim_end(), line, "a conv record re-serialises to its line");
    }
}
