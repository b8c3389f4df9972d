//! What a residual connection costs: residual ÷ plain time, from the paired bench (plain and
//! residual interleaved in one process, the median paired ratio with a bootstrap interval) and
//! from criterion's separate medians (their intervals combined). A ratio whose interval
//! includes 1 is "within noise" and never a finding; a paired ratio measured under load
//! ([`conditions`]) is shown, flagged, and never a finding either.

pub mod conditions;

use crate::bench::{percent_change_text, BenchKey, MachineTimes, Op};
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::interval::Interval;
use crate::plot::{palette, Axis, Chart, Figure, Line, LineStyle, Marker, Panel, PanelBody, Scale};
use crate::section::Section;
use crate::table::{spec, Format, Table};
use conditions::{Conditions, CRITERION_FACTOR_LIMIT, LOAD_MARGIN};
use polars::prelude::{Column, DataFrame};

/// One measured overhead: where, how, and residual ÷ plain with its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Overhead {
    pub machine: String,
    pub op: Op,
    pub depth: usize,
    pub width: usize,
    /// "paired (N rounds)" or "criterion".
    pub method: String,
    pub ratio: Interval,
    /// What a paired measurement ran under; `None` for criterion's.
    pub conditions: Option<Conditions>,
}

impl Overhead {
    /// "+2.1% (+0.9% to +3.4%)", followed by ", within noise" and ", measured under load"
    /// where they apply.
    pub fn text(&self) -> String {
        let noise = if self.ratio.contains(1.0) { ", within noise" } else { "" };
        let load = if self.under_load() { ", measured under load" } else { "" };
        format!("{}{noise}{load}", percent_change_text(&self.ratio))
    }

    pub fn is_paired(&self) -> bool {
        self.conditions.is_some()
    }

    pub fn under_load(&self) -> bool {
        self.conditions.as_ref().is_some_and(Conditions::under_load)
    }
}

/// Paired measurements of every machine, then criterion's, in input order.
pub fn overheads(inputs: &Inputs) -> (Vec<Overhead>, Vec<Overhead>) {
    let mut paired = Vec::new();
    let mut separate = Vec::new();
    for set in &inputs.benches {
        let machine = set.machine_label();
        for point in &set.paired {
            paired.push(Overhead {
                machine: machine.clone(),
                op: Op::TrainStep,
                depth: point.depth,
                width: point.width,
                method: format!("paired ({} rounds)", point.rounds()),
                ratio: point.ratio(),
                conditions: Some(Conditions::of(point, set, &inputs.benches)),
            });
        }
        for (key, ratio) in MachineTimes::from_set(set).residual_ratios() {
            let BenchKey { op, depth, width, .. } = key;
            let method = "criterion".into();
            separate.push(Overhead { machine: machine.clone(), op, depth, width, method, ratio, conditions: None });
        }
    }
    (paired, separate)
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let (paired, separate) = overheads(inputs);
    if paired.is_empty() && separate.is_empty() {
        return Ok(None);
    }
    let mut section = Section::new("Residual overhead");
    section.summary.push(
        "Residual ÷ plain time at the same operation, depth and width, shown as a percentage change. The paired \
         measurement (`benches/overhead.rs`) times plain and residual train steps back to back in one process, many \
         rounds with the order alternating, so a disturbance from the rest of the machine hits both; it reports the \
         median of the per-round ratios with a 95% bootstrap interval. Criterion's ratios divide two medians timed \
         minutes apart and combine their two intervals. A ratio whose interval includes 0% is within noise: no \
         difference was measured."
            .into(),
    );
    if !paired.is_empty() {
        section.summary.push(format!(
            "The pairing cancels a disturbance that outlasts a round, not a machine busy throughout: other work slows \
             the steps unevenly within rounds too, and the median ratio then describes that machine. So each paired \
             point's absolute median step times are set against criterion's `train_step` medians of the same \
             machine, depth, width and thread count (the same work), and against the 1-minute load average the bench \
             recorded before and after the point. A paired ÷ criterion time beyond {CRITERION_FACTOR_LIMIT}× either \
             way, or a load above the bench's threads + {LOAD_MARGIN} (its own threads account for up to their \
             number), marks the point as measured under load: its ratio is shown, flagged, and is not a finding. \
             The two may come from different commits (the table names both); a fastest paired sample near \
             criterion's median says the code ran as fast as criterion saw it and the machine slowed the rest. Files \
             written before the bench recorded the load say \"load not recorded\"."
        ));
    }
    section.findings = findings(&paired, &separate);
    section.lead.extend(lead(&paired));
    section.charts.extend(chart(&paired, &separate));
    if !paired.is_empty() {
        section.tables.push(table("residual_overhead_paired", "Residual overhead, paired", &paired)?);
        section.tables.push(conditions::table(&paired)?);
    }
    if !separate.is_empty() {
        section.tables.push(table(
            "residual_overhead_criterion",
            "Residual overhead from criterion's medians",
            &separate,
        )?);
    }
    Ok(Some(section))
}

