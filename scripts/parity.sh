#!/usr/bin/env bash
# Lockstep parity with PyTorch: exports every run of experiments/parity.toml (MLPs: plain and
# residual, depths 4/32/128, norms none/layer/batch, Adam and SGD) and of
# experiments/parity_conv.toml (the ResNet paper's conv nets: plain and residual, depths 8 and
# 20, the paper's SGD and Adam) with its starting point, batch order and this implementation's
# 200-step trajectory in f64 and f32, replays each in PyTorch (peers/pytorch/parity.py check)
# and prints the tables. Exits non-zero on a mismatch in either, after checking both.
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
export_root=$(mktemp -d)
trap 'rm -rf "$export_root"' EXIT
status=0
for experiment in parity parity_conv; do
    started=$(date +%s)
    target/release/export --config "experiments/$experiment.toml" --out "$export_root/$experiment" --trajectory-steps 200
    echo "exported in $(( $(date +%s) - started )) s"
    "$venv/bin/python" peers/pytorch/parity.py check "$export_root/$experiment" || status=$?
    echo "$experiment: $(( $(date +%s) - started )) s"
done
exit "$status"
