#!/usr/bin/env bash
# Train step, ours vs PyTorch at depth 16, widths 64/256/1024, plain and residual, one thread,
# Adam, batch 128: both timed by thread CPU time (so a machine shared with other work does not
# bias either), run twice in alternation (ours, PyTorch, ours, PyTorch). Prints PyTorch ÷ ours
# per round. Run from the repository root:
#   TORCH_PY=path/to/venv/bin/python bash peers/pytorch/step_vs_ours.sh [out-dir]
set -euo pipefail
PY="${TORCH_PY:-python3}"
"$PY" -c "import torch" 2>/dev/null || { echo "no PyTorch at $PY (set TORCH_PY)"; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
cargo bench -q --bench mlp --no-run
for round in 1 2; do
  DEGRADATION_BENCH_CLOCK=thread_cpu CRITERION_HOME="$out/criterion-$round" cargo bench -q --bench mlp -- \
    --warm-up-time 1 --measurement-time 3 '^train_step/(plain|residual)/d16_w(64|256|1024)$' >"$out/bench-$round.log" 2>&1
  OMP_NUM_THREADS=1 "$PY" "$here/step_timing.py" --widths 64 256 1024 --depths 16 >"$out/torch-$round.jsonl"
done
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
print("train step, depth 16, batch 128, 1 thread, Adam, thread CPU time: PyTorch / ours (ours ms, PyTorch ms)")
for rnd in (1, 2):
    torch = {(r["arch"], r["width"]): r["train_step_cpu_seconds"] for r in map(json.loads, open(f"{out}/torch-{rnd}.jsonl"))}
    for w in (64, 256, 1024):
        row = []
        for arch in ("plain", "residual"):
            est = json.load(open(f"{out}/criterion-{rnd}/train_step/{arch}/d16_w{w}/new/estimates.json"))
            ours = est["median"]["point_estimate"] * 1e-9
            row.append(f"{arch} {torch[(arch, w)] / ours:.2f}x ({ours * 1e3:.3f}, {torch[(arch, w)] * 1e3:.3f})")
        print(f"  round {rnd} w{w}: " + ", ".join(row))
print(f"raw: {out}")
PY
