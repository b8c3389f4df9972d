//! Plain and residual MLPs (the canonical definitions of docs/method.md):
//! the loop over the stack. The layers themselves are in `plain` and `residual`.
//!
//! Width w, depth D hidden w×w weight layers, φ the activation, N the normalisation:
//! - stem:     h₀ = φ(W₀x + b₀)
//! - plain:    h_l = φ(N_l(W_l h_{l−1} + b_l)), l = 1..D;  logits = W_out h_D + b_out
//! - residual: pre-activation blocks, K = D / block_layers, h_k = h_{k−1} + α_k F_k(h_{k−1});
//!   logits = W_out φ(h_K) + b_out
//!
//! All parameters live in one flat buffer and all gradients in another of the same layout,
//! so zeroing, norms and optimizer updates are single loops; each layer cuts its views from
//! them. The backward *overwrites* every gradient (nothing accumulates across calls).

use super::gemm::matmul;
use super::init::init_linear;
use super::linear::{add_bias, Linear};
use super::norm_act::NormAct;
use super::plain::PlainLayer;
use super::residual::ResidualBlock;
use super::{l2_norm, rms, Real};
use crate::config::{Arch, ModelConfig, Norm};
use crate::error::Result;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};
use ndarray_rand::rand::SeedableRng;
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

