#!/usr/bin/env python3
"""Time training runs of the quick preset in PyTorch, written as a PyTorch user would write them.

The runs: the quick preset's digits classification (1437 training and 360 test samples,
64 inputs, 10 classes), width 64, plain and residual networks at depths 8, 32 and 64, Adam
(lr 1e-3, PyTorch's defaults otherwise), batch 64 drawn without replacement from a fresh
permutation each epoch, 1500 steps, the mean minibatch loss read back every step (the loss
curve needs it), then the loss and accuracy over the training and the test set.

The networks are the project's canonical definitions (README, "Network definitions"):
stem h0 = relu(W0 x + b0); plain h_l = relu(W_l h_{l-1} + b_l); residual two-layer
pre-activation blocks h_k = h_{k-1} + a (W2 relu(W1 relu(h_{k-1}) + b1) + b2) with
a = 1/sqrt(K); head W_out h_D (plain) or W_out relu(h_K) (residual). He-normal weights, zero
biases, softmax cross-entropy.

What differs from `sweep`, all in PyTorch's favour: no gradient-norm probes at the start and
the end of a run, no record written. The inputs are uniform in [0, 1] with random labels
rather than the digits themselves (PyTorch does not ship them); a dense network's time does
not depend on the values.

One thread (torch.set_num_threads(1)), as each run of a sweep. A short untimed run first
absorbs PyTorch's one-time start-up. Each run reports its wall time and its thread CPU time
(which a machine shared with other work does not inflate). Prints one JSON object per run
and a final one with the total:
  python3 peers/pytorch/quick_timing.py [--depths 8 32 64] [--archs plain residual]
"""
import argparse
import json
import math
import platform
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TRAIN, TEST, INPUTS, CLASSES = 1437, 360, 64, 10


class Mlp(nn.Module):
    def __init__(self, arch, depth, width):
        super().__init__()
        self.arch = arch
        self.stem = nn.Linear(INPUTS, width)
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


def evaluate(model, x, y, chunk):
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            logits = model(x[start : start + chunk])
            target = y[start : start + chunk]
            loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(1) == target).sum().item()
    return loss_sum / len(x), correct / len(x)


def run(arch, depth, args, data):
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    started, started_cpu = time.perf_counter(), time.thread_time()
    model = Mlp(arch, depth, args.width)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    permutation, position = torch.randperm(TRAIN, generator=generator), 0
    losses = []
    for _ in range(args.steps):
        if position + args.batch > TRAIN:
            permutation, position = torch.randperm(TRAIN, generator=generator), 0
        rows = permutation[position : position + args.batch]
        position += args.batch
        loss = F.cross_entropy(model(x_train[rows]), y_train[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    train_loss, train_accuracy = evaluate(model, x_train, y_train, args.batch)
    test_loss, test_accuracy = evaluate(model, x_test, y_test, args.batch)
    wall, cpu = time.perf_counter() - started, time.thread_time() - started_cpu
    return {
        "arch": arch,
        "depth": depth,
        "width": args.width,
        "steps": args.steps,
        "batch": args.batch,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "final_minibatch_loss": losses[-1],
        "train_loss": train_loss,
        "test_accuracy": test_accuracy,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--archs", nargs="+", default=["plain", "residual"], choices=["plain", "residual"])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(12345)
    data = (
        torch.rand(TRAIN, INPUTS, generator=g),
        torch.randint(0, CLASSES, (TRAIN,), generator=g),
        torch.rand(TEST, INPUTS, generator=g),
        torch.randint(0, CLASSES, (TEST,), generator=g),
    )
    # PyTorch's first operations load kernels and set up its allocator (seconds, once per
    # process): an untimed short run first, so the runs time training, not start-up.
    run("residual", 2, argparse.Namespace(**{**vars(args), "steps": 20}), data)
    total, total_cpu = 0.0, 0.0
    for depth in args.depths:
        for arch in args.archs:
            record = run(arch, depth, args, data)
            total += record["wall_seconds"]
            total_cpu += record["cpu_seconds"]
            print(json.dumps(record), flush=True)
    print(
        json.dumps(
            {
                "total_wall_seconds": total,
                "total_cpu_seconds": total_cpu,
                "runs": len(args.depths) * len(args.archs),
                "threads": args.threads,
                "torch": torch.__version__,
                "python": platform.python_version(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
