//! The report's tables, built with polars from flat per-run and per-benchmark frames.
//!
//! Every statistic over seeds is a median (IQR = 25th–75th percentile, linear interpolation);
//! diverged runs have null losses and are counted, not averaged. (Benchmark tables live in
//! their sections: timing, overhead, machines.)

use crate::error::{Error, Result};
use crate::stats::{flow_stats, theory_rms2_slope};
use crate::table::{spec, Format, Table};
use crate::variant::{facet_label, line_label, natural_rank, variant_label, VaryingAxes};
use degradation_bench::record::RunRecord;
use polars::prelude::*;

fn u64s(values: impl Iterator<Item = usize>) -> Vec<u64> {
    values.map(|v| v as u64).collect()
}

/// One row per run: the keys tables group by and the per-run values they aggregate.
pub fn runs_frame(runs: &[RunRecord], axes: &VaryingAxes) -> Result<DataFrame> {
    let variant: Vec<String> = runs.iter().map(|r| variant_label(r, axes)).collect();
    DataFrame::new_infer_height(vec![
        Column::new("machine_id".into(), runs.iter().map(|r| r.machine_id.as_str()).collect::<Vec<_>>()),
        Column::new("experiment".into(), runs.iter().map(|r| r.experiment.as_str()).collect::<Vec<_>>()),
        Column::new("variant_order".into(), natural_rank(&variant)),
        Column::new("variant".into(), variant),
        Column::new("facet".into(), runs.iter().map(|r| facet_label(r, axes)).collect::<Vec<_>>()),
        Column::new("line".into(), runs.iter().map(|r| line_label(r, axes)).collect::<Vec<_>>()),
        Column::new("arch".into(), runs.iter().map(|r| r.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), u64s(runs.iter().map(|r| r.depth))),
        Column::new("width".into(), u64s(runs.iter().map(|r| r.width))),
        Column::new("seed".into(), runs.iter().map(|r| r.seed).collect::<Vec<_>>()),
        Column::new(
            "final_train_loss".into(),
            runs.iter().map(|r| r.final_train_loss.filter(|l| l.is_finite())).collect::<Vec<_>>(),
        ),
        Column::new("test_accuracy".into(), runs.iter().map(|r| r.test_accuracy).collect::<Vec<_>>()),
        Column::new("diverged".into(), runs.iter().map(|r| r.diverged).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("runs"))
}

/// Table 1: per variant × depth, the median final training loss over seeds with its IQR.
pub fn degradation(runs_frame: &DataFrame) -> Result<Table> {
    let loss = || col("final_train_loss");
    let frame = runs_frame
        .clone()
        .lazy()
        // facet and line are parts of the variant: grouping by them keeps them for the chart.
        .group_by_stable([col("variant_order"), col("variant"), col("facet"), col("line"), col("arch"), col("depth")])
        .agg([
            loss().median().alias("loss_median"),
            loss().quantile(lit(0.25), QuantileMethod::Linear).alias("loss_q25"),
            loss().quantile(lit(0.75), QuantileMethod::Linear).alias("loss_q75"),
            col("test_accuracy").mean().alias("test_accuracy_mean"),
            len().cast(DataType::UInt64).alias("runs"),
            col("diverged").cast(DataType::UInt64).sum().alias("diverged"),
        ])
        .sort_by_exprs([col("variant_order"), col("depth")], SortMultipleOptions::default())
        .drop(by_name(["variant_order"], true, false))
        .collect()
        .map_err(Error::polars("degradation"))?;
    Ok(Table {
        slug: "degradation".into(),
        title: "Degradation: final training loss by depth".into(),
        note: "Final train loss: median over seeds, with the interquartile range (25th–75th percentile) over seeds. \
               Diverged runs have no loss and are left out of the median, IQR and accuracy; they are counted in the last column. \
               Test accuracy: mean over the runs that did not diverge."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("loss_median", "final train loss (median)", Format::Sig(3)),
            spec("loss_q25", "IQR low (q25)", Format::Sig(3)),
            spec("loss_q75", "IQR high (q75)", Format::Sig(3)),
            spec("test_accuracy_mean", "test accuracy (mean)", Format::Percent(1)),
            spec("runs", "runs", Format::Integer),
            spec("diverged", "diverged", Format::Integer),
        ],
    })
}

/// Table 2: gradient flow at init and (for trained runs) at the end, per variant × depth.
pub fn gradient_flow(runs: &[RunRecord], axes: &VaryingAxes) -> Result<Option<Table>> {
    struct Row {
        variant: String,
        depth: u64,
        phase: &'static str,
        phase_order: u32,
        grad_ratio_log2: Option<f64>,
        grad_slope: Option<f64>,
        rms_slope: Option<f64>,
        theory: Option<f64>,
    }
    let mut rows = Vec::new();
    for run in runs {
        let variant = variant_label(run, axes);
        if !run.state_grad_norms_init.is_empty() || !run.state_rms_init.is_empty() {
            let s = flow_stats(&run.state_grad_norms_init, &run.state_rms_init);
            rows.push(Row {
                variant: variant.clone(),
                depth: run.depth as u64,
                phase: "init",
                phase_order: 0,
                grad_ratio_log2: s.grad_ratio_log2,
                grad_slope: s.grad_slope,
                rms_slope: s.rms_slope,
                theory: theory_rms2_slope(run),
            });
        }
        let trained = run.steps > 0 && !run.diverged;
        if trained && (!run.state_grad_norms_final.is_empty() || !run.state_rms_final.is_empty()) {
            let s = flow_stats(&run.state_grad_norms_final, &run.state_rms_final);
            rows.push(Row {
                variant,
                depth: run.depth as u64,
                phase: "end",
                phase_order: 1,
                grad_ratio_log2: s.grad_ratio_log2,
                grad_slope: s.grad_slope,
                rms_slope: s.rms_slope,
                theory: None,
            });
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant_order".into(), natural_rank(&rows.iter().map(|r| r.variant.clone()).collect::<Vec<_>>())),
        Column::new("variant".into(), rows.iter().map(|r| r.variant.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.depth).collect::<Vec<_>>()),
        Column::new("phase".into(), rows.iter().map(|r| r.phase).collect::<Vec<_>>()),
        Column::new("phase_order".into(), rows.iter().map(|r| r.phase_order).collect::<Vec<_>>()),
        Column::new("grad_ratio_log2".into(), rows.iter().map(|r| r.grad_ratio_log2).collect::<Vec<_>>()),
        Column::new("grad_slope".into(), rows.iter().map(|r| r.grad_slope).collect::<Vec<_>>()),
        Column::new("rms_slope".into(), rows.iter().map(|r| r.rms_slope).collect::<Vec<_>>()),
        Column::new("theory_rms2_slope".into(), rows.iter().map(|r| r.theory).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("gradient_flow"))?;
    let frame = frame
        .lazy()
        .group_by_stable([col("variant_order"), col("variant"), col("depth"), col("phase"), col("phase_order")])
        .agg([
            len().cast(DataType::UInt64).alias("runs"),
            col("grad_ratio_log2").median(),
            col("grad_slope").median(),
            col("rms_slope").median(),
            col("theory_rms2_slope").first(),
        ])
        .with_column((col("rms_slope") * lit(2.0)).alias("rms2_slope"))
        .sort_by_exprs([col("variant_order"), col("depth"), col("phase_order")], SortMultipleOptions::default())
        .select([
            col("variant"),
            col("depth"),
            col("phase"),
            col("runs"),
            col("grad_ratio_log2"),
            col("grad_slope"),
            col("rms_slope"),
            col("rms2_slope"),
            col("theory_rms2_slope"),
        ])
        .collect()
        .map_err(Error::polars("gradient_flow"))?;
    Ok(Some(Table {
        slug: "gradient_flow".into(),
        title: "Gradient flow: per-layer slopes at initialisation and after training".into(),
        note: "k indexes the hidden states h_0 … h_K (K = depth for plain nets, the number of blocks for residual ones), \
               so slopes are per layer (plain) or per block (residual). Each run's slope is a least-squares fit over k; \
               the table shows the median over seeds. log₂(‖∂L/∂h₀‖ ÷ ‖∂L/∂h_K‖) > 0 means the gradient grows towards the input. \
               Theory (init, infinite width, ReLU, no normalisation): plain He 0, plain Xavier −1, residual α=one +1, \
               α=inv_sqrt_blocks log₂(1 + 1/K) ≈ 0 (bounded); blank where theory gives none."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("phase", "probe", Format::Text),
            spec("runs", "runs", Format::Integer),
            spec("grad_ratio_log2", "log₂(‖∂L/∂h₀‖/‖∂L/∂h_K‖)", Format::Signed(2)),
            spec("grad_slope", "slope log₂‖∂L/∂h_k‖ per k", Format::Signed(3)),
            spec("rms_slope", "slope log₂RMS(h_k) per k", Format::Signed(3)),
            spec("rms2_slope", "slope log₂RMS² per k", Format::Signed(3)),
            spec("theory_rms2_slope", "theory log₂RMS² per k", Format::Signed(3)),
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::synthetic_run;

    #[test]
    fn degradation_medians_iqr_and_divergence() {
        let runs = vec![
            synthetic_run("plain", 4, 0, Some(1.0)),
            synthetic_run("plain", 4, 1, Some(2.0)),
            synthetic_run("plain", 4, 2, Some(4.0)),
            synthetic_run("plain", 4, 3, None),
            synthetic_run("residual", 4, 0, Some(0.5)),
        ];
        let axes = VaryingAxes::of(&runs);
        let table = degradation(&runs_frame(&runs, &axes).unwrap()).unwrap();
        assert_eq!(table.height(), 2);
        assert_eq!(table.text("variant", 0).as_deref(), Some("plain"));
        assert_eq!(table.number("loss_median", 0), Some(2.0));
        assert_eq!(table.number("loss_q25", 0), Some(1.5));
        assert_eq!(table.number("loss_q75", 0), Some(3.0));
        assert_eq!(table.number("runs", 0), Some(4.0));
        assert_eq!(table.number("diverged", 0), Some(1.0));
        // accuracy 0.80, 0.81, 0.82 (the diverged run has none)
        assert!((table.number("test_accuracy_mean", 0).unwrap() - 0.81).abs() < 1e-12);
        assert_eq!(table.text("variant", 1).as_deref(), Some("residual α=inv_sqrt_blocks"));
        assert_eq!(table.number("loss_median", 1), Some(0.5));
        let md = table.to_markdown().unwrap();
        assert!(md.contains("| plain | 4 | 2.00 | 1.50 | 3.00 | 81.0% | 4 | 1 |"), "{md}");
    }

    #[test]
    fn gradient_flow_slopes_and_theory() {
        let runs = vec![
            synthetic_run("plain", 8, 0, Some(1.0)),
            synthetic_run("plain", 8, 1, Some(1.0)),
            synthetic_run("residual", 8, 0, Some(1.0)),
        ];
        let axes = VaryingAxes::of(&runs);
        let table = gradient_flow(&runs, &axes).unwrap().unwrap();
        // plain init, plain end, residual init, residual end
        assert_eq!(table.height(), 4);
        assert_eq!(table.text("phase", 0).as_deref(), Some("init"));
        assert_eq!(table.number("runs", 0), Some(2.0));
        assert!((table.number("grad_slope", 0).unwrap() + 0.25).abs() < 1e-12);
        assert!((table.number("rms2_slope", 0).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(table.number("theory_rms2_slope", 0), Some(0.0));
        assert_eq!(table.text("phase", 1).as_deref(), Some("end"));
        assert_eq!(table.number("rms_slope", 1), Some(0.0));
        assert_eq!(table.number("theory_rms2_slope", 1), None);
        // residual, K = 4 blocks: theory log₂(1 + 1/4)
        let theory = table.number("theory_rms2_slope", 2).unwrap();
        assert!((theory - 1.25f64.log2()).abs() < 1e-12);
    }
}
