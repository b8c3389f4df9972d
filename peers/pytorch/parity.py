#!/usr/bin/env python3
"""The project's networks in PyTorch, as an independent check and as a peer.

  parity.py check EXPORT_DIR   lockstep parity: for every run exported with a trajectory
                               (`export --trajectory-steps N`), load the Rust side's initial
                               parameters into the same network in PyTorch, replay the same
                               minibatches with the same optimizer and compare step by step.
  parity.py run EXPORT_DIR --out DIR [--shard I/N]
                               train every exported run (or shard I of N, as `sweep --shard`)
                               with PyTorch's own initialisation and batch order (same
                               configuration, same data split) and write DIR/runs.jsonl in the
                               project's results format (peer_run.py).

What `check` compares, per run (MLPs, network.py, and the ResNet paper's conv nets,
conv_network.py):
  f64  the minibatch training loss of every step (relative difference <= 1e-4), the gradients
       of step 1 per tensor (relative norm of the difference <= 1e-10) and the parameters after
       each exported step per tensor (<= 1e-10 after step 1, <= 1e-4 later); for conv nets also
       BatchNorm2d's running mean and variance after those steps, with the parameters'
       tolerances (what evaluation normalises with: momentum and the unbiased variance).
  f32  the gradients of step 1 per tensor (<= 1e-4) and the loss of step 1. Not trajectories:
       two correct f32 implementations round differently (GEMM summation order), and under
       Adam such a rounding-level difference grows to an O(1) difference of the loss within
       tens of steps for deep nets, so a long f32 trajectory cannot tell a bug from rounding.
  Where a strict tolerance fails, PyTorch is compared with itself on the same batches with the
  rows of every batch permuted (mathematically the same step, a different order of every sum):
  the Rust side passes ("ok*") when it is within 10x PyTorch's own largest difference
  (gradients, parameters; parameters also pass where PyTorch's own first-step gradient of the
  tensor is unreproducible beyond the tolerance) and its loss departs (exceeds 1e-4) no earlier than half-way to
  PyTorch's own earliest departure. That happens in deep plain nets with normalisation: the
  exploding gradients of BatchNorm make step 1 ill-conditioned, and training is chaotic.
  The bias of a linear layer whose output feeds a BatchNorm has no effect on the loss (the batch
  mean removes it): its gradient is zero up to rounding in both implementations, so it is
  checked against the layer's weight gradient's norm instead of its own.
A failure names the run, the configuration, the tensor and the first step that disagrees;
the exit status is then 1 (2 for an unreadable export).
"""
import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_files import Export, ExportError  # noqa: E402
from network import Net, loss_fn, make_optimizer  # noqa: E402
import conv_network  # noqa: E402

TOLERANCES = {
    "loss_f64": 1e-4,
    "grad_f64": 1e-10,
    "grad_f32": 1e-4,
    "params_step_1_f64": 1e-10,
    "params_later_f64": 1e-4,
}
PRECISIONS = {"f64": torch.float64, "f32": torch.float32}
# Where PyTorch disagrees with itself beyond a tolerance, how much further the Rust side may be.
ROUNDING_MARGIN = 10.0
# Seeds of the row permutations that measure PyTorch against itself.
SHUFFLE_SEEDS = (1, 2)


def rel_norm(diff, reference):
    norm = float(reference.norm())
    return float(diff.norm()) / norm if norm > 0 else (0.0 if float(diff.norm()) == 0 else float("inf"))


def tensor_differences(ours, theirs, scale_of):
    """{name: relative norm of the difference}; a tensor named in `scale_of` is measured
    against the norm of another tensor (its layer's weight) instead of its own."""
    out = {}
    for name, mine in ours.items():
        reference = theirs[name]
        scale = theirs[scale_of[name]] if name in scale_of else reference
        out[name] = rel_norm(mine - reference, scale)
    return out


def load_parameters(net, named):
    params = dict(net.named_parameters())
    if set(params) != set(named):
        missing, extra = sorted(set(named) - set(params)), sorted(set(params) - set(named))
        raise ExportError(f"tensor names differ from the network's: export only {missing[:3]}, network only {extra[:3]}")
    with torch.no_grad():
        for name, value in named.items():
            if tuple(params[name].shape) != tuple(value.shape):
                raise ExportError(f"{name}: shape {tuple(value.shape)} in the export, {tuple(params[name].shape)} here")
            params[name].copy_(value)


