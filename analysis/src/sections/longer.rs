//! Longer training.

use crate::charts;
use crate::error::Result;
use crate::inputs::Inputs;
use crate::mechanisms;
use crate::section::Section;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    let Some(table) = mechanisms::longer(&runs)? else {
        return Ok(None);
    };
    let mut section = Section::new("Longer training");
    section.findings = mechanisms::longer_findings(&table);
    section.charts.extend(charts::mechanisms::longer(&table));
    section.tables.push(table);
    Ok(Some(section))
}
