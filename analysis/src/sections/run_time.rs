//! Where the sweep's time goes: the training steps against the measuring around them (probes,
//! evaluations, mechanism probes, the perturbed twin), from the time split every run records.
//! Measuring should stay cheap beside training; this section says whether it did.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::section::Section;
use crate::table::{spec, Format, Table};
use degradation_bench::record::TimeSplit;
use polars::prelude::{col, len, Column, DataFrame, DataType, IntoLazy, PolarsError};

/// Above this share of a group's time, a part that is not training and was not asked for as a
/// measurement in its own right (mechanisms, twin) is worth cutting.
pub const OVERHEAD_WORTH_CUTTING: f64 = 0.05;

/// The summed time split of one experiment's runs on one machine.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRow {
    pub machine_id: String,
    pub experiment: String,
    pub runs: usize,
    pub time: TimeSplit,
    /// The largest share of one run's time spent outside its steps, and that run's id.
    pub worst_run: (f64, String),
}

impl TimeRow {
    pub fn share(&self, seconds: f64) -> f64 {
        seconds / self.time.total()
    }
}

/// Rows in input order, one per (machine, experiment), from the runs that recorded a split:
/// a polars `group_by_stable` summing each part and taking the run with the largest share
/// outside its steps (the first such run on a tie).
pub fn rows(inputs: &Inputs) -> Result<Vec<TimeRow>> {
    let failed = Error::polars("run_time");
    let splits: Vec<(&str, &str, &str, TimeSplit)> = inputs
        .results
        .iter()
        .flat_map(|set| &set.runs)
        .filter_map(|run| {
            let r = &run.record;
            let time = r.result.time_split.filter(|t| t.total() > 0.0)?;
            Some((r.machine_id.as_str(), r.experiment.as_str(), r.run_id.as_str(), time))
        })
        .collect();
    if splits.is_empty() {
        return Ok(Vec::new());
    }
    let text = |name: &str, field: usize| {
        Column::new(name.into(), splits.iter().map(|s| [s.0, s.1, s.2][field]).collect::<Vec<_>>())
    };
    let names = TimeSplit::default().parts().map(|(name, _)| name);
    let mut columns = vec![text("machine_id", 0), text("experiment", 1), text("run_id", 2)];
    columns.extend(names.iter().enumerate().map(|(i, name)| {
        Column::new((*name).into(), splits.iter().map(|s| s.3.parts()[i].1).collect::<Vec<_>>())
    }));
    columns.push(Column::new(
        "outside".into(),
        splits.iter().map(|s| 1.0 - s.3.steps / s.3.total()).collect::<Vec<_>>(),
    ));
    let sums = names.map(|name| col(name).sum());
    let summed = DataFrame::new_infer_height(columns)
        .map_err(&failed)?
        .lazy()
        .group_by_stable([col("machine_id"), col("experiment")])
        .agg(
            [
                len().alias("runs"),
                col("outside").max().alias("worst_share"),
                col("run_id").get(col("outside").arg_max(), false).alias("worst_run"),
            ]
            .into_iter()
            .chain(sums)
            .collect::<Vec<_>>(),
        )
        .collect()
        .map_err(&failed)?;
    let text = |name: &str| summed.column(name).and_then(|c| c.str().cloned()).map_err(&failed);
    let number = |name: &str| summed.column(name).and_then(|c| c.cast(&DataType::Float64)?.f64().cloned()).map_err(&failed);
    let (machine, experiment, worst_run) = (text("machine_id")?, text("experiment")?, text("worst_run")?);
    let (runs, worst_share) = (number("runs")?, number("worst_share")?);
    let parts = names.map(|name| Ok((name, number(name)?))).into_iter().collect::<Result<Vec<_>>>()?;
    (0..summed.height())
        .map(|row| {
            // Every group has at least one run, so no aggregate is null.
            let null = || failed(PolarsError::NoData(format!("row {row} of the grouped time splits").into()));
            let seconds = |part: &str| {
                parts.iter().find(|(name, _)| *name == part).and_then(|(_, column)| column.get(row)).ok_or_else(null)
            };
            let time = TimeSplit {
                setup: seconds("setup")?,
                steps: seconds("steps")?,
                tail_evaluation: seconds("tail_evaluation")?,
                final_evaluation: seconds("final_evaluation")?,
                probes: seconds("probes")?,
                mechanisms: seconds("mechanisms")?,
                twin: seconds("twin")?,
                instruments: seconds("instruments")?,
            };
            Ok(TimeRow {
                machine_id: machine.get(row).ok_or_else(null)?.to_string(),
                experiment: experiment.get(row).ok_or_else(null)?.to_string(),
                runs: runs.get(row).ok_or_else(null)? as usize,
                time,
                worst_run: (worst_share.get(row).ok_or_else(null)?, worst_run.get(row).ok_or_else(null)?.to_string()),
            })
        })
        .collect()
}