class Mismatch(Exception):
    pass


def build_net(run):
    """The run's network: a conv net (conv_network.py) or an MLP (network.py)."""
    if run.is_conv():
        return conv_network.from_config(run.config["model"], run.image_shape)
    return Net(run.config["model"])


class Replay:
    """One PyTorch replay of a run's exported batches from its exported starting point: the
    loss of each step, the gradients of step 1 and the parameters after the recorded steps.
    With `shuffle_rows` (a seed) the rows of every batch are permuted, which changes nothing
    mathematically (means over rows, batch statistics) but the order of every sum: a
    rounding-level perturbation, to measure how much PyTorch disagrees with itself."""

    def __init__(self, run, train, precision, steps, shuffle_rows=None):
        dtype = PRECISIONS[precision]
        net = build_net(run).to(dtype)
        net.train()
        load_parameters(net, run.split(run.flat(precision, "params_init")))
        self.bias_scale = {f"{name}.bias": f"{name}.weight" for name in net.linears_into_batch_norm()}
        optimizer = make_optimizer(net.parameters(), run.config["optimizer"])
        inputs, targets = run.network_inputs(train.inputs.to(dtype)), train.targets_as(dtype)
        batches = run.batches()
        generator = torch.Generator().manual_seed(shuffle_rows or 0)
        buffer_names = {t["name"] for t in run.buffers}
        self.losses, self.grads, self.params, self.buffers = [], {}, {}, {}
        for step in range(1, steps + 1):
            rows = batches[step - 1]
            if shuffle_rows is not None:
                rows = rows[torch.randperm(len(rows), generator=generator)]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(inputs[rows]), targets[rows])
            self.losses.append(loss.item())
            if not math.isfinite(self.losses[-1]):
                break
            loss.backward()
            if step == 1:
                self.grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}
            optimizer.step()
            if step in run.trajectory["record_steps"]:
                self.params[step] = {n: p.detach().clone() for n, p in net.named_parameters()}
                if buffer_names:
                    self.buffers[step] = {n: b.detach().clone() for n, b in net.named_buffers() if n in buffer_names}


def loss_differences(ours, theirs):
    """Relative difference per step over the steps both took; a step where exactly one of the
    two losses is not finite counts as infinite."""
    out = []
    for a, b in zip(ours, theirs):
        if math.isfinite(a) and math.isfinite(b):
            out.append(abs(a - b) / abs(b) if b != 0 else abs(a))
        elif math.isfinite(a) != math.isfinite(b):
            out.append(float("inf"))
    if len(ours) != len(theirs):
        out.append(float("inf"))
    return out


def departure(diffs, tolerance):
    """First step (1-based) whose difference exceeds `tolerance`, or None."""
    return next((i + 1 for i, d in enumerate(diffs) if not d <= tolerance), None)


class Comparison:
    """Differences between two replays (or a replay and the Rust side's files)."""

    def __init__(self, a, b, bias_scale, compare_losses_to):
        """`a` and `b` are Replays or Trajectories (losses, grads, params, buffers)."""
        self.loss = loss_differences(a.losses[:compare_losses_to], b.losses[:compare_losses_to])
        self.grad = tensor_differences(a.grads, b.grads, bias_scale) if a.grads and b.grads else {}
        self.params = {k: tensor_differences(a.params[k], b.params[k], bias_scale) for k in a.params if k in b.params}
        self.buffers = {k: tensor_differences(a.buffers[k], b.buffers[k], {}) for k in a.buffers if k in b.buffers}


class Trajectory:
    """The Rust side's exported trajectory in one precision, up to `steps`."""

    def __init__(self, run, precision, steps, with_params):
        self.losses = [float(v) for v in run.losses(precision)[:steps]]
        finite = self.losses and math.isfinite(self.losses[0])
        self.grads = run.split(run.flat(precision, "grads_step_1")) if finite else {}
        self.params, self.buffers = {}, {}
        if not with_params:
            return
        for k in run.trajectory["record_steps"]:
            if k <= steps and (run.dir / precision / f"params_step_{k}.bin").exists():
                self.params[k] = run.split(run.flat(precision, f"params_step_{k}"))
                buffers = run.buffers_after(precision, k)
                if buffers:
                    self.buffers[k] = buffers


