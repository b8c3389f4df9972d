//! `sweep --list-runs`: the run ids scripts check merged shards against.

use std::process::Command;

fn list(extra: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["--preset", "tiny", "--list-runs"])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn shards_partition_the_listed_grid() {
    let grid = list(&[]);
    // tiny: 2 architectures x 2 depths x 2 seeds.
    assert_eq!(grid.len(), 8);
    assert!(grid.windows(2).all(|pair| pair[0] < pair[1]), "sorted, no duplicates: {grid:?}");
    let mut union: Vec<String> = (0..3).flat_map(|i| list(&["--shard", &format!("{i}/3")])).collect();
    assert_eq!(union.len(), grid.len(), "every run in exactly one shard");
    union.sort();
    assert_eq!(union, grid);
}
