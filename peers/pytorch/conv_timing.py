#!/usr/bin/env python3
"""Time one train step of the ResNet paper's CIFAR nets in PyTorch, the nets and the step of the
`conv` bench's `conv_train_step` group (benches/conv.rs), by wall clock and by thread CPU time.

The nets are conv_network.py's CifarNet (He et al. 2015, Sec. 4.2; as src/model/conv/) with 16
base filters, one input channel and 10 classes: depth 6n + 2, 16/32/64 filters in the three
stages, post-activation blocks, option-A shortcuts, global average pool, a 64->10 linear layer.

The step: forward (training mode), softmax cross-entropy on fixed random labels, backward, SGD
(lr 1e-3, momentum 0.9, weight decay 1e-4), batch 128 of fixed N(0, 1) images of one channel,
one thread. FLOPs as the bench counts them: 3 x the forward FLOPs of the convs
(2*H_o*W_o*9*C_in*C_out per image per conv, the stem included) and the classifier (2*64*10).

Each net: `--warm-up` steps, then steps until `--seconds` have passed (at least `--min-reps`).
One JSON object per net with the median step time by thread CPU time (time.thread_time, only
the time this thread ran: comparable with the bench's DEGRADATION_BENCH_CLOCK=thread_cpu on a
machine shared with other work) and by wall clock, each with a distribution-free 95% interval
for the median (order statistics of the binomial(n, 1/2)) and the min and max:
  python3 peers/pytorch/conv_timing.py --depths 20 56 --sides 8 28
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from conv_network import CifarNet

CLASSES = 10
BATCH = 128
LR, MOMENTUM, WEIGHT_DECAY = 1e-3, 0.9, 1e-4
# Parameter counts of the family with one input channel (the Rust ConvNet's tests pin the same).
EXPECTED_PARAMS = {3: 269_434, 9: 852_730}


def forward_flops(model, side):
    """Forward FLOPs of the whole batch, from one forward's output shapes: 2*H_o*W_o*9*C_in*C_out
    per conv and 2*in*out per row of the classifier (ConvNetConfig::forward_flops_per_sample)."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += 2 * output.shape[0] * module.in_features * module.out_features
            return
        kh, kw = module.kernel_size
        total += 2 * output.shape[0] * output.shape[2] * output.shape[3] * kh * kw * module.in_channels * module.out_channels

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()
        model(torch.zeros(BATCH, 1, side, side))
        model.train()
    for h in hooks:
        h.remove()
    return total


def summary(values):
    """Median, a distribution-free 95% interval for it, min and max."""
    s = sorted(values)
    n = len(s)
    median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    half = 0.98 * math.sqrt(n)
    low = s[min(max(int(math.floor(n / 2 - half)), 1), n) - 1]
    high = s[min(max(int(math.ceil(n / 2 + half)), 1), n) - 1]
    return {"median": median, "low": low, "high": high, "min": s[0], "max": s[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    ap.add_argument("--sides", type=int, nargs="+", default=[8, 28], help="input image sides (one channel)")
    ap.add_argument("--archs", nargs="+", default=["plain", "residual"], choices=["plain", "residual"])
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring time per net")
    ap.add_argument("--min-reps", type=int, default=10)
    ap.add_argument("--warm-up", type=int, default=3, help="untimed steps first")
    ap.add_argument("--channels-last", action="store_true", help="NHWC tensors (PyTorch's default is NCHW)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    for side in args.sides:
        x = torch.randn(BATCH, 1, side, side).contiguous(memory_format=memory_format)
        y = torch.randint(0, CLASSES, (BATCH,))
        for depth in args.depths:
            if (depth - 2) % 6:
                raise SystemExit(f"depth {depth} is not 6n + 2")
            n = (depth - 2) // 6
            for arch in args.archs:
                model = CifarNet(arch, n).to(memory_format=memory_format)
                params = sum(p.numel() for p in model.parameters())
                if n in EXPECTED_PARAMS and params != EXPECTED_PARAMS[n]:
                    raise SystemExit(f"{arch} n={n}: {params} parameters, expected {EXPECTED_PARAMS[n]}")
                flops = 3 * forward_flops(model, side)
                opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

                def step():
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(model(x), y).backward()
                    opt.step()

                for _ in range(args.warm_up):
                    step()
                walls, cpus = [], []
                deadline = time.perf_counter() + args.seconds
                while len(walls) < args.min_reps or (time.perf_counter() < deadline and len(walls) < 10000):
                    w, c = time.perf_counter(), time.thread_time()
                    step()
                    cpus.append(time.thread_time() - c)
                    walls.append(time.perf_counter() - w)
                cpu, wall = summary(cpus), summary(walls)
                print(json.dumps({
                    "arch": arch,
                    "depth": depth,
                    "input_side": side,
                    "batch": BATCH,
                    "params": params,
                    "reps": len(walls),
                    "flops": flops,
                    "train_step_cpu_seconds": cpu,
                    "train_step_wall_seconds": wall,
                    "train_step_cpu_gflops": flops / cpu["median"] / 1e9,
                    "channels_last": args.channels_last,
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                }), flush=True)


if __name__ == "__main__":
    main()
