//! The residual blocks' shortcut, option A of He et al. (2015): the identity where the block
//! keeps its shape; where a stage halves the map and doubles the channels, every other pixel
//! in each direction (those at even indices) and zeros for the new channels, half on each
//! side, so input channel c lands on c + (C_out − C_in)/2. No parameters, so a residual net
//! has exactly the plain net's parameter count. Forward and backward side by side.

use super::MapShape;
use crate::model::Real;

/// The shortcut between a block's input and output shapes.
#[derive(Debug, Clone, Copy)]
pub struct Shortcut {
    pub input: MapShape,
    pub output: MapShape,
}

impl Shortcut {
    /// Panics unless output = input, or output is input subsampled by 2 with C_out − C_in even
    /// and non-negative.
    pub fn new(input: MapShape, output: MapShape) -> Self {
        let subsampled = input.strided(2, output.channels);
        assert!(
            output == input
                || (output == subsampled
                    && output.channels >= input.channels
                    && (output.channels - input.channels) % 2 == 0),
            "no option-A shortcut from {input:?} to {output:?}"
        );
        Shortcut { input, output }
    }

    pub fn is_identity(&self) -> bool {
        self.input == self.output
    }

    /// Channels of zeros before the copied ones: (C_out − C_in)/2.
    fn channel_offset(&self) -> usize {
        (self.output.channels - self.input.channels) / 2
    }

    /// y += S(x): the identity path of h_k = relu(F(h_{k−1}) + S(h_{k−1})). x is
    /// (n, H, W, C_in), y is (n, H_o, W_o, C_out).
    pub fn forward_add<T: Real>(&self, x: &[T], y: &mut [T]) {
        self.check_batch(x, y);
        if self.is_identity() {
            for (out, &v) in y.iter_mut().zip(x) {
                *out += v;
            }
            return;
        }
        let (c_in, c_out, offset) = (self.input.channels, self.output.channels, self.channel_offset());
        for (map, out_map) in x.chunks_exact(self.input.len()).zip(y.chunks_exact_mut(self.output.len())) {
            for (out_pixel, out) in out_map.chunks_exact_mut(c_out).enumerate() {
                let pixel = self.source_pixel(out_pixel);
                for (o, &v) in out[offset..offset + c_in].iter_mut().zip(&map[pixel * c_in..(pixel + 1) * c_in]) {
                    *o += v;
                }
            }
        }
    }

    /// dx = Sᵀ(dy), overwritten: the identity's gradient passes unchanged; the subsampling
    /// one scatters each kept pixel's dy back to its source (its channels past the zero
    /// padding) and leaves zeros at the pixels the forward skipped. Shapes as in `forward_add`.
    pub fn backward<T: Real>(&self, dy: &[T], dx: &mut [T]) {
        self.check_batch(dx, dy);
        if self.is_identity() {
            dx.copy_from_slice(dy);
            return;
        }
        dx.fill(T::zero());
        let (c_in, c_out, offset) = (self.input.channels, self.output.channels, self.channel_offset());
        for (dx_map, dy_map) in dx.chunks_exact_mut(self.input.len()).zip(dy.chunks_exact(self.output.len())) {
            for (out_pixel, g) in dy_map.chunks_exact(c_out).enumerate() {
                let pixel = self.source_pixel(out_pixel);
                dx_map[pixel * c_in..(pixel + 1) * c_in].copy_from_slice(&g[offset..offset + c_in]);
            }
        }
    }

    /// The input pixel (index within its map) that output pixel `out_pixel` reads: (2·oy, 2·ox).
    fn source_pixel(&self, out_pixel: usize) -> usize {
        let (oy, ox) = (out_pixel / self.output.width, out_pixel % self.output.width);
        2 * oy * self.input.width + 2 * ox
    }

    fn check_batch<T>(&self, x: &[T], y: &[T]) {
        let n = x.len() / self.input.len();
        assert_eq!(x.len(), n * self.input.len(), "shortcut input: not a whole number of maps");
        assert_eq!(y.len(), n * self.output.len(), "shortcut output: {n} maps expected");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsampling_keeps_even_pixels_and_pads_channels_on_both_sides() {
        // Two 4×4 maps of 2 channels, x = its own index, into 2×2 maps of 6 channels.
        let (input, output) = (MapShape::new(4, 4, 2), MapShape::new(2, 2, 6));
        let shortcut = Shortcut::new(input, output);
        let x: Vec<f64> = (0..2 * input.len()).map(|i| i as f64).collect();
        let mut y = vec![0.5; 2 * output.len()];
        shortcut.forward_add(&x, &mut y);
        for i in 0..2 {
            for (oy, ox) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let out = &y[i * output.len() + (oy * 2 + ox) * 6..][..6];
                let source = i * input.len() + (2 * oy * 4 + 2 * ox) * 2;
                let expected = [0.5, 0.5, 0.5 + source as f64, 0.5 + (source + 1) as f64, 0.5, 0.5];
                assert_eq!(out, expected, "map {i}, pixel ({oy}, {ox})");
            }
        }
    }

    #[test]
    fn identity_adds_its_input() {
        let shape = MapShape::new(2, 3, 4);
        let shortcut = Shortcut::new(shape, shape);
        assert!(shortcut.is_identity());
        let x: Vec<f64> = (0..shape.len()).map(|i| i as f64).collect();
        let mut y = vec![1.0; shape.len()];
        shortcut.forward_add(&x, &mut y);
        assert!(y.iter().zip(&x).all(|(y, x)| *y == x + 1.0));
    }

    #[test]
    #[should_panic(expected = "no option-A shortcut")]
    fn rejects_an_odd_channel_difference() {
        Shortcut::new(MapShape::new(4, 4, 2), MapShape::new(2, 2, 5));
    }
}
