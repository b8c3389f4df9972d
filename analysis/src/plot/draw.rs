//! Rendering a [`Figure`] to SVG: the title, a grid of panels, and the legend in rows
//! underneath so it never covers data.

use super::{Figure, Line, LineStyle, Marker, Panel, PanelBody};
use crate::error::{Error, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::Path;

const FONT: &str = "sans-serif";
// plotters writes `font-size` as the requested size ÷ 1.24, so these give about 19, 15, 13,
// 14 and 14 px in the SVG.
const TITLE_SIZE: f64 = 24.0;
const PANEL_TITLE_SIZE: f64 = 19.0;
const LABEL_SIZE: f64 = 16.0;
const AXIS_DESC_SIZE: f64 = 17.5;
const LEGEND_SIZE: f64 = 17.0;
/// Every figure is this wide: a repository page shows it unscaled, text at 12–19 px.
pub const PAGE_WIDTH: u32 = 1000;
/// Characters per line of the legend note.
const NOTE_CHARS: usize = 120;

impl Figure {
    pub fn new(title: impl Into<String>, panels: Vec<Panel>, columns: usize) -> Self {
        let legend = legend_of(&panels);
        Figure {
            title: title.into(),
            panels,
            columns: columns.max(1),
            legend,
            panel_size: (620, 440),
            legend_note: None,
        }
    }

    /// Width of one legend entry: the line sample and the longest label.
    fn legend_entry_width(&self) -> u32 {
        let longest = self.legend.iter().map(|s| s.label.chars().count()).max().unwrap_or(0);
        // ~0.56 em per character of sans-serif at the rendered size, plus the line sample.
        (66.0 + longest as f64 * LEGEND_SIZE / 1.24 * 0.56).ceil() as u32
    }

    /// Legend rows below the plots: entries side by side as far as the page allows.
    fn legend_layout(&self) -> (u32, u32, Vec<String>) {
        let per_row = ((PAGE_WIDTH - 20) / self.legend_entry_width().max(1)).max(1);
        let rows = (self.legend.len() as u32).div_ceil(per_row);
        let note = self.legend_note.as_deref().map(|n| wrap(n, NOTE_CHARS)).unwrap_or_default();
        (per_row, rows, note)
    }

    /// Renders to SVG text: `PAGE_WIDTH` wide whatever the number of panels (so the text stays
    /// readable on a repository page), panels in a grid of at most three columns, the legend
    /// and its note in rows underneath, where they can never cover data.
    pub fn to_svg(&self) -> std::result::Result<String, String> {
        let columns = self.columns.min(self.panels.len()).clamp(1, 3);
        let rows = self.panels.len().div_ceil(columns).max(1);
        let panel_width = PAGE_WIDTH / columns as u32;
        let panel_height = ((f64::from(panel_width) * 0.72) as u32).clamp(300, self.panel_size.1.max(300));
        let (per_row, legend_rows, note) = self.legend_layout();
        let legend_height = if self.legend.is_empty() && note.is_empty() {
            0
        } else {
            16 + legend_rows * 24 + note.len() as u32 * 20 + 10
        };
        let title_height = 50;
        let height = panel_height * rows as u32 + legend_height + title_height;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (PAGE_WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let root = root
                .titled(&self.title, (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold))
                .map_err(|e| e.to_string())?;
            let (plots, legend) = root.split_vertically(panel_height * rows as u32);
            let cells = plots.split_evenly((rows, columns));
            for (panel, area) in self.panels.iter().zip(cells.iter()) {
                draw_panel(panel, area).map_err(|e| e.to_string())?;
            }
            let layout = LegendLayout { per_row, entry_width: self.legend_entry_width(), note };
            draw_legend(&self.legend, &layout, &legend).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let svg = self.to_svg().map_err(|message| Error::Chart { path: path.to_path_buf(), message })?;
        std::fs::write(path, svg).map_err(|e| Error::io(path, e))
    }
}

fn legend_of(panels: &[Panel]) -> Vec<LineStyle> {
    let mut legend: Vec<LineStyle> = Vec::new();
    for panel in panels {
        if let PanelBody::Lines(lines) = &panel.body {
            for line in lines.iter().filter(|l| l.in_legend) {
                if !legend.iter().any(|s| s.label == line.style.label) {
                    legend.push(line.style.clone());
                }
            }
        }
    }
    legend
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult<T> = std::result::Result<T, DrawingAreaErrorKind<std::io::Error>>;

fn draw_panel(panel: &Panel, area: &Area) -> DrawResult<()> {
    let x_ticks = panel.x.ticks();
    let y_ticks = panel.y.ticks();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, PANEL_TITLE_SIZE))
        .margin(12)
        .margin_right(22)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(
            Ticked { lo: panel.x.lo, hi: panel.x.hi, ticks: x_ticks },
            Ticked { lo: panel.y.lo, hi: panel.y.hi, ticks: y_ticks },
        )?;
    let x_format = |v: &f64| panel.x.label(*v);
    let y_format = |v: &f64| panel.y.label(*v);
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, AXIS_DESC_SIZE))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(TRANSPARENT)
        .draw()?;

    match &panel.body {
        PanelBody::Lines(lines) => {
            for line in lines {
                draw_line(&mut chart, panel, line)?;
            }
        }
        PanelBody::Heatmap { cells } => {
            for cell in cells {
                let (c, r) = (cell.column as f64, cell.row as f64);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(c - 0.5, r - 0.5), (c + 0.5, r + 0.5)],
                    cell.fill.filled(),
                )))?;
                if cell.text.is_empty() {
                    continue;
                }
                chart.draw_series(std::iter::once(Text::new(
                    cell.text.clone(),
                    (c, r),
                    (FONT, LABEL_SIZE + 1.0).into_font().color(&BLACK).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    )),
                )))?;
            }
        }
    }
    Ok(())
}

