//! Chart builders of the timing and machines sections; they draw with [`crate::plot`].

pub use crate::plot::*;

pub mod machines;
pub mod timing;
