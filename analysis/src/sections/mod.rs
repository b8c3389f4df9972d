//! One file per question the report answers; each turns [`Inputs`] into a [`Section`].
//!
//! The list below is the report's order. Adding a question is one new file here with
//! `pub fn build(inputs: &Inputs) -> Result<Option<Section>>` and its name in the list.

use crate::error::Result;
use crate::inputs::Inputs;
use crate::section::Section;

/// A section builder: `Ok(None)` when the inputs carry nothing for its question.
pub type Builder = fn(&Inputs) -> Result<Option<Section>>;

macro_rules! sections {
    ($($name:ident),+ $(,)?) => {
        $(pub mod $name;)+
        /// Every section's builder with its module name, in report order.
        pub const ALL: &[(&str, Builder)] = &[$((stringify!($name), $name::build as Builder)),+];
    };
}

sections!(
    provenance,
    machines,
    degradation,
    robust,
    tuning,
    sensitivity,
    peers,
    curves,
    training_curves,
    stalls,
    drift,
    gradient_flow,
    shattered,
    lesions,
    branch,
    longer,
    timing,
    conv_timing,
    overhead,
    run_time,
    experiment_files,
);

/// Builds every section that has something to show, in report order.
pub fn build_all(inputs: &Inputs) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    for (_, build) in ALL {
        if let Some(section) = build(inputs)? {
            if !section.is_empty() {
                sections.push(section);
            }
        }
    }
    Ok(sections)
}
