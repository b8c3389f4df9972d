//! The ResNet paper's CIFAR family (He et al. 2015, Sec. 4.2), plain and residual: the loop
//! over the stack. The layers are in the sibling files, the blocks in `block`.
//!
//! - stem: h₀ = relu(BN(conv₃ₓ₃(x))), `base` filters
//! - three stages of n blocks with base, 2·base, 4·base filters; the first conv of stages 2
//!   and 3 has stride 2; block k: h_k = relu(BN₂(conv₂(relu(BN₁(conv₁(h_{k−1}))))) + S(h_{k−1}))
//!   with S the option-A shortcut (residual) or nothing (plain: the same parameters)
//! - logits = W·avgpool(h_{3n}) + b
//!
//! Depth 6n + 2 (n = 3: ResNet-20, 9: ResNet-56). Init: Kaiming normal N(0, 2/fan_in) for
//! conv and linear weights (fan_in = 9·C_in for a conv), BN γ = 1, β = 0, FC bias 0.
//!
//! As in `Mlp`, all parameters live in one flat buffer and all gradients in another of the
//! same layout, so the crate's optimisers update a ConvNet exactly as an MLP; the backward
//! *overwrites* every gradient. Every buffer is sized at construction for `max_batch` images.

use super::batch_norm2d::BatchNorm2d;
use super::block::{ConvBlock, ConvBn, Scratch};
use super::conv2d::{Conv2d, InputGrad};
use super::pool::{global_avg_pool_backward, global_avg_pool_forward};
use super::relu::{relu_backward, relu_forward};
use super::MapShape;
use crate::config::{conv, Arch, Init, ModelConfig};
use crate::error::{Error, Result};
use crate::model::init::{init_linear, weight_std};
use crate::model::linear::{add_bias, Linear};
use crate::model::{flat, flat_mut, l2_norm, rms, Mode, Real};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::Normal;
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;

/// What defines one network of the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvNetConfig {
    pub arch: Arch,
    /// n, the blocks per stage: depth 6n + 2.
    pub blocks_per_stage: usize,
    /// Filters of the stem and stage 1 (16 in the paper); stages 2 and 3 have 2× and 4×.
    pub base_channels: usize,
    /// One input image, (C, H, W) as the data sets store it.
    pub input: MapShape,
    pub classes: usize,
}

impl ConvNetConfig {
    /// The paper's net of depth 6n + 2 (16 base filters) for the given images and classes.
    pub fn paper(arch: Arch, blocks_per_stage: usize, input: MapShape, classes: usize) -> Self {
        ConvNetConfig { arch, blocks_per_stage, base_channels: 16, input, classes }
    }

    /// The network a conv run's model configuration describes (see `config::conv`), on images
    /// of `image` = (C, H, W); `None` if its depth is not 6n + 2.
    pub fn for_run(model: &ModelConfig, image: [usize; 3]) -> Option<Self> {
        let [channels, height, width] = image;
        Some(ConvNetConfig {
            arch: model.arch,
            blocks_per_stage: conv::blocks_per_stage(model.depth)?,
            base_channels: model.width,
            input: MapShape::new(height, width, channels),
            classes: model.output_dim,
        })
    }

    /// Weight layers: the stem, 2 per block, the classifier.
    pub fn depth(&self) -> usize {
        6 * self.blocks_per_stage + 2
    }

    /// FLOPs of one forward pass per image: 2 per multiply-add of every conv
    /// (H_out·W_out·9·C_in·C_out) and of the classifier; batch norm, ReLU, the shortcuts and
    /// the pooling are left out (well under 1% at the paper's sizes). The shapes are those
    /// `ConvNet::new` builds.
    pub fn forward_flops_per_sample(&self) -> f64 {
        let conv = |input: MapShape, out_channels: usize, stride: usize| {
            let output = input.strided(stride, out_channels);
            (2.0 * (output.pixels() * 9 * input.channels * out_channels) as f64, output)
        };
        let (mut flops, mut shape) = conv(self.input, self.base_channels, 1);
        for stage in 0..3 {
            for index in 0..self.blocks_per_stage {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let (first, middle) = conv(shape, self.base_channels << stage, stride);
                let (second, output) = conv(middle, self.base_channels << stage, 1);
                flops += first + second;
                shape = output;
            }
        }
        flops + 2.0 * (shape.channels * self.classes) as f64
    }

