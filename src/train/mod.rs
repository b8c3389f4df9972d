//! Training, in the order one run goes through it: [`step`] (the one train step: forward →
//! [`loss`] → backward → [`optim`]), [`eval`] (full-set evaluation), [`probe`] (per-layer
//! statistics), [`mechanisms`] and [`sensitivity`] (the optional measurements), [`time_split`]
//! (where the run's time went) and [`run`] (the loop that ties them together). [`replay`] runs
//! a run's steps alone, to stop anywhere; [`subnormals`] counts the values a step computes on.
//!
//! What a run produces is written in the types of [`crate::record`], which sits below this
//! module and imports nothing from it.

pub mod eval;
#[cfg(test)]
mod gradcheck;
mod instruments;
pub mod loss;
pub mod mechanisms;
pub mod optim;
pub mod probe;
pub mod replay;
pub mod run;
pub mod sensitivity;
pub mod step;
pub mod subnormals;
pub mod time_split;

pub use crate::record::TrainResult;
pub(crate) use run::BatchOrder;
pub use run::{train, validate_against_data};
