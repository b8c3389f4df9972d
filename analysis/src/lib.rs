//! degradation-analysis: turns sweep results (`runs.jsonl`, `machine.json`) and criterion
//! benchmarks into a report — polars tables written as CSV and Markdown, SVG charts drawn with
//! plotters, and a README.md whose findings are computed from the data.
//!
//! Layers, arrows pointing down: [`inputs`] / [`criterion`] load files into typed values;
//! [`variant`] types a run's variant; [`stats`], [`instruments`], [`table`] and [`plot`] know
//! no topic; [`sections`] (one file per question) turn inputs into [`section::Section`]s;
//! [`report`] renders a list of sections and writes the directory. Sections never use the
//! report.

pub mod bench;
pub mod cli;
pub mod conv_bench;
pub mod criterion;
pub mod depth_tests;
pub mod equivalence;
pub mod error;
pub mod fingerprint;
pub mod inputs;
pub mod instruments;
pub mod interval;
pub mod paired;
pub mod peak;
pub mod plot;
pub mod rank_test;
pub mod report;
pub mod section;
pub mod sections;
pub mod spikes;
pub mod stats;
pub mod sweep;
pub mod table;
pub mod variant;

pub use error::{Error, Result, Warning};
