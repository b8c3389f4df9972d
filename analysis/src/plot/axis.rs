//! Axes over (possibly log-transformed) data, with ticks at round values.

use crate::table::format_sig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Powers of ten: losses, times.
    Log10,
    /// Powers of two: depths, widths.
    Log2,
    /// Categories at 0, 1, 2, … labelled by name (heatmaps).
    Categorical,
}

/// An axis range in plot space (the log of the data for log scales).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub scale: Scale,
    pub lo: f64,
    pub hi: f64,
    /// Names of the categories, for [`Scale::Categorical`].
    pub categories: Vec<String>,
}

impl Axis {
    /// The smallest padded range holding every finite (and, for log scales, positive) value.
    pub fn fit(scale: Scale, values: impl IntoIterator<Item = f64>) -> Option<Axis> {
        let probe = Axis { scale, lo: 0.0, hi: 1.0, categories: Vec::new() };
        let plotted: Vec<f64> = values.into_iter().filter_map(|v| probe.to_plot(v)).collect();
        let lo = plotted.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = plotted.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !(lo.is_finite() && hi.is_finite()) {
            return None;
        }
        let span = hi - lo;
        let pad = match scale {
            _ if span == 0.0 => match scale {
                Scale::Linear => lo.abs().max(1.0) * 0.1,
                _ => 0.5,
            },
            Scale::Log2 => (span * 0.06).max(0.25),
            _ => span * 0.06,
        };
        let (mut lo, mut hi) = (lo - pad, hi + pad);
        if scale == Scale::Log10 && span >= 1.0 {
            // Over a decade or more ticks sit at whole powers of ten: widen to the powers around the data, so a tick
            // lies below the smallest value and above the largest and a reader can place both.
            lo = lo.min(plotted.iter().copied().fold(f64::INFINITY, f64::min).floor());
            hi = hi.max(plotted.iter().copied().fold(f64::NEG_INFINITY, f64::max).ceil());
        }
        Some(Axis { scale, lo, hi, categories: Vec::new() })
    }

    /// Categories at integer positions, with half a cell of margin on each side.
    pub fn categorical(names: Vec<String>) -> Axis {
        Axis { scale: Scale::Categorical, lo: -0.5, hi: names.len() as f64 - 0.5, categories: names }
    }

    /// Data value → plot coordinate; `None` where the scale cannot show it (≤ 0 on a log axis).
    pub fn to_plot(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self.scale {
            Scale::Linear | Scale::Categorical => Some(v),
            Scale::Log10 => (v > 0.0).then(|| v.log10()),
            Scale::Log2 => (v > 0.0).then(|| v.log2()),
        }
    }

