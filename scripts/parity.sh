#!/usr/bin/env bash
# Lockstep parity with PyTorch: exports every run of experiments/parity.toml (plain and
# residual, depths 4/32/128, norms none/layer/batch, Adam and SGD) with its starting point,
# batch order and this implementation's 200-step trajectory in f64 and f32, replays each in
# PyTorch (peers/pytorch/parity.py check) and prints the table. Exits non-zero on a mismatch.
#
#   scripts/parity.sh [VENV_DIR]
# VENV_DIR (default $PYTORCH_VENV, else ~/.cache/degradation-bench/pytorch-venv) is created by
# scripts/setup_pytorch.sh when it has no PyTorch yet.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-${PYTORCH_VENV:-$HOME/.cache/degradation-bench/pytorch-venv}}

if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    scripts/setup_pytorch.sh "$venv"
fi
cargo build --release --quiet --bin export
export_dir=$(mktemp -d)
trap 'rm -rf "$export_dir"' EXIT
started=$(date +%s)
target/release/export --config experiments/parity.toml --out "$export_dir" --trajectory-steps 200
echo "exported in $(( $(date +%s) - started )) s"
"$venv/bin/python" peers/pytorch/parity.py check "$export_dir"