// One body per network, so the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Body<T> {
    /// Hidden layers 1..=D; their outputs are h_1..h_D.
    Plain { layers: Vec<PlainLayer<T>> },
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
    pub params: Array1<T>,
    pub grads: Array1<T>,
    stem: PlainLayer<T>,
    body: Body<T>,
    head: Linear,
    /// (max_batch, output_dim).
    logits: Array2<T>,
    /// Backward scratch, each (max_batch, width): ∂L/∂h_k and two branch buffers.
    grad_state: Array2<T>,
    grad_a: Array2<T>,
    grad_b: Array2<T>,
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
        let mut offset = 0;
        let stem = PlainLayer::new(config.input_dim, w, Norm::None, n, &mut offset);
        let body = match config.arch {
            Arch::Plain => Body::Plain {
                layers: (0..config.depth).map(|_| PlainLayer::new(w, w, config.norm, n, &mut offset)).collect(),
            },
            Arch::Residual => {
                let (blocks, layers) = (config.blocks(), config.block_layers);
                let blocks = (0..blocks)
                    .map(|_| ResidualBlock::new(w, layers, config.norm, config.residual_scale, blocks, n, &mut offset))
                    .collect();
                Body::Residual { blocks, head_act: NormAct::new(Norm::None, w, n, &mut offset) }
            }
        };
        let head = Linear::allocate(w, config.output_dim, &mut offset);

        let mut mlp = Mlp {
            config: config.clone(),
            max_batch,
            params: Array1::zeros(offset),
            grads: Array1::zeros(offset),
            stem,
            body,
            head,
            logits: Array2::zeros((n, config.output_dim)),
            grad_state: Array2::zeros((n, w)),
            grad_a: Array2::zeros((n, w)),
            grad_b: Array2::zeros((n, w)),
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
            self.params.slice_mut(s![gain..gain + width]).fill(T::one());
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
            Body::Residual { blocks, .. } => blocks.iter().flat_map(|b| b.linears()).collect(),
        }
    }

    fn norm_gains(&self) -> Vec<(usize, usize)> {
        match &self.body {
            Body::Plain { layers } => layers.iter().filter_map(|l| l.act.norm_gain()).collect(),
            Body::Residual { blocks, .. } => blocks.iter().flat_map(|b| b.norm_gains()).collect(),
        }
    }

    /// The hidden states h_0..h_K of the last forward, each (n, width).
    pub fn states(&self, n: usize) -> Vec<ArrayView2<'_, T>> {
        let mut states = vec![self.stem.output(n)];
        match &self.body {
            Body::Plain { layers } => states.extend(layers.iter().map(|l| l.output(n))),
            Body::Residual { blocks, .. } => states.extend(blocks.iter().map(|b| b.output(n))),
        }
        states
    }

    /// Logits, (n, output_dim), for the n rows of `inputs` ((n, input_dim)); n ≤ max_batch.
    pub fn forward(&mut self, inputs: ArrayView2<'_, T>, mode: Mode) -> ArrayView2<'_, T> {
        let n = inputs.nrows();
        assert!(n <= self.max_batch, "batch of {n} rows exceeds the {} the network was built for", self.max_batch);
        let act = self.config.activation;
        let Mlp { params, stem, body, head, logits, lesion, .. } = self;
        let params: &Array1<T> = params;

        // h₀ = φ(W₀x + b₀)
        stem.forward(act, params, inputs, mode);
        let mut input = stem.output(n);
        match body {
            Body::Plain { layers } => {
                for (index, layer) in layers.iter_mut().enumerate() {
                    if *lesion == Some(index) {
                        // Lesioned: h_l = h_{l−1}.
                        layer.lesion(input);
                    } else {
                        // h_l = φ(N_l(W_l h_{l−1} + b_l))
                        layer.forward(act, params, input, mode);
                    }
                    input = layer.output(n);
                }
            }
            Body::Residual { blocks, head_act } => {
                for (index, block) in blocks.iter_mut().enumerate() {
                    if *lesion == Some(index) {
                        // Lesioned: h_k = h_{k−1}, the branch removed.
                        block.lesion(input);
                    } else {
                        // h_k = h_{k−1} + α_k F_k(h_{k−1})
                        block.forward(act, params, input, mode);
                    }
                    input = block.output(n);
                }
                // φ(h_K) feeds the head.
                head_act.forward(act, params, input, mode);
                input = head_act.output(n);
            }
        }

        // logits = W_out h + b_out
        let mut batch_logits = logits.slice_mut(s![..n, ..]);
        head.forward(params, input, batch_logits.view_mut());
        add_bias(batch_logits, head.bias(params));
        let logits: &Array2<T> = logits;
        logits.slice(s![..n, ..])
    }

    /// Writes ∂L/∂θ into `grads` for the last forward (same `inputs`), given
    /// dlogits = ∂L/∂logits, (n, output_dim). If `state_grad_norms` is given it receives
    /// ‖∂L/∂h_k‖ for k = 0..K. Mirrors `forward` in reverse, layer by layer.
    pub fn backward(
        &mut self,
        inputs: ArrayView2<'_, T>,
        dlogits: ArrayView2<'_, T>,
        state_grad_norms: Option<&mut Vec<f64>>,
    ) {
        match state_grad_norms {
            None => self.backward_visiting(inputs, dlogits, |_, _| {}),
            Some(norms) => {
                norms.clear();
                norms.resize(self.states_len(), 0.0);
                self.backward_visiting(inputs, dlogits, |k, grad| norms[k] = l2_norm(&grad));
            }
        }
    }

    /// [`backward`](Self::backward), showing `visit` each ∂L/∂h_k ((n, width), k = K down to 0)
    /// as soon as it is complete: what the probes measure of the backward's signal.
    pub fn backward_visiting(
        &mut self,
        inputs: ArrayView2<'_, T>,
        dlogits: ArrayView2<'_, T>,
        mut visit: impl FnMut(usize, ArrayView2<'_, T>),
    ) {
        let n = inputs.nrows();
        assert!(n <= self.max_batch, "batch of {n} rows exceeds the {} the network was built for", self.max_batch);
        assert!(self.lesion.is_none(), "a lesioned network is for evaluation only");
        let act = self.config.activation;
        let Mlp { params, grads, stem, body, head, grad_state, grad_a, grad_b, .. } = self;
        let params: &Array1<T> = params;
        let mut record = |k: usize, grad: &Array2<T>| visit(k, grad.slice(s![..n, ..]));

        match body {
            Body::Plain { layers } => {
                // logits = W_out h_D + b_out
                let last = layers.last().map_or(stem.output(n), |l| l.output(n));
                head.backward(params, grads, last, dlogits, Some(first_rows(grad_state, n)), T::one());
                for l in (0..layers.len()).rev() {
                    record(l + 1, grad_state);
                    // h_l = φ(N_l(W_l h_{l−1} + b_l))
                    let input = if l == 0 { stem.output(n) } else { layers[l - 1].output(n) };
                    layers[l].backward(
                        act,
                        params,
                        grads,
                        input,
                        first_rows(grad_state, n),
                        Some(first_rows(grad_a, n)),
                    );
                    std::mem::swap(grad_state, grad_a);
                }
            }
            Body::Residual { blocks, head_act } => {
                // logits = W_out φ(h_K) + b_out
                let last = blocks.last().map_or(stem.output(n), |b| b.output(n));
                head.backward(params, grads, head_act.output(n), dlogits, Some(first_rows(grad_a, n)), T::one());
                head_act.backward(act, params, grads, last, first_rows(grad_a, n));
                std::mem::swap(grad_state, grad_a);
                for k in (0..blocks.len()).rev() {
                    record(k + 1, grad_state);
                    let input = if k == 0 { stem.output(n) } else { blocks[k - 1].output(n) };
                    blocks[k].backward(act, params, grads, input, first_rows(grad_state, n), [grad_a, grad_b]);
                }
            }
        }
        record(0, grad_state);
        // h₀ = φ(W₀x + b₀); the input needs no gradient.
        stem.backward(act, params, grads, inputs, first_rows(grad_state, n), None);
    }

    /// K + 1: the number of hidden states h_0..h_K.
    fn states_len(&self) -> usize {
        match &self.body {
            Body::Plain { layers } => layers.len() + 1,
            Body::Residual { blocks, .. } => blocks.len() + 1,
        }
    }

    /// RMS of each hidden state h_k (k = 0..K) of the last forward over `n` rows.
    pub fn state_rms(&self, n: usize) -> Vec<f64> {
        self.states(n).iter().map(rms).collect()
    }

    /// ‖∂L/∂W_l‖ for each hidden weight layer, input side first, from the last backward.
    pub fn weight_grad_norms(&self) -> Vec<f64> {
        self.weight_norms_of(&self.grads)
    }

    /// The norm of each hidden weight layer's part of `buffer`, a vector laid out as the
    /// parameters (see [`Network::weight_norms_of`](crate::model::Network::weight_norms_of)).
    pub fn weight_norms_of(&self, buffer: &Array1<T>) -> Vec<f64> {
        assert_eq!(buffer.len(), self.params.len(), "a buffer in the parameters' layout");
        self.hidden_linears().iter().map(|l| l2_norm(&l.weight(buffer))).collect()
    }

    /// ‖α_k v_k‖ ÷ ‖h_{k−1}‖ per residual block from the last forward (empty for plain nets):
    /// how much each block changes the stream it adds to.
    pub fn branch_ratios(&self, n: usize) -> Vec<f64> {
        let Body::Residual { blocks, .. } = &self.body else {
            return Vec::new();
        };
        let states = self.states(n);
        blocks
            .iter()
            .enumerate()
            .map(|(k, block)| {
                let alpha = block.alpha(&self.params).as_f64().abs();
                let base = l2_norm(&states[k]);
                if base > 0.0 {
                    alpha * l2_norm(&block.branch_output(n)) / base
                } else {
                    f64::NAN
                }
            })
            .collect()
    }

    /// Replaces hidden layer (plain) or block (residual) `position` by the identity in
    /// subsequent forward passes; `None` restores the network.
    pub fn set_lesion(&mut self, position: Option<usize>) {
        self.lesion = position;
    }

    /// ∂L/∂x for the last `backward`, (n, input_dim), written into `out`. In the forward pass
    /// z₀ = W₀x + b₀ and the backward leaves ∂L/∂z₀ in its state buffer, so ∂L/∂x = ∂L/∂z₀·W₀.
    pub fn input_gradient(&self, out: ArrayViewMut2<'_, T>) {
        let n = out.nrows();
        let linear = &self.stem.linear;
        matmul(out, self.grad_state.slice(s![..n, ..]), linear.weight(&self.params), T::one(), false);
    }
}

/// The first n rows of a (max_batch, width) buffer.
fn first_rows<T>(buffer: &mut Array2<T>, n: usize) -> ArrayViewMut2<'_, T> {
    buffer.slice_mut(s![..n, ..])
}
