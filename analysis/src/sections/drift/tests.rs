use super::*;
use crate::variant::tests::{synthetic_run, typed};

/// A zero-step plain He ReLU run with batch size 1 whose probe gives Δ = `delta` exactly:
/// ‖∂L/∂h_k‖ = 1 for k ≥ 1 and ‖∂L/∂h₀‖ = e^{Δ/2}.
fn drift_run(depth: usize, width: usize, seed: u64, delta: f64) -> Run {
    let mut record = synthetic_run("plain", depth, seed, Some(2.3));
    (record.setup.steps, record.setup.batch_size, record.setup.width, record.experiment) = (0, 1, width, "drift".into());
    record.result.loss_curve.clear();
    record.result.state_grad_norms_init = vec![1.0; depth + 1];
    record.result.state_grad_norms_init[0] = (delta / 2.0).exp();
    typed(record)
}

/// Runs whose Δ over seeds are `centre ± spread` in equal numbers: mean `centre`, sample
/// variance spread²·n/(n − 1).
fn cell(depth: usize, width: usize, seeds: u64, centre: f64, spread: f64) -> Vec<Run> {
    (0..seeds).map(|s| drift_run(depth, width, s, centre + if s % 2 == 0 { spread } else { -spread })).collect()
}

fn inputs_of(runs: Vec<Run>) -> Inputs {
    Inputs::of_runs("drift", runs)
}

#[test]
fn delta_is_twice_the_log_of_the_norm_ratio() {
    assert!((log_gradient_ratio(&[0.5, 2.0, 1.0]).unwrap() - 2.0 * 0.5f64.ln()).abs() < 1e-12);
    assert_eq!(log_gradient_ratio(&[0.0, 1.0]), None, "a dead gradient has no log");
    assert_eq!(log_gradient_ratio(&[]), None);
}

#[test]
fn measured_moments_and_their_ratios_to_theory() {
    // Width 64, depth 32: theory D·m(64), D·v(64). Twenty runs at centre ± 1.
    let layer = relu_layer_log_gain(64);
    let (depth, centre) = (32, 32.0 * layer.mean * 1.5);
    let runs = cell(depth, 64, 20, centre, 1.0);
    let groups = groups(&runs, applies);
    let rows = rows(&groups).unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.runs, 20);
    let mean = row.mean.unwrap();
    assert!((mean.point - centre).abs() < 1e-9, "{mean:?}");
    let variance = row.variance.unwrap();
    assert!((variance.point - 20.0 / 19.0).abs() < 1e-9, "{variance:?}");
    assert!((row.predicted.mean - 32.0 * layer.mean).abs() < 1e-12);
    assert!((row.predicted.variance - 32.0 * layer.variance).abs() < 1e-12);
    // The mean is 1.5× the (negative) prediction; the interval swaps into order.
    let ratio = row.mean_ratio().unwrap();
    assert!((ratio.point - 1.5).abs() < 1e-9 && ratio.lower < 1.5 && ratio.upper > 1.5, "{ratio:?}");
    let variance_ratio = row.variance_ratio().unwrap();
    assert!((variance_ratio.point - (20.0 / 19.0) / (32.0 * layer.variance)).abs() < 1e-9);
    assert!((row.depth_over_width() - 0.5).abs() < 1e-12);
}

#[test]
fn findings_report_only_differences_outside_the_interval() {
    let layer = relu_layer_log_gain(32);
    // Depth 16: the mean on the prediction, the variance on it too (spread² = D·v).
    let on = cell(16, 32, 30, 16.0 * layer.mean, (16.0 * layer.variance).sqrt());
    // Depth 64: the mean three times the prediction with a tiny spread: far outside.
    let off = cell(64, 32, 30, 3.0 * 64.0 * layer.mean, 0.1);
    let runs: Vec<Run> = on.into_iter().chain(off).collect();
    let groups = groups(&runs, applies);
    let rows = rows(&groups).unwrap();
    let findings = findings(&rows);
    assert!(findings[0].contains("in 1 of 2 cells"), "{findings:?}");
    assert!(findings[1].contains("above 1 in the one cell") && findings[1].contains("depth 64"), "{findings:?}");
    assert!(!findings[1].contains("depth 16"), "a cell inside its interval is not a finding: {findings:?}");
    // The variance at depth 16 agrees; at depth 64 it is far below (0.1² ≪ 64·v).
    let variance = findings.iter().find(|f| f.contains("variance's interval")).unwrap();
    assert!(variance.contains("below 1") && variance.contains("depth 64") && !variance.contains("depth 16"));
    // The lead speaks of initialisation, of the largest D/n, and never of training outcomes.
    let lead = lead(&rows).join(" ");
    assert!(lead.starts_with("At initialisation") && lead.contains("depth 64 and width 32 (D/n = 2.00)"), "{lead}");
    assert!(!lead.contains("learn") && !lead.contains("degrad") && !lead.contains("after training"), "{lead}");
}

#[test]
fn only_zero_step_plain_he_relu_runs_with_one_input_are_used() {
    let mut trained = drift_run(16, 32, 0, -1.0);
    trained.record.setup.steps = 100;
    let mut batched = drift_run(16, 32, 1, -1.0);
    batched.record.setup.batch_size = 64;
    let batched = typed(batched.record);
    let mut normalised = drift_run(16, 32, 2, -1.0).record;
    normalised.setup.norm = Norm::Batch;
    let residual = {
        let mut r = synthetic_run("residual", 16, 3, Some(2.3));
        (r.setup.steps, r.setup.batch_size) = (0, 1);
        typed(r)
    };
    let trained = typed(trained.record);
    for run in [&trained, &batched, &typed(normalised), &residual] {
        assert!(!applies(run), "{:?}", run.record.run_id);
    }
    assert!(applies(&drift_run(16, 32, 4, -1.0)));
    // A trained experiment (the usual synthetic runs) gets no section at all.
    let runs: Vec<Run> = (0..3).map(|s| typed(synthetic_run("plain", 8, s, Some(0.1)))).collect();
    assert!(build(&inputs_of(runs)).unwrap().is_none());
    // A drift experiment does, with its table, chart and a lead.
    let layer = relu_layer_log_gain(32);
    let runs: Vec<Run> = [8, 16]
        .iter()
        .flat_map(|&d| cell(d, 32, 12, d as f64 * layer.mean, (d as f64 * layer.variance).sqrt()))
        .collect();
    let section = build(&inputs_of(runs)).unwrap().expect("a drift section");
    assert_eq!(section.tables[0].height(), 2);
    assert_eq!(section.charts.len(), 1);
    assert!(section.lead[0].starts_with("At initialisation"));
    assert!(section.findings[0].contains("in 2 of 2 cells"), "{:?}", section.findings);
}
