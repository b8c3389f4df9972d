//! How a variant is shown: labels over the axes that vary among the runs shown together.
//! Labels are for display only; nothing parses them back.

use super::{Run, Variant};
use degradation_bench::config::{Family, LrSchedule, OptimizerKind, ResidualScale};

impl Variant {
    /// The architecture as a reader says it: `plain`, `residual α=1/√K`, `residual ReZero`; conv
    /// nets as the ResNet paper names them, `plain` and `ResNet` (their α is always 1).
    pub fn arch_label(&self) -> String {
        if self.is_conv() {
            return if self.is_plain() { "plain" } else { "ResNet" }.to_string();
        }
        match self.residual_scale {
            None => "plain".to_string(),
            Some(ResidualScale::One) => "residual α=1".to_string(),
            Some(ResidualScale::InvSqrtBlocks) => "residual α=1/√K".to_string(),
            Some(ResidualScale::Rezero) => "residual ReZero".to_string(),
        }
    }

    /// One net of this variant as a reader names it: `plain-20`, `ResNet-56` for conv nets (the
    /// paper's names; depth 6n + 2 counts every weight layer), `plain at depth 16` for MLPs.
    pub fn net_label(&self, depth: usize) -> String {
        if self.is_conv() {
            format!("{}-{depth}", self.arch_label())
        } else {
            format!("{} at depth {depth}", self.arch_label())
        }
    }

    /// A line of one depth in a panel that already names the arch: `plain-20` / `ResNet-20` for
    /// conv nets, as in the paper's figures, `depth 16` for MLPs.
    pub fn depth_line_label(&self, depth: usize) -> String {
        if self.is_conv() {
            self.net_label(depth)
        } else {
            format!("depth {depth}")
        }
    }

    /// Arch, α, then every other axis that varies among the runs shown together.
    pub fn label(&self, axes: &VaryingAxes) -> String {
        let mut parts = vec![self.line_label(axes)];
        parts.extend(self.facet_parts(axes));
        parts.join(", ")
    }

    /// Who trained the run, as a reader says it: "degradation-bench" or e.g. "PyTorch 1.13.1".
    pub fn implementation_label(&self) -> String {
        match &self.implementation {
            None => "degradation-bench".to_string(),
            Some(name) => match name.strip_prefix("pytorch ") {
                Some(version) => format!("PyTorch {version}"),
                None => name.clone(),
            },
        }
    }

    /// The label without the implementation: the configuration two implementations share.
    pub fn configuration_label(&self, axes: &VaryingAxes) -> String {
        self.label(&VaryingAxes { implementation: false, ..*axes })
    }

    /// The optimiser without its learning rate, as a reader says it: "Adam", "SGD (momentum 0.9,
    /// weight decay 0.0001)"; for results tuned over a grid of learning rates.
    pub fn optimizer_settings(&self) -> String {
        let mut extras = Vec::new();
        if self.optimizer == OptimizerKind::Sgd && self.momentum != 0.0 {
            extras.push(format!("momentum {}", self.momentum));
        }
        if self.weight_decay != 0.0 {
            extras.push(format!("weight decay {}", self.weight_decay));
        }
        let name = match self.optimizer {
            OptimizerKind::Adam => "Adam",
            OptimizerKind::Sgd => "SGD",
        };
        if extras.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({})", extras.join(", "))
        }
    }

    /// What the nets of one context (plain and residual, otherwise alike) share, for a chart's
    /// title: every varying axis but the optimiser's, then the optimiser with its rate ("SGD
    /// (momentum 0.9) lr 0.1"), then who trained them when two implementations are shown (a
    /// context holds one implementation's runs, so its chart names it).
    pub fn setting_label(&self, axes: &VaryingAxes) -> String {
        let others = self.facet_label(&VaryingAxes { optimizer: false, momentum: false, weight_decay: false, ..*axes });
        let optimizer = format!("{} lr {}", self.optimizer_settings(), self.lr);
        let setting = [others, optimizer].into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(", ");
        if axes.implementation {
            format!("{setting}, trained by {}", self.implementation_label())
        } else {
            setting
        }
    }

    /// [`Self::facet_label`] and, when two implementations are shown, who trained the runs: for
    /// statements about one context's runs, which the line label (holding the implementation)
    /// does not precede.
    pub fn facet_and_implementation_label(&self, axes: &VaryingAxes) -> String {
        let mut parts = self.facet_parts(axes);
        if axes.implementation {
            parts.push(self.implementation_label());
        }
        parts.join(", ")
    }

    /// What distinguishes lines within one chart panel: arch, α, the normalisation and the
    /// implementation when they vary (two implementations are compared within one panel).
    pub fn line_label(&self, axes: &VaryingAxes) -> String {
        let mut label = self.arch_label();
        if axes.norm {
            label.push_str(&format!(", norm={}", self.norm));
        }
        if axes.implementation {
            label.push_str(&format!(" ({})", self.implementation_label()));
        }
        label
    }

    /// Everything else that varies: one chart panel each when there are too many variants for
    /// one. Empty when nothing else varies.
    pub fn facet_label(&self, axes: &VaryingAxes) -> String {
        self.facet_parts(axes).join(", ")
    }

    fn facet_parts(&self, axes: &VaryingAxes) -> Vec<String> {
        let mut parts = Vec::new();
        if axes.family {
            parts.push(match self.family {
                Family::Mlp => "MLP".to_string(),
                Family::Conv => "conv".to_string(),
            });
        }
        if axes.experiment {
            parts.push(self.experiment.clone());
        }
        if axes.machine {
            parts.push(self.cpu_model.clone());
        }
        if axes.activation {
            parts.push(self.activation.to_string());
        }
        if axes.init {
            parts.push(format!("init={}", self.init));
        }
        if axes.block_layers && !self.is_plain() {
            parts.push(format!("{}-layer blocks", self.block_layers));
        }
        if axes.width {
            parts.push(match self.family {
                Family::Mlp => format!("w={}", self.width),
                Family::Conv => format!("{} base channels", self.width),
            });
        }
        if axes.optimizer || axes.momentum || axes.weight_decay {
            let mut optimizer = format!("{} lr={}", self.optimizer, self.lr);
            if axes.momentum {
                optimizer.push_str(&format!(" momentum={}", self.momentum));
            }
            if axes.weight_decay {
                optimizer.push_str(&format!(" wd={}", self.weight_decay));
            }
            parts.push(optimizer);
        }
        if axes.lr_schedule {
            parts.push(schedule_label(&self.lr_schedule));
        }
        if axes.steps {
            parts.push(format!("{} steps", self.steps));
        }
        if axes.dataset {
            parts.push(self.dataset.to_string());
        }
        parts
    }
}