def check_precision(run, train, precision):
    """Compares PyTorch with the Rust side in `precision`. Strict tolerances first; where they
    fail, PyTorch is compared with itself (rows of each batch permuted) and the Rust side
    passes if it is no further from PyTorch than ROUNDING_MARGIN times PyTorch from itself
    (gradients, parameters), and its loss trajectory departs (exceeds the loss tolerance) no
    earlier than half-way to where PyTorch's own does. Returns (metrics, note)."""
    entry = next(p for p in run.trajectory["precisions"] if p["precision"] == precision)
    steps = entry["steps_done"] if precision == "f64" else min(1, entry["steps_done"])
    loss_steps = steps if precision == "f64" else 1
    torch_run = Replay(run, train, precision, steps)
    rust = Trajectory(run, precision, steps, with_params=precision == "f64")
    vs_rust = Comparison(torch_run, rust, torch_run.bias_scale, loss_steps)
    tol_loss, tol_grad = TOLERANCES["loss_f64"], TOLERANCES[f"grad_{precision}"]

    def tol_params(k):
        return TOLERANCES["params_step_1_f64" if k == 1 else "params_later_f64"]

    failures = []  # (step, what, value, tolerance), in the order a failure is reported (see `first_of`)
    first = departure(vs_rust.loss, tol_loss)
    if first is not None:
        failures.append((first, "training loss", vs_rust.loss[first - 1], tol_loss))
    for name, d in vs_rust.grad.items():
        if not d <= tol_grad:
            failures.append((1, f"gradient of {name}", d, tol_grad))
    for kind, table in (("parameters", vs_rust.params), ("buffer", vs_rust.buffers)):
        for k, diffs in sorted(table.items()):
            for name, d in diffs.items():
                if not d <= tol_params(k):
                    failures.append((k, f"{kind} {name} after the step", d, tol_params(k)))
    metrics = {
        "loss": max(vs_rust.loss, default=0.0),
        "grad": max(vs_rust.grad.values(), default=0.0),
        "params": max((max(d.values()) for d in vs_rust.params.values()), default=0.0),
        "buffers": max((max(d.values()) for d in vs_rust.buffers.values()), default=None),
        "steps": len(torch_run.losses),
    }
    if not failures:
        return metrics, None

    # PyTorch against itself: how far do rounding-level perturbations (the rows of every batch
    # permuted, two different ways) move it? The largest difference and the earliest departure count.
    selves = []
    for seed in SHUFFLE_SEEDS:
        shuffled = Replay(run, train, precision, steps, shuffle_rows=seed)
        selves.append(Comparison(shuffled, torch_run, torch_run.bias_scale, loss_steps))
    own_grad = {name: max(c.grad.get(name, 0.0) for c in selves) for name in vs_rust.grad}

    def own_of(table_of):
        return {k: {name: max(table_of(c).get(k, {}).get(name, 0.0) for c in selves) for name in d} for k, d in table_of(vs_rust).items()}

    own_after = {"parameters": own_of(lambda c: c.params), "buffer": own_of(lambda c: c.buffers)}
    metrics["self_loss"] = max(max(c.loss, default=0.0) for c in selves)
    metrics["self_grad"] = max(own_grad.values(), default=0.0)
    departures = [d for d in (departure(c.loss, tol_loss) for c in selves) if d is not None]
    self_departure = min(departures) if departures else None
    unexplained = []
    for step, what, value, tolerance in failures:
        if what == "training loss":
            explained = self_departure is not None and step >= 0.5 * self_departure
            context = f"PyTorch against itself departs at step {self_departure}"
        elif what.startswith("gradient of "):
            own = own_grad.get(what[len("gradient of ") :], 0.0)
            explained = value <= ROUNDING_MARGIN * own
            context = f"PyTorch against itself: {own:.2e}"
        else:
            kind, name = what.split()[:2]
            own_value = own_after[kind].get(step, {}).get(name, 0.0)
            # Where PyTorch's own first-step gradient of the tensor is already unreproducible
            # beyond the tolerance, Adam's sign-like first step makes its later values so too.
            ill_conditioned = own_grad.get(name, 0.0) > tol_grad
            explained = value <= ROUNDING_MARGIN * own_value or ill_conditioned
            context = f"PyTorch against itself: {own_value:.2e}"
        if not explained:
            unexplained.append((step, f"{precision} step {step}: {what}: relative difference {value:.2e} > {tolerance:g} ({context})"))
    if unexplained:
        raise Mismatch(first_of(unexplained))
    what = sorted({f[1].split(" of ")[0].split(" ")[0] for f in failures})
    return metrics, f"{precision} {'/'.join(what)} within PyTorch's own rounding sensitivity (self-departure at step {self_departure})"


