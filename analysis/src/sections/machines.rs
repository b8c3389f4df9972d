//! The same benchmarks on several machines, side by side.

use crate::charts;
use crate::error::Result;
use crate::findings;
use crate::inputs::Inputs;
use crate::section::Section;
use crate::tables;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let rows: Vec<_> = inputs.benches.iter().flat_map(|b| b.rows.iter().cloned()).collect();
    let mut machines: Vec<String> = rows.iter().map(|r| r.machine_id.clone()).collect();
    machines.sort();
    machines.dedup();
    if machines.len() < 2 {
        return Ok(None);
    }
    let frames = tables::bench_frames(&rows)?;
    if frames.network.height() == 0 {
        return Ok(None);
    }
    let frame = tables::timing_frame(&frames)?;
    let timing_rows = tables::timing_rows(&frame);
    let mut section = Section::new("Across machines");
    section.findings = findings::machines(&timing_rows);
    section.charts.extend(charts::machines::build(&timing_rows));
    section.tables.push(tables::across_machines(&frame, &machines)?);
    Ok(Some(section))
}
