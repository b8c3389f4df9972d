//! Global average pooling, forward and backward side by side: each map's channels averaged
//! over its pixels, (n, H, W, C) → (n, C), the paper's last step before the classifier.

use super::MapShape;
use crate::model::Real;

/// y[i, c] = (1/(H·W)) Σ_pixels x[i, pixel, c]. x is (n, H, W, C), y is (n, C).
pub fn global_avg_pool_forward<T: Real>(shape: MapShape, x: &[T], y: &mut [T]) {
    let c = shape.channels;
    assert_eq!(x.len(), y.len() / c * shape.len(), "pool: input and output hold different batches");
    let inv_pixels = T::one() / T::from_f64(shape.pixels() as f64);
    for (map, y_row) in x.chunks_exact(shape.len()).zip(y.chunks_exact_mut(c)) {
        y_row.fill(T::zero());
        for pixel in map.chunks_exact(c) {
            for (s, &v) in y_row.iter_mut().zip(pixel) {
                *s += v;
            }
        }
        for s in y_row.iter_mut() {
            *s *= inv_pixels;
        }
    }
}

/// dx = ∂L/∂x (overwritten): in the forward pass every pixel entered its channel's mean with
/// weight 1/(H·W), so each gets dy[i, c]/(H·W). dy is (n, C), dx is (n, H, W, C).
pub fn global_avg_pool_backward<T: Real>(shape: MapShape, dy: &[T], dx: &mut [T]) {
    let c = shape.channels;
    assert_eq!(dx.len(), dy.len() / c * shape.len(), "pool: gradients hold different batches");
    let inv_pixels = T::one() / T::from_f64(shape.pixels() as f64);
    for (map, dy_row) in dx.chunks_exact_mut(shape.len()).zip(dy.chunks_exact(c)) {
        for pixel in map.chunks_exact_mut(c) {
            for (d, &g) in pixel.iter_mut().zip(dy_row) {
                *d = g * inv_pixels;
            }
        }
    }
}
