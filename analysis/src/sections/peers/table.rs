//! The per-depth table: both samples, the rank tests on loss and accuracy, the intervals and
//! the verdict.

use super::words::ratio_interval_text;
use super::{PeerComparison, Statistic};
use crate::error::{Error, Result};
use crate::rank_test::{format_u, method_text};
use crate::stats::median;
use crate::table::{format_sig, spec, Format, Table};
use crate::variant::VaryingAxes;
use polars::prelude::{Column, DataFrame};

fn range_text(losses: &[f64]) -> String {
    let finite: Vec<f64> = losses.iter().copied().filter(|v| v.is_finite()).collect();
    let diverged = losses.len() - finite.len();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut text =
        if finite.is_empty() { String::new() } else { format!("{}–{}", format_sig(lo, 2), format_sig(hi, 2)) };
    if diverged > 0 {
        text.push_str(&format!(" ({diverged} diverged)"));
    }
    text
}

pub fn table(comparisons: &[PeerComparison], axes: &VaryingAxes) -> Result<Table> {
    let statistic = |c: &PeerComparison| match c.statistic {
        Statistic::Robust => "robust",
        Statistic::Final => "final",
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("variant".into(), comparisons.iter().map(|c| c.ours.configuration_label(axes)).collect::<Vec<_>>()),
        Column::new("depth".into(), comparisons.iter().map(|c| c.depth as u64).collect::<Vec<_>>()),
        Column::new("peer".into(), comparisons.iter().map(|c| c.peer.implementation_label()).collect::<Vec<_>>()),
        Column::new("statistic".into(), comparisons.iter().map(statistic).collect::<Vec<_>>()),
        Column::new("n_ours".into(), comparisons.iter().map(|c| c.test.n_b as u64).collect::<Vec<_>>()),
        Column::new("n_peer".into(), comparisons.iter().map(|c| c.test.n_a as u64).collect::<Vec<_>>()),
        Column::new("ours_median".into(), comparisons.iter().map(|c| c.ours_median()).collect::<Vec<_>>()),
        Column::new("ours_range".into(), comparisons.iter().map(|c| range_text(&c.ours_losses)).collect::<Vec<_>>()),
        Column::new("peer_median".into(), comparisons.iter().map(|c| c.peer_median()).collect::<Vec<_>>()),
        Column::new("peer_range".into(), comparisons.iter().map(|c| range_text(&c.peer_losses)).collect::<Vec<_>>()),
        Column::new("peer_over_ours".into(), comparisons.iter().map(|c| c.ratio()).collect::<Vec<_>>()),
        Column::new("ratio_95_low".into(), comparisons.iter().map(|c| c.ratio_95.map(|s| s.lower)).collect::<Vec<_>>()),
        Column::new("ratio_95_high".into(), comparisons.iter().map(|c| c.ratio_95.map(|s| s.upper)).collect::<Vec<_>>()),
        Column::new("ratio_95".into(), comparisons.iter().map(|c| c.ratio_95.map_or(String::new(), |s| ratio_interval_text(&s))).collect::<Vec<_>>()),
        Column::new("ratio_90".into(), comparisons.iter().map(|c| c.equivalence.map_or(String::new(), |(_, s)| ratio_interval_text(&s))).collect::<Vec<_>>()),
        Column::new("u_shown".into(), comparisons.iter().map(|c| format_u(c.test.u)).collect::<Vec<_>>()),
        Column::new("p_value".into(), comparisons.iter().map(|c| c.test.p_value).collect::<Vec<_>>()),
        Column::new("p_holm".into(), comparisons.iter().map(|c| c.holm_p).collect::<Vec<_>>()),
        Column::new("method".into(), comparisons.iter().map(|c| method_text(c.test.method)).collect::<Vec<_>>()),
        Column::new("verdict".into(), comparisons.iter().map(|c| c.verdict().text()).collect::<Vec<_>>()),
        Column::new("ours_accuracy".into(), comparisons.iter().map(|c| median(c.ours_accuracy.iter().copied())).collect::<Vec<_>>()),
        Column::new("peer_accuracy".into(), comparisons.iter().map(|c| median(c.peer_accuracy.iter().copied())).collect::<Vec<_>>()),
        Column::new("accuracy_p".into(), comparisons.iter().map(|c| c.accuracy_test.map(|t| t.p_value)).collect::<Vec<_>>()),
        Column::new("accuracy_p_holm".into(), comparisons.iter().map(|c| c.accuracy_holm_p).collect::<Vec<_>>()),
    ])
    .map_err(Error::polars("peer_agreement"))?;
    Ok(Table {
        slug: "peer_agreement".into(),
        title: "Agreement with an independent implementation, per depth".into(),
        note: "Loss: the robust final loss (median full-train-set loss over the last 10% of steps) where both sides \
               recorded it, else the final snapshot; median and range over seeds, diverged runs counted apart. U: \
               the (peer, ours) pairs of seeds in which the peer's loss is the higher, ties counting ½; p two-sided \
               (exact when no two losses tie; the CSV names the method). Ratio intervals: Hodges–Lehmann on log loss, \
               distribution-free; the 90% one decides equivalence. Test accuracy: median over seeds that did not \
               diverge, compared by the same rank test. Holm's p adjusts for every test of this section."
            .into(),
        frame,
        columns: vec![
            spec("variant", "variant", Format::Text),
            spec("depth", "depth", Format::Integer),
            spec("peer", "peer", Format::Text),
            spec("statistic", "loss", Format::Text),
            spec("n_ours", "seeds (ours)", Format::Integer),
            spec("n_peer", "seeds (peer)", Format::Integer),
            spec("ours_median", "ours, median", Format::Sig(3)),
            spec("ours_range", "ours, range", Format::Text),
            spec("peer_median", "peer, median", Format::Sig(3)),
            spec("peer_range", "peer, range", Format::Text),
            spec("peer_over_ours", "peer ÷ ours", Format::Sig(2)),
            spec("ratio_95", "ratio, 95% interval", Format::Text),
            spec("ratio_90", "ratio, 90% interval", Format::Text),
            spec("u_shown", "U", Format::Text),
            spec("p_value", "p", Format::Sig(2)),
            spec("p_holm", "p (Holm)", Format::Sig(2)),
            spec("verdict", "verdict", Format::Text),
            spec("ours_accuracy", "test acc., ours", Format::Percent(1)),
            spec("peer_accuracy", "test acc., peer", Format::Percent(1)),
            spec("accuracy_p", "p (acc.)", Format::Sig(2)),
            spec("accuracy_p_holm", "p (acc., Holm)", Format::Sig(2)),
        ],
    })
}

