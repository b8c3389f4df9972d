//! The machine fingerprint (`machine.json`) that sweeps and benches write beside their results.

use crate::error::{Error, Result};
use degradation_bench::record::{self, MachineInfo};
use degradation_bench::Error as CoreError;
use std::path::Path;

/// Reads a `machine.json` fingerprint through the core's reader (the sweep's and the benches'
/// are the same type).
pub fn read_machine(path: &Path) -> Result<MachineInfo> {
    record::read_machine_json(path).map_err(|e| match e {
        CoreError::Record { path, line, message } => Error::Json { path, message: format!("line {line}: {message}") },
        other => Error::Core(other),
    })
}
