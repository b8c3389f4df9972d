//! Plain and residual MLPs with hand-written forward and backward passes over
//! preallocated buffers. See `mlp` for the network definitions.

pub mod activation;
pub mod dense;
pub mod gemm;
pub mod init;
pub mod mlp;
pub mod norm;

#[cfg(test)]
mod gradcheck;

pub use mlp::{Mlp, Mode};

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
    fn as_f64(self) -> f64;
    /// The error function, for exact GELU.
    fn erf(self) -> Self;
}

impl Real for f32 {
    fn from_f64(value: f64) -> Self {
        value as f32
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
    fn as_f64(self) -> f64 {
        self
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
}

/// Frobenius norm, accumulated in f64 so long vectors of f32 lose nothing.
pub fn l2_norm<T: Real>(values: &[T]) -> f64 {
    values.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>().sqrt()
}

/// Root mean square, accumulated in f64.
pub fn rms<T: Real>(values: &[T]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    (values.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>() / values.len() as f64).sqrt()
}