/// A linear f64 coordinate whose ticks are exactly the ones [`Axis::ticks`] chose.
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

type PlotContext<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

fn draw_line(chart: &mut PlotContext, panel: &Panel, line: &Line) -> DrawResult<()> {
    let points: Vec<(f64, f64)> =
        line.points.iter().filter_map(|&(x, y)| Some((panel.x.to_plot(x)?, panel.y.to_plot(y)?))).collect();
    let style = ShapeStyle { color: line.style.color.to_rgba(), filled: false, stroke_width: line.width };
    for &(x, low, high) in &line.error_bars {
        let (Some(x), Some(low), Some(high)) = (panel.x.to_plot(x), panel.y.to_plot(low), panel.y.to_plot(high)) else {
            continue;
        };
        let thin = ShapeStyle { stroke_width: 1, ..style };
        // A cap is 3% of the x range wide.
        let cap = (panel.x.hi - panel.x.lo) * 0.012;
        chart.draw_series([
            PathElement::new(vec![(x, low), (x, high)], thin),
            PathElement::new(vec![(x - cap, low), (x + cap, low)], thin),
            PathElement::new(vec![(x - cap, high), (x + cap, high)], thin),
        ])?;
    }
    let observations = line.observations.iter().filter_map(|&(x, y)| Some((panel.x.to_plot(x)?, panel.y.to_plot(y)?)));
    chart.draw_series(observations.map(|p| Circle::new(p, 2, ShapeStyle { stroke_width: 1, ..style })))?;
    if line.style.marker == Marker::Ring {
        // Flags only: no line joins them.
    } else if line.style.dashed {
        chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))?;
    } else {
        chart.draw_series(LineSeries::new(points.clone(), style))?;
    }
    match line.style.marker {
        Marker::None => {}
        Marker::Circle => {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, line.style.color.filled())))?;
        }
        Marker::Ring => {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 8, style)))?;
        }
        Marker::Triangle => {
            chart.draw_series(points.iter().map(|&p| TriangleMarker::new(p, 5, line.style.color.filled())))?;
        }
    }
    Ok(())
}

struct LegendLayout {
    per_row: u32,
    entry_width: u32,
    note: Vec<String>,
}

fn draw_legend(entries: &[LineStyle], layout: &LegendLayout, area: &Area) -> DrawResult<()> {
    let font = (FONT, LEGEND_SIZE).into_font().color(&BLACK);
    let mut y = 16;
    for (i, entry) in entries.iter().enumerate() {
        let column = i as u32 % layout.per_row;
        if i > 0 && column == 0 {
            y += 24;
        }
        let x = (20 + column * layout.entry_width) as i32;
        let style = ShapeStyle { color: entry.color.to_rgba(), filled: false, stroke_width: 2 };
        let (x0, x1) = (x, x + 36);
        if entry.marker == Marker::Ring {
            // A ring flags points: its sample has no line either.
        } else if entry.dashed {
            area.draw(&DashedPathElement::new(vec![(x0, y), (x1, y)], 6, 4, style))?;
        } else {
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))?;
        }
        match entry.marker {
            Marker::None => {}
            Marker::Circle => area.draw(&Circle::new((x + 18, y), 4, entry.color.filled()))?,
            Marker::Triangle => area.draw(&TriangleMarker::new((x + 18, y), 5, entry.color.filled()))?,
            Marker::Ring => area.draw(&Circle::new((x + 18, y), 8, style))?,
        }
        area.draw(&Text::new(entry.label.clone(), (x + 44, y - 8), font.clone()))?;
    }
    y += if entries.is_empty() { 0 } else { 30 };
    for line in &layout.note {
        area.draw(&Text::new(line.clone(), (20, y - 8), font.clone().color(&RGBColor(80, 80, 80))))?;
        y += 20;
    }
    Ok(())
}

/// Greedy word wrap at `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_splits_on_words() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
    }
}
