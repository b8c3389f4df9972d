//! The experiment files the sweeps ran, verbatim, so the grid behind every number is on the page.

use crate::error::Result;
use crate::inputs::Inputs;
use crate::section::Section;

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let mut section = Section::new("Experiment files");
    let mut shown: Vec<&str> = Vec::new();
    for set in &inputs.results {
        let Some(text) = set.experiment_text.as_deref() else { continue };
        // Shards of one sweep carry the same file: show it once.
        if shown.contains(&text) {
            continue;
        }
        shown.push(text);
        section.summary.push(format!(
            "<details><summary><code>{}</code> ({})</summary>\n\n```toml\n{}\n```\n\n</details>",
            set.experiment,
            set.dir.join("experiment.toml").display(),
            text.trim_end()
        ));
    }
    Ok((!section.summary.is_empty()).then_some(section))
}
