//! Chart builders not yet moved into their sections; they draw with [`crate::plot`].

pub use crate::plot::*;

pub mod curves;
pub mod degradation;
pub mod mechanisms;
pub mod profiles;