    pub fn validate(&self) -> Result<()> {
        if self.blocks_per_stage == 0 {
            return Err(Error::invalid("blocks_per_stage", self.blocks_per_stage, "must be at least 1"));
        }
        if self.base_channels == 0 || self.base_channels % 2 != 0 {
            // The option-A shortcut pads (2·base − base)/2 channels on each side.
            return Err(Error::invalid("base_channels", self.base_channels, "must be even and at least 2"));
        }
        if self.input.is_empty() {
            return Err(Error::invalid("input", format!("{:?}", self.input), "needs at least one pixel and channel"));
        }
        if self.classes == 0 {
            return Err(Error::invalid("classes", self.classes, "must be at least 1"));
        }
        Ok(())
    }
}

/// A plain or residual conv net with its parameters, gradients and every activation buffer.
pub struct ConvNet<T> {
    config: ConvNetConfig,
    max_batch: usize,
    pub params: Array1<T>,
    pub grads: Array1<T>,
    /// The batch converted to NHWC, (max_batch, H, W, C).
    input: Vec<T>,
    stem: ConvBn<T>,
    /// h₀, (max_batch, H, W, base).
    stem_out: Vec<T>,
    blocks: Vec<ConvBlock<T>>,
    head: Linear,
    /// avgpool(h_K), (max_batch, 4·base).
    pooled: Array2<T>,
    /// (max_batch, classes).
    logits: Array2<T>,
    /// Backward: ∂L/∂h_k and ∂L/∂h_{k−1}, each sized for the largest map (or the input).
    grad_state: Vec<T>,
    grad_prev: Vec<T>,
    /// ∂L/∂avgpool(h_K), (max_batch, 4·base).
    grad_pooled: Array2<T>,
    scratch: Scratch<T>,
}

impl<T: Real> ConvNet<T> {
    /// Builds the network for batches of up to `max_batch` images, initialised from `seed`.
    pub fn new(config: &ConvNetConfig, max_batch: usize, seed: u64) -> Result<Self> {
        config.validate()?;
        if max_batch == 0 {
            return Err(Error::invalid("batch_size", max_batch, "must be at least 1"));
        }
        let (base, residual) = (config.base_channels, config.arch == Arch::Residual);
        let mut offset = 0;
        let stem = ConvBn::new(config.input, base, 1, max_batch, &mut offset);
        let mut shape = stem.conv.output;
        let mut blocks = Vec::with_capacity(3 * config.blocks_per_stage);
        for stage in 0..3 {
            for index in 0..config.blocks_per_stage {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let block = ConvBlock::new(shape, base << stage, stride, residual, max_batch, &mut offset);
                shape = block.output_shape();
                blocks.push(block);
            }
        }
        let head = Linear::allocate(shape.channels, config.classes, &mut offset);

        let largest = blocks.iter().map(|b| b.output_shape().len()).chain([stem.conv.output.len()]).max();
        let state_len = max_batch * largest.expect("a stem").max(config.input.len());
        let convs = blocks.iter().flat_map(|b| [b.first.conv, b.second.conv]).chain([stem.conv]);
        let cols_len = convs.map(|conv| conv.cols_len()).max().expect("a stem");
        let mut net = ConvNet {
            config: config.clone(),
            max_batch,
            params: Array1::zeros(offset),
            grads: Array1::zeros(offset),
            input: vec![T::zero(); max_batch * config.input.len()],
            stem_out: vec![T::zero(); max_batch * stem.conv.output.len()],
            stem,
            blocks,
            head,
            pooled: Array2::zeros((max_batch, shape.channels)),
            logits: Array2::zeros((max_batch, config.classes)),
            grad_state: vec![T::zero(); state_len],
            grad_prev: vec![T::zero(); state_len],
            grad_pooled: Array2::zeros((max_batch, shape.channels)),
            scratch: Scratch { cols: vec![T::zero(); cols_len], branch: vec![T::zero(); state_len] },
        };
        net.initialise(seed);
        Ok(net)
    }

    /// Conv weights N(0, 2/(9·C_in)) input side first, then the classifier's N(0, 2/fan_in),
    /// from one ChaCha stream; BN γ = 1, β = 0; FC bias 0. Drawn in f64, so f32 and f64 nets
    /// of one seed agree up to rounding.
    fn initialise(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.params.fill(T::zero());
        for conv in self.convs() {
            let std = weight_std(Init::He, conv.fan_in(), conv.output.channels);
            let normal = Normal::new(0.0, std).expect("std is finite and positive");
            let drawn = Array2::<f64>::random_using((conv.output.channels, conv.fan_in()), normal, &mut rng);
            conv.weight_mut(&mut self.params).zip_mut_with(&drawn, |w, &v| *w = T::from_f64(v));
        }
        init_linear(&self.head, Init::He, &mut self.params, &mut rng);
        let gains: Vec<(usize, usize)> = self.batch_norms().map(|bn| (bn.gain, bn.channels)).collect();
        for (gain, channels) in gains {
            self.params.slice_mut(s![gain..gain + channels]).fill(T::one());
        }
    }