/// The report's opening line: the paired overhead at width 256 (else the first point) among
/// the points measured cleanly; when every paired point ran under load, that it did.
fn lead(paired: &[Overhead]) -> Option<String> {
    fn pick(points: Vec<&Overhead>) -> Option<&Overhead> {
        points.iter().find(|o| o.width == 256).or(points.first()).copied()
    }
    if let Some(o) = pick(paired.iter().filter(|o| !o.under_load()).collect()) {
        return Some(format!(
            "A residual connection costs {} of a train step at depth {}, width {} on {} (paired measurement).",
            o.text(),
            o.depth,
            o.width,
            o.machine
        ));
    }
    let o = pick(paired.iter().collect())?;
    let reasons = o.conditions.as_ref().map(Conditions::reasons).unwrap_or_default();
    Some(format!(
        "The paired residual overhead at depth {}, width {} on {}, {}, is not a finding: {}.",
        o.depth,
        o.width,
        o.machine,
        o.text(),
        reasons.join("; ")
    ))
}

/// Every paired result (with "within noise" where it is; one measured under load says so and
/// why, and is not a finding). Criterion's separately timed ratios
/// are never findings: each bench's interval covers one short window, and drift between two
/// benches timed minutes apart is not in it (the same commit's medians moved 0.93–1.38× between
/// sittings of one machine kind), so a ratio of two of them can lie outside both intervals
/// without the nets differing. They are shown in a table, described as such.
pub fn findings(paired: &[Overhead], separate: &[Overhead]) -> Vec<String> {
    let mut out = Vec::new();
    for o in paired {
        let mut line =
            format!("Paired, {} at depth {}, width {} on {}: {}", o.op.group(), o.depth, o.width, o.machine, o.text());
        match &o.conditions {
            Some(c) if c.under_load() => {
                line += &format!(", so not a finding: {}", c.reasons().join("; "));
                if c.load.is_none() {
                    line += "; the load was not recorded";
                }
            }
            Some(c) if !c.checked() => {
                line += "; not checked: the load was not recorded and no criterion \
                                               `train_step` time of this machine is among the inputs"
            }
            _ => {}
        }
        line.push('.');
        out.push(line);
    }
    if !separate.is_empty() {
        let (lowest, highest) = separate
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), o| (lo.min(o.ratio.point), hi.max(o.ratio.point)));
        out.push(format!(
            "Criterion's separately timed medians give {} residual ÷ plain ratios from {:+.1}% to {:+.1}% (table below). \
             They are not findings: a residual net does strictly more work than its plain twin, so a negative overhead \
             is drift between two benches timed minutes apart, which criterion's intervals do not contain{}.",
            separate.len(),
            (lowest - 1.0) * 100.0,
            (highest - 1.0) * 100.0,
            if paired.is_empty() {
                "; the paired bench (`cargo bench --bench overhead`) decides the overhead"
            } else if paired.iter().all(Overhead::under_load) {
                "; the paired bench decides the overhead once it runs on an idle machine: the measurement above ran \
                 under load"
            } else {
                "; the paired measurement above decides the overhead"
            }
        ));
    }
    out
}