pub fn build(inputs: &Inputs) -> Result<Option<Section>> {
    let rows = rows(inputs)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut section = Section::new("Where the sweep's time goes");
    section.summary.push(
        "Every run records its wall time part by part: setup, the training steps (what the step rate counts), the \
         full-training-set evaluations of the last 10% of steps, the final train and test evaluation, the gradient \
         probes, and — only when an experiment asks for them — the mechanism probes and the perturbed twin. Shares \
         are of the time summed over the runs; writing the records is printed by `sweep` itself (it is not part of \
         any run)."
            .into(),
    );
    section.findings = rows.iter().map(finding).collect();
    section.tables.push(table(&rows)?);
    Ok(Some(section))
}

/// One sentence per group: the steps' share, what the rest was, and whether any of it is worth cutting.
pub fn finding(row: &TimeRow) -> String {
    let mut others: Vec<(&str, f64)> =
        row.time.parts().into_iter().filter(|(name, seconds)| *name != "steps" && *seconds > 0.0).collect();
    others.sort_by(|a, b| b.1.total_cmp(&a.1));
    let listed: Vec<String> = others
        .iter()
        .map(|(name, seconds)| format!("{} {:.1}%", name.replace('_', " "), 100.0 * row.share(*seconds)))
        .collect();
    let mut line = format!(
        "`{}` on `{}`: the training steps take {:.1}% of the {:.1} s its {} runs took; the rest: {}. The most outside \
         the steps in one run: {:.1}% (`{}`).",
        row.experiment,
        row.machine_id,
        100.0 * row.share(row.time.steps),
        row.time.total(),
        row.runs,
        listed.join(", "),
        100.0 * row.worst_run.0,
        row.worst_run.1
    );
    let costly: Vec<String> = others
        .iter()
        .filter(|(name, seconds)| {
            !matches!(*name, "mechanisms" | "twin") && row.share(*seconds) > OVERHEAD_WORTH_CUTTING
        })
        .map(|(name, _)| name.replace('_', " "))
        .collect();
    if costly.is_empty() {
        line.push_str(&format!(
            " No part outside the steps (mechanisms and twin aside, which are measurements asked for) takes more than \
             {:.0}%.",
            100.0 * OVERHEAD_WORTH_CUTTING
        ));
    } else {
        line.push_str(&format!(
            " More than {:.0}% outside the steps, worth cutting: {}.",
            100.0 * OVERHEAD_WORTH_CUTTING,
            costly.join(", ")
        ));
    }
    line
}