    /// Tick positions in plot space.
    pub fn ticks(&self) -> Vec<f64> {
        match self.scale {
            Scale::Categorical => (0..self.categories.len()).map(|i| i as f64).collect(),
            Scale::Linear => linear_ticks(self.lo, self.hi),
            Scale::Log2 => {
                let mut ticks = integers_in(self.lo, self.hi);
                // Too many powers of two to label: keep every other one.
                while ticks.len() > 9 {
                    ticks = ticks.into_iter().step_by(2).collect();
                }
                ticks
            }
            Scale::Log10 => {
                let mut ticks = integers_in(self.lo, self.hi);
                while ticks.len() > 9 {
                    ticks = ticks.into_iter().step_by(2).collect();
                }
                // Less than ~2 decades: add 2× and 5× ticks, and 1.5×, 3×, 7× if still sparse.
                for multipliers in [&[1.0f64, 2.0, 5.0][..], &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0][..]] {
                    if ticks.len() >= 3 {
                        break;
                    }
                    ticks = Vec::new();
                    for decade in (self.lo.floor() as i32)..=(self.hi.ceil() as i32) {
                        for m in multipliers {
                            let t = decade as f64 + m.log10();
                            if t >= self.lo && t <= self.hi {
                                ticks.push(t);
                            }
                        }
                    }
                }
                ticks
            }
        }
    }

    /// The label of a tick, in data units.
    pub fn label(&self, t: f64) -> String {
        match self.scale {
            Scale::Categorical => {
                let i = t.round();
                if (t - i).abs() < 1e-9 && i >= 0.0 {
                    self.categories.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            Scale::Linear => {
                let step = {
                    let ticks = self.ticks();
                    if ticks.len() >= 2 {
                        ticks[1] - ticks[0]
                    } else {
                        1.0
                    }
                };
                let decimals = (-step.log10().floor()).max(0.0) as usize;
                format!("{t:.decimals$}")
            }
            Scale::Log2 => {
                let v = 2f64.powf(t);
                if t >= 0.0 {
                    format!("{}", v.round())
                } else {
                    format_sig(v, 2)
                }
            }
            Scale::Log10 => {
                let v = 10f64.powf(t);
                let exponent = t.round();
                if (t - exponent).abs() < 1e-9 && !(-3.0..=4.0).contains(&exponent) {
                    format!("1e{}", exponent as i32)
                } else {
                    // Two significant digits, shortest form: 0.5, 1.5, 20, 3e-5.
                    let rounded = {
                        let scale = 10f64.powi(1 - v.log10().floor() as i32);
                        (v * scale).round() / scale
                    };
                    if (-3.0..=4.0).contains(&v.log10().floor()) {
                        format!("{rounded}")
                    } else {
                        format!("{rounded:e}")
                    }
                }
            }
        }
    }
}

fn integers_in(lo: f64, hi: f64) -> Vec<f64> {
    ((lo.ceil() as i64)..=(hi.floor() as i64)).map(|i| i as f64).collect()
}

/// 1-2-5 ticks, about six of them.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| span / s <= 7.0).unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_ticks_are_powers_of_two() {
        let axis = Axis::fit(Scale::Log2, [2.0, 4.0, 128.0]).unwrap();
        let labels: Vec<String> = axis.ticks().iter().map(|t| axis.label(*t)).collect();
        assert_eq!(labels, ["2", "4", "8", "16", "32", "64", "128"]);
    }

    #[test]
    fn log10_ticks_are_decades_or_finer() {
        let axis = Axis::fit(Scale::Log10, [1e-6, 2.0]).unwrap();
        let labels: Vec<String> = axis.ticks().iter().map(|t| axis.label(*t)).collect();
        // 2.0 lies above 1: the axis reaches the next power so a tick lies above the data.
        assert_eq!(labels, ["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1", "10"]);
        let narrow = Axis::fit(Scale::Log10, [0.3, 2.0]).unwrap();
        let labels: Vec<String> = narrow.ticks().iter().map(|t| narrow.label(*t)).collect();
        assert_eq!(labels, ["0.5", "1", "2"]);
        let sparse = Axis::fit(Scale::Log10, [40.0, 140.0]).unwrap();
        let labels: Vec<String> = sparse.ticks().iter().map(|t| sparse.label(*t)).collect();
        assert_eq!(labels, ["50", "70", "100", "150"]);
        assert_eq!(narrow.to_plot(0.0), None);
    }

    #[test]
    fn linear_ticks_are_round() {
        let axis = Axis::fit(Scale::Linear, [0.0, 1500.0]).unwrap();
        let labels: Vec<String> = axis.ticks().iter().map(|t| axis.label(*t)).collect();
        assert_eq!(labels, ["0", "500", "1000", "1500"]);
    }

    #[test]
    fn log_ticks_span_the_data() {
        let axis = Axis::fit(Scale::Log10, [2.7e-6, 2.3]).unwrap();
        let ticks = axis.ticks();
        assert!(*ticks.first().unwrap() <= 2.7e-6f64.log10(), "{ticks:?}");
        assert!(*ticks.last().unwrap() >= 2.3f64.log10(), "{ticks:?}");
    }
}
