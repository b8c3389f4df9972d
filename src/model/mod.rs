//! Plain and residual MLPs with hand-written forward and backward passes over
//! preallocated ndarray buffers. See `mlp` for the network definitions; each layer kind
//! (`linear`, `norm`, `activation`, `plain`, `residual`) is a forward/backward pair in its own file.
//! `conv` holds the ResNet paper's conv nets; [`Network`] is what training needs of either.

pub mod activation;
pub mod conv;
pub mod gemm;
pub mod init;
pub mod linear;
pub mod mlp;
pub mod network;
pub mod norm;
pub mod norm_act;
pub mod plain;
pub mod residual;

pub use mlp::{Mlp, Mode};
pub use network::Network;

use ndarray::{ArrayBase, ArrayView2, ArrayViewMut2, Data, Dimension};

/// The float types a network can run in: f32 for training and benches, f64 for gradient checks.
pub trait Real:
    num_traits::Float
    + std::fmt::Debug
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + Default
    + Send
    + Sync
    + gemm::GemmScratch
    + 'static
{
    fn from_f64(value: f64) -> Self;
    /// Exact for both float types: data sets are f32.
    fn from_f32(value: f32) -> Self;
    fn as_f64(self) -> f64;
    /// The error function, for exact GELU.
    fn erf(self) -> Self;
}

impl Real for f32 {
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn from_f32(value: f32) -> Self {
        value
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn erf(self) -> Self {
        libm::erff(self)
    }
}

impl Real for f64 {
    fn from_f64(value: f64) -> Self {
        value
    }
    fn from_f32(value: f32) -> Self {
        value as f64
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
}

/// Frobenius norm, accumulated in f64 so long vectors of f32 lose nothing.
pub fn l2_norm<T: Real, S: Data<Elem = T>, D: Dimension>(values: &ArrayBase<S, D>) -> f64 {
    values.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>().sqrt()
}

/// Root mean square, accumulated in f64.
pub fn rms<T: Real, S: Data<Elem = T>, D: Dimension>(values: &ArrayBase<S, D>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    (values.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>() / values.len() as f64).sqrt()
}

/// The elements of a row-major (n, width) view, rows one after another, for the elementwise
/// loops (slices vectorise where ndarray's iterators may not). Every activation buffer of the
/// model is row-major, so a failure here is a bug, not bad input.
pub fn flat<'a, T>(view: &ArrayView2<'a, T>) -> &'a [T] {
    view.to_slice().expect("activation buffers are row-major")
}

/// [`flat`] for a mutable view.
pub fn flat_mut<'a, T>(view: &'a mut ArrayViewMut2<'_, T>) -> &'a mut [T] {
    view.as_slice_mut().expect("activation buffers are row-major")
}
