//! The machine fingerprint (`machine.json`) that sweeps and benches write beside their results.

use crate::error::{Error, Result};
use degradation_bench::record::MachineInfo;
use std::path::Path;

/// Reads a `machine.json` fingerprint (the sweep's and the benches' are the same type).
pub fn read_machine(path: &Path) -> Result<MachineInfo> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Json { path: path.to_path_buf(), message: format!("not a machine fingerprint: {e}") })
}
