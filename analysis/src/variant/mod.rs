//! The variant a run belongs to — arch, α, norm, init, width, optimiser, … as the core's
//! enums — and how it is shown. This is the only place that turns a run record's fields into
//! typed values: everything else compares enums (`variant.arch == Arch::Plain`), and labels are
//! for display only (never parsed back).
//!
//! Order is natural: MLPs before conv nets, plain before residual, α in the core's order (1,
//! 1/√K, ReZero), widths and learning rates as numbers.

use degradation_bench::config::{
    conv, Activation, Arch, DatasetKind, Family, Init, LrSchedule, Norm, OptimizerKind, ResidualScale,
};
use degradation_bench::record::{MachineInfo, RunRecord};
use std::cmp::Ordering;

mod labels;

pub use labels::{depth_axis_label, peer_labels, schedule_label, VaryingAxes};

/// Everything that defines a run except its depth and seed: runs of one variant at one depth
/// differ only by seed, so they are summarised together.
#[derive(Debug, Clone)]
pub struct Variant {
    /// MLP or the ResNet paper's conv nets: a conv plain-20 and an MLP plain net of depth 20
    /// are different nets (a conv run's depth counts all weight layers, 6n + 2).
    pub family: Family,
    pub arch: Arch,
    /// `None` for plain nets.
    pub residual_scale: Option<ResidualScale>,
    /// Weight layers per residual block; 0 for plain nets (they have no blocks).
    pub block_layers: usize,
    pub norm: Norm,
    pub init: Init,
    pub activation: Activation,
    pub width: usize,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// The learning rate's decays (He et al. 2015, Sec. 4.2), constant for every MLP sweep so
    /// far. The warm-up is left out: an experiment gives it to its depths from
    /// `warmup_min_depth` on (the paper warms up ResNet-110 only), so within a variant it is a
    /// property of a depth, and ResNet-110 stays one of the ResNets. Records keep it.
    pub lr_schedule: LrSchedule,
    pub momentum: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub steps: usize,
    pub dataset: DatasetKind,
    pub experiment: String,
    pub machine_id: String,
    /// The machine's CPU model, for labels (a reader knows the CPU, not the hash).
    pub cpu_model: String,
    /// Who trained the run: `None` for this crate, else the peer's name and version (e.g.
    /// "pytorch 1.13.1"), so runs of two implementations are never pooled.
    pub implementation: Option<String>,
}

