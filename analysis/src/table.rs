//! A table (a polars DataFrame plus how to show it) written as CSV and as Markdown.
//!
//! Polars is built without IO features (see Cargo.toml), so both writers are here. CSV keeps
//! every column under its machine name at full precision; Markdown shows the chosen columns
//! under human headers, numbers rounded for reading.

use crate::error::{Error, Result};
use polars::prelude::{AnyValue, DataFrame};

/// How a Markdown cell shows a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Text,
    Integer,
    /// Significant digits; scientific notation outside [1e-3, 1e5).
    Sig(usize),
    /// Fixed decimals, with an explicit sign (for slopes and log ratios).
    Signed(usize),
    /// A fraction shown as a percentage with this many decimals.
    Percent(usize),
    /// A value already in percent, with an explicit sign.
    SignedPercent(usize),
}

#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub header: String,
    pub format: Format,
}

pub fn spec(name: &str, header: &str, format: Format) -> ColumnSpec {
    ColumnSpec { name: name.to_string(), header: header.to_string(), format }
}

#[derive(Debug, Clone)]
pub struct Table {
    /// File stem of the CSV and anchor of the Markdown section.
    pub slug: String,
    pub title: String,
    /// What the columns mean (spread statistic, units, conventions), shown under the table.
    pub note: String,
    pub frame: DataFrame,
    /// The columns the Markdown shows, in order.
    pub columns: Vec<ColumnSpec>,
}

impl Table {
    /// The value of `column` in `row` as f64 (`None` for null, non-numeric or a missing column).
    pub fn number(&self, column: &str, row: usize) -> Option<f64> {
        let value = self.frame.column(column).ok()?.get(row).ok()?;
        value.extract::<f64>().filter(|v| v.is_finite())
    }

    pub fn text(&self, column: &str, row: usize) -> Option<String> {
        let value = self.frame.column(column).ok()?.get(row).ok()?;
        cell_text(&value)
    }

    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// Every column of the frame, full precision, RFC 4180 quoting.
    pub fn to_csv(&self) -> Result<String> {
        let columns = self.frame.columns();
        let mut out = String::new();
        let header: Vec<String> = columns.iter().map(|c| csv_field(c.name().as_str())).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in 0..self.frame.height() {
            let mut fields = Vec::with_capacity(columns.len());
            for column in columns {
                let value = column.get(row).map_err(Error::polars("csv"))?;
                let text = match value {
                    AnyValue::Null => String::new(),
                    AnyValue::Float64(v) => finite_or_empty(v),
                    AnyValue::Float32(v) => finite_or_empty(f64::from(v)),
                    ref other => cell_text(other).unwrap_or_default(),
                };
                fields.push(csv_field(&text));
            }
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        Ok(out)
    }

    /// A GitHub-flavoured Markdown table of the chosen columns (blank cells for nulls).
    pub fn to_markdown(&self) -> Result<String> {
        let mut out = String::new();
        let headers: Vec<String> = self.columns.iter().map(|c| md_escape(&c.header)).collect();
        out.push_str(&format!("| {} |\n", headers.join(" | ")));
        let aligns: Vec<&str> =
            self.columns.iter().map(|c| if c.format == Format::Text { ":--" } else { "--:" }).collect();
        out.push_str(&format!("|{}|\n", aligns.join("|")));
        for row in 0..self.frame.height() {
            let mut cells = Vec::with_capacity(self.columns.len());
            for spec in &self.columns {
                let column = self.frame.column(&spec.name).map_err(Error::polars("markdown"))?;
                let value = column.get(row).map_err(Error::polars("markdown"))?;
                cells.push(md_escape(&format_cell(&value, spec.format)));
            }
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        Ok(out)
    }
}

fn finite_or_empty(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

fn cell_text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::Null => None,
        AnyValue::Boolean(b) => Some(b.to_string()),
        other => match other.get_str() {
            Some(s) => Some(s.to_string()),
            None => Some(other.to_string()),
        },
    }
}

fn format_cell(value: &AnyValue, format: Format) -> String {
    if matches!(value, AnyValue::Null) {
        return String::new();
    }
    let number = value.extract::<f64>().filter(|v| v.is_finite());
    match (format, number) {
        (Format::Text, _) => cell_text(value).unwrap_or_default(),
        (Format::Integer, Some(v)) => format!("{}", v.round() as i64),
        (Format::Sig(digits), Some(v)) => format_sig(v, digits),
        (Format::Signed(decimals), Some(v)) => format!("{v:+.decimals$}"),
        (Format::Percent(decimals), Some(v)) => format!("{:.decimals$}%", v * 100.0),
        (Format::SignedPercent(decimals), Some(v)) => format!("{v:+.decimals$}%"),
        (_, None) => String::new(),
    }
}

/// `digits` significant digits; scientific notation (`1.23e-5`) outside [1e-3, 1e5).
pub fn format_sig(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..5).contains(&magnitude) {
        return format!("{:.*e}", digits.saturating_sub(1), v);
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format!("{v:.decimals$}")
}

/// A ratio for prose: `3.2×`, or `1.2×10⁵×` once it spans decades.
pub fn format_ratio(r: f64) -> String {
    if !r.is_finite() {
        return "∞×".into();
    }
    if r < 1000.0 {
        return format!("{}×", format_sig(r, 2));
    }
    let mut exponent = r.log10().floor() as i32;
    let mut mantissa = r / 10f64.powi(exponent);
    // 9.96 would print as "10.0×10ⁿ": carry into the exponent.
    if mantissa >= 9.95 {
        exponent += 1;
        mantissa /= 10.0;
    }
    let superscript: String = exponent
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][d.to_digit(10).unwrap_or(0) as usize],
        })
        .collect();
    if (mantissa - 1.0).abs() < 0.05 {
        format!("10{superscript}×")
    } else {
        format!("{:.1}×10{superscript}×", mantissa)
    }
}

