//! Writes synthetic inputs shaped like real ones, for looking at the charts before real
//! results exist: `cargo run -p degradation-analysis --example synthetic -- /tmp/synth`
//! then `analyze --input /tmp/synth/results --criterion /tmp/synth/criterion`.
//! Also writes `grid/`, a bigger grid (widths × α × norms) that exercises the faceted charts.

#[path = "../tests/common/mod.rs"]
mod common;

use degradation_bench::config::Norm;
use std::fs;

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| "synthetic".into());
    let root = std::path::Path::new(&root);
    common::write_results(&root.join("results"), "m-synth-a");
    common::write_criterion(&root.join("criterion"), "m-synth-a", "AMD EPYC 9R14 (synthetic)", 1.0);
    common::write_criterion(&root.join("criterion-b"), "m-synth-b", "Intel Xeon 8480+ (synthetic)", 1.6);

    let grid = root.join("grid");
    fs::create_dir_all(&grid).unwrap();
    let mut lines = String::new();
    for width in [16usize, 64, 256] {
        for norm in [Norm::None, Norm::Layer] {
            for (arch, scale) in [
                ("plain", None),
                ("residual", Some("one")),
                ("residual", Some("inv_sqrt_blocks")),
                ("residual", Some("rezero")),
            ] {
                for depth in [2, 8, 32, 128] {
                    for seed in 0..2 {
                        let mut run = common::run(arch, scale, depth, seed, "m-synth-a");
                        run.setup.width = width;
                        run.setup.norm = norm;
                        run.run_id = format!("{}-w{width}-{norm}", run.run_id);
                        if let Some(loss) = run.result.final_train_loss.as_mut() {
                            *loss *= (64.0 / width as f64).sqrt() * if norm == Norm::Layer { 0.5 } else { 1.0 };
                        }
                        lines.push_str(&serde_json::to_string(&run).unwrap());
                        lines.push('\n');
                    }
                }
            }
        }
    }
    fs::write(grid.join("runs.jsonl"), lines).unwrap();
    let machine = common::machine("m-synth-a", "AMD EPYC 9R14 (synthetic)");
    fs::write(grid.join("machine.json"), serde_json::to_string_pretty(&machine).unwrap()).unwrap();
    eprintln!("wrote {}", root.display());
}
