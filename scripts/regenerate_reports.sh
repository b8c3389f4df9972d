#!/usr/bin/env bash
# Regenerates every committed report from its committed data: each reports/*/README.md prints
# the `analyze …` command that made it, and this runs exactly that command with the release
# build. Run after any change to the analysis; `analysis/tests/committed_reports.rs` fails
# until the reports match what the code makes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p degradation-analysis --bin analyze
for readme in reports/*/README.md; do
    command=$(grep -m1 '^analyze ' "$readme") || { echo "no analyze command in $readme" >&2; exit 1; }
    read -r -a words <<<"$command"
    echo "${words[*]}"
    target/release/analyze "${words[@]:1}" 2>/dev/null >/dev/null
done
