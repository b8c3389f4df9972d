//! What a step costs: forward, backward and train_step times by depth and width, the residual
//! connection's overhead, and efficiency against the same machine's GEMM ceiling.

use crate::charts;
use crate::error::Result;
use crate::findings;
use crate::inputs::Inputs;
use crate::section::Section;
use crate::tables;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let rows: Vec<_> = inputs.benches.iter().flat_map(|b| b.rows.iter().cloned()).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let several = inputs.benches.iter().map(|b| &b.machine_id).collect::<std::collections::BTreeSet<_>>().len() > 1;
    let frames = tables::bench_frames(&rows)?;
    let mut section = Section::new("Timing");
    section.summary.push(
        "Timing comes from criterion's median per iteration; GFLOP/s uses the FLOPs each benchmark declares as its \
         throughput (see the benches' README for the counting convention); efficiency divides by the same machine's \
         `gemm_ceiling` at the same width."
            .into(),
    );
    if frames.network.height() > 0 {
        let frame = tables::timing_frame(&frames)?;
        let timing_rows = tables::timing_rows(&frame);
        section.findings = findings::timing(&timing_rows);
        section.charts.extend(charts::timing::time_vs_depth(&timing_rows));
        section.charts.extend(charts::timing::overhead_heatmap(&timing_rows));
        section.tables.push(tables::timing(&frame, several));
    }
    if frames.ceiling.height() > 0 {
        section.tables.push(tables::ceiling(&frames, several));
    }
    Ok(Some(section))
}
