//! Lesions.

use crate::charts;
use crate::error::Result;
use crate::inputs::Inputs;
use crate::mechanisms;
use crate::section::Section;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    let Some(table) = mechanisms::lesions(&runs)? else {
        return Ok(None);
    };
    let mut section = Section::new("Lesions");
    section.findings = mechanisms::lesion_findings(&table);
    section.charts.extend(charts::mechanisms::lesions(&runs));
    section.tables.push(table);
    Ok(Some(section))
}
