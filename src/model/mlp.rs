//! Plain and residual MLPs (the canonical definitions of the README, "What is measured, and how"),
//! forward and backward over buffers allocated once at construction.
//!
//! Width w, depth D hidden w×w weight layers, φ the activation, N the normalisation:
//! - stem:     h₀ = φ(W₀x + b₀)
//! - plain:    h_l = φ(N_l(W_l h_{l−1} + b_l)), l = 1..D;  logits = W_out h_D + b_out
//! - residual: pre-activation blocks, K = D / block_layers;
//!   two layers: u = W φ(N(h_{k−1})) + b,  v = W' φ(N'(u)) + b',  h_k = h_{k−1} + α_k v
//!   one layer:  v = W φ(N(h_{k−1})) + b,                         h_k = h_{k−1} + α_k v
//!   logits = W_out φ(h_K) + b_out
//!
//! All parameters live in one flat buffer and all gradients in another of the same layout,
//! so zeroing, norms and optimizer updates are single loops. The backward *overwrites* every
//! gradient (nothing accumulates across calls).

use super::activation::{activation_backward, bias_activation_forward};
use super::dense::Linear;
use super::init::init_linear;
use super::norm::{NormKind, NormLayer};
use super::{l2_norm, rms, Real};
use crate::config::{Activation, Arch, ModelConfig, Norm, ResidualScale};
use crate::error::Result;
use crate::record::ProbeStats;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How normalisation layers treat the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics, running statistics updated (a training step).
    Train,
    /// Batch statistics, running statistics untouched (probes and gradient checks).
    Probe,
    /// Running statistics (evaluation).
    Eval,
}

/// φ(N(x)): optional normalisation then the activation, with the buffers its backward reads.
struct NormAct<T> {
    width: usize,
    norm: Option<NormLayer<T>>,
    /// φ(N(x)), (n, width).
    out: Vec<T>,
}

impl<T: Real> NormAct<T> {
    fn new(norm: Norm, width: usize, max_batch: usize, offset: &mut usize) -> Self {
        let kind = match norm {
            Norm::None => None,
            Norm::Layer => Some(NormKind::Layer),
            Norm::Batch => Some(NormKind::Batch),
        };
        let norm = kind.map(|kind| {
            let gain = *offset;
            *offset += 2 * width;
            NormLayer::new(kind, width, max_batch, gain, gain + width)
        });
        NormAct { width, norm, out: vec![T::zero(); max_batch * width] }
    }

    /// out = φ(N(x)); x is (n, width) and only read.
    fn forward(&mut self, activation: Activation, params: &[T], x: &[T], n: usize, mode: Mode) {
        let len = n * self.width;
        match &mut self.norm {
            None => apply_activation(activation, &x[..len], &mut self.out[..len]),
            Some(norm) => {
                norm.forward(params, x, n, mode);
                apply_activation(activation, &norm.out[..len], &mut self.out[..len]);
            }
        }
    }

    /// x += bias, then out = φ(N(x)); x keeps the biased values (the saved pre-activation).
    /// Without normalisation the bias add and φ are one fused pass.
    fn forward_biased(&mut self, activation: Activation, params: &[T], x: &mut [T], bias: &[T], n: usize, mode: Mode) {
        let (w, len) = (self.width, n * self.width);
        if self.norm.is_none() {
            bias_activation_forward(activation, &mut x[..len], Some(bias), &mut self.out[..len], w);
            return;
        }
        for row in x[..len].chunks_exact_mut(w) {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
        self.forward(activation, params, x, n, mode);
    }

    /// In place: `grad` holds ∂L/∂out on entry and ∂L/∂x on exit. x is the saved input.
    fn backward(&self, activation: Activation, params: &[T], grads: &mut [T], x: &[T], grad: &mut [T], n: usize) {
        let len = n * self.width;
        match &self.norm {
            None => activation_backward(activation, &mut grad[..len], &x[..len], &self.out[..len]),
            Some(norm) => {
                activation_backward(activation, &mut grad[..len], &norm.out[..len], &self.out[..len]);
                norm.backward(params, grads, grad, n);
            }
        }
    }
}

fn apply_activation<T: Real>(activation: Activation, x: &[T], out: &mut [T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = super::activation::apply(activation, v);
    }
}

/// A weight layer followed by its activation: z = W·x (+ b in the fused pass), h = φ(N(z)).
/// Used for the stem and for each plain hidden layer.
struct DenseLayer<T> {
    linear: Linear,
    /// z (with bias), (n, fan_out).
    pre: Vec<T>,
    act: NormAct<T>,
}

/// One step of a residual branch: a = φ(N(input)), then pre = W·a (bias added by the consumer).
struct BranchLayer<T> {
    act: NormAct<T>,
    linear: Linear,
    /// W·a, plus the bias once the next stage (or the residual add) has run: u or v.
    pre: Vec<T>,
}

enum BlockScale<T> {
    Fixed(T),
    /// Offset of a learnable α in the parameter buffer.
    Learned(usize),
}

struct ResidualBlock<T> {
    branch: Vec<BranchLayer<T>>,
    scale: BlockScale<T>,
    /// h_k, (n, width).
    out: Vec<T>,
}

// One body per network, so the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Body<T> {
    Plain {
        /// Hidden layers 1..=D; their outputs are h_1..h_D.
        layers: Vec<DenseLayer<T>>,
    },
    Residual {
        blocks: Vec<ResidualBlock<T>>,
        /// φ(h_K) before the head.
        head_act: NormAct<T>,
    },
}

