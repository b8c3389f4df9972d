//! degradation-bench: plain and residual MLPs with hand-written forward/backward passes,
//! a training loop with per-layer probes, and a parallel sweep, for measuring the
//! degradation problem of deep plain networks and how residual connections fix it.
//!
//! Data flow: `config` and `data` → `model` → `train` (the step, evaluation, probes and the
//! loop) → `sweep` → `record` (runs.jsonl), read by the separate analysis crate. Imports point
//! one way: the model knows nothing of training, and the record format (below training, beside
//! `config`) imports nothing from it, so changing the trainer never changes the format.

pub mod config;
pub mod data;
pub mod error;
pub mod export;
pub mod machine;
pub mod model;
pub mod record;
pub mod sweep;
pub mod theory;
pub mod train;

pub use error::{Error, Result};
