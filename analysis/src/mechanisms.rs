//! Mechanism probes: why plain nets degrade. Each part appears only when the runs
//! carry its data:
//! - shattered gradients (Balduzzi et al., 2017): lag-1 autocorrelation ρ(1) of ∂logit₀/∂t along
//!   a line of inputs, at init and after training (`shattered_acf_*`);
//! - lesions (Veit et al., 2016): the final training loss with one hidden layer (plain) or block
//!   (residual) replaced by the identity (`lesion_train_losses`);
//! - residual-branch magnitude (He et al., 2015, Fig. 7): ‖α·v_k‖ ÷ ‖h_{k−1}‖ per block
//!   (`branch_ratios_*`);
//! - longer training (He et al., 2015, footnote 3): the plain nets of an experiment named
//!   `degradation` (the quick preset) against the same depths in one named `longer`.
//!
//! Per-run summaries are computed here in plain Rust; medians over seeds are polars group-bys,
//! as in `tables`. Labels use only the axes that vary among the runs carrying the probe.

use crate::error::{Error, Result};
use crate::findings::format_ratio;
use crate::stats::median;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::{natural_rank, variant_label, VaryingAxes};
use degradation_bench::record::RunRecord;
use polars::prelude::*;

/// The experiment names the longer-training comparison looks for.
pub const SHORT_EXPERIMENT: &str = "degradation";
pub const LONG_EXPERIMENT: &str = "longer";

/// Runs selected by `keep`, with their variant labels over the axes that vary among them.
fn labelled(runs: &[RunRecord], keep: impl Fn(&RunRecord) -> bool) -> Vec<(String, &RunRecord)> {
    let kept: Vec<RunRecord> = runs.iter().filter(|r| keep(r)).cloned().collect();
    let axes = VaryingAxes::of(&kept);
    runs.iter().filter(|r| keep(r)).map(|r| (variant_label(r, &axes), r)).collect()
}

/// Runs carrying a probe, grouped the way the tables group them: (variant, depth) → runs,
/// in natural variant order then depth.
pub fn groups(runs: &[RunRecord], keep: impl Fn(&RunRecord) -> bool) -> Vec<(String, usize, Vec<&RunRecord>)> {
    let mut out: Vec<(String, usize, Vec<&RunRecord>)> = Vec::new();
    for (variant, run) in labelled(runs, keep) {
        match out.iter_mut().find(|g| g.0 == variant && g.1 == run.depth) {
            Some(g) => g.2.push(run),
            None => out.push((variant, run.depth, vec![run])),
        }
    }
    out.sort_by(|a, b| crate::variant::natural_cmp(&a.0, &b.0).then(a.1.cmp(&b.1)));
    out
}

fn variant_columns(variants: &[String]) -> [Column; 2] {
    [Column::new("variant_order".into(), natural_rank(variants)), Column::new("variant".into(), variants.to_vec())]
}

// ---------------------------------------------------------------- shattered gradients

