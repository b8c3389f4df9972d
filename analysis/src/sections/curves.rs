//! How training proceeds: the loss against the step, per variant and depth.

use crate::charts;
use crate::error::Result;
use crate::inputs::Inputs;
use crate::section::Section;
use crate::variant::VaryingAxes;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    let axes = VaryingAxes::of(&runs);
    let Some(chart) = charts::curves::build(&runs, &axes) else {
        return Ok(None);
    };
    let mut section = Section::new("Training curves");
    section.charts.push(chart);
    Ok(Some(section))
}
