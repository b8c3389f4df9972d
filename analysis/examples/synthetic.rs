//! Writes synthetic inputs shaped like real ones, for looking at the charts before real
//! results exist: `cargo run -p degradation-analysis --example synthetic -- /tmp/synth`
//! then `analyze --input /tmp/synth/results --criterion /tmp/synth/criterion`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| "synthetic".into());
    let root = std::path::Path::new(&root);
    common::write_results(&root.join("results"), "m-synth-a");
    common::write_criterion(&root.join("criterion"), "m-synth-a", "AMD EPYC 9R14 (synthetic)", 1.0);
    common::write_criterion(&root.join("criterion-b"), "m-synth-b", "Intel Xeon 8480+ (synthetic)", 1.6);
    eprintln!("wrote {}", root.display());
}
