//! Residual-branch magnitude.

use crate::charts;
use crate::error::Result;
use crate::inputs::Inputs;
use crate::mechanisms;
use crate::section::Section;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    let Some(table) = mechanisms::branch(&runs)? else {
        return Ok(None);
    };
    let mut section = Section::new("Residual-branch magnitude");
    section.findings = mechanisms::branch_findings(&table);
    section.charts.extend(charts::mechanisms::branch(&runs));
    section.tables.push(table);
    Ok(Some(section))
}
