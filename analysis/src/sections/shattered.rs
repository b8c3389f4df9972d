//! Shattered gradients.

use crate::charts;
use crate::error::Result;
use crate::inputs::Inputs;
use crate::mechanisms;
use crate::section::Section;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    let Some(table) = mechanisms::shattered(&runs)? else {
        return Ok(None);
    };
    let mut section = Section::new("Shattered gradients");
    section.findings = mechanisms::shattered_findings(&table);
    section.charts.extend(charts::mechanisms::shattered(&table));
    section.tables.push(table);
    Ok(Some(section))
}
