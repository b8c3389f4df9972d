//! The one contract between the questions a report answers and the report itself.
//!
//! A [`Section`] answers one question (does depth degrade plain nets? how does the gradient
//! flow at initialisation? what does a residual connection cost?) from typed inputs. It owns
//! its whole story: the tables and charts it made, the findings computed from its own typed
//! values, and at most a sentence or two for the report's opening. The report knows nothing
//! about any topic: it renders a list of sections in order (`report::render`), writes every
//! table as CSV and every chart as SVG, and numbers the figures and tables.
//!
//! Adding a question is one new file under `sections/` with a
//! `pub fn build(inputs: &Inputs) -> Result<Option<Section>>` and one name in the list in
//! `sections/mod.rs`. A section returns `Ok(None)` when its inputs carry nothing for it.

pub use crate::plot::Chart;
pub use crate::table::Table;

/// One question's answer, ready to render.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The `##` heading (plain words, no numbering: the report numbers figures and tables).
    pub heading: String,
    /// Paragraphs under the heading, before the findings: what was measured, how to read it.
    pub summary: Vec<String>,
    /// Plain sentences carrying this section's key numbers, for the report's opening lines
    /// (rendered before everything else, in section order; keep them few and self-contained).
    pub lead: Vec<String>,
    /// When set, the report opens with this section's `lead` alone (and that of any other
    /// section that sets it): for an experiment whose other sections' leads would speak of
    /// one grid point at a time.
    pub lead_replaces_others: bool,
    /// Statements computed from the section's typed values (never hand-written, never parsed
    /// back from display labels), rendered as a list.
    pub findings: Vec<String>,
    /// Charts in reading order. Each carries the file name it is written to (unique within a
    /// report) and its caption; the section references its own charts, nothing looks them up.
    pub charts: Vec<Chart>,
    /// Tables in reading order, each written as `<slug>.csv` and shown as Markdown.
    pub tables: Vec<Table>,
}

impl Section {
    pub fn new(heading: impl Into<String>) -> Self {
        Section { heading: heading.into(), ..Section::default() }
    }

    /// Whether the section has anything to show.
    pub fn is_empty(&self) -> bool {
        self.summary.is_empty() && self.findings.is_empty() && self.charts.is_empty() && self.tables.is_empty()
    }
}
