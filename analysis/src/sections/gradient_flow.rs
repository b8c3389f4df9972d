//! How signals and gradients flow through the depth at initialisation, against theory.

use crate::charts::{self, profiles::Probe};
use crate::error::Result;
use crate::findings;
use crate::inputs::Inputs;
use crate::section::Section;
use crate::tables;
use crate::variant::VaryingAxes;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let runs = inputs.runs();
    let axes = VaryingAxes::of(&runs);
    let Some(table) = tables::gradient_flow(&runs, &axes)? else {
        return Ok(None);
    };
    let mut section = Section::new("Gradient flow");
    section.findings = findings::gradient_flow(&table);
    section.charts.extend(charts::profiles::build(&runs, &axes, Probe::GradientNorm));
    section.charts.extend(charts::profiles::build(&runs, &axes, Probe::StateRms));
    section.tables.push(table);
    Ok(Some(section))
}