/// A plain or residual MLP with its parameters, gradients and every activation buffer.
pub struct Mlp<T> {
    config: ModelConfig,
    max_batch: usize,
    pub params: Vec<T>,
    pub grads: Vec<T>,
    stem: DenseLayer<T>,
    body: Body<T>,
    head: Linear,
    logits: Vec<T>,
    /// Backward scratch, each (max_batch, width): ∂L/∂h_k and two branch buffers.
    grad_state: Vec<T>,
    grad_a: Vec<T>,
    grad_b: Vec<T>,
    /// A hidden layer (plain) or block (residual) replaced by the identity in the forward
    /// pass, for lesion studies; evaluation only.
    lesion: Option<usize>,
}

impl<T: Real> Mlp<T> {
    /// Builds the network for batches of up to `max_batch` rows, initialised from `seed`.
    pub fn new(config: &ModelConfig, max_batch: usize, seed: u64) -> Result<Self> {
        config.validate()?;
        if max_batch == 0 {
            return Err(crate::Error::invalid("batch_size", max_batch, "must be at least 1"));
        }
        let (w, n) = (config.width, max_batch);
        let buffer = || vec![T::zero(); n * w];
        let mut offset = 0;
        let stem = DenseLayer {
            linear: Linear::allocate(config.input_dim, w, &mut offset),
            pre: buffer(),
            act: NormAct::new(Norm::None, w, n, &mut offset),
        };
        let mut alpha_offsets = Vec::new();
        let body = match config.arch {
            Arch::Plain => Body::Plain {
                layers: (0..config.depth)
                    .map(|_| {
                        let linear = Linear::allocate(w, w, &mut offset);
                        DenseLayer { linear, pre: buffer(), act: NormAct::new(config.norm, w, n, &mut offset) }
                    })
                    .collect(),
            },
            Arch::Residual => {
                let blocks = config.blocks();
                let blocks = (0..blocks)
                    .map(|_| {
                        let branch = (0..config.block_layers)
                            .map(|_| {
                                let act = NormAct::new(config.norm, w, n, &mut offset);
                                BranchLayer { act, linear: Linear::allocate(w, w, &mut offset), pre: buffer() }
                            })
                            .collect();
                        let scale = match config.residual_scale {
                            ResidualScale::One => BlockScale::Fixed(T::one()),
                            ResidualScale::InvSqrtBlocks => {
                                BlockScale::Fixed(T::from_f64(1.0 / (blocks as f64).sqrt()))
                            }
                            ResidualScale::Rezero => {
                                alpha_offsets.push(offset);
                                offset += 1;
                                BlockScale::Learned(offset - 1)
                            }
                        };
                        ResidualBlock { branch, scale, out: buffer() }
                    })
                    .collect();
                Body::Residual { blocks, head_act: NormAct::new(Norm::None, w, n, &mut offset) }
            }
        };
        let head = Linear::allocate(w, config.output_dim, &mut offset);

        let mut mlp = Mlp {
            config: config.clone(),
            max_batch,
            params: vec![T::zero(); offset],
            grads: vec![T::zero(); offset],
            stem,
            body,
            head,
            logits: vec![T::zero(); n * config.output_dim],
            grad_state: buffer(),
            grad_a: buffer(),
            grad_b: buffer(),
            lesion: None,
        };
        mlp.initialise(seed);
        Ok(mlp)
    }