/// A record field that names no value the core knows.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownValue {
    pub field: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}`: unknown value {:?}", self.field, self.value)
    }
}

impl Variant {
    /// The typed variant of a record from a results directory fingerprinted by `machine`.
    pub fn of(run: &RunRecord, machine: &MachineInfo) -> Result<Variant, UnknownValue> {
        let arch = run.setup.arch;
        let residual_scale = match (arch, run.setup.residual_scale) {
            (Arch::Plain, _) => None,
            (Arch::Residual, Some(scale)) => Some(scale),
            (Arch::Residual, None) => {
                return Err(UnknownValue { field: "residual_scale", value: "null (a residual run needs α)".into() })
            }
        };
        if run.setup.family == Family::Conv && conv::blocks_per_stage(run.setup.depth).is_none() {
            return Err(UnknownValue {
                field: "depth",
                value: format!("{} (a conv net's depth is 6n + 2)", run.setup.depth),
            });
        }
        Ok(Variant {
            family: run.setup.family,
            arch,
            residual_scale,
            block_layers: if arch == Arch::Plain { 0 } else { run.setup.block_layers },
            norm: run.setup.norm,
            init: run.setup.init,
            activation: run.setup.activation,
            width: run.setup.width,
            optimizer: run.setup.optimizer,
            lr: run.setup.lr,
            lr_schedule: LrSchedule { warmup_steps: 0, warmup_lr: 0.0, ..run.setup.lr_schedule.clone() },
            // Adam does not read `momentum` (its β₁ is fixed): runs that differ only there train
            // identically and are one variant.
            momentum: if run.setup.optimizer == OptimizerKind::Adam { 0.0 } else { run.setup.momentum },
            weight_decay: run.setup.weight_decay,
            batch_size: run.setup.batch_size,
            steps: run.setup.steps,
            dataset: run.setup.dataset,
            experiment: run.experiment.clone(),
            machine_id: machine.machine_id.clone(),
            cpu_model: machine.cpu_model.clone(),
            implementation: run.implementation.clone(),
        })
    }

    /// The variant as trained by this crate: what a peer's run is compared against.
    pub fn ours(&self) -> Variant {
        Variant { implementation: None, ..self.clone() }
    }

    pub fn is_plain(&self) -> bool {
        self.arch == Arch::Plain
    }

    /// Hidden states after the stem, K: for MLPs the depth for plain nets, the number of blocks
    /// otherwise; for conv nets the 3n two-conv blocks of both archs (three stages of n, depth
    /// 6n + 2; the probes record one state per block).
    pub fn blocks(&self, depth: usize) -> usize {
        match self.family {
            Family::Mlp => degradation_bench::config::blocks(self.arch, depth, self.block_layers),
            Family::Conv => 3 * conv::blocks_per_stage(depth).unwrap_or(0),
        }
    }

    pub fn is_conv(&self) -> bool {
        self.family == Family::Conv
    }

    /// α at initialisation for a residual net of this depth (ReZero's learnable α starts at 0).
    pub fn alpha(&self, depth: usize) -> Option<f64> {
        Some(self.residual_scale?.initial_alpha(self.blocks(depth)))
    }

    /// The variant with its architecture taken out: a plain net and the residual nets of one
    /// context differ only by the residual connection, so they are the ones compared.
    pub fn context(&self) -> Variant {
        Variant { arch: Arch::Plain, residual_scale: None, block_layers: 0, ..self.clone() }
    }

    /// Cross-entropy of a uniform guess: the loss of a net that learned nothing (from the core,
    /// where the data set fixes its class count).
    pub fn chance_loss(&self) -> Option<f64> {
        self.dataset.chance_loss()
    }

    /// The sort key: natural order, numbers as numbers (nested: tuples of more than twelve
    /// fields have no `Ord`).
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        (Family, Arch, Option<ResidualScale>, usize, Norm, Init, Activation),
        (usize, OptimizerKind, (u64, u64, u64), ScheduleKey, usize, usize, DatasetKind, &str, &str, Option<&str>),
    ) {
        let schedule = &self.lr_schedule;
        (
            (self.family, self.arch, self.residual_scale, self.block_layers, self.norm, self.init, self.activation),
            (
                self.width,
                self.optimizer,
                // Non-negative floats: their bit patterns order as the numbers do.
                (self.lr.to_bits(), self.momentum.to_bits(), self.weight_decay.to_bits()),
                (
                    schedule.decay_at.iter().map(|f| f.to_bits()).collect(),
                    schedule.decay_factor.to_bits(),
                    schedule.warmup_steps,
                    schedule.warmup_lr.to_bits(),
                ),
                self.batch_size,
                self.steps,
                self.dataset,
                &self.experiment,
                &self.machine_id,
                self.implementation.as_deref(),
            ),
        )
    }
}

/// An lr schedule as an ordered key: decay points, factor, warm-up steps and rate (as bits).
type ScheduleKey = (Vec<u64>, u64, usize, u64);

impl PartialEq for Variant {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Variant {}
impl PartialOrd for Variant {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Variant {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A run record with its typed variant.
#[derive(Debug, Clone)]
pub struct Run {
    pub record: RunRecord,
    pub variant: Variant,
}

/// Runs of one variant at one depth (they differ only by seed).
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub variant: &'a Variant,
    pub depth: usize,
    pub runs: Vec<&'a Run>,
}

impl Group<'_> {
    /// Seeds in this group, for captions that must say "one seed" when there is one.
    pub fn seeds(&self) -> usize {
        let mut seeds: Vec<u64> = self.runs.iter().map(|r| r.record.setup.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        seeds.len()
    }

    /// The group's robust losses as the rank test takes them, a diverged run as +∞ (it ranks above
    /// every run that learned); `None` when a run that did not diverge has no robust loss (a record
    /// from before the field existed).
    pub fn robust_losses(&self) -> Option<Vec<f64>> {
        self.runs
            .iter()
            .map(|r| if r.record.result.diverged { Some(f64::INFINITY) } else { r.record.result.robust_train_loss })
            .collect()
    }
}

/// The runs kept by `keep`, grouped by (variant, depth) in natural order.
pub fn groups<'a>(runs: &'a [Run], keep: impl Fn(&Run) -> bool) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    for run in runs.iter().filter(|r| keep(r)) {
        match out.iter_mut().find(|g| *g.variant == run.variant && g.depth == run.record.setup.depth) {
            Some(g) => g.runs.push(run),
            None => out.push(Group { variant: &run.variant, depth: run.record.setup.depth, runs: vec![run] }),
        }
    }
    out.sort_by(|a, b| a.variant.cmp(b.variant).then(a.depth.cmp(&b.depth)));
    out
}

/// Distinct contexts ([`Variant::context`]: a variant with its architecture taken out) among the
/// groups, in order: the settings in which plain and residual nets are compared.
pub fn contexts_of(groups: &[Group]) -> Vec<Variant> {
    let mut out: Vec<Variant> = groups.iter().map(|g| g.variant.context()).collect();
    out.sort();
    out.dedup();
    out
}

/// Distinct variants among the groups, in order.
pub fn variants_of<'a>(groups: &[Group<'a>]) -> Vec<&'a Variant> {
    let mut out: Vec<&Variant> = Vec::new();
    for g in groups {
        if !out.contains(&g.variant) {
            out.push(g.variant);
        }
    }
    out
}

/// Seed counts over groups as a caption phrase: "one seed", "3 seeds", "1–3 seeds".
pub fn seeds_phrase(groups: &[Group]) -> String {
    seeds_phrase_of(groups.iter().map(Group::seeds))
}

/// What a chart's line shows over groups' seeds: "one seed", or "median over 3 seeds".
pub fn centre_phrase(groups: &[Group]) -> String {
    centre_of(seeds_phrase(groups))
}

/// [`centre_phrase`] from a [`seeds_phrase`].
pub fn centre_of(seeds: String) -> String {
    if seeds == "one seed" {
        seeds
    } else {
        format!("median over {seeds}")
    }
}

/// [`seeds_phrase`] from each group's count of seeds.
pub fn seeds_phrase_of(counts: impl IntoIterator<Item = usize>) -> String {
    let counts: Vec<usize> = counts.into_iter().collect();
    let (lo, hi) = (counts.iter().copied().min().unwrap_or(0), counts.iter().copied().max().unwrap_or(0));
    match (lo, hi) {
        (1, 1) => "one seed".to_string(),
        (a, b) if a == b => format!("{a} seeds"),
        (a, b) => format!("{a}–{b} seeds"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use degradation_bench::record::LossPoint;

    /// A synthetic run whose probes follow exact geometric profiles. Built from JSON, as a
    /// runs.jsonl line is, so fields the core adds with defaults don't break it.
    pub fn synthetic_run(arch: &str, depth: usize, seed: u64, final_loss: Option<f64>) -> RunRecord {
        let blocks = if arch == "plain" { depth } else { depth / 2 };
        let loss_curve: Vec<LossPoint> = (0..=4)
            .map(|i| LossPoint { step: i * 25, loss: Some(2.3 / (1.0 + i as f64 * depth as f64 / 16.0)) })
            .collect();
        // ‖∂L/∂h_k‖ = 2^(−0.25·k), RMS(h_k) = 3 · 2^(0.5·k)
        let state_rms: Vec<f64> = (0..=blocks).map(|k| 3.0 * f64::powf(2.0, 0.5 * k as f64)).collect();
        let state_grads: Vec<f64> = (0..=blocks).map(|k| f64::powf(2.0, -0.25 * k as f64)).collect();
        serde_json::from_value(serde_json::json!({
            "run_id": format!("{arch}-d{depth}-s{seed}"),
            "experiment": "quick", "dataset": "digits", "arch": arch, "depth": depth, "width": 64,
            "block_layers": 2, "activation": "relu", "norm": "none",
            "residual_scale": (arch != "plain").then_some("inv_sqrt_blocks"),
            "init": "he", "optimizer": "adam", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0,
            "batch_size": 64, "steps": 100, "seed": seed, "machine_id": "m1",
            "final_train_loss": final_loss,
            "final_train_accuracy": final_loss.map(|_| 0.9),
            "test_loss": final_loss,
            "test_accuracy": final_loss.map(|_| 0.8 + 0.01 * seed as f64),
            "diverged": final_loss.is_none(),
            "diverged_at_step": final_loss.is_none().then_some(50),
            "loss_curve": loss_curve,
            "weight_grad_norms_init": vec![1.0; depth],
            "weight_grad_norms_final": vec![1.0; depth],
            "state_rms_init": state_rms,
            "state_grad_norms_init": state_grads,
            "state_rms_final": vec![1.0; blocks + 1],
            "state_grad_norms_final": vec![1.0; blocks + 1],
            "wall_seconds": 1.0, "steps_per_second": 100.0,
        }))
        .expect("a valid run record")
    }

    /// A synthetic conv run of the paper's CIFAR family (depth 6n + 2, 16 base channels, batch
    /// norm, α = 1, SGD with the rate ÷10 after 50% and 75% of the steps), its probes one state
    /// per block (3n + 1) and one weight gradient per block conv (6n).
    pub fn synthetic_conv_run(arch: &str, depth: usize, seed: u64, final_loss: Option<f64>) -> RunRecord {
        let n = conv::blocks_per_stage(depth).expect("a depth 6n + 2");
        let mut run = synthetic_run(arch, depth, seed, final_loss);
        run.setup.family = Family::Conv;
        (run.setup.width, run.setup.block_layers, run.setup.norm) =
            (conv::DEFAULT_BASE_CHANNELS, conv::BLOCK_LAYERS, conv::NORM);
        run.setup.residual_scale = (arch != "plain").then_some(conv::RESIDUAL_SCALE);
        (run.setup.optimizer, run.setup.lr, run.setup.momentum, run.setup.weight_decay) =
            (OptimizerKind::Sgd, 0.1, 0.9, 1e-4);
        run.setup.lr_schedule = LrSchedule { decay_at: vec![0.5, 0.75], ..LrSchedule::default() };
        run.setup.dataset = DatasetKind::FashionMnist;
        run.run_id = format!("conv-{arch}-d{depth}-s{seed}");
        for states in [
            &mut run.result.state_rms_init,
            &mut run.result.state_grad_norms_init,
            &mut run.result.state_rms_final,
            &mut run.result.state_grad_norms_final,
        ] {
            states.resize(3 * n + 1, 1.0);
        }
        run.result.weight_grad_norms_init = vec![1.0; 6 * n];
        run.result.weight_grad_norms_final = vec![1.0; 6 * n];
        run
    }

    /// The fingerprint synthetic runs are recorded on.
    pub fn test_machine() -> MachineInfo {
        serde_json::from_value(serde_json::json!({
            "machine_id": "m1", "cpu_model": "Test CPU", "logical_cores": 2, "physical_cores": 1,
            "simd_features": ["avx2"], "caches": ["L1d 48K"], "memory_bytes": 1024u64, "os": "Linux",
            "rustc_version": "rustc 1.91", "crate_version": "0.1.0", "git_commit": null,
            "gemm_backend": "gemm", "threads": 2, "recorded_at": "2026-11-26T00:00:00Z"
        }))
        .expect("a valid fingerprint")
    }

    /// [`synthetic_run`] with its typed variant.
    pub fn synthetic(arch: &str, depth: usize, seed: u64, final_loss: Option<f64>) -> Run {
        typed(synthetic_run(arch, depth, seed, final_loss))
    }

    pub fn typed(record: RunRecord) -> Run {
        let variant = Variant::of(&record, &test_machine()).expect("a known variant");
        Run { record, variant }
    }

    #[test]
    fn a_conv_net_and_an_mlp_of_the_same_depth_are_different_groups() {
        let runs = vec![
            synthetic("plain", 20, 0, Some(0.1)),
            typed(synthetic_conv_run("plain", 20, 0, Some(0.1))),
            typed(synthetic_conv_run("plain", 20, 1, Some(0.1))),
        ];
        let g = groups(&runs, |_| true);
        let shape: Vec<(bool, usize, usize)> = g.iter().map(|g| (g.variant.is_conv(), g.depth, g.seeds())).collect();
        assert_eq!(shape, [(false, 20, 1), (true, 20, 2)], "MLPs first, then conv nets; never pooled");
        let axes = VaryingAxes::of_runs(&runs);
        assert!(axes.family && axes.lr_schedule);
        assert_eq!(g[0].variant.facet_label(&axes).split(", ").next(), Some("MLP"));
        assert_eq!(
            g[1].variant.label(&axes),
            "plain, norm=batch, conv, 16 base channels, sgd lr=0.1 momentum=0.9 wd=0.0001, lr ×0.1 at 50% and 75% of steps, \
             fashion_mnist"
        );
        assert_eq!(contexts_of(&g).len(), 2);
    }

    #[test]
    fn conv_nets_are_named_as_the_paper_names_them() {
        let plain = typed(synthetic_conv_run("plain", 20, 0, Some(0.1))).variant;
        let resnet = typed(synthetic_conv_run("residual", 20, 0, Some(0.1))).variant;
        let axes = VaryingAxes::of([&plain, &resnet]);
        assert_eq!((plain.label(&axes), resnet.label(&axes)), ("plain".to_string(), "ResNet".to_string()));
        assert_eq!((plain.net_label(20), resnet.net_label(110)), ("plain-20".to_string(), "ResNet-110".to_string()));
        assert_eq!(resnet.depth_line_label(56), "ResNet-56");
        assert_eq!(synthetic("plain", 16, 0, Some(0.1)).variant.depth_line_label(16), "depth 16");
        assert_eq!(synthetic("plain", 16, 0, Some(0.1)).variant.net_label(16), "plain at depth 16");
        // K: the 3n two-conv blocks of both archs; α is the paper's 1.
        assert_eq!((plain.blocks(20), resnet.blocks(20), resnet.blocks(56)), (9, 9, 27));
        assert_eq!((plain.alpha(20), resnet.alpha(20)), (None, Some(1.0)));
        assert_eq!(depth_axis_label([&plain]), "depth (weight layers, 6n + 2, log scale)");
        // The warm-up is a property of a depth (ResNet-110 only): still one variant.
        let mut warm = synthetic_conv_run("residual", 110, 0, Some(0.1));
        (warm.setup.lr_schedule.warmup_steps, warm.setup.lr_schedule.warmup_lr) = (400, 0.01);
        assert_eq!(typed(warm).variant, resnet);
        let mut bad = synthetic_conv_run("plain", 20, 0, Some(0.1));
        bad.setup.depth = 21;
        assert_eq!(Variant::of(&bad, &test_machine()).unwrap_err().field, "depth");
    }

    #[test]
    fn a_residual_run_without_alpha_names_its_field() {
        let mut run = synthetic_run("residual", 4, 0, Some(0.1));
        run.setup.residual_scale = None;
        assert_eq!(Variant::of(&run, &test_machine()).unwrap_err().field, "residual_scale");
    }

    #[test]
    fn labels_show_only_varying_axes() {
        let plain = synthetic("plain", 4, 0, Some(0.1));
        let mut res = synthetic_run("residual", 4, 0, Some(0.1));
        let axes = VaryingAxes::of_runs([&plain, &typed(res.clone())]);
        assert_eq!(plain.variant.label(&axes), "plain");
        assert_eq!(typed(res.clone()).variant.label(&axes), "residual α=1/√K");
        res.setup.norm = degradation_bench::config::Norm::Layer;
        let axes = VaryingAxes::of_runs([&plain, &typed(res.clone())]);
        assert_eq!(plain.variant.label(&axes), "plain, norm=none");
        let v = typed(res.clone()).variant;
        assert_eq!(v.label(&axes), "residual α=1/√K, norm=layer");
        assert_eq!(v.line_label(&axes), "residual α=1/√K, norm=layer");
        assert_eq!(v.facet_label(&axes), "");
        res.setup.width = 256;
        let axes = VaryingAxes::of_runs([&plain, &typed(res.clone())]);
        assert_eq!(typed(res).variant.facet_label(&axes), "w=256");
        assert_eq!(plain.variant.facet_label(&axes), "w=64");
    }

    #[test]
    fn peer_labels_name_each_peer_once_in_order() {
        let by = |arch: &str, implementation: Option<&str>| {
            let mut run = synthetic_run(arch, 4, 0, Some(0.1));
            run.implementation = implementation.map(str::to_string);
            typed(run).variant
        };
        // Sorted as the sections sort them: the two peers alternate between the archs.
        let variants = [
            by("plain", None),
            by("plain", Some("pytorch 1.13.1")),
            by("plain", Some("jax 0.4")),
            by("residual", None),
            by("residual", Some("pytorch 1.13.1")),
            by("residual", Some("jax 0.4")),
        ];
        assert_eq!(peer_labels(&variants), ["PyTorch 1.13.1", "jax 0.4"]);
        assert!(peer_labels(&variants[..1]).is_empty());
    }

    #[test]
    fn natural_order_and_context() {
        let plain = synthetic("plain", 4, 0, Some(0.1)).variant;
        let mut one = synthetic_run("residual", 4, 0, Some(0.1));
        one.setup.residual_scale = Some(degradation_bench::config::ResidualScale::One);
        let one = typed(one).variant;
        let inv = synthetic("residual", 4, 0, Some(0.1)).variant;
        let mut wide = synthetic_run("plain", 4, 0, Some(0.1));
        wide.setup.width = 256;
        let wide = typed(wide).variant;
        let mut v = vec![inv.clone(), wide.clone(), one.clone(), plain.clone()];
        v.sort();
        assert_eq!(v, [plain.clone(), wide, one, inv.clone()]);
        assert_eq!(inv.context(), plain);
        assert_eq!(inv.alpha(16), Some(1.0 / 8f64.sqrt()), "16 layers in 2-layer blocks: K = 8");
        assert_eq!(plain.alpha(16), None);
    }

    /// The grouping key covers the whole run setup: every field of the core's `RunSetup` but
    /// depth and seed, changed alone, makes another variant. A field added to `RunSetup` fails
    /// this test until `Variant` keeps it too.
    #[test]
    fn every_setup_field_but_depth_and_seed_separates_variants() {
        let base = synthetic_conv_run("residual", 20, 0, Some(0.1));
        let variant_of = |run: &RunRecord| typed(run.clone()).variant;
        let with = |field: &str, value: serde_json::Value| {
            let mut line = serde_json::to_value(&base).unwrap();
            line[field] = value;
            serde_json::from_value::<RunRecord>(line).unwrap()
        };
        let other_values = serde_json::json!({
            "dataset": "digits", "family": "mlp", "arch": "plain", "width": 32, "block_layers": 1,
            "activation": "tanh", "norm": "layer", "residual_scale": "rezero", "init": "xavier",
            "optimizer": "adam", "lr": 0.05, "momentum": 0.5, "weight_decay": 0.0,
            "lr_schedule": { "decay_at": [0.5] }, "batch_size": 128, "steps": 200,
        });
        let setup = serde_json::to_value(&base.setup).unwrap();
        let fields: Vec<&String> = setup.as_object().unwrap().keys().collect();
        assert!(fields.contains(&&"family".to_string()) && fields.contains(&&"lr_schedule".to_string()));
        for field in fields {
            if field == "depth" || field == "seed" {
                let other = with(field, serde_json::json!(if field == "depth" { 56 } else { 7 }));
                assert_eq!(variant_of(&other), variant_of(&base), "{field} is not part of a variant");
                continue;
            }
            let value =
                other_values.get(field).unwrap_or_else(|| panic!("no other value for new setup field `{field}`"));
            assert_ne!(
                variant_of(&with(field, value.clone())),
                variant_of(&base),
                "runs differing in `{field}` pooled"
            );
        }
    }

    #[test]
    fn runs_that_differ_only_in_momentum_or_weight_decay_form_separate_groups() {
        let mut base = synthetic_run("plain", 4, 0, Some(0.1));
        base.setup.optimizer = OptimizerKind::Sgd;
        let mut momentum = base.clone();
        momentum.setup.momentum = 0.5;
        let mut decay = base.clone();
        decay.setup.weight_decay = 1e-4;
        let runs = vec![typed(base), typed(momentum), typed(decay)];
        let g = groups(&runs, |_| true);
        assert_eq!(g.len(), 3, "three optimiser settings are three groups, not three seeds of one");
        assert!(g.iter().all(|g| g.seeds() == 1));
        let axes = VaryingAxes::of_runs(&runs);
        let labels: Vec<String> = runs.iter().map(|r| r.variant.label(&axes)).collect();
        assert_eq!(
            labels,
            [
                "plain, sgd lr=0.001 momentum=0.9 wd=0",
                "plain, sgd lr=0.001 momentum=0.5 wd=0",
                "plain, sgd lr=0.001 momentum=0.9 wd=0.0001"
            ]
        );
        // Adam does not read its momentum field: two Adam runs that differ only there are one variant.
        let adam = |momentum: f64| {
            let mut run = synthetic_run("plain", 4, 0, Some(0.1));
            run.setup.momentum = momentum;
            typed(run).variant
        };
        assert_eq!(adam(0.0), adam(0.9));
    }

    #[test]
    fn groups_by_variant_and_depth_and_count_seeds() {
        let runs = vec![
            synthetic("residual", 4, 0, Some(0.1)),
            synthetic("plain", 8, 0, Some(0.1)),
            synthetic("plain", 4, 1, Some(0.1)),
            synthetic("plain", 4, 0, Some(0.1)),
        ];
        let g = groups(&runs, |_| true);
        let shape: Vec<(bool, usize, usize)> = g.iter().map(|g| (g.variant.is_plain(), g.depth, g.seeds())).collect();
        assert_eq!(shape, [(true, 4, 2), (true, 8, 1), (false, 4, 1)]);
        assert_eq!(seeds_phrase(&g), "1–2 seeds");
        assert_eq!(seeds_phrase(&g[1..]), "one seed");
        assert_eq!((centre_phrase(&g), centre_phrase(&g[1..])), ("median over 1–2 seeds".into(), "one seed".into()));
    }
}