/// Per variant × depth: median over seeds of ρ(1) at init and at the end of training.
pub fn shattered(runs: &[RunRecord]) -> Result<Option<Table>> {
    let rows = labelled(runs, |r| r.shattered_acf_init.len() > 1 || r.shattered_acf_final.len() > 1);
    if rows.is_empty() {
        return Ok(None);
    }
    let variants: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let [order, variant] = variant_columns(&variants);
    let lag = |acf: &[f64], k: usize| acf.get(k).copied().filter(|v| v.is_finite());
    let frame = DataFrame::new_infer_height(vec![
        order,
        variant,
        Column::new("arch".into(), rows.iter().map(|r| r.1.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.1.depth as u64).collect::<Vec<_>>()),
        Column::new("rho1_init".into(), rows.iter().map(|r| lag(&r.1.shattered_acf_init, 1)).collect::<Vec<_>>()),
        Column::new("rho1_end".into(), rows.iter().map(|r| lag(&r.1.shattered_acf_final, 1)).collect::<Vec<_>>()),
        Column::new("rho4_init".into(), rows.iter().map(|r| lag(&r.1.shattered_acf_init, 4)).collect::<Vec<_>>()),
        Column::new("rho4_end".into(), rows.iter().map(|r| lag(&r.1.shattered_acf_final, 4)).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("shattered"))?;
    let frame = frame
        .lazy()
        .group_by_stable([col("variant_order"), col("variant"), col("arch"), col("depth")])
        .agg([
            len().cast(DataType::UInt64).alias("runs"),
            col("rho1_init").median(),
            col("rho1_end").median(),
            col("rho4_init").median(),
            col("rho4_end").median(),
        ])
        .sort_by_exprs([col("variant_order"), col("depth")], SortMultipleOptions::default())
        .drop(by_name(["variant_order"], true, false))
        .collect()
        .map_err(Error::polars("shattered"))?;
    Ok(Some(Table {
        slug: "shattered_gradients".into(),
        title: "Shattered gradients: autocorrelation of the input gradient along a line".into(),
        note: "g(t) = ∂logit₀/∂t along x(t) = x_a + t·(x_b − x_a), 256 evenly spaced t between two training samples; \
               ρ(k) is the sample autocorrelation of g at lag k points. Median over seeds. ρ near 1: a smooth gradient; \
               near 0: white noise (shattered)."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("runs", "runs", Format::Integer),
            spec("rho1_init", "ρ(1) at init", Format::Sig(3)),
            spec("rho1_end", "ρ(1) after training", Format::Sig(3)),
            spec("rho4_init", "ρ(4) at init", Format::Sig(3)),
            spec("rho4_end", "ρ(4) after training", Format::Sig(3)),
        ],
    }))
}

/// (variant, arch, depth, value of `column`) for every row with a value.
fn rows_of(table: &Table, column: &str) -> Vec<(String, String, usize, f64)> {
    (0..table.height())
        .filter_map(|i| {
            Some((
                table.text("variant", i)?,
                table.text("arch", i)?,
                table.number("depth", i)? as usize,
                table.number(column, i)?,
            ))
        })
        .collect()
}

fn distinct_variants(table: &Table) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in 0..table.height() {
        if let Some(v) = table.text("variant", i) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

pub fn shattered_findings(table: &Table) -> Vec<String> {
    let init = rows_of(table, "rho1_init");
    let end = rows_of(table, "rho1_end");
    let mut out = Vec::new();
    let variants = distinct_variants(table);
    let at = |rows: &[(String, String, usize, f64)], v: &str, d: usize| {
        rows.iter().find(|r| r.0 == v && r.2 == d).map(|r| r.3)
    };
    let is_plain = |v: &str| init.iter().chain(&end).any(|r| r.0 == v && r.1 == "plain");
    let plains: Vec<&String> = variants.iter().filter(|v| is_plain(v)).collect();
    let residuals: Vec<&String> = variants.iter().filter(|v| !is_plain(v)).collect();
    for plain in &plains {
        for residual in &residuals {
            let shared =
                init.iter().filter(|r| r.0 == **plain && at(&init, residual, r.2).is_some()).map(|r| r.2).max();
            let Some(deep) = shared else { continue };
            let shallow = init.iter().filter(|r| r.0 == **plain).map(|r| r.2).min().unwrap_or(deep);
            let (Some(p), Some(r)) = (at(&init, plain, deep), at(&init, residual, deep)) else { continue };
            let p_shallow = at(&init, plain, shallow).unwrap_or(p);
            let r_shallow = at(&init, residual, shallow).unwrap_or(r);
            let mut line = format!(
                "Shattered gradients at init: at depth {deep} {plain} ρ(1) = {} vs {residual} {} \
                 (at depth {shallow}: {} vs {})",
                format_sig(p, 2),
                format_sig(r, 2),
                format_sig(p_shallow, 2),
                format_sig(r_shallow, 2)
            );
            if let (Some(pe), Some(re)) = (at(&end, plain, deep), at(&end, residual, deep)) {
                line.push_str(&format!("; after training {} vs {}", format_sig(pe, 2), format_sig(re, 2)));
            }
            // Balduzzi et al.: plain → white noise with depth, residual far slower.
            let plain_falls = p < p_shallow;
            let residual_stays = r > p && (r_shallow - r) < (p_shallow - p);
            let verdict = match (plain_falls, residual_stays) {
                (true, true) => format!(
                    "agrees with Balduzzi et al. (2017) in direction: the plain gradient decorrelates with depth \
                     (1 − ρ(1) grows {} from depth {shallow} to {deep}) while the residual one stays smooth \
                     (1 − ρ(1) = {}); the plain net is still {} from white noise (ρ(1) = 0)",
                    format_ratio((1.0 - p) / (1.0 - p_shallow).max(1e-12)),
                    format_sig(1.0 - r, 2),
                    format_sig(p, 2)
                ),
                (true, false) => "only half agrees with Balduzzi et al. (2017): the plain gradient decorrelates with \
                                  depth, but the residual one decorrelates as fast"
                    .to_string(),
                _ => "disagrees with Balduzzi et al. (2017): the plain gradient does not decorrelate with depth here"
                    .to_string(),
            };
            line.push_str(&format!(". This {verdict}."));
            out.push(line);
        }
    }
    out
}

// ---------------------------------------------------------------- lesions

/// Per run: (median, max) of the finite lesioned losses and how many were not finite.
pub fn lesion_summary(run: &RunRecord) -> (Option<f64>, Option<f64>, usize) {
    let finite: Vec<f64> = run.lesion_train_losses.iter().flatten().copied().filter(|l| l.is_finite()).collect();
    let max = finite.iter().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    (median(finite.iter().copied()), max, run.lesion_train_losses.len() - finite.len())
}

/// Per variant × depth: unlesioned final train loss, the median and max over positions of the
/// lesioned loss (each a median over seeds), and their ratios to the unlesioned loss.
pub fn lesions(runs: &[RunRecord]) -> Result<Option<Table>> {
    let rows = labelled(runs, |r| !r.lesion_train_losses.is_empty() && !r.diverged);
    if rows.is_empty() {
        return Ok(None);
    }
    let variants: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let [order, variant] = variant_columns(&variants);
    let summaries: Vec<_> = rows.iter().map(|r| lesion_summary(r.1)).collect();
    let frame = DataFrame::new_infer_height(vec![
        order,
        variant,
        Column::new("arch".into(), rows.iter().map(|r| r.1.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.1.depth as u64).collect::<Vec<_>>()),
        Column::new("positions".into(), rows.iter().map(|r| r.1.lesion_train_losses.len() as u64).collect::<Vec<_>>()),
        Column::new(
            "unlesioned_loss".into(),
            rows.iter().map(|r| r.1.final_train_loss.filter(|l| l.is_finite())).collect::<Vec<_>>(),
        ),
        Column::new("lesion_median".into(), summaries.iter().map(|s| s.0).collect::<Vec<_>>()),
        Column::new("lesion_max".into(), summaries.iter().map(|s| s.1).collect::<Vec<_>>()),
        Column::new("lesion_nonfinite".into(), summaries.iter().map(|s| s.2 as u64).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("lesions"))?;
    let frame = frame
        .lazy()
        .group_by_stable([col("variant_order"), col("variant"), col("arch"), col("depth")])
        .agg([
            len().cast(DataType::UInt64).alias("runs"),
            col("positions").max(),
            col("unlesioned_loss").median(),
            col("lesion_median").median(),
            col("lesion_max").median(),
            col("lesion_nonfinite").sum(),
        ])
        .with_columns([
            (col("lesion_median") / col("unlesioned_loss")).alias("median_ratio"),
            (col("lesion_max") / col("unlesioned_loss")).alias("max_ratio"),
        ])
        .sort_by_exprs([col("variant_order"), col("depth")], SortMultipleOptions::default())
        .drop(by_name(["variant_order"], true, false))
        .collect()
        .map_err(Error::polars("lesions"))?;
    Ok(Some(Table {
        slug: "lesions".into(),
        title: "Lesions: training loss with one layer or block removed".into(),
        note: "Each position (hidden layer of a plain net, residual block of a residual one) is replaced by the identity in \
               turn and the final training loss re-evaluated on the whole training set. Per run the median and maximum over \
               positions are taken, then the median over seeds; ratios divide by the unlesioned final train loss. \
               Non-finite lesioned losses are left out of the median and max and counted in the last column."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("positions", "positions", Format::Integer),
            spec("runs", "runs", Format::Integer),
            spec("unlesioned_loss", "unlesioned train loss", Format::Sig(3)),
            spec("lesion_median", "lesioned loss (median over positions)", Format::Sig(3)),
            spec("lesion_max", "lesioned loss (max)", Format::Sig(3)),
            spec("median_ratio", "median ÷ unlesioned", Format::Sig(3)),
            spec("max_ratio", "max ÷ unlesioned", Format::Sig(3)),
            spec("lesion_nonfinite", "non-finite", Format::Integer),
        ],
    }))
}

pub fn lesion_findings(table: &Table) -> Vec<String> {
    struct Row {
        variant: String,
        arch: String,
        depth: usize,
        loss: f64,
        lesioned: f64,
        ratio: f64,
    }
    let rows: Vec<Row> = (0..table.height())
        .filter_map(|i| {
            Some(Row {
                variant: table.text("variant", i)?,
                arch: table.text("arch", i)?,
                depth: table.number("depth", i)? as usize,
                loss: table.number("unlesioned_loss", i)?,
                lesioned: table.number("lesion_median", i)?,
                ratio: table.number("median_ratio", i)?,
            })
        })
        .collect();
    let describe = |r: &Row, what: &str| {
        format!(
            "removing one {what} of {} d{} raises the loss by a median factor {} ({} → {})",
            r.variant,
            r.depth,
            format_ratio(r.ratio),
            format_sig(r.loss, 2),
            format_sig(r.lesioned, 2)
        )
    };
    let mut out = Vec::new();
    let residual_deep = rows.iter().filter(|r| r.arch != "plain").max_by_key(|r| r.depth);
    // The plain net that trained best is the one a lesion can break (the deepest may sit at chance already).
    let plain_best = rows.iter().filter(|r| r.arch == "plain").min_by(|a, b| a.loss.total_cmp(&b.loss));
    let plain_deep = rows.iter().filter(|r| r.arch == "plain").max_by_key(|r| r.depth);
    let mut parts = Vec::new();
    if let Some(r) = residual_deep {
        parts.push(describe(r, "block"));
    }
    if let Some(p) = plain_best {
        parts.push(describe(p, "layer"));
        if let Some(r) = rows.iter().find(|r| r.arch != "plain" && r.depth == p.depth) {
            parts.push(format!("at the same depth one residual block: {}", format_ratio(r.ratio)));
        }
    }
    if let Some(p) = plain_deep.filter(|p| Some(p.depth) != plain_best.map(|b| b.depth)) {
        parts.push(format!(
            "plain d{} is already at loss {} and a lesion changes it by {}",
            p.depth,
            format_sig(p.loss, 2),
            format_ratio(p.ratio)
        ));
    }
    let residual_shallow = rows.iter().filter(|r| r.arch != "plain").min_by_key(|r| r.depth);
    if let (Some(s), Some(d)) = (residual_shallow, residual_deep) {
        if s.depth != d.depth {
            parts.push(format!(
                "the median lesioned loss of {} falls with depth from {} (d{}) to {} (d{})",
                d.variant,
                format_sig(s.lesioned, 2),
                s.depth,
                format_sig(d.lesioned, 2),
                d.depth
            ));
        }
    }
    if parts.is_empty() {
        return out;
    }
    let mut line = format!("Lesions: {}.", parts.join("; "));
    if let (Some(r), Some(p)) = (residual_deep, plain_best) {
        // Veit et al.: residual nets survive lesions, plain ones break. Compare absolute damage too:
        // a ratio on a near-zero loss can be large while the net still fits the data.
        let verdict = if r.lesioned < p.lesioned && r.lesioned < 0.1 * p.lesioned.max(1e-300) {
            format!(
                " Agrees with Veit et al. (2016) in kind: after a lesion the deepest residual net's loss ({}) stays {} \
                 below the best plain net's ({})",
                format_sig(r.lesioned, 2),
                format_ratio(p.lesioned / r.lesioned),
                format_sig(p.lesioned, 2)
            )
        } else if r.lesioned < p.lesioned {
            format!(
                " Partly agrees with Veit et al. (2016): the lesioned residual net ({}) does better than the lesioned plain \
                 net ({}), but by less than 10×",
                format_sig(r.lesioned, 2),
                format_sig(p.lesioned, 2)
            )
        } else {
            " Disagrees with Veit et al. (2016): the residual net suffers from a lesion as much as the plain one".into()
        };
        line.push_str(&verdict);
        line.push('.');
    }
    out.push(line);
    out
}

// ---------------------------------------------------------------- residual-branch magnitude

/// The branch scale α of a residual run (1/√K, 1, or none).
pub fn alpha(run: &RunRecord) -> Option<f64> {
    let blocks = (run.depth / run.block_layers.max(1)).max(1) as f64;
    match run.residual_scale.as_deref() {
        Some("inv_sqrt_blocks") => Some(1.0 / blocks.sqrt()),
        Some("one") => Some(1.0),
        _ => None,
    }
}

/// Per variant × depth: median over seeds of each run's median over blocks of ‖α v_k‖ ÷ ‖h_{k−1}‖.
pub fn branch(runs: &[RunRecord]) -> Result<Option<Table>> {
    let rows = labelled(runs, |r| !r.branch_ratios_init.is_empty() || !r.branch_ratios_final.is_empty());
    if rows.is_empty() {
        return Ok(None);
    }
    let variants: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let [order, variant] = variant_columns(&variants);
    let med = |v: &[f64]| median(v.iter().copied());
    let end = |r: &RunRecord| if r.diverged { None } else { med(&r.branch_ratios_final) };
    let frame = DataFrame::new_infer_height(vec![
        order,
        variant,
        Column::new("arch".into(), rows.iter().map(|r| r.1.arch.as_str()).collect::<Vec<_>>()),
        Column::new("depth".into(), rows.iter().map(|r| r.1.depth as u64).collect::<Vec<_>>()),
        Column::new("blocks".into(), rows.iter().map(|r| r.1.branch_ratios_init.len() as u64).collect::<Vec<_>>()),
        Column::new("alpha".into(), rows.iter().map(|r| alpha(r.1)).collect::<Vec<_>>()),
        Column::new("ratio_init".into(), rows.iter().map(|r| med(&r.1.branch_ratios_init)).collect::<Vec<_>>()),
        Column::new("ratio_end".into(), rows.iter().map(|r| end(r.1)).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("branch"))?;
    let frame = frame
        .lazy()
        .group_by_stable([col("variant_order"), col("variant"), col("arch"), col("depth")])
        .agg([
            len().cast(DataType::UInt64).alias("runs"),
            col("blocks").max(),
            col("alpha").first(),
            col("ratio_init").median(),
            col("ratio_end").median(),
        ])
        .with_columns([
            (col("ratio_init") / col("alpha")).alias("init_over_alpha"),
            (col("ratio_end") / col("ratio_init")).alias("end_over_init"),
        ])
        .sort_by_exprs([col("variant_order"), col("depth")], SortMultipleOptions::default())
        .drop(by_name(["variant_order"], true, false))
        .collect()
        .map_err(Error::polars("branch"))?;
    Ok(Some(Table {
        slug: "branch_ratios".into(),
        title: "Residual-branch magnitude: ‖α·v_k‖ ÷ ‖h_{k−1}‖".into(),
        note: "For each residual block k, the norm of what the branch adds (α·v_k) divided by the norm of the block's input \
               h_{k−1}, over the probe batch. Per run the median over blocks, then the median over seeds. α is the branch \
               scale (1/√K for α=inv_sqrt_blocks, K blocks); at init the ratio is expected to be of the order of α."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("blocks", "blocks K", Format::Integer),
            spec("runs", "runs", Format::Integer),
            spec("alpha", "α", Format::Sig(3)),
            spec("ratio_init", "ratio at init (median)", Format::Sig(3)),
            spec("ratio_end", "ratio after training (median)", Format::Sig(3)),
            spec("init_over_alpha", "init ÷ α", Format::Sig(3)),
            spec("end_over_init", "after ÷ init", Format::Sig(3)),
        ],
    }))
}

pub fn branch_findings(table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for variant in distinct_variants(table) {
        let rows: Vec<(usize, Option<f64>, Option<f64>)> = (0..table.height())
            .filter(|&i| table.text("variant", i).as_deref() == Some(variant.as_str()))
            .filter_map(|i| {
                Some((table.number("depth", i)? as usize, table.number("ratio_init", i), table.number("ratio_end", i)))
            })
            .collect();
        let (Some(shallow), Some(deep)) = (rows.first(), rows.last()) else { continue };
        if shallow.0 == deep.0 {
            continue;
        }
        let fmt = |v: Option<f64>| v.map_or("–".to_string(), |v| format_sig(v, 2));
        let mut line = format!(
            "Residual-branch magnitude, {variant}: median ‖α·v‖ ÷ ‖h‖ {} at init and {} after training at depth {}, \
             {} and {} at depth {}",
            fmt(shallow.1),
            fmt(shallow.2),
            shallow.0,
            fmt(deep.1),
            fmt(deep.2),
            deep.0
        );
        let ends: Vec<f64> = rows.iter().filter_map(|r| r.2).collect();
        let falls = ends.windows(2).filter(|w| w[1] < w[0]).count();
        if ends.len() >= 2 {
            let all_small = ends.iter().all(|&e| e < 1.0);
            line.push_str(&format!(
                ". After training the ratio falls with depth at {falls} of {} steps{}; He et al. (2015, Fig. 7) report small \
                 responses that are smaller for deeper nets: {}",
                ends.len() - 1,
                if all_small { " and stays below 1 everywhere" } else { "" },
                if falls == ends.len() - 1 {
                    "agrees"
                } else if falls * 2 >= ends.len() - 1 {
                    "mostly agrees"
                } else {
                    "disagrees"
                }
            ));
        }
        line.push('.');
        out.push(line);
    }
    out
}

// ---------------------------------------------------------------- longer training

/// Plain nets of `degradation` and `longer` at the depths both have: median final train loss
/// at each length, their ratio, and each one's gap to its own best depth.
pub fn longer(runs: &[RunRecord]) -> Result<Option<Table>> {
    let pick =
        |name: &str| -> Vec<&RunRecord> { runs.iter().filter(|r| r.experiment == name && r.arch == "plain").collect() };
    let (short, long) = (pick(SHORT_EXPERIMENT), pick(LONG_EXPERIMENT));
    if short.is_empty() || long.is_empty() {
        return Ok(None);
    }
    let summarise = |set: &[&RunRecord], name: &str| -> Result<DataFrame> {
        DataFrame::new_infer_height(vec![
            Column::new("depth".into(), set.iter().map(|r| r.depth as u64).collect::<Vec<_>>()),
            Column::new("steps".into(), set.iter().map(|r| r.steps as u64).collect::<Vec<_>>()),
            Column::new(
                "loss".into(),
                set.iter().map(|r| r.final_train_loss.filter(|l| l.is_finite())).collect::<Vec<_>>(),
            ),
        ])
        .map_err(Error::polars("longer"))?
        .lazy()
        .group_by_stable([col("depth")])
        .agg([
            col("steps").max().alias(format!("steps_{name}")),
            len().cast(DataType::UInt64).alias(format!("runs_{name}")),
            col("loss").median().alias(format!("loss_{name}")),
        ])
        .with_column((col(format!("loss_{name}")) / col(format!("loss_{name}")).min()).alias(format!("gap_{name}")))
        .collect()
        .map_err(Error::polars("longer"))
    };
    let (s, l) = (summarise(&short, "short")?, summarise(&long, "long")?);
    let frame = s
        .lazy()
        .join(l.lazy(), [col("depth")], [col("depth")], JoinArgs::new(JoinType::Inner))
        .with_column((col("loss_long") / col("loss_short")).alias("long_over_short"))
        .sort(["depth"], SortMultipleOptions::default())
        .collect()
        .map_err(Error::polars("longer"))?;
    if frame.height() == 0 {
        return Ok(None);
    }
    let steps =
        |c: &str| frame.column(c).ok().and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<u64>()).unwrap_or(0);
    let (short_steps, long_steps) = (steps("steps_short"), steps("steps_long"));
    Ok(Some(Table {
        slug: "longer_training".into(),
        title: "Longer training: plain nets at two training lengths".into(),
        note: format!(
            "Plain nets of the `{SHORT_EXPERIMENT}` experiment ({short_steps} steps) and the `{LONG_EXPERIMENT}` experiment \
             ({long_steps} steps), at the depths both ran. Final train loss: median over seeds. Gap: the loss ÷ the lowest \
             median loss over depths at the same length (1 at the best depth)."
        ),
        frame,
        columns: vec![
            spec("depth", "depth", Format::Integer),
            spec("loss_short", &format!("loss at {short_steps} steps"), Format::Sig(3)),
            spec("loss_long", &format!("loss at {long_steps} steps"), Format::Sig(3)),
            spec("long_over_short", "longer ÷ shorter", Format::Sig(3)),
            spec("gap_short", &format!("gap to best at {short_steps}"), Format::Sig(3)),
            spec("gap_long", &format!("gap to best at {long_steps}"), Format::Sig(3)),
            spec("runs_short", "runs (short)", Format::Integer),
            spec("runs_long", "runs (long)", Format::Integer),
        ],
    }))
}

pub fn longer_findings(table: &Table) -> Vec<String> {
    let rows: Vec<(usize, f64, f64, f64, f64)> = (0..table.height())
        .filter_map(|i| {
            Some((
                table.number("depth", i)? as usize,
                table.number("loss_short", i)?,
                table.number("loss_long", i)?,
                table.number("gap_short", i)?,
                table.number("gap_long", i)?,
            ))
        })
        .collect();
    let best = |pick: fn(&(usize, f64, f64, f64, f64)) -> f64| {
        rows.iter().min_by(|a, b| pick(a).total_cmp(&pick(b))).map(|r| r.0)
    };
    let (Some(best_short), Some(best_long)) = (best(|r| r.1), best(|r| r.2)) else { return Vec::new() };
    let steps = |column: &str| table.number(column, 0).map_or(String::new(), |s| format!("{}", s as u64));
    let (s, l) = (steps("steps_short"), steps("steps_long"));
    // The degraded depths: deeper than the best at the shorter length.
    let deeper: Vec<&(usize, f64, f64, f64, f64)> = rows.iter().filter(|r| r.0 > best_short).collect();
    let mut line = format!("Longer training (plain): best depth {best_short} at {s} steps, {best_long} at {l} steps");
    if deeper.is_empty() {
        line.push_str("; no deeper depth to compare.");
        return vec![line];
    }
    let gaps: Vec<String> = deeper
        .iter()
        .map(|r| {
            format!(
                "d{} {} → {} (loss {} → {})",
                r.0,
                format_ratio(r.3),
                format_ratio(r.4),
                format_sig(r.1, 2),
                format_sig(r.2, 2)
            )
        })
        .collect();
    line.push_str(&format!("; gap to the best depth from {s} to {l} steps: {}", gaps.join(", ")));
    let verdict = if deeper.iter().all(|r| r.4 <= 2.0) {
        "the gap closes: this disagrees with He et al. (2015, footnote 3), who found longer training does not cure degradation"
            .to_string()
    } else if deeper.iter().all(|r| r.4 < r.3 / 2.0) {
        "the gap narrows at every deeper depth but does not close, as He et al. (2015, footnote 3) report".to_string()
    } else {
        let widened = deeper.iter().filter(|r| r.4 > r.3).count();
        format!(
            "the gap does not close (it widens at {widened} of {} deeper depths: the best depth gains as much or more from \
             the extra steps), as He et al. (2015, footnote 3) report",
            deeper.len()
        )
    };
    line.push_str(&format!(": {verdict}."));
    vec![line]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::tests::synthetic_run;

    fn with_probes(arch: &str, depth: usize, seed: u64, loss: f64) -> RunRecord {
        let mut run = synthetic_run(arch, depth, seed, Some(loss));
        let rho = if arch == "plain" { 1.0 / depth as f64 } else { 0.9 };
        run.shattered_acf_init = vec![1.0, rho + 0.01 * seed as f64, rho / 2.0];
        run.shattered_acf_final = vec![1.0, 0.5, 0.25];
        let positions = if arch == "plain" { depth } else { depth / 2 };
        run.lesion_train_losses = (0..positions).map(|k| Some(loss * (2.0 + k as f64))).collect();
        if arch != "plain" {
            run.branch_ratios_init = (0..positions).map(|k| 0.1 * (1.0 + k as f64)).collect();
            run.branch_ratios_final = vec![0.5; positions];
        }
        run
    }

    #[test]
    fn shattered_medians_over_seeds() {
        let runs = vec![
            with_probes("plain", 8, 0, 0.1),
            with_probes("plain", 8, 1, 0.1),
            with_probes("plain", 8, 2, 0.1),
            with_probes("residual", 8, 0, 0.1),
            with_probes("plain", 2, 0, 0.1),
            with_probes("residual", 2, 0, 0.1),
            synthetic_run("plain", 4, 0, Some(0.1)), // no probe: left out
        ];
        let table = shattered(&runs).unwrap().unwrap();
        assert_eq!(table.height(), 4);
        assert_eq!(table.text("variant", 0).as_deref(), Some("plain"));
        assert_eq!(table.number("depth", 1), Some(8.0));
        assert_eq!(table.number("runs", 1), Some(3.0));
        // 0.125, 0.135, 0.145 → 0.135
        assert!((table.number("rho1_init", 1).unwrap() - 0.135).abs() < 1e-12);
        assert_eq!(table.number("rho1_end", 1), Some(0.5));
        assert_eq!(table.number("rho4_init", 1), None, "the ACF stops at lag 2");
        let findings = shattered_findings(&table);
        assert_eq!(findings.len(), 1);
        assert!(findings[0].starts_with("Shattered gradients at init: at depth 8 plain ρ(1) = 0.14 vs residual α=inv_sqrt_blocks 0.90 (at depth 2: 0.50 vs 0.90); after training 0.50 vs 0.50"), "{}", findings[0]);
        assert!(findings[0].contains("agrees with Balduzzi"), "{}", findings[0]);
        assert!(shattered(&[synthetic_run("plain", 4, 0, Some(0.1))]).unwrap().is_none());
    }

    #[test]
    fn lesion_ratios() {
        let mut broken = with_probes("plain", 4, 1, 0.2);
        broken.lesion_train_losses[3] = None;
        let runs = vec![with_probes("plain", 4, 0, 0.1), broken, with_probes("residual", 8, 0, 0.001)];
        let (med, max, bad) = lesion_summary(&runs[1]);
        // 0.4, 0.6, 0.8 and one non-finite
        assert!((med.unwrap() - 0.6).abs() < 1e-12);
        assert!((max.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(bad, 1);
        let table = lesions(&runs).unwrap().unwrap();
        assert_eq!(table.height(), 2);
        // plain d4: unlesioned median(0.1, 0.2) = 0.15; lesion medians 0.35 and 0.6 → 0.475
        assert!((table.number("unlesioned_loss", 0).unwrap() - 0.15).abs() < 1e-12);
        assert!((table.number("lesion_median", 0).unwrap() - 0.475).abs() < 1e-12);
        assert!((table.number("median_ratio", 0).unwrap() - 0.475 / 0.15).abs() < 1e-12);
        // maxima 0.5 and 0.8 → 0.65
        assert!((table.number("lesion_max", 0).unwrap() - 0.65).abs() < 1e-12);
        assert_eq!(table.number("lesion_nonfinite", 0), Some(1.0));
        assert_eq!(table.number("positions", 0), Some(4.0));
        // residual d8: 4 blocks, losses 0.002..0.005 → median 0.0035, ratio 3.5, max ratio 5
        assert!((table.number("median_ratio", 1).unwrap() - 3.5).abs() < 1e-9);
        assert!((table.number("max_ratio", 1).unwrap() - 5.0).abs() < 1e-9);
        let findings = lesion_findings(&table);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].contains(
                "removing one block of residual α=inv_sqrt_blocks d8 raises the loss by a median factor 3.5×"
            ),
            "{}",
            findings[0]
        );
        assert!(
            findings[0].contains("one layer of plain d4 raises the loss by a median factor 3.2×"),
            "{}",
            findings[0]
        );
        assert!(findings[0].contains("Agrees with Veit"), "{}", findings[0]);
    }

    #[test]
    fn branch_ratios_against_alpha() {
        let runs = vec![
            with_probes("residual", 8, 0, 0.1),
            with_probes("residual", 8, 1, 0.1),
            with_probes("residual", 32, 0, 0.1),
            with_probes("plain", 8, 0, 0.1),
        ];
        let table = branch(&runs).unwrap().unwrap();
        assert_eq!(table.height(), 2, "plain runs have no branches");
        // K = 4: ratios 0.1..0.4 → median 0.25; α = 1/2
        assert_eq!(table.number("blocks", 0), Some(4.0));
        assert!((table.number("ratio_init", 0).unwrap() - 0.25).abs() < 1e-12);
        assert!((table.number("alpha", 0).unwrap() - 0.5).abs() < 1e-12);
        assert!((table.number("init_over_alpha", 0).unwrap() - 0.5).abs() < 1e-12);
        assert!((table.number("end_over_init", 0).unwrap() - 2.0).abs() < 1e-12);
        // K = 16: median of 0.1..1.6 = 0.85
        assert!((table.number("ratio_init", 1).unwrap() - 0.85).abs() < 1e-12);
        let findings = branch_findings(&table);
        assert_eq!(findings.len(), 1);
        assert!(findings[0].contains("0.25 at init and 0.50 after training at depth 8"), "{}", findings[0]);
        // 0.5 at both depths: no fall with depth.
        assert!(findings[0].contains("falls with depth at 0 of 1 steps"), "{}", findings[0]);
        assert!(findings[0].ends_with("disagrees."), "{}", findings[0]);
    }

    #[test]
    fn longer_training_joins_the_two_lengths() {
        let mut runs = Vec::new();
        for (depth, short, long) in [(2, 0.01, 0.001), (8, 0.001, 0.0001), (32, 1.0, 0.5)] {
            let mut s = synthetic_run("plain", depth, 0, Some(short));
            s.experiment = SHORT_EXPERIMENT.into();
            s.steps = 1500;
            let mut l = synthetic_run("plain", depth, 0, Some(long));
            l.experiment = LONG_EXPERIMENT.into();
            l.steps = 4500;
            runs.extend([s, l]);
        }
        // A depth only the short experiment ran, and a residual run: both left out.
        let mut extra = synthetic_run("plain", 64, 0, Some(2.0));
        extra.experiment = SHORT_EXPERIMENT.into();
        runs.push(extra);
        runs.push(synthetic_run("residual", 8, 0, Some(0.1)));
        let table = longer(&runs).unwrap().unwrap();
        assert_eq!(table.height(), 3);
        assert_eq!(table.number("depth", 2), Some(32.0));
        assert!((table.number("long_over_short", 2).unwrap() - 0.5).abs() < 1e-12);
        assert!((table.number("gap_short", 2).unwrap() - 1000.0).abs() < 1e-9);
        assert!((table.number("gap_long", 2).unwrap() - 5000.0).abs() < 1e-9);
        assert!(table.columns.iter().any(|c| c.header == "loss at 4500 steps"));
        let findings = longer_findings(&table);
        assert!(findings[0].starts_with("Longer training (plain): best depth 8 at 1500 steps, 8 at 4500 steps; gap to the best depth from 1500 to 4500 steps: d32 10³× → 5.0×10³× (loss 1.0 → 0.50)"), "{}", findings[0]);
        assert!(findings[0].ends_with("the gap does not close (it widens at 1 of 1 deeper depths: the best depth gains as much or more from the extra steps), as He et al. (2015, footnote 3) report."), "{}", findings[0]);
        // Without the long experiment there is no table.
        runs.retain(|r| r.experiment != LONG_EXPERIMENT);
        assert!(longer(&runs).unwrap().is_none());
    }
}
