#!/usr/bin/env python3
"""Time one train step of the benches' networks in PyTorch, by wall clock and by thread CPU time.

The networks and the step are those of the `mlp` bench's `train_step` group: input dimension
= width, a stem, `depth` hidden width x width layers (plain: relu(W h + b); residual: two-layer
pre-activation blocks with a = 1/sqrt(K)), a 10-class head, softmax cross-entropy on fixed
random labels, Adam (lr 1e-4, as the bench uses), batch 128, one thread.

Thread CPU time (time.thread_time) counts only the time the thread ran, so on a machine shared
with other work it is comparable with the bench's `DEGRADATION_BENCH_CLOCK=thread_cpu` figures;
wall time is reported too. One JSON object per network:
  python3 peers/pytorch/step_timing.py --widths 64 256 1024 --depths 16
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 10


class Mlp(nn.Module):
    def __init__(self, arch, depth, width):
        super().__init__()
        self.arch = arch
        self.stem = nn.Linear(width, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.head = nn.Linear(width, CLASSES)
        self.alpha = 1.0 / math.sqrt(depth // 2) if arch == "residual" else 1.0
        for layer in [self.stem, *self.hidden, self.head]:
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / layer.in_features))
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        if self.arch == "plain":
            for layer in self.hidden:
                h = torch.relu(layer(h))
            return self.head(h)
        for i in range(0, len(self.hidden), 2):
            u = self.hidden[i](torch.relu(h))
            h = h + self.alpha * self.hidden[i + 1](torch.relu(u))
        return self.head(torch.relu(h))


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--depths", type=int, nargs="+", default=[16])
    ap.add_argument("--archs", nargs="+", default=["plain", "residual"], choices=["plain", "residual"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring time per network")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    for width in args.widths:
        for depth in args.depths:
            x = torch.randn(args.batch, width)
            y = torch.randint(0, CLASSES, (args.batch,))
            for arch in args.archs:
                model = Mlp(arch, depth, width)
                opt = torch.optim.Adam(model.parameters(), lr=1e-4)

                def step():
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(model(x), y).backward()
                    opt.step()

                for _ in range(5):
                    step()
                walls, cpus = [], []
                deadline = time.perf_counter() + args.seconds
                while len(walls) < 10 or (time.perf_counter() < deadline and len(walls) < 10000):
                    w, c = time.perf_counter(), time.thread_time()
                    step()
                    cpus.append(time.thread_time() - c)
                    walls.append(time.perf_counter() - w)
                flops = 3 * depth * 2 * args.batch * width * width
                print(
                    json.dumps(
                        {
                            "arch": arch,
                            "depth": depth,
                            "width": width,
                            "batch": args.batch,
                            "reps": len(walls),
                            "train_step_wall_seconds": median(walls),
                            "train_step_cpu_seconds": median(cpus),
                            "train_step_cpu_gflops": flops / median(cpus) / 1e9,
                            "torch": torch.__version__,
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