/// One column per part of [`TimeSplit::parts`], in its order, so a new part shows without
/// touching this table; a part that no run of the table spent time in (mechanisms, twin or
/// instruments nobody asked for) is left out.
pub fn table(rows: &[TimeRow]) -> Result<Table> {
    let names = TimeSplit::default().parts().map(|(name, _)| name);
    let mut columns = vec![
        Column::new("machine_id".into(), rows.iter().map(|r| r.machine_id.clone()).collect::<Vec<_>>()),
        Column::new("experiment".into(), rows.iter().map(|r| r.experiment.clone()).collect::<Vec<_>>()),
        Column::new("runs".into(), rows.iter().map(|r| r.runs as u64).collect::<Vec<_>>()),
        Column::new("run_seconds".into(), rows.iter().map(|r| r.time.total()).collect::<Vec<_>>()),
    ];
    let mut specs = vec![
        spec("machine_id", "machine", Format::Text),
        spec("experiment", "experiment", Format::Text),
        spec("runs", "runs", Format::Integer),
        spec("run_seconds", "run time (s, summed)", Format::Sig(3)),
    ];
    for (i, name) in names.into_iter().enumerate() {
        if rows.iter().all(|r| r.time.parts()[i].1 == 0.0) {
            continue;
        }
        let shares: Vec<f64> = rows.iter().map(|r| r.share(r.time.parts()[i].1)).collect();
        columns.push(Column::new(name.into(), shares));
        specs.push(spec(name, &name.replace('_', " "), Format::Percent(1)));
    }
    columns.push(Column::new("worst_run_outside_steps".into(), rows.iter().map(|r| r.worst_run.0).collect::<Vec<_>>()));
    specs.push(spec("worst_run_outside_steps", "most outside steps, one run", Format::Percent(1)));
    let frame = DataFrame::new_infer_height(columns).map_err(Error::polars("run_time"))?;
    Ok(Table {
        slug: "run_time".into(),
        title: "Where the runs' time went".into(),
        note: "Shares of the time summed over the runs of each experiment on each machine; the last column is the \
               largest share one run spent outside its steps."
            .into(),
        frame,
        columns: specs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::{synthetic_run, typed};

    #[test]
    fn runs_group_per_machine_and_experiment_in_input_order_with_parts_summed() {
        let run = |machine: &str, experiment: &str, seed: u64, steps: f64, probes: f64| {
            let mut record = synthetic_run("plain", 4, seed, Some(0.1));
            record.machine_id = machine.into();
            record.experiment = experiment.into();
            record.result.time_split = Some(TimeSplit { steps, probes, ..TimeSplit::default() });
            typed(record)
        };
        let mut unsplit = run("m1", "quick", 9, 0.0, 0.0);
        unsplit.record.result.time_split = None;
        let runs = vec![
            run("m2", "quick", 0, 9.0, 1.0),
            run("m1", "quick", 1, 3.0, 1.0),
            unsplit,
            run("m2", "quick", 2, 8.0, 2.0),
            run("m2", "quick", 3, 6.0, 1.0),
            run("m2", "deep", 4, 1.0, 0.0),
        ];
        let rows = rows(&Inputs::of_runs("quick", runs)).unwrap();
        let keys: Vec<(&str, &str, usize)> =
            rows.iter().map(|r| (r.machine_id.as_str(), r.experiment.as_str(), r.runs)).collect();
        assert_eq!(keys, [("m2", "quick", 3), ("m1", "quick", 1), ("m2", "deep", 1)]);
        assert_eq!((rows[0].time.steps, rows[0].time.probes, rows[0].time.total()), (23.0, 4.0, 27.0));
        // Outside the steps: seed 0 spent 10%, seed 2 20%, seed 3 14%.
        assert_eq!(rows[0].worst_run, (1.0 - 8.0 / 10.0, "plain-d4-s2".to_string()));
        assert_eq!(rows[1].worst_run, (0.25, "plain-d4-s1".to_string()));
        assert_eq!(rows[2].worst_run.0, 0.0);
    }

    fn row(time: TimeSplit) -> TimeRow {
        TimeRow {
            machine_id: "m1".into(),
            experiment: "quick".into(),
            runs: 2,
            time,
            worst_run: (0.04, "plain-d2".into()),
        }
    }

    #[test]
    fn a_cheap_split_reads_as_cheap_and_names_its_parts_largest_first() {
        let time = TimeSplit { steps: 97.0, tail_evaluation: 2.0, probes: 1.0, ..TimeSplit::default() };
        let line = finding(&row(time));
        assert!(line.contains("take 97.0% of the 100.0 s its 2 runs took"), "{line}");
        assert!(line.contains("the rest: tail evaluation 2.0%, probes 1.0%."), "{line}");
        assert!(line.contains("4.0% (`plain-d2`)"), "{line}");
        assert!(line.contains("No part outside the steps"), "{line}");
    }

    #[test]
    fn overhead_above_five_percent_is_flagged_but_asked_for_measurements_are_not() {
        let costly = TimeSplit { steps: 80.0, final_evaluation: 12.0, twin: 8.0, ..TimeSplit::default() };
        let line = finding(&row(costly));
        assert!(line.contains("worth cutting: final evaluation."), "{line}");
        let asked = TimeSplit { steps: 50.0, twin: 40.0, mechanisms: 10.0, ..TimeSplit::default() };
        let line = finding(&row(asked));
        assert!(line.contains("No part outside the steps"), "{line}");
        assert!(line.contains("twin 40.0%, mechanisms 10.0%"), "{line}");
    }

    #[test]
    fn the_table_holds_shares_that_add_up_to_one() {
        let time = TimeSplit {
            setup: 1.0,
            steps: 90.0,
            tail_evaluation: 4.0,
            final_evaluation: 3.0,
            probes: 2.0,
            ..TimeSplit::default()
        };
        let table = table(&[row(time)]).unwrap();
        let sum: f64 = ["steps", "tail_evaluation", "final_evaluation", "probes", "setup"]
            .iter()
            .map(|c| table.frame.column(c).unwrap().f64().unwrap().get(0).unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        assert_eq!(table.frame.column("run_seconds").unwrap().f64().unwrap().get(0), Some(100.0));
        // Parts no run spent time in have no column; one run's time is enough for a column.
        for unused in ["mechanisms", "twin", "instruments"] {
            assert!(table.frame.column(unused).is_err(), "{unused}");
        }
        let other = TimeSplit { instruments: 5.0, ..time };
        let both = super::table(&[row(time), row(other)]).unwrap();
        assert!(both.frame.column("instruments").is_ok() && both.frame.column("twin").is_err());
    }
}
