//! Tests of the best-of-grid section.

use super::words::holm_clause;
use super::*;
use crate::rank_test::Method;
use crate::variant::tests::{synthetic_run, typed};

#[test]
fn holm_runs_within_each_finding_line() {
    let test = |p_value: f64| RankTest { u: 25.0, p_value, method: Method::Exact, n_a: 5, n_b: 5 };
    let comparison = |what: &str, depth: usize, p: f64| Comparison {
        what: what.into(),
        depth,
        reference: "depth 2".into(),
        test: test(p),
        ratio: 2.0,
        holm_p: f64::NAN,
    };
    let mut tests =
        vec![comparison("plain", 8, 0.03), comparison("plain", 16, 0.0079), comparison("residual", 8, 0.03)];
    adjust_per_line(&mut tests);
    // plain: 0.0079 × 2 = 0.016, then max(0.016, 0.03 × 1) = 0.03; residual alone: 0.03.
    let adjusted: Vec<f64> = tests.iter().map(|c| c.holm_p).collect();
    for (got, want) in adjusted.iter().zip([0.03, 0.0158, 0.03]) {
        assert!((got - want).abs() < 1e-12, "{adjusted:?}");
    }
    let plain: Vec<&Comparison> = tests.iter().take(2).collect();
    assert_eq!(holm_clause(&plain), "; all 2 hold after Holm's correction within the line's 2 tests");
    tests[0].holm_p = 0.06; // as if a third test in the line had pushed it over
    let plain: Vec<&Comparison> = tests.iter().take(2).collect();
    assert_eq!(holm_clause(&plain), "; 1 of these 2 hold after Holm's correction within the line's 2 tests");
}

/// Five seeds at each of three learning rates. Plain: best at depth 4 (lr 1e-3), and every
/// rate is worse at depth 16, best there at the grid's largest rate. Residual: as good at
/// depth 16 as at depth 4.
fn sweep() -> Vec<Run> {
    let mut runs = Vec::new();
    for (arch, depth, best) in
        [("plain", 4, 0.01), ("plain", 16, 0.5), ("residual", 4, 0.01), ("residual", 16, 0.01)]
    {
        for (k, lr) in [1e-4, 1e-3, 1e-2].into_iter().enumerate() {
            // Plain depth 16 improves with the rate; the others are best at 1e-3.
            let factor = if arch == "plain" && depth == 16 { [4.0, 2.0, 1.0][k] } else { [3.0, 1.0, 2.0][k] };
            for seed in 0..5u64 {
                let mut record = synthetic_run(arch, depth, seed, Some(1.0));
                record.setup.lr = lr;
                record.result.robust_train_loss = Some(best * factor * (1.0 + 0.01 * seed as f64));
                runs.push(typed(record));
            }
        }
    }
    runs
}

fn inputs(runs: Vec<Run>) -> Inputs {
    Inputs::of_runs("tuned", runs)
}

#[test]
fn picks_the_best_rate_per_depth_and_finds_degradation_that_survives_tuning() {
    let runs = sweep();
    let mut tuned: Vec<Variant> = runs.iter().map(|r| untuned(&r.variant)).collect();
    tuned.sort();
    tuned.dedup();
    assert_eq!(tuned.len(), 2, "plain and residual, the learning rate taken out");
    let grid = grid_points(runs_frame(&runs, &tuned).unwrap()).unwrap();
    assert_eq!(grid.height(), 12, "(2 archs × 2 depths) × 3 rates");
    let best = best_points(&grid, &runs, &tuned).unwrap();
    let picked: Vec<(bool, usize, f64)> = best.iter().map(|b| (b.tuned.is_plain(), b.depth, b.lr)).collect();
    assert_eq!(picked, [(true, 4, 1e-3), (true, 16, 1e-2), (false, 4, 1e-3), (false, 16, 1e-3)]);
    assert_eq!(best[1].losses.len(), 5);
    assert!((best[1].loss_median - 0.5 * 1.02).abs() < 1e-12, "median of the five seeds");
    assert_eq!(best[1].on_edge(), Some("largest"));
    assert_eq!(best[0].on_edge(), None);

    let axes = VaryingAxes::of(&tuned);
    let depth_tests = depth_comparisons(&best, &axes);
    // Plain: depth 16 against depth 4, every seed worse: U = 25, p = 2/252.
    let plain = depth_tests.iter().find(|c| c.what == "plain").unwrap();
    assert_eq!((plain.depth, plain.test.u), (16, 25.0));
    assert!(plain.higher());
    // Residual: equal losses at both depths, best at the shallower: no difference.
    let residual = depth_tests.iter().find(|c| c.what != "plain").unwrap();
    assert!(!residual.higher());

    let section = build(&inputs(runs)).unwrap().expect("a grid of three rates");
    let text = section.findings.join("\n");
    assert!(text.contains("plain: best at depth 4 (lr 0.00100"), "{text}");
    // One deeper depth, p = 2/252: Holm within the line of one test leaves it as it is.
    assert!((plain.holm_p - plain.test.p_value).abs() < 1e-15);
    assert!(text.contains("(1 of 1 deeper depths tested): degradation survives tuning"), "{text}");
    assert!(text.contains("no degradation detected"), "{text}");
    assert!(text.contains("Grid too narrow: for plain at depth 16"), "{text}");
    assert_eq!(section.charts.len(), 1);
}

#[test]
fn a_single_learning_rate_is_no_grid() {
    let runs: Vec<Run> = sweep().into_iter().filter(|r| r.record.setup.lr == 1e-3).collect();
    assert!(build(&inputs(runs)).unwrap().is_none());
}
