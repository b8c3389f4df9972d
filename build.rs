//! Records the compiler version and the git commit for the machine fingerprint
//! (`DB_RUSTC_VERSION`, `DB_GIT_COMMIT`; the latter is empty when git or the repository is
//! unavailable), and sets `avx512_intrinsics` when the compiler has stable AVX-512 intrinsics
//! (Rust 1.89; the crate's minimum is older), which the `peak` bench's widest loop needs.
//! Never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_version = output(Command::new(rustc).arg("-V")).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DB_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-check-cfg=cfg(avx512_intrinsics)");
    if minor_version(&rustc_version).is_some_and(|minor| minor >= 89) {
        println!("cargo:rustc-cfg=avx512_intrinsics");
    }

    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let git = |args: &[&str]| output(Command::new("git").arg("-C").arg(&manifest_dir).args(args));
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_default();
    println!("cargo:rustc-env=DB_GIT_COMMIT={commit}");

    // Rebuild only when HEAD moves: watch HEAD, the branch refs (a directory, so that a first
    // commit or a new branch is seen too) and packed-refs. Paths that do not exist are not
    // watched (cargo would treat them as always stale).
    for path in ["HEAD", "refs/heads", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", path]) {
            watch(&manifest_dir, &path);
        }
    }
}

/// 89 from "rustc 1.89.0 (…)"; None when the text is not in that form.
fn minor_version(rustc_version: &str) -> Option<u32> {
    let version = rustc_version.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}

fn watch(base: &Path, path: &str) {
    let path = base.join(path);
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
