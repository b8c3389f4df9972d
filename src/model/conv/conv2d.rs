//! 3×3 convolution, stride 1 or 2, padding 1, no bias (every conv of the paper's nets is
//! followed by BN, whose β makes a bias redundant). Forward and backward side by side.
//!
//! Layout: NHWC. With the channels innermost, the im2col of one image is a row-major
//! (H_o·W_o, 9·C_in) matrix whose rows are built from three contiguous runs of 3·C_in input
//! values (one per kernel row), and the GEMM's output (H_o·W_o, C_out) *is* the image's NHWC
//! output: no transposes on either side. In NCHW the unfolded block would be (9·C_in, H_o·W_o)
//! gathered with a stride per element, and the output would need W·cols with only 16–64 rows.
//!
//! The GEMMs run a few images at a time (`images_per_gemm`), not over the whole batch: the
//! unfolded block of a few images stays in cache. Measured on the reference machine with the
//! crate's kernel: per-image products such as 784×144 · 144×16 ran at 71–81 GFLOP/s, one
//! whole-batch product (100 352×144 · 144×16) at 28 (2-core AVX2 AMD EPYC).
//!
//! The weight is (C_out, 3, 3, C_in) row-major inside the flat parameter buffer, i.e. a
//! (C_out, 9·C_in) matrix laid out like `Linear`'s (out, in), with columns in im2col's
//! (kernel row, kernel column, channel) order. So the three products are `Linear`'s:
//! y = cols·Wᵀ, ∂L/∂W = Σ_images dyᵀ·cols, ∂L/∂cols = dy·W, and col2im scatters the last back.

use super::MapShape;
use crate::model::gemm::matmul;
use crate::model::Real;
use ndarray::{s, Array1, ArrayView2, ArrayViewMut2};

/// Rows (output pixels) one GEMM aims for: stage 1 of a 28×28 net runs one image per GEMM
/// (784 rows), stage 2 two (392), stage 3 ten (490). Measured with a ResNet-20 train step at
/// batch 128 on 1×28×28 (one thread, 2-core Zen 5 EPYC with AVX-512): 0.20 s with 256, 512 or
/// 784 rows, 0.31 s with 1568 or 3136, where the unfolded block no longer fits in L2.
const GEMM_ROWS: usize = 512;

