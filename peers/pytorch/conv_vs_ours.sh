#!/usr/bin/env bash
# Conv train step, ours vs PyTorch, in one sitting: the ResNet paper's CIFAR nets, plain and
# residual, depths 20 and 56, 1×8×8 and 1×28×28 inputs, batch 128, one thread, SGD (momentum
# 0.9, weight decay 1e-4). Ours: the criterion bench conv_train_step (benches/conv.rs);
# PyTorch: conv_timing.py, the same nets and step. Both timed by thread CPU time (so other work
# on the machine does not bias either), in alternation: ours, PyTorch, ours, PyTorch, …
# Prints PyTorch ÷ ours per net and round, with an interval from the two medians' 95 %
# intervals (PyTorch's low ÷ ours' high to PyTorch's high ÷ ours' low). Run from the
# repository root:
#   TORCH_PY=path/to/venv/bin/python bash peers/pytorch/conv_vs_ours.sh [out-dir]
# Environment: ROUNDS (default 2); SECONDS_PER_NET (default 10: criterion's measurement time
# and PyTorch's measuring time per net; criterion takes at least 10 samples whatever it says);
# CARGO_TARGET_DIR as usual (`cargo bench` builds the package's binaries too, so point it
# elsewhere while another job runs target/release/ executables).
set -euo pipefail
PY="${TORCH_PY:-python3}"
"$PY" -c "import torch" 2>/dev/null || { echo "no PyTorch at $PY (set TORCH_PY)"; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
rounds="${ROUNDS:-2}"
seconds="${SECONDS_PER_NET:-10}"
mkdir -p "$out"
cargo bench -q --bench conv --no-run
for round in $(seq 1 "$rounds"); do
  DEGRADATION_BENCH_CLOCK=thread_cpu CRITERION_HOME="$out/criterion-$round" cargo bench -q --bench conv -- \
    --warm-up-time 1 --measurement-time "$seconds" '^conv_train_step/(plain|residual)/d(20|56)_i(8|28)$' \
    >"$out/bench-$round.log" 2>&1 || { tail -5 "$out/bench-$round.log"; exit 1; }
  OMP_NUM_THREADS=1 "$PY" "$here/conv_timing.py" --depths 20 56 --sides 8 28 --seconds "$seconds" --min-reps 10 \
    >"$out/torch-$round.jsonl"
done
python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("conv train step, batch 128, 1 thread, SGD, thread CPU time: PyTorch / ours [interval] (ours s, PyTorch s)")
for rnd in range(1, rounds + 1):
    torch = {(r["arch"], r["depth"], r["input_side"]): r for r in map(json.loads, open(f"{out}/torch-{rnd}.jsonl"))}
    version = next(iter(torch.values()))["torch"]
    print(f"round {rnd} (PyTorch {version}):")
    for side in (8, 28):
        for depth in (20, 56):
            row = []
            for arch in ("plain", "residual"):
                est = json.load(open(f"{out}/criterion-{rnd}/conv_train_step/{arch}/d{depth}_i{side}/new/estimates.json"))
                m = est["median"]
                ours, ours_lo, ours_hi = (m["point_estimate"] * 1e-9, m["confidence_interval"]["lower_bound"] * 1e-9,
                                          m["confidence_interval"]["upper_bound"] * 1e-9)
                t = torch[(arch, depth, side)]["train_step_cpu_seconds"]
                row.append(f"{arch} {t['median'] / ours:.2f}x [{t['low'] / ours_hi:.2f}, {t['high'] / ours_lo:.2f}] "
                           f"({ours:.4f}, {t['median']:.4f})")
            print(f"  d{depth}_i{side}: " + "; ".join(row))
print(f"raw: {out}")
PY