fn table(slug: &str, title: &str, overheads: &[Overhead]) -> Result<Table> {
    let text = |f: fn(&Overhead) -> String| overheads.iter().map(f).collect::<Vec<String>>();
    let number = |f: fn(&Interval) -> f64| overheads.iter().map(|o| (f(&o.ratio) - 1.0) * 100.0).collect::<Vec<f64>>();
    let frame = DataFrame::new_infer_height(vec![
        Column::new("machine".into(), text(|o| o.machine.clone())),
        Column::new("op".into(), text(|o| o.op.group().to_string())),
        Column::new("depth".into(), overheads.iter().map(|o| o.depth as u64).collect::<Vec<_>>()),
        Column::new("width".into(), overheads.iter().map(|o| o.width as u64).collect::<Vec<_>>()),
        Column::new("method".into(), text(|o| o.method.clone())),
        Column::new("overhead_pct".into(), number(|i| i.point)),
        Column::new("overhead_pct_lower".into(), number(|i| i.lower)),
        Column::new("overhead_pct_upper".into(), number(|i| i.upper)),
        Column::new("within_noise".into(), overheads.iter().map(|o| o.ratio.contains(1.0)).collect::<Vec<_>>()),
        Column::new("overhead_ci".into(), text(Overhead::text)),
    ])
    .map_err(Error::polars("residual_overhead"))?;
    Ok(Table {
        slug: slug.into(),
        title: title.into(),
        note: "Residual time ÷ plain time − 1, with its 95% interval.".into(),
        frame,
        columns: vec![
            spec("machine", "machine", Format::Text),
            spec("op", "operation", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("width", "width", Format::Integer),
            spec("method", "method", Format::Text),
            spec("overhead_ci", "residual overhead (95% CI)", Format::Text),
        ],
    })
}

/// Overhead (%) against width: the paired points, and criterion's train_step ratios at each
/// depth, with their intervals as error bars, one panel per machine.
fn chart(paired: &[Overhead], separate: &[Overhead]) -> Option<Chart> {
    let mut machines: Vec<&str> = paired.iter().chain(separate).map(|o| o.machine.as_str()).collect();
    machines.dedup();
    let shown: Vec<&Overhead> = paired.iter().chain(separate.iter().filter(|o| o.op == Op::TrainStep)).collect();
    let pct = |v: f64| (v - 1.0) * 100.0;
    let x = Axis::fit(Scale::Log2, shown.iter().map(|o| o.width as f64))?;
    let y = Axis::fit(Scale::Linear, shown.iter().flat_map(|o| [pct(o.ratio.lower), pct(o.ratio.upper)]).chain([0.0]))?;
    // One line per method and depth; paired points measured under load get a line (and a
    // legend entry) of their own.
    let series_of = |o: &Overhead| match (o.is_paired(), o.under_load()) {
        (false, _) => (format!("criterion, depth {}", o.depth), false),
        (true, false) => (format!("paired, depth {}", o.depth), true),
        (true, true) => (format!("paired, depth {}, under load", o.depth), true),
    };
    let mut series: Vec<(String, bool)> = Vec::new();
    for o in &shown {
        let name = series_of(o);
        if !series.contains(&name) {
            series.push(name);
        }
    }
    let mut panels = Vec::new();
    for machine in &machines {
        let mut lines = Vec::new();
        for (si, (name, is_paired)) in series.iter().enumerate() {
            let mut points: Vec<&&Overhead> =
                shown.iter().filter(|o| o.machine == *machine && series_of(o).0 == *name).collect();
            points.sort_by_key(|o| o.width);
            if points.is_empty() {
                continue;
            }
            let style = LineStyle {
                label: name.clone(),
                color: palette(si),
                dashed: !is_paired,
                marker: if *is_paired { Marker::Circle } else { Marker::Triangle },
            };
            let mut line = Line::new(style, points.iter().map(|o| (o.width as f64, pct(o.ratio.point))).collect());
            line.error_bars = points.iter().map(|o| (o.width as f64, pct(o.ratio.lower), pct(o.ratio.upper))).collect();
            lines.push(line);
        }
        panels.push(Panel {
            title: machine.to_string(),
            x: x.clone(),
            y: y.clone(),
            x_label: "width (log scale)".into(),
            y_label: "residual overhead (%)".into(),
            body: PanelBody::Lines(lines),
        });
    }
    let columns = panels.len().min(2);
    let mut figure = Figure::new("Residual ÷ plain train step, with 95% intervals", panels, columns);
    figure.panel_size = if columns == 1 { (640, 420) } else { (400, 380) };
    figure.legend_note =
        Some("Solid, circles: paired bench. Dashed, triangles: criterion's medians. Bars: 95% CI.".into());
    Some(Chart {
        figure,
        file: "residual_overhead.svg".into(),
        caption: format!(
            "Residual overhead of a train step against width. Where a bar crosses 0% the two nets are not \
             distinguishable at that point. Lines of different depths overlap where their overheads agree.{}",
            if paired.iter().any(Overhead::under_load) {
                " Paired points \"under load\" were timed on a busy machine (see the table of paired step times): \
                 their bars are that machine's spread, not the residual connection's cost."
            } else {
                ""
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::paired::LoadAverage;
    use conditions::tests::{paired_point, paired_set};

    /// A paired overhead (method "paired …") on an idle machine, or one of criterion's.
    fn overhead(method: &str, width: usize, ratio: [f64; 3]) -> Overhead {
        let idle = Some(LoadAverage { before: 0.1, after: 1.0 });
        Overhead {
            machine: "CPU (2 cores)".into(),
            op: Op::TrainStep,
            depth: 16,
            width,
            method: method.into(),
            ratio: Interval::new(ratio[0], ratio[1], ratio[2], 0.95).unwrap(),
            conditions: method
                .starts_with("paired")
                .then(|| Conditions::of(&paired_point(1e6, idle), &paired_set(), &[])),
        }
    }

    #[test]
    fn a_paired_result_under_load_is_shown_flagged_and_is_no_finding() {
        let mut loaded = overhead("paired (600 rounds)", 256, [1.038, 1.016, 1.067]);
        loaded.conditions =
            Some(Conditions::of(&paired_point(1e6, Some(LoadAverage { before: 3.0, after: 2.0 })), &paired_set(), &[]));
        let separate = vec![overhead("criterion", 256, [1.10, 1.05, 1.15])];
        let found = findings(std::slice::from_ref(&loaded), &separate);
        assert_eq!(
            found[0],
            "Paired, train_step at depth 16, width 256 on CPU (2 cores): +3.8% (+1.6% to +6.7%), measured under load, \
             so not a finding: the 1-minute load average reached 3.00 against its 1 thread."
        );
        assert!(found[1].ends_with("the measurement above ran under load."), "{}", found[1]);
        assert_eq!(
            lead(std::slice::from_ref(&loaded)).unwrap(),
            "The paired residual overhead at depth 16, width 256 on CPU (2 cores), +3.8% (+1.6% to +6.7%), measured \
             under load, is not a finding: the 1-minute load average reached 3.00 against its 1 thread."
        );
        // A clean point beside it leads instead.
        let clean = overhead("paired (600 rounds)", 64, [1.01, 1.0, 1.02]);
        assert!(lead(&[loaded, clean]).unwrap().starts_with("A residual connection costs +1.0%"));
    }

    #[test]
    fn paired_results_are_findings_and_separately_timed_ratios_never_are() {
        let paired = vec![overhead("paired (200 rounds)", 256, [1.021, 1.013, 1.029])];
        let separate = vec![
            // −43% to +68%: the committed 16-core data's kind of range.
            overhead("criterion", 64, [1.05, 0.568, 1.685]),
            overhead("criterion", 256, [1.10, 1.05, 1.15]),
            overhead("criterion", 1024, [0.77, 0.76, 0.78]),
        ];
        let found = findings(&paired, &separate);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0], "Paired, train_step at depth 16, width 256 on CPU (2 cores): +2.1% (+1.3% to +2.9%).");
        assert!(
            found[1].starts_with(
                "Criterion's separately timed medians give 3 residual ÷ plain ratios from -23.0% to +10.0%"
            ),
            "{}",
            found[1]
        );
        assert!(found[1].contains("They are not findings"), "{}", found[1]);
        // Not one ratio is listed as a finding of its own, even the ones whose interval excludes 0%.
        assert!(!found.iter().any(|f| f.contains("w256") || f.contains("w1024")));
        assert_eq!(overhead("p", 64, [1.0, 0.99, 1.02]).text(), "+0.0% (-1.0% to +2.0%), within noise");
    }
}
