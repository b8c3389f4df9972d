//! degradation-analysis: turns sweep results (`runs.jsonl`, `machine.json`) and criterion
//! benchmarks into a report — polars tables written as CSV and Markdown, SVG charts drawn with
//! plotters, and a README.md whose findings are computed from the data.
//!
//! Data flow, one direction: [`load`] / [`criterion`] (files → typed rows) → [`tables`]
//! (polars) and [`metrics`] (per-run slopes, theory) → [`charts`], [`findings`] →
//! [`report`] (atomic write of the report directory).

pub mod charts;
pub mod cli;
pub mod criterion;
pub mod error;
pub mod findings;
pub mod load;
pub mod mechanisms;
pub mod metrics;
pub mod rank_test;
pub mod readme;
pub mod render;
pub mod report;
pub mod spikes;
pub mod sweep;
pub mod tables;

pub use error::{Error, Result, Warning};
