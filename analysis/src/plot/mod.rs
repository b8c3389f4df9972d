//! SVG charts with plotters (svg backend, no system fonts: text is written as
//! `font-family="sans-serif"` and laid out by the browser).
//!
//! Every chart here is a [`Figure`]: a title, a grid of [`Panel`]s that share one legend, and
//! the legend in rows under the plots, so it can never cover data. Log axes
//! are drawn as linear axes over log-transformed values with ticks at whole powers
//! ([`Axis`]), which gives clean labels (1, 10, 100 or 2, 4, 8) on any range. Rendering is in
//! `draw.rs`. Nothing here knows a topic: sections build figures from their own values.

pub mod axis;
mod draw;

pub use axis::{Axis, Scale};

use plotters::prelude::*;

/// A chart for the report: the figure, its file name and a caption saying how to read it.
#[derive(Debug, Clone)]
pub struct Chart {
    pub figure: Figure,
    /// File name inside the report directory.
    pub file: String,
    pub caption: String,
}

/// Colour-blind-safe categorical palette (Okabe–Ito, then Tol's muted for more lines).
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(136, 34, 85),
    RGBColor(68, 170, 153),
    RGBColor(153, 153, 51),
    RGBColor(170, 68, 153),
    RGBColor(102, 102, 102),
];

pub fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Sequential colours for an ordered quantity (depth): light-to-dark viridis stops.
pub fn sequential(i: usize, n: usize) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] =
        [(253.0, 231.0, 37.0), (94.0, 201.0, 98.0), (33.0, 145.0, 140.0), (59.0, 82.0, 139.0), (68.0, 1.0, 84.0)];
    // Skip the palest yellow: it vanishes on white.
    let t = if n <= 1 { 1.0 } else { 0.18 + 0.82 * i as f64 / (n - 1) as f64 };
    let pos = t * (STOPS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - k as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The legend of a chart with one solid line per depth (darker = deeper) and, dashed in grey,
/// a per-depth reference drawn in each depth's colour (`reference`: what the dashes are).
pub fn depth_legend(depths: &[usize], reference: &str) -> Vec<LineStyle> {
    let solid = depths.iter().enumerate().map(|(i, d)| LineStyle {
        label: format!("depth {d}"),
        color: sequential(i, depths.len()),
        dashed: false,
        marker: Marker::None,
    });
    let dashed = LineStyle { label: reference.into(), color: RGBColor(90, 90, 90), dashed: true, marker: Marker::None };
    solid.chain(std::iter::once(dashed)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    Circle,
    Triangle,
    /// A hollow ring around each point and no line between them: flags points of other lines
    /// (an unstable benchmark, say) without hiding them.
    Ring,
}

/// How one line looks; also its legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStyle {
    pub label: String,
    pub color: RGBColor,
    pub dashed: bool,
    pub marker: Marker,
}

/// One line of a panel, in data coordinates (the panel's axes transform them).
#[derive(Debug, Clone)]
pub struct Line {
    pub style: LineStyle,
    pub points: Vec<(f64, f64)>,
    /// Vertical error bars `(x, low, high)`.
    pub error_bars: Vec<(f64, f64, f64)>,
    /// Single observations (one seed each) drawn as small hollow circles in the line's colour:
    /// with few seeds, every one is shown instead of a spread that would hide the worst.
    pub observations: Vec<(f64, f64)>,
    /// Whether the line gets its own legend entry (theory lines share one).
    pub in_legend: bool,
    /// Stroke width in pixels: 2 unless a chart tells thin lines (one seed each) from bold ones
    /// (a centre); the legend's samples are always 2.
    pub width: u32,
}

impl Line {
    pub fn new(style: LineStyle, points: Vec<(f64, f64)>) -> Self {
        Line { style, points, error_bars: Vec::new(), observations: Vec::new(), in_legend: true, width: 2 }
    }
}

/// A labelled rectangle of a heatmap panel: cell (column, row) with its colour and text (none
/// drawn when empty: dense heatmaps carry their values in the colour alone).
#[derive(Debug, Clone)]
pub struct Cell {
    pub column: usize,
    pub row: usize,
    pub fill: RGBColor,
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum PanelBody {
    Lines(Vec<Line>),
    /// Cells on categorical axes (the panel's axes name the columns and rows).
    Heatmap {
        cells: Vec<Cell>,
    },
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub x_label: String,
    pub y_label: String,
    pub body: PanelBody,
}

impl Panel {
    /// Pairs of lines (by label) drawn exactly on top of each other: the same points. A caption
    /// must say so, or a reader sees one line and two legend entries.
    pub fn overlapping_lines(&self) -> Vec<(String, String)> {
        let PanelBody::Lines(lines) = &self.body else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, a) in lines.iter().enumerate() {
            for b in &lines[i + 1..] {
                if !a.points.is_empty() && a.points == b.points {
                    out.push((a.style.label.clone(), b.style.label.clone()));
                }
            }
        }
        out
    }
}

/// A caption sentence naming the lines hidden under others, or "" when none is.
pub fn overlap_sentence(panels: &[Panel]) -> String {
    let mut pairs: Vec<(String, String)> = panels.iter().flat_map(Panel::overlapping_lines).collect();
    pairs.sort();
    pairs.dedup();
    if pairs.is_empty() {
        return String::new();
    }
    let named: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} and {b}")).collect();
    format!(" Identical values, drawn on top of each other: {}.", named.join("; "))
}

