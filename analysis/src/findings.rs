//! Findings stated in the report, each computed from the tables (never hand-written), so a
//! rerun on other data states what that data shows.

use crate::table::{format_sig, Table};

struct LossRow {
    variant: String,
    depth: usize,
    median: Option<f64>,
    runs: usize,
    diverged: usize,
}

fn loss_rows(table: &Table) -> Vec<LossRow> {
    (0..table.height())
        .filter_map(|i| {
            Some(LossRow {
                variant: table.text("variant", i)?,
                depth: table.number("depth", i)? as usize,
                median: table.number("loss_median", i),
                runs: table.number("runs", i).unwrap_or(0.0) as usize,
                diverged: table.number("diverged", i).unwrap_or(0.0) as usize,
            })
        })
        .collect()
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

/// The part of a variant label that is not the architecture: `[exp] plain, norm=layer` and
/// `[exp] residual α=one, norm=layer` share `[exp] , norm=layer`, so they are compared.
fn counterpart_key(variant: &str) -> String {
    let (prefix, rest) = match variant.strip_prefix('[').and_then(|v| v.split_once("] ")) {
        Some((prefix, rest)) => (format!("[{prefix}] "), rest),
        None => (String::new(), variant),
    };
    let others = rest.split_once(", ").map_or("", |(_, others)| others);
    format!("{prefix}{others}")
}

fn is_plain(variant: &str) -> bool {
    variant.starts_with("plain") || variant.contains("] plain")
}

/// Degradation (for variants trained at two or more depths): each variant's best depth and
/// how far the deepest is from it, how a plain net compares with its residual counterparts at
/// the deepest depth both reached, and divergences.
pub fn degradation(table: &Table) -> Vec<String> {
    let rows = loss_rows(table);
    let mut variants: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
    variants.dedup();
    let with_loss = |variant: &str| -> Vec<(usize, f64)> {
        rows.iter().filter(|r| r.variant == variant).filter_map(|r| Some((r.depth, r.median?))).collect()
    };
    let mut out = Vec::new();
    for variant in &variants {
        let losses = with_loss(variant);
        if losses.len() < 2 {
            continue;
        }
        let Some(&(best_depth, best_loss)) = losses.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
            continue;
        };
        let Some(&(deepest, deepest_loss)) = losses.iter().max_by_key(|(depth, _)| *depth) else {
            continue;
        };
        let mut line =
            format!("{variant}: lowest median final train loss at depth {best_depth} ({})", format_sig(best_loss, 3));
        if deepest != best_depth && best_loss > 0.0 {
            line.push_str(&format!(
                "; at depth {deepest} it is {} that ({})",
                format_ratio(deepest_loss / best_loss),
                format_sig(deepest_loss, 3)
            ));
        }
        line.push('.');
        out.push(line);
    }

    for plain in variants.iter().filter(|v| is_plain(v)) {
        let plain_losses = with_loss(plain);
        if plain_losses.len() < 2 {
            continue;
        }
        let key = counterpart_key(plain);
        for residual in variants.iter().filter(|v| !is_plain(v) && counterpart_key(v) == key) {
            let residual_losses = with_loss(residual);
            let shared = plain_losses
                .iter()
                .filter_map(|&(depth, pl)| Some((depth, pl, residual_losses.iter().find(|r| r.0 == depth)?.1)))
                .max_by_key(|(depth, _, _)| *depth);
            let Some((depth, pl, rl)) = shared else {
                continue;
            };
            if !(pl > 0.0 && rl > 0.0) {
                continue;
            }
            let relation = if pl / rl > 1.05 {
                format!("{} {residual}'s", format_ratio(pl / rl))
            } else if rl / pl > 1.05 {
                format!("{} lower than {residual}'s", format_ratio(rl / pl))
            } else {
                format!("about the same as {residual}'s")
            };
            out.push(format!(
                "At depth {depth}, {plain}'s median final train loss ({}) is {relation} ({}).",
                format_sig(pl, 3),
                format_sig(rl, 3)
            ));
        }
    }

    let diverged: Vec<&LossRow> = rows.iter().filter(|r| r.diverged > 0).collect();
    if diverged.is_empty() {
        let total: usize = rows.iter().map(|r| r.runs).sum();
        out.push(format!("No run diverged ({total} runs)."));
    } else {
        let parts: Vec<String> = diverged
            .iter()
            .map(|r| format!("{} at depth {}: {} of {}", r.variant, r.depth, r.diverged, r.runs))
            .collect();
        out.push(format!("Diverged runs: {}.", parts.join("; ")));
    }
    out
}