/// Where the backward puts ∂L/∂x.
pub enum InputGrad<'a, T> {
    /// Not wanted (the network's first layer).
    None,
    /// dx = ∂L/∂x.
    Overwrite(&'a mut [T]),
    /// dx += ∂L/∂x (a residual block's input, which the shortcut has already written).
    Accumulate(&'a mut [T]),
}

/// Offsets and shapes of one convolution; it owns no buffers (the im2col scratch is shared by
/// all layers of a network, so it stays warm in cache).
#[derive(Debug, Clone, Copy)]
pub struct Conv2d {
    pub input: MapShape,
    pub output: MapShape,
    pub stride: usize,
    /// Start of W, (C_out, 3, 3, C_in), in the flat parameter (and gradient) buffer.
    pub weight: usize,
    /// Images unfolded and multiplied together; at least 1.
    pub images_per_gemm: usize,
}

impl Conv2d {
    /// Lays the weight out at `*offset` in the flat buffer and advances the offset.
    pub fn allocate(input: MapShape, out_channels: usize, stride: usize, offset: &mut usize) -> Self {
        assert!(stride == 1 || stride == 2, "stride {stride}: only 1 and 2 are supported");
        let output = input.strided(stride, out_channels);
        let weight = *offset;
        *offset += out_channels * 9 * input.channels;
        let images_per_gemm = (GEMM_ROWS / output.pixels().max(1)).max(1);
        Conv2d { input, output, stride, weight, images_per_gemm }
    }

    /// 9·C_in: the inputs each output value sums over (He init's fan-in).
    pub fn fan_in(&self) -> usize {
        9 * self.input.channels
    }

    pub fn weight_len(&self) -> usize {
        self.output.channels * self.fan_in()
    }

    /// Elements of im2col scratch the passes need: one block of `images_per_gemm` images.
    pub fn cols_len(&self) -> usize {
        self.images_per_gemm * self.output.pixels() * self.fan_in()
    }

    /// W, (C_out, 9·C_in), cut from the flat buffer.
    pub fn weight<'a, T>(&self, params: &'a Array1<T>) -> ArrayView2<'a, T> {
        params
            .slice(s![self.weight..self.weight + self.weight_len()])
            .into_shape_with_order((self.output.channels, self.fan_in()))
            .expect("a contiguous range of C_out·9·C_in elements")
    }

    /// W (or ∂L/∂W), (C_out, 9·C_in), as a mutable view of the flat buffer.
    pub fn weight_mut<'a, T>(&self, buffer: &'a mut Array1<T>) -> ArrayViewMut2<'a, T> {
        buffer
            .slice_mut(s![self.weight..self.weight + self.weight_len()])
            .into_shape_with_order((self.output.channels, self.fan_in()))
            .expect("a contiguous range of C_out·9·C_in elements")
    }

    /// y = conv(x). x is (n, H, W, C_in), y is (n, H_o, W_o, C_out); `cols` is scratch of at
    /// least `cols_len()` elements.
    pub fn forward<T: Real>(&self, params: &Array1<T>, x: &[T], y: &mut [T], cols: &mut [T]) {
        self.check_batch(x, y);
        let weight = self.weight(params);
        let (in_block, out_block) = self.block_lens();
        for (x_block, y_block) in x.chunks(in_block).zip(y.chunks_mut(out_block)) {
            let cols = self.im2col(x_block, cols);
            // y = cols · Wᵀ: (rows, 9·C_in) · (9·C_in, C_out), straight into the NHWC output.
            matmul(rows_mut(y_block, self.output.channels), cols, weight.t(), T::one(), false);
        }
    }

    /// Given dy = ∂L/∂y, writes ∂L/∂W (overwritten, summed over the batch) and, if asked,
    /// ∂L/∂x. x is the forward's input (n, H, W, C_in), dy is (n, H_o, W_o, C_out), dx like x.
    /// Per block of images: unfold x, ∂L/∂W += dyᵀ·cols, then (reusing the scratch)
    /// ∂L/∂cols = dy·W and col2im, while the block's dy is still in cache.
    pub fn backward<T: Real>(
        &self,
        params: &Array1<T>,
        grads: &mut Array1<T>,
        x: &[T],
        dy: &[T],
        dx: InputGrad<'_, T>,
        cols: &mut [T],
    ) {
        self.check_batch(x, dy);
        let (in_block, out_block) = self.block_lens();
        let (dx, accumulate) = match dx {
            InputGrad::None => (None, false),
            InputGrad::Overwrite(dx) => (Some(dx), false),
            InputGrad::Accumulate(dx) => (Some(dx), true),
        };
        if let Some(dx) = &dx {
            assert_eq!(dx.len(), x.len(), "conv input gradient: shape differs from the input's");
        }
        let mut dx_blocks = dx.map(|dx| dx.chunks_mut(in_block));
        let mut weight_grad = self.weight_mut(grads);
        for (index, (x_block, dy_block)) in x.chunks(in_block).zip(dy.chunks(out_block)).enumerate() {
            let dy_block = rows(dy_block, self.output.channels);
            let unfolded = self.im2col(x_block, cols);
            // In the forward pass y = cols·Wᵀ, so ∂L/∂W = Σ over blocks of dyᵀ·cols.
            matmul(weight_grad.view_mut(), dy_block.t(), unfolded, T::one(), index > 0);
            if let Some(dx_block) = dx_blocks.as_mut().and_then(|blocks| blocks.next()) {
                self.input_block_backward(params, dy_block, dx_block, accumulate, cols);
            }
        }
    }

    /// ∂L/∂x alone (overwritten), given dy; for probes of the input gradient. Shapes as in
    /// `backward`.
    pub fn backward_input<T: Real>(&self, params: &Array1<T>, dy: &[T], dx: &mut [T], cols: &mut [T]) {
        self.check_batch(dx, dy);
        let (in_block, out_block) = self.block_lens();
        for (dx_block, dy_block) in dx.chunks_mut(in_block).zip(dy.chunks(out_block)) {
            self.input_block_backward(params, rows(dy_block, self.output.channels), dx_block, false, cols);
        }
    }

    /// dx_block (+)= col2im(dy_block · W) for one block of images.
    fn input_block_backward<T: Real>(
        &self,
        params: &Array1<T>,
        dy_block: ArrayView2<'_, T>,
        dx_block: &mut [T],
        accumulate: bool,
        cols: &mut [T],
    ) {
        let rows = dy_block.nrows();
        let cols = &mut cols[..rows * self.fan_in()];
        // ∂L/∂cols = dy · W: (rows, C_out) · (C_out, 9·C_in).
        matmul(rows_mut(cols, self.fan_in()), dy_block, self.weight(params), T::one(), false);
        if !accumulate {
            dx_block.fill(T::zero());
        }
        self.col2im(cols, dx_block);
    }

    /// Checks that x holds n input maps and y n output maps, for some n.
    fn check_batch<T>(&self, x: &[T], y: &[T]) {
        let n = x.len() / self.input.len();
        assert_eq!(x.len(), n * self.input.len(), "conv input: not a whole number of maps");
        assert_eq!(y.len(), n * self.output.len(), "conv output: {n} maps expected");
    }

    /// Elements of one block of `images_per_gemm` input maps and of output maps.
    fn block_lens(&self) -> (usize, usize) {
        (self.images_per_gemm * self.input.len(), self.images_per_gemm * self.output.len())
    }

    /// Unfolds a block of input maps (images, H, W, C_in) into cols, (images·H_o·W_o, 9·C_in):
    /// row (image, oy, ox) holds x[image, s·oy + ky − 1, s·ox + kx − 1, c] at column
    /// (ky·3 + kx)·C_in + c, zero where that pixel is padding. For each ky the three kx are
    /// neighbouring pixels, so away from the border one copy of 3·C_in values fills them.
    fn im2col<'a, T: Real>(&self, x_block: &[T], cols: &'a mut [T]) -> ArrayView2<'a, T> {
        let (h, w, c) = (self.input.height, self.input.width, self.input.channels);
        let (ho, wo, s) = (self.output.height, self.output.width, self.stride);
        let images = x_block.len() / self.input.len();
        let row_len = self.fan_in();
        let cols = &mut cols[..images * ho * wo * row_len];
        for (image, cols_image) in x_block.chunks_exact(self.input.len()).zip(cols.chunks_exact_mut(ho * wo * row_len))
        {
            for (pixel, row) in cols_image.chunks_exact_mut(row_len).enumerate() {
                let (oy, ox) = (pixel / wo, pixel % wo);
                for (ky, dst) in row.chunks_exact_mut(3 * c).enumerate() {
                    // The padding row −1 wraps to usize::MAX, which the `>= h` test rejects.
                    let iy = (oy * s + ky).wrapping_sub(1);
                    if iy >= h {
                        dst.fill(T::zero());
                        continue;
                    }
                    let image_row = &image[iy * w * c..(iy + 1) * w * c];
                    let ix0 = (ox * s).wrapping_sub(1);
                    if ix0 < w && ix0 + 3 <= w {
                        dst.copy_from_slice(&image_row[ix0 * c..(ix0 + 3) * c]);
                        continue;
                    }
                    for (kx, dst) in dst.chunks_exact_mut(c).enumerate() {
                        let ix = (ox * s + kx).wrapping_sub(1);
                        if ix < w {
                            dst.copy_from_slice(&image_row[ix * c..(ix + 1) * c]);
                        } else {
                            dst.fill(T::zero());
                        }
                    }
                }
            }
        }
        ArrayView2::from_shape((images * ho * wo, row_len), &*cols).expect("whole rows")
    }

    /// The adjoint of `im2col`: dx[image, s·oy + ky − 1, s·ox + kx − 1, c] += cols[row, column]
    /// for every entry that is not padding. cols is (images·H_o·W_o, 9·C_in), dx_block is
    /// (images, H, W, C_in).
    fn col2im<T: Real>(&self, cols: &[T], dx_block: &mut [T]) {
        let (h, w, c) = (self.input.height, self.input.width, self.input.channels);
        let (ho, wo, s) = (self.output.height, self.output.width, self.stride);
        let row_len = self.fan_in();
        for (image, cols_image) in dx_block.chunks_exact_mut(self.input.len()).zip(cols.chunks_exact(ho * wo * row_len))
        {
            for (pixel, row) in cols_image.chunks_exact(row_len).enumerate() {
                let (oy, ox) = (pixel / wo, pixel % wo);
                for (ky, src) in row.chunks_exact(3 * c).enumerate() {
                    let iy = (oy * s + ky).wrapping_sub(1);
                    if iy >= h {
                        continue;
                    }
                    let image_row = &mut image[iy * w * c..(iy + 1) * w * c];
                    for (kx, src) in src.chunks_exact(c).enumerate() {
                        let ix = (ox * s + kx).wrapping_sub(1);
                        if ix < w {
                            for (d, &v) in image_row[ix * c..(ix + 1) * c].iter_mut().zip(src) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A block of NHWC maps as the (pixels, channels) matrix the GEMMs see.
fn rows<T>(block: &[T], channels: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((block.len() / channels, channels), block).expect("whole rows")
}

fn rows_mut<T>(block: &mut [T], channels: usize) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((block.len() / channels, channels), block).expect("whole rows")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: y[i, oy, ox, o] = Σ_{ky, kx, c} W[o, ky, kx, c] · x[i, s·oy + ky − 1, s·ox + kx − 1, c],
    /// terms outside the map being zero.
    fn direct(conv: &Conv2d, params: &Array1<f64>, x: &[f64], n: usize) -> Vec<f64> {
        let (input, output, s) = (conv.input, conv.output, conv.stride as isize);
        let weight = conv.weight(params);
        let mut y = vec![0.0; n * output.len()];
        for i in 0..n {
            for (oy, ox, o) in positions(output) {
                let mut sum = 0.0;
                for (ky, kx, c) in positions(MapShape::new(3, 3, input.channels)) {
                    let (iy, ix) = (oy as isize * s + ky as isize - 1, ox as isize * s + kx as isize - 1);
                    if (0..input.height as isize).contains(&iy) && (0..input.width as isize).contains(&ix) {
                        let at = ((iy as usize * input.width + ix as usize) * input.channels) + c;
                        sum += weight[[o, (ky * 3 + kx) * input.channels + c]] * x[i * input.len() + at];
                    }
                }
                y[i * output.len() + (oy * output.width + ox) * output.channels + o] = sum;
            }
        }
        y
    }

    /// Every (row, column, channel) of a shape, in NHWC order.
    fn positions(shape: MapShape) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..shape.len())
            .map(move |i| (i / (shape.width * shape.channels), i / shape.channels % shape.width, i % shape.channels))
    }

    #[test]
    fn forward_matches_the_definition_for_every_stride_shape_and_grouping() {
        for (input, out_channels, stride) in
            [(MapShape::new(5, 4, 3), 4, 1), (MapShape::new(6, 6, 2), 5, 2), (MapShape::new(7, 5, 1), 2, 2)]
        {
            let n = 5;
            let mut offset = 0;
            let mut conv = Conv2d::allocate(input, out_channels, stride, &mut offset);
            let params = Array1::from_shape_fn(offset, |i| ((i * 7919) % 113) as f64 / 56.0 - 1.0);
            let x: Vec<f64> = (0..n * input.len()).map(|i| ((i * 104_729) % 97) as f64 / 48.0 - 1.0).collect();
            let expected = direct(&conv, &params, &x, n);
            assert_eq!(
                conv.output,
                MapShape::new(input.height.div_ceil(stride), input.width.div_ceil(stride), out_channels)
            );
            for images_per_gemm in [1, 2, 5, 64] {
                conv.images_per_gemm = images_per_gemm;
                let mut cols = vec![f64::NAN; conv.cols_len()];
                let mut y = vec![f64::NAN; expected.len()];
                conv.forward(&params, &x, &mut y, &mut cols);
                for (a, b) in y.iter().zip(&expected) {
                    assert!((a - b).abs() < 1e-12, "{input:?} stride {stride}, {images_per_gemm} per GEMM: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn the_paper_stages_run_a_few_images_per_gemm() {
        let mut offset = 0;
        let stage = |h, c, offset: &mut usize| Conv2d::allocate(MapShape::new(h, h, c), c, 1, offset).images_per_gemm;
        assert_eq!([stage(28, 16, &mut offset), stage(14, 32, &mut offset), stage(7, 64, &mut offset)], [1, 2, 10]);
    }
}