/// A whole chart: title, panels in a grid, a shared legend to the right.
#[derive(Debug, Clone)]
pub struct Figure {
    pub title: String,
    pub panels: Vec<Panel>,
    pub columns: usize,
    /// Legend entries in order, deduplicated by label.
    pub legend: Vec<LineStyle>,
    /// Preferred panel size; the width is set by the page (`draw::PAGE_WIDTH` ÷ columns) and
    /// the height is at most this one's.
    pub panel_size: (u32, u32),
    /// A note under the legend (e.g. what a dashed line means).
    pub legend_note: Option<String>,
}

/// A log axis when every value is positive and they span more than a decade, else linear.
pub fn fit_auto(values: &[f64]) -> Option<Axis> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    if lo > 0.0 && hi / lo > 10.0 {
        Axis::fit(Scale::Log10, finite)
    } else {
        Axis::fit(Scale::Linear, finite)
    }
}

/// Median of the finite values at each position across several equally indexed profiles.
pub fn median_profile(profiles: &[&[f64]]) -> Vec<f64> {
    let len = profiles.iter().map(|p| p.len()).max().unwrap_or(0);
    (0..len)
        .map(|k| crate::stats::median(profiles.iter().filter_map(|p| p.get(k).copied())).unwrap_or(f64::NAN))
        .collect()
}

/// The median over runs of a quantity recorded at the same `steps` in each run, as the points
/// of a log-scale line: steps where the median is not finite or not positive are left out.
pub fn median_curve(steps: &[f64], profiles: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let refs: Vec<&[f64]> = profiles.iter().map(Vec::as_slice).collect();
    steps.iter().zip(median_profile(&refs)).filter(|(_, y)| y.is_finite() && *y > 0.0).map(|(&x, y)| (x, y)).collect()
}

/// Picks at most `n` values spread over a sorted list, always keeping the first and last.
pub fn spread<T: Clone>(values: &[T], n: usize) -> Vec<T> {
    if values.len() <= n || n < 2 {
        return values.to_vec();
    }
    (0..n).map(|i| values[(i * (values.len() - 1) + (n - 1) / 2) / (n - 1)].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_curve_drops_points_a_log_axis_cannot_show() {
        let steps = [0.0, 10.0, 20.0, 30.0];
        let profiles = vec![vec![1.0, f64::NAN, 0.0, 4.0], vec![3.0, f64::NAN, 0.0, 8.0], vec![2.0, 5.0, 0.0]];
        // Medians 2, 5 (the one finite value), 0 (dropped), 6 (of the two runs that reach it).
        assert_eq!(median_curve(&steps, &profiles), [(0.0, 2.0), (10.0, 5.0), (30.0, 6.0)]);
    }

    #[test]
    fn spread_keeps_ends() {
        let v: Vec<usize> = (0..7).collect();
        let s = spread(&v, 4);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], 0);
        assert_eq!(*s.last().unwrap(), 6);
        assert_eq!(spread(&v, 10), v);
    }

    #[test]
    fn a_figure_renders_to_svg_with_its_text() {
        let x = Axis::fit(Scale::Log2, [2.0, 128.0]).unwrap();
        let y = Axis::fit(Scale::Log10, [1e-4, 2.0]).unwrap();
        let style = LineStyle { label: "plain".into(), color: palette(0), dashed: false, marker: Marker::Circle };
        let mut line = Line::new(style, vec![(2.0, 1.0), (128.0, 1e-3)]);
        line.error_bars.push((2.0, 0.5, 1.5));
        let panel = Panel {
            title: "p".into(),
            x,
            y,
            x_label: "depth".into(),
            y_label: "loss".into(),
            body: PanelBody::Lines(vec![line]),
        };
        let svg = Figure::new("Title", vec![panel], 1).to_svg().unwrap();
        assert!(svg.starts_with("<svg"));
        // plotters writes each text's content on its own line.
        assert!(svg.contains("\nTitle\n</text>"));
        assert!(svg.contains("\nplain\n</text>"));
        assert!(svg.contains("\n128\n</text>"));
        assert!(svg.contains("font-family=\"sans-serif\""));
    }
}