def first_of(unexplained):
    """The message of the earliest disagreement: the earliest step; within it the loss, then
    the gradients, the parameters and the running statistics, each in the network's order
    from the input side (`failures` lists them so). A loss failure names the first tensor that
    departs at its step too; the others at that step are counted."""
    step = min(s for s, _ in unexplained)
    at_step = [message for s, message in unexplained if s == step]
    first, rest = at_step[0], at_step[1:]
    if rest and ": training loss:" in first:
        first += f"; first tensor: {rest.pop(0).split(': ', 1)[1]}"
    return first + (f" (and {len(rest)} more at step {step})" if rest else "")


def check_run(run, train):
    """Both precisions of one run: a dict of the largest differences and the notes; raises
    Mismatch at the first unexplained disagreement."""
    f64, note64 = check_precision(run, train, "f64")
    f32, note32 = check_precision(run, train, "f32")
    return f64, f32, [n for n in (note64, note32) if n]


def fmt(value):
    return "" if value is None else f"{value:.2e}"


def check(args):
    export = Export(args.export)
    runs = [run for run in export.runs() if run.trajectory]
    if not runs:
        raise ExportError(f"{args.export}: no run was exported with a trajectory (export --trajectory-steps N)")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s); tolerances: {TOLERANCES}; "
          f"where PyTorch differs from itself (batch rows permuted) by more, the Rust side may differ by {ROUNDING_MARGIN}x that")
    columns = ["configuration", "steps", "loss f64", "(self)", "grad f64", "(self)", "grad f32", "(self)", "params f64",
               "BN stats", "result"]
    widths = [26, 5, 9, 9, 9, 9, 9, 9, 10, 9, 6]
    print(" ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths))))
    failures, notes = [], []
    started = time.perf_counter()
    for run in runs:
        try:
            f64, f32, run_notes = check_run(run, export.train)
            cells = [run.label(), str(f64["steps"]), fmt(f64["loss"]), fmt(f64.get("self_loss")), fmt(f64["grad"]),
                     fmt(f64.get("self_grad")), fmt(f32["grad"]), fmt(f32.get("self_grad")), fmt(f64["params"]),
                     fmt(f64["buffers"]), "ok*" if run_notes else "ok"]
            notes += [f"{run.label()}: {n}" for n in run_notes]
        except Mismatch as e:
            cells = [run.label()] + [""] * 9 + ["FAILED"]
            failures.append(f"{run.run_id} ({run.label()}, width {run.config['model']['width']}): {e}")
        print(" ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))), flush=True)
    for note in notes:
        print(f"* {note}")
    print(f"checked {len(runs)} runs in {time.perf_counter() - started:.0f} s")
    print(f"{len(runs) - len(failures)} passed, {len(failures)} failed")
    for failure in failures:
        print(f"parity failure: {failure}", file=sys.stderr)
    return 1 if failures else 0


def shard(text):
    """`I/N` with 0 <= I < N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N, e.g. 0/2") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"{text!r}: needs 0 <= I < N")
    return index, count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch intra-op threads (default 1)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="lockstep parity against the Rust trajectories of an export")
    p.add_argument("export", type=Path)
    p = sub.add_parser("run", help="train every exported run in PyTorch and write runs.jsonl")
    p.add_argument("export", type=Path)
    p.add_argument("--out", type=Path, required=True, help="results directory to write")
    p.add_argument("--shard", type=shard, default=None, metavar="I/N",
                   help="train only shard I of N (runs whose position in run-id order is I mod N), as sweep --shard")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        if args.command == "check":
            return check(args)
        from peer_run import run_all

        return run_all(args)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
