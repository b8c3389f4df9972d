//! Does depth degrade plain nets, and do residual connections fix it? Final training loss
//! against depth, per variant.

use crate::charts;
use crate::error::Result;
use crate::findings;
use crate::inputs::Inputs;
use crate::section::Section;
use crate::tables;
use crate::variant::VaryingAxes;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    if runs.is_empty() {
        return Ok(None);
    }
    let axes = VaryingAxes::of(&runs);
    let frame = tables::runs_frame(&runs, &axes)?;
    let table = tables::degradation(&frame)?;
    let mut section = Section::new("Degradation");
    section.findings = findings::degradation(&table);
    section.charts.extend(charts::degradation::build(&table));
    section.tables.push(table);
    Ok(Some(section))
}
