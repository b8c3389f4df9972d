//! Records the compiler version and the git commit for the machine fingerprint
//! (`DB_RUSTC_VERSION`, `DB_GIT_COMMIT`; the latter is empty when git or the repository is
//! unavailable). Never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_version = output(Command::new(rustc).arg("-V")).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DB_RUSTC_VERSION={rustc_version}");

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
