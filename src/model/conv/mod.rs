//! Convolutional layers and the ResNet paper's CIFAR family (He et al. 2015, Sec. 4.2), with
//! hand-written forward and backward passes over buffers sized once at construction.
//!
//! Each layer is a forward/backward pair in its own file: `conv2d` (3×3, stride 1 or 2,
//! padding 1, through the crate's one GEMM), `batch_norm2d`, `relu`, `pool` (global average),
//! `shortcut` (option A); `block` composes them into conv–BN(–ReLU) units and blocks, and
//! `convnet` is the loop over the stack.
//!
//! Every feature map is stored NHWC: (n, height, width, channels) row-major, so a batch of maps
//! is also a row-major (n·height·width, channels) matrix. See `conv2d` for why; the network
//! converts its (n, C, H, W) inputs once on the way in.

pub mod batch_norm2d;
pub mod block;
pub mod conv2d;
pub mod convnet;
pub mod pool;
pub mod relu;
pub mod shortcut;

#[cfg(test)]
mod gradcheck;
#[cfg(test)]
mod tests;

pub use convnet::{ConvNet, ConvNetConfig};

/// The shape of one image or feature map; a batch of them is stored NHWC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl MapShape {
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        MapShape { height, width, channels }
    }

    /// height · width: the rows one map contributes to the (n·H·W, C) matrix view.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// height · width · channels: the elements of one map.
    pub fn len(&self) -> usize {
        self.pixels() * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map a 3×3, padding-1 convolution (or the option-A shortcut) with this stride makes:
    /// ⌊(H + 2 − 3)/s⌋ + 1 = ⌈H/s⌉ rows, and likewise columns.
    pub fn strided(&self, stride: usize, channels: usize) -> Self {
        MapShape { height: self.height.div_ceil(stride), width: self.width.div_ceil(stride), channels }
    }
}