    pub fn config(&self) -> &ConvNetConfig {
        &self.config
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// Every conv, input side first: the stem, then two per block.
    pub(crate) fn convs(&self) -> Vec<Conv2d> {
        let mut all = vec![self.stem.conv];
        all.extend(self.hidden_convs());
        all
    }

    /// Every BatchNorm2d, input side first: the stem's, then BN₁ and BN₂ of each block.
    pub fn batch_norms(&self) -> impl Iterator<Item = &BatchNorm2d<T>> {
        std::iter::once(&self.stem.bn).chain(self.blocks.iter().flat_map(|b| [&b.first.bn, &b.second.bn]))
    }

    /// The 6n convs inside the blocks, input side first (what the probes report).
    pub fn hidden_convs(&self) -> Vec<Conv2d> {
        self.blocks.iter().flat_map(|b| [b.first.conv, b.second.conv]).collect()
    }

    /// The hidden states h_0..h_K (stem output, then each block's) of the last forward, each
    /// (n, H_k, W_k, C_k) NHWC.
    pub fn states(&self, n: usize) -> Vec<&[T]> {
        let mut states = vec![&self.stem_out[..n * self.stem.conv.output.len()]];
        states.extend(self.blocks.iter().map(|b| b.output(n)));
        states
    }

    /// Logits, (n, classes), for the n images of `inputs`, (n, C·H·W) with each row one
    /// image in (C, H, W) order; n ≤ max_batch.
    pub fn forward(&mut self, inputs: ArrayView2<'_, T>, mode: Mode) -> ArrayView2<'_, T> {
        let n = inputs.nrows();
        assert!(n <= self.max_batch, "batch of {n} images exceeds the {} the network was built for", self.max_batch);
        assert_eq!(inputs.ncols(), self.config.input.len(), "inputs: row length differs from C·H·W");
        let ConvNet { params, input, stem, stem_out, blocks, head, pooled, logits, scratch, .. } = self;
        let params: &Array1<T> = params;
        let input = &mut input[..inputs.len()];
        nchw_to_nhwc(self.config.input, flat(&inputs), input);

        // h₀ = relu(BN(conv(x)))
        let stem_out = &mut stem_out[..n * stem.conv.output.len()];
        stem.forward(params, input, stem_out, mode, &mut scratch.cols);
        relu_forward(stem_out);
        // h_k = relu(F_k(h_{k−1}) [+ S(h_{k−1})])
        for k in 0..blocks.len() {
            let (done, todo) = blocks.split_at_mut(k);
            let x = done.last().map_or(&*stem_out, |b| b.output(n));
            todo[0].forward(params, x, mode, &mut scratch.cols);
        }
        // logits = W·avgpool(h_K) + b
        let last = blocks.last().expect("at least one block");
        let mut pooled = pooled.slice_mut(s![..n, ..]);
        global_avg_pool_forward(last.output_shape(), last.output(n), flat_mut(&mut pooled));
        let mut batch_logits = logits.slice_mut(s![..n, ..]);
        head.forward(params, pooled.view(), batch_logits.view_mut());
        add_bias(batch_logits, head.bias(params));
        let logits: &Array2<T> = logits;
        logits.slice(s![..n, ..])
    }

    /// Writes ∂L/∂θ into `grads` for the last forward (same `inputs`), given
    /// dlogits = ∂L/∂logits, (n, classes). If `state_grad_norms` is given it receives
    /// ‖∂L/∂h_k‖ for k = 0..K. Mirrors `forward` in reverse.
    pub fn backward(
        &mut self,
        inputs: ArrayView2<'_, T>,
        dlogits: ArrayView2<'_, T>,
        mut state_grad_norms: Option<&mut Vec<f64>>,
    ) {
        let n = inputs.nrows();
        assert_eq!(dlogits.nrows(), n, "dlogits: a row per image");
        let ConvNet { config, params, grads, input, stem, stem_out, blocks, head, pooled, .. } = self;
        let (grad_state, grad_prev, grad_pooled, scratch) =
            (&mut self.grad_state, &mut self.grad_prev, &mut self.grad_pooled, &mut self.scratch);
        let params: &Array1<T> = params;
        if let Some(norms) = state_grad_norms.as_deref_mut() {
            norms.clear();
            norms.resize(blocks.len() + 1, 0.0);
        }
        let mut record = |k: usize, grad: &[T]| {
            if let Some(norms) = state_grad_norms.as_deref_mut() {
                norms[k] = l2_norm(&ArrayView1::from(grad));
            }
        };

        // logits = W·avgpool(h_K) + b
        let mut grad_pooled = grad_pooled.slice_mut(s![..n, ..]);
        head.backward(params, grads, pooled.slice(s![..n, ..]), dlogits, Some(grad_pooled.view_mut()), T::one());
        let last = blocks.last().expect("at least one block").output_shape();
        global_avg_pool_backward(last, flat(&grad_pooled.view()), &mut grad_state[..n * last.len()]);
        // h_k = relu(F_k(h_{k−1}) [+ S(h_{k−1})])
        for k in (0..blocks.len()).rev() {
            let (before, from_k) = blocks.split_at_mut(k);
            let block = &mut from_k[0];
            let grad = &mut grad_state[..n * block.output_shape().len()];
            record(k + 1, grad);
            let x = before.last().map_or(&stem_out[..n * stem.conv.output.len()], |b| b.output(n));
            block.backward(params, grads, x, grad, &mut grad_prev[..x.len()], scratch);
            std::mem::swap(grad_state, grad_prev);
        }
        // h₀ = relu(BN(conv(x))); grad_state keeps ∂L/∂conv(x) for `input_gradient`.
        let len = n * stem.conv.output.len();
        let grad = &mut grad_state[..len];
        record(0, grad);
        relu_backward(grad, &stem_out[..len]);
        stem.backward(params, grads, &input[..n * config.input.len()], grad, InputGrad::None, &mut scratch.cols);
    }

    /// ∂L/∂x for the last `backward`, (n, C·H·W) in the inputs' (C, H, W) order, written
    /// into `out`: the stem conv's input gradient from the ∂L/∂conv(x) the backward left.
    pub fn input_gradient(&mut self, mut out: ArrayViewMut2<'_, T>) {
        let n = out.nrows();
        let ConvNet { params, stem, grad_state, grad_prev, scratch, config, .. } = self;
        let dy = &grad_state[..n * stem.conv.output.len()];
        let dx = &mut grad_prev[..n * config.input.len()];
        stem.conv.backward_input(params, dy, dx, &mut scratch.cols);
        nhwc_to_nchw(config.input, dx, flat_mut(&mut out));
    }

    /// RMS of each hidden state h_k (k = 0..K) of the last forward over `n` images.
    pub fn state_rms(&self, n: usize) -> Vec<f64> {
        self.states(n).into_iter().map(|state| rms(&ArrayView1::from(state))).collect()
    }

    /// ‖∂L/∂W‖ for each of the 6n block convs, input side first, from the last backward.
    pub fn weight_grad_norms(&self) -> Vec<f64> {
        self.weight_norms_of(&self.grads)
    }

    /// The norm of each hidden conv's weights in `buffer`, a vector laid out as the parameters.
    pub fn weight_norms_of(&self, buffer: &Array1<T>) -> Vec<f64> {
        assert_eq!(buffer.len(), self.params.len(), "a buffer in the parameters' layout");
        self.hidden_convs().iter().map(|conv| l2_norm(&conv.weight(buffer))).collect()
    }
}

/// (n, C, H, W) → (n, H, W, C); `shape` is one image's.
fn nchw_to_nhwc<T: Copy>(shape: MapShape, src: &[T], dst: &mut [T]) {
    let (c, pixels) = (shape.channels, shape.pixels());
    for (src, dst) in src.chunks_exact(shape.len()).zip(dst.chunks_exact_mut(shape.len())) {
        for (pixel, dst) in dst.chunks_exact_mut(c).enumerate() {
            for (channel, d) in dst.iter_mut().enumerate() {
                *d = src[channel * pixels + pixel];
            }
        }
    }
}

/// (n, H, W, C) → (n, C, H, W); `shape` is one image's.
fn nhwc_to_nchw<T: Copy>(shape: MapShape, src: &[T], dst: &mut [T]) {
    let (c, pixels) = (shape.channels, shape.pixels());
    for (src, dst) in src.chunks_exact(shape.len()).zip(dst.chunks_exact_mut(shape.len())) {
        for (pixel, src) in src.chunks_exact(c).enumerate() {
            for (channel, &v) in src.iter().enumerate() {
                dst[channel * pixels + pixel] = v;
            }
        }
    }
}