/// A learning-rate schedule as a reader says it: "constant lr", "lr ×0.1 at 50% and 75% of
/// steps, warm-up 400 steps at 0.01".
pub fn schedule_label(schedule: &LrSchedule) -> String {
    if schedule.is_constant() {
        return "constant lr".to_string();
    }
    let mut parts = Vec::new();
    if !schedule.decay_at.is_empty() {
        let mut points: Vec<String> =
            schedule.decay_at.iter().map(|f| format!("{}%", (f * 1e4).round() / 100.0)).collect();
        let last = points.pop().unwrap_or_default();
        let points = if points.is_empty() { last } else { format!("{} and {last}", points.join(", ")) };
        parts.push(format!("lr ×{} at {points} of steps", schedule.decay_factor));
    }
    if schedule.warmup_steps > 0 {
        parts.push(format!("warm-up {} steps at {}", schedule.warmup_steps, schedule.warmup_lr));
    }
    parts.join(", ")
}

/// The depth axis of a chart of `variants` (log scale): an MLP's depth counts its hidden weight
/// layers, a conv net's every weight layer, stem and classifier included (6n + 2).
pub fn depth_axis_label<'a>(variants: impl IntoIterator<Item = &'a Variant>) -> String {
    let families: Vec<Family> = variants.into_iter().map(|v| v.family).collect();
    let label = match (families.contains(&Family::Mlp), families.contains(&Family::Conv)) {
        (_, false) => "depth (hidden weight layers, log scale)",
        (false, true) => "depth (weight layers, 6n + 2, log scale)",
        (true, true) => "depth (MLP: hidden weight layers; conv: all weight layers; log scale)",
    };
    label.to_string()
}

/// The readable names of the peer implementations among `variants` (this crate's own are left
/// out), each once, in order of first appearance.
pub fn peer_labels<'a>(variants: impl IntoIterator<Item = &'a Variant>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for variant in variants.into_iter().filter(|v| v.implementation.is_some()) {
        let name = variant.implementation_label();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Which axes take more than one value among the runs shown together; only those appear in
/// labels, so labels stay short (`plain`, `residual α=1/√K`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaryingAxes {
    /// MLP against conv nets.
    pub family: bool,
    pub machine: bool,
    pub experiment: bool,
    pub dataset: bool,
    pub width: bool,
    pub activation: bool,
    pub norm: bool,
    pub init: bool,
    pub block_layers: bool,
    /// Kind or learning rate.
    pub optimizer: bool,
    pub momentum: bool,
    pub weight_decay: bool,
    pub lr_schedule: bool,
    pub steps: bool,
    pub implementation: bool,
}

impl VaryingAxes {
    pub fn of<'a>(variants: impl IntoIterator<Item = &'a Variant>) -> Self {
        let variants: Vec<&Variant> = variants.into_iter().collect();
        fn varies<T: PartialEq>(variants: &[&Variant], key: impl Fn(&Variant) -> T) -> bool {
            let mut keys = variants.iter().map(|v| key(v));
            match keys.next() {
                Some(first) => keys.any(|k| k != first),
                None => false,
            }
        }
        let residual: Vec<&Variant> = variants.iter().copied().filter(|v| !v.is_plain()).collect();
        VaryingAxes {
            family: varies(&variants, |v| v.family),
            machine: varies(&variants, |v| v.machine_id.clone()),
            experiment: varies(&variants, |v| v.experiment.clone()),
            dataset: varies(&variants, |v| v.dataset),
            width: varies(&variants, |v| v.width),
            activation: varies(&variants, |v| v.activation),
            norm: varies(&variants, |v| v.norm),
            init: varies(&variants, |v| v.init),
            block_layers: varies(&residual, |v| v.block_layers),
            optimizer: varies(&variants, |v| (v.optimizer, v.lr.to_bits())),
            momentum: varies(&variants, |v| v.momentum.to_bits()),
            weight_decay: varies(&variants, |v| v.weight_decay.to_bits()),
            lr_schedule: varies(&variants, |v| v.lr_schedule.clone()),
            steps: varies(&variants, |v| v.steps),
            implementation: varies(&variants, |v| v.implementation.clone()),
        }
    }

    pub fn of_runs<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Self {
        Self::of(runs.into_iter().map(|r| &r.variant))
    }
}