    /// Weights from `init`, biases 0, norm gains 1 and biases 0, ReZero α 0. Layers are drawn
    /// input side first from one ChaCha stream, so the same seed gives the same network.
    fn initialise(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let init = self.config.init;
        self.params.fill(T::zero());
        for linear in self.linears() {
            init_linear(&linear, init, &mut self.params, &mut rng);
        }
        for (gain, width) in self.norm_gains() {
            self.params[gain..gain + width].fill(T::one());
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// Every weight layer, input side first: stem, hidden layers, head.
    fn linears(&self) -> Vec<Linear> {
        let mut all = vec![self.stem.linear];
        all.extend(self.hidden_linears());
        all.push(self.head);
        all
    }

    /// The D hidden w×w weight layers, input side first (what the probes report).
    pub fn hidden_linears(&self) -> Vec<Linear> {
        match &self.body {
            Body::Plain { layers } => layers.iter().map(|l| l.linear).collect(),
            Body::Residual { blocks, .. } => blocks.iter().flat_map(|b| b.branch.iter().map(|s| s.linear)).collect(),
        }
    }

    fn norm_gains(&self) -> Vec<(usize, usize)> {
        let acts: Vec<&NormAct<T>> = match &self.body {
            Body::Plain { layers } => layers.iter().map(|l| &l.act).collect(),
            Body::Residual { blocks, .. } => blocks.iter().flat_map(|b| b.branch.iter().map(|s| &s.act)).collect(),
        };
        acts.iter().filter_map(|a| a.norm.as_ref().map(|n| (n.gain, n.width))).collect()
    }

    fn block_scale(&self, scale: &BlockScale<T>) -> T {
        match *scale {
            BlockScale::Fixed(alpha) => alpha,
            BlockScale::Learned(offset) => self.params[offset],
        }
    }

    /// The hidden states h_0..h_K of the last forward, each (n, width) for the first n rows.
    pub fn states(&self, n: usize) -> Vec<&[T]> {
        let len = n * self.config.width;
        let mut states = vec![&self.stem.act.out[..len]];
        match &self.body {
            Body::Plain { layers } => states.extend(layers.iter().map(|l| &l.act.out[..len])),
            Body::Residual { blocks, .. } => states.extend(blocks.iter().map(|b| &b.out[..len])),
        }
        states
    }

    /// Logits for `n` rows of `inputs` ((n, input_dim) row-major); n ≤ max_batch.
    pub fn forward(&mut self, inputs: &[T], n: usize, mode: Mode) -> &[T] {
        assert!(n <= self.max_batch, "batch of {n} rows exceeds the {} the network was built for", self.max_batch);
        let (w, act) = (self.config.width, self.config.activation);
        let len = n * w;
        let params = &self.params;

        // h₀ = φ(W₀x + b₀)
        let stem = &mut self.stem;
        stem.linear.forward(params, &inputs[..n * self.config.input_dim], &mut stem.pre, n);
        stem.act.forward_biased(act, params, &mut stem.pre, stem.linear.bias(params), n, mode);

        let last_state: &[T] = match &mut self.body {
            Body::Plain { layers } => {
                let mut input: &[T] = &self.stem.act.out;
                for (index, layer) in layers.iter_mut().enumerate() {
                    if self.lesion == Some(index) {
                        // Lesioned: h_l = h_{l−1}.
                        layer.act.out[..len].copy_from_slice(&input[..len]);
                        input = &layer.act.out;
                        continue;
                    }
                    // h_l = φ(N_l(W_l h_{l−1} + b_l))
                    layer.linear.forward(params, &input[..len], &mut layer.pre, n);
                    layer.act.forward_biased(act, params, &mut layer.pre, layer.linear.bias(params), n, mode);
                    input = &layer.act.out;
                }
                input
            }
            Body::Residual { blocks, head_act } => {
                let mut input: &[T] = &self.stem.act.out;
                for (index, block) in blocks.iter_mut().enumerate() {
                    if self.lesion == Some(index) {
                        // Lesioned: h_k = h_{k−1}, the branch removed.
                        block.out[..len].copy_from_slice(&input[..len]);
                        input = &block.out;
                        continue;
                    }
                    // u = W φ(N(h_{k−1})) + b;  v = W' φ(N'(u)) + b'
                    for index in 0..block.branch.len() {
                        let (done, todo) = block.branch.split_at_mut(index);
                        let stage = &mut todo[0];
                        match done.last_mut() {
                            None => stage.act.forward(act, params, &input[..len], n, mode),
                            Some(prev) => {
                                let bias = prev.linear.bias(params);
                                stage.act.forward_biased(act, params, &mut prev.pre, bias, n, mode)
                            }
                        }
                        stage.linear.forward(params, &stage.act.out[..len], &mut stage.pre, n);
                    }
                    // h_k = h_{k−1} + α_k v, with v's bias added in the same pass.
                    let alpha = match block.scale {
                        BlockScale::Fixed(alpha) => alpha,
                        BlockScale::Learned(offset) => params[offset],
                    };
                    let v_stage = block.branch.last_mut().expect("a block has at least one layer");
                    let bias = v_stage.linear.bias(params);
                    for ((out_row, v_row), in_row) in block.out[..len]
                        .chunks_exact_mut(w)
                        .zip(v_stage.pre[..len].chunks_exact_mut(w))
                        .zip(input[..len].chunks_exact(w))
                    {
                        for col in 0..w {
                            v_row[col] += bias[col];
                            out_row[col] = in_row[col] + alpha * v_row[col];
                        }
                    }
                    input = &block.out;
                }
                // φ(h_K) feeds the head.
                head_act.forward(act, params, &input[..len], n, mode);
                &head_act.out
            }
        };

        // logits = W_out h + b_out
        let out_dim = self.config.output_dim;
        self.head.forward(params, &last_state[..len], &mut self.logits, n);
        let bias = self.head.bias(params);
        for row in self.logits[..n * out_dim].chunks_exact_mut(out_dim) {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
        &self.logits[..n * out_dim]
    }

    /// Writes ∂L/∂θ into `grads` for the last forward (same `inputs`, same `n`), given
    /// dlogits = ∂L/∂logits, (n, output_dim). If `state_grad_norms` is given it receives
    /// ‖∂L/∂h_k‖ for k = 0..K. Mirrors `forward` in reverse, block by block.
    pub fn backward(&mut self, inputs: &[T], dlogits: &[T], n: usize, mut state_grad_norms: Option<&mut Vec<f64>>) {
        assert!(n <= self.max_batch, "batch of {n} rows exceeds the {} the network was built for", self.max_batch);
        assert!(self.lesion.is_none(), "a lesioned network is for evaluation only");
        let act = self.config.activation;
        let len = n * self.config.width;
        let Mlp { params, grads, stem, body, head, grad_state, grad_a, grad_b, .. } = self;
        let params: &[T] = params;
        let blocks = match body {
            Body::Plain { layers } => layers.len(),
            Body::Residual { blocks, .. } => blocks.len(),
        };
        if let Some(norms) = state_grad_norms.as_deref_mut() {
            norms.clear();
            norms.resize(blocks + 1, 0.0);
        }
        let mut record = |k: usize, grad: &[T]| {
            if let Some(norms) = state_grad_norms.as_deref_mut() {
                norms[k] = l2_norm(&grad[..len]);
            }
        };

        match body {
            Body::Plain { layers } => {
                // logits = W_out h_D + b_out
                let last = layers.last().map_or(&stem.act.out, |l| &l.act.out);
                head.backward(params, grads, &last[..len], dlogits, Some(&mut grad_state[..]), n, T::one());
                for l in (0..layers.len()).rev() {
                    record(l + 1, grad_state);
                    // h_l = φ(N_l(z_l)), z_l = W_l h_{l−1} + b_l
                    let layer = &layers[l];
                    layer.act.backward(act, params, grads, &layer.pre, grad_state, n);
                    let input = if l == 0 { &stem.act.out } else { &layers[l - 1].act.out };
                    layer.linear.backward(params, grads, &input[..len], grad_state, Some(&mut grad_a[..]), n, T::one());
                    std::mem::swap(grad_state, grad_a);
                }
            }
            Body::Residual { blocks, head_act } => {
                // logits = W_out φ(h_K) + b_out
                let last = blocks.last().map_or(&stem.act.out, |b| &b.out);
                head.backward(params, grads, &head_act.out[..len], dlogits, Some(&mut grad_a[..]), n, T::one());
                head_act.backward(act, params, grads, last, grad_a, n);
                std::mem::swap(grad_state, grad_a);
                for k in (0..blocks.len()).rev() {
                    record(k + 1, grad_state);
                    let block = &blocks[k];
                    let input = if k == 0 { &stem.act.out } else { &blocks[k - 1].out };
                    // In the forward pass h_k = h_{k−1} + α v, so ∂L/∂v = α·∂L/∂h_k and ∂L/∂α = Σ ∂L/∂h_k ⊙ v.
                    let alpha = match block.scale {
                        BlockScale::Fixed(alpha) => alpha,
                        BlockScale::Learned(offset) => {
                            let v = &block.branch.last().expect("a block has at least one layer").pre;
                            grads[offset] = grad_state[..len].iter().zip(&v[..len]).map(|(&g, &x)| g * x).sum();
                            params[offset]
                        }
                    };
                    // Back through the branch F, last layer first; α is folded into the last GEMMs.
                    let (mut incoming, mut outgoing): (&mut Vec<T>, &mut Vec<T>) = (grad_a, grad_b);
                    for s in (0..block.branch.len()).rev() {
                        let stage = &block.branch[s];
                        let (dout, scale): (&[T], T) =
                            if s + 1 == block.branch.len() { (grad_state, alpha) } else { (incoming, T::one()) };
                        stage.linear.backward(
                            params,
                            grads,
                            &stage.act.out[..len],
                            dout,
                            Some(&mut outgoing[..]),
                            n,
                            scale,
                        );
                        let stage_input = if s == 0 { input } else { &block.branch[s - 1].pre };
                        stage.act.backward(act, params, grads, stage_input, outgoing, n);
                        std::mem::swap(&mut incoming, &mut outgoing);
                    }
                    // ∂L/∂h_{k−1} = ∂L/∂h_k · (1 + ∂F/∂h_{k−1}): the identity path adds the gradient unchanged.
                    for (g, &branch) in grad_state[..len].iter_mut().zip(&incoming[..len]) {
                        *g += branch;
                    }
                }
            }
        }
        record(0, grad_state);
        // h₀ = φ(W₀x + b₀); the input needs no gradient.
        stem.act.backward(act, params, grads, &stem.pre, grad_state, n);
        let input_len = n * self.config.input_dim;
        stem.linear.backward(params, grads, &inputs[..input_len], grad_state, None, n, T::one());
    }

    /// RMS of each hidden state h_k (k = 0..K) of the last forward over `n` rows.
    pub fn state_rms(&self, n: usize) -> Vec<f64> {
        self.states(n).into_iter().map(rms).collect()
    }

    /// ‖∂L/∂W_l‖ for each hidden weight layer, input side first, from the last backward.
    pub fn weight_grad_norms(&self) -> Vec<f64> {
        self.hidden_linears().iter().map(|l| l2_norm(l.weight(&self.grads))).collect()
    }

    /// ‖α_k v_k‖ ÷ ‖h_{k−1}‖ per residual block from the last forward (empty for plain nets):
    /// how much each block changes the stream it adds to.
    pub fn branch_ratios(&self, n: usize) -> Vec<f64> {
        let len = n * self.config.width;
        let Body::Residual { blocks, .. } = &self.body else {
            return Vec::new();
        };
        let states = self.states(n);
        blocks
            .iter()
            .enumerate()
            .map(|(k, block)| {
                let v = &block.branch.last().expect("a block has at least one layer").pre[..len];
                let alpha = self.block_scale(&block.scale).as_f64().abs();
                let base = l2_norm(states[k]);
                if base > 0.0 {
                    alpha * l2_norm(v) / base
                } else {
                    f64::NAN
                }
            })
            .collect()
    }

    /// Forward and backward statistics of one batch in the form the records keep.
    pub fn probe_stats(&self, n: usize, state_grad_norms: Vec<f64>) -> ProbeStats {
        ProbeStats {
            weight_grad_norms: self.weight_grad_norms(),
            state_rms: self.state_rms(n),
            state_grad_norms,
            branch_ratios: self.branch_ratios(n),
        }
    }

    /// Replaces hidden layer (plain) or block (residual) `position` by the identity in
    /// subsequent forward passes; `None` restores the network.
    pub fn set_lesion(&mut self, position: Option<usize>) {
        self.lesion = position;
    }

    /// ∂L/∂x for the last `backward`, (n, input_dim), written into `out`. In the forward pass
    /// z₀ = W₀x + b₀ and the backward leaves ∂L/∂z₀ in its state buffer, so ∂L/∂x = ∂L/∂z₀·W₀.
    pub fn input_gradient(&self, n: usize, out: &mut [T]) {
        let linear = &self.stem.linear;
        super::gemm::matmul(
            out,
            super::gemm::MatRef::row_major(&self.grad_state[..n * linear.fan_out], n, linear.fan_out),
            super::gemm::MatRef::row_major(linear.weight(&self.params), linear.fan_out, linear.fan_in),
            T::one(),
            false,
        );
    }
}