/// The text with its first letter upper-case (a phrase used to open a sentence).
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn table() -> Table {
        let frame = DataFrame::new_infer_height(vec![
            Column::new("variant".into(), ["plain", "res, \"x\""]),
            Column::new("loss".into(), [Some(0.000012345), None]),
            Column::new("slope".into(), [0.25, -1.0]),
        ])
        .unwrap();
        Table {
            slug: "t".into(),
            title: "T".into(),
            note: String::new(),
            frame,
            columns: vec![
                spec("variant", "variant", Format::Text),
                spec("loss", "loss | median", Format::Sig(3)),
                spec("slope", "slope", Format::Signed(2)),
            ],
        }
    }

    #[test]
    fn csv_quotes_and_keeps_precision() {
        let csv = table().to_csv().unwrap();
        assert_eq!(csv, "variant,loss,slope\nplain,0.000012345,0.25\n\"res, \"\"x\"\"\",,-1\n");
    }

    #[test]
    fn markdown_formats_and_escapes() {
        let md = table().to_markdown().unwrap();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| variant | loss \\| median | slope |");
        assert_eq!(lines[1], "|:--|--:|--:|");
        assert_eq!(lines[2], "| plain | 1.23e-5 | +0.25 |");
        assert_eq!(lines[3], "| res, \"x\" |  | -1.00 |");
    }

    #[test]
    fn ratios_read_naturally() {
        assert_eq!(format_ratio(3.21), "3.2×");
        assert_eq!(format_ratio(100000.0), "10⁵×");
        assert_eq!(format_ratio(250000.0), "2.5×10⁵×");
        assert_eq!(format_ratio(99_700.0), "10⁵×", "a mantissa that rounds to 10 carries");
        assert_eq!(format_ratio(99_000.0), "9.9×10⁴×");
    }

    #[test]
    fn significant_digits() {
        assert_eq!(format_sig(0.123456, 3), "0.123");
        assert_eq!(format_sig(12.3456, 3), "12.3");
        assert_eq!(format_sig(1234.5, 3), "1234");
        assert_eq!(format_sig(123456.0, 3), "1.23e5");
        assert_eq!(format_sig(0.0, 3), "0");
    }
}