/// Gradient flow at init: at each variant's deepest depth, the input/output gradient ratio
/// and the fitted RMS² slope next to theory.
pub fn gradient_flow(table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    // Rows are sorted by variant then depth; walk backwards to meet each variant's deepest first.
    for i in (0..table.height()).rev() {
        if table.text("phase", i).as_deref() != Some("init") {
            continue;
        }
        let (Some(variant), Some(depth)) = (table.text("variant", i), table.number("depth", i)) else {
            continue;
        };
        if seen.contains(&variant) {
            continue;
        }
        seen.push(variant.clone());
        let mut parts = Vec::new();
        if let Some(ratio) = table.number("grad_ratio_log2", i) {
            parts.push(format!("‖∂L/∂h₀‖ is {} ‖∂L/∂h_K‖ (log₂ ratio {ratio:+.2})", format_ratio(2f64.powf(ratio))));
        }
        if let Some(slope) = table.number("rms2_slope", i) {
            let theory = match table.number("theory_rms2_slope", i) {
                Some(t) => format!(" (theory {t:+.3})"),
                None => String::new(),
            };
            parts.push(format!("log₂RMS² changes by {slope:+.3} per k{theory}"));
        }
        if !parts.is_empty() {
            out.push(format!("At init, {variant} at depth {}: {}.", depth as usize, parts.join("; ")));
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables;
    use crate::variant::tests::synthetic_run;
    use crate::variant::VaryingAxes;

    #[test]
    fn plain_variants_meet_their_residual_counterparts() {
        assert_eq!(counterpart_key("plain"), "");
        assert_eq!(counterpart_key("residual α=one"), "");
        assert_eq!(counterpart_key("plain, norm=layer"), "norm=layer");
        assert_eq!(counterpart_key("residual α=one, norm=layer"), "norm=layer");
        assert_eq!(counterpart_key("[quick m1] plain, init=he"), "[quick m1] init=he");
        assert!(is_plain("[quick m1] plain, init=he"));
        assert!(!is_plain("residual α=one"));
    }

    #[test]
    fn a_single_depth_gives_no_degradation_claims() {
        let runs = vec![synthetic_run("plain", 8, 0, Some(2.3)), synthetic_run("residual", 8, 0, Some(2.2))];
        let axes = VaryingAxes::of(&runs);
        let table = tables::degradation(&tables::runs_frame(&runs, &axes).unwrap()).unwrap();
        assert_eq!(degradation(&table), ["No run diverged (2 runs)."]);
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
    fn degradation_findings_come_from_the_numbers() {
        let mut runs = Vec::new();
        for (depth, plain_loss, residual_loss) in [(4, 0.01, 0.01), (16, 0.002, 0.001), (64, 2.0, 0.00002)] {
            for seed in 0..3 {
                runs.push(synthetic_run("plain", depth, seed, Some(plain_loss)));
                runs.push(synthetic_run("residual", depth, seed, Some(residual_loss)));
            }
        }
        runs.push(synthetic_run("plain", 64, 9, None));
        let axes = VaryingAxes::of(&runs);
        let table = tables::degradation(&tables::runs_frame(&runs, &axes).unwrap()).unwrap();
        let findings = degradation(&table);
        assert_eq!(
            findings[0],
            "plain: lowest median final train loss at depth 16 (0.00200); at depth 64 it is 10³× that (2.00)."
        );
        assert!(findings[1].starts_with("residual α=inv_sqrt_blocks: lowest median final train loss at depth 64"));
        assert_eq!(
            findings[2],
            "At depth 64, plain's median final train loss (2.00) is 10⁵× residual α=inv_sqrt_blocks's (2.00e-5)."
        );
        assert_eq!(findings[3], "Diverged runs: plain at depth 64: 1 of 4.");
    }
}
