#!/usr/bin/env bash
# Lockstep parity with PyTorch: exports every run of experiments/parity.toml (MLPs: plain and
# residual, depths 4/32/128, norms none/layer/batch, Adam and SGD) and of
# experiments/parity_conv.toml (the ResNet paper's conv nets: plain and residual, depths 8 and
# 20, the paper's SGD and Adam) with its starting point, batch order and this implementation's
# 200-step trajectory in f64 and f32, replays each in PyTorch (peers/pytorch/parity.py check)
# and prints the tables. Exits non-zero on a mismatch in either, after checking both. Then
# `parity.py run` trains one small conv run of its own (the paper's schedule with a warm-up,
# instruments on) and the script checks that its record is a complete conv peer run.
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

# PyTorch as a conv peer: one residual ResNet-8 with 4 base filters, 12 steps on the digits.
started=$(date +%s)
cat > "$export_root/conv_peer.toml" <<'TOML'
name = "conv_peer"
dataset = "digits"
family = "conv"
base_channels = 4
archs = ["residual"]
depths = [8]
seeds = [0]
steps = 12
batch_size = 16
checkpoints = 4
instruments = true
instrument_samples = 100
[optimizer]
kind = "sgd"
lr = 0.1
momentum = 0.9
weight_decay = 0.0001
lr_decay_at = [0.5]
warmup_steps = 2
warmup_lr = 0.01
TOML
target/release/export --config "$export_root/conv_peer.toml" --out "$export_root/conv_peer"
"$venv/bin/python" peers/pytorch/parity.py run "$export_root/conv_peer" --out "$export_root/conv_peer-pytorch"
"$venv/bin/python" - "$export_root/conv_peer-pytorch/runs.jsonl" <<'PY' || status=1
import json, math, sys
records = [json.loads(line) for line in open(sys.argv[1])]
assert len(records) == 1, f"{len(records)} records, expected 1"
r = records[0]
assert r["family"] == "conv" and r["implementation"].startswith("pytorch "), (r.get("family"), r.get("implementation"))
assert r["lr_schedule"] == {"decay_at": [0.5], "decay_factor": 0.1, "warmup_steps": 2, "warmup_lr": 0.01}, r["lr_schedule"]
assert [p["step"] for p in r["loss_curve"]] == [0, 3, 6, 9, 12], r["loss_curve"]
assert [p["step"] for p in r["tail_train_losses"]] == [12] and math.isfinite(r["robust_train_loss"])
assert 0 <= r["test_accuracy"] <= 1 and math.isfinite(r["final_train_loss"])
# ResNet-8: 3 blocks, so 4 hidden states and 6 block convs.
assert len(r["state_rms_init"]) == len(r["state_grad_norms_final"]) == 4
assert len(r["weight_grad_norms_init"]) == len(r["weight_grad_norms_final"]) == 6
assert [p["step"] for p in r["instruments"]] == [0, 3, 6, 9, 12] and r["instrument_samples"] == 100
assert all(len(p["update_ratios"]) == 6 for p in r["instruments"][1:])
print(f"conv peer run: final train loss {r['final_train_loss']:.4g}, test accuracy {r['test_accuracy']:.3f}")
PY
echo "conv_peer: $(( $(date +%s) - started )) s"
exit "$status"
