//! degradation-bench: plain and residual MLPs with hand-written forward/backward passes,
//! a training loop with per-layer probes, and a parallel sweep, for measuring the
//! degradation problem of deep plain networks and how residual connections fix it.
//!
//! Data flow: `model` → `step` (one train step) → `train` (with `eval`, `probe`, `mechanisms`)
//! → `sweep` → `record` (runs.jsonl), read by the separate analysis crate. Imports point one
//! way: the model knows nothing of training, probes or records.

pub mod config;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod loss;
pub mod machine;
pub mod mechanisms;
pub mod model;
pub mod optim;
pub mod probe;
pub mod record;
pub mod sensitivity;
pub mod step;
pub mod sweep;
pub mod theory;
pub mod time_split;
pub mod train;

pub use error::{Error, Result};
