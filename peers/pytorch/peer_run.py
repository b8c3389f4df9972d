"""PyTorch as a peer: trains every run of an export (`export --config FILE --out DIR`, no
trajectories needed) with PyTorch's own random numbers, on the same data split with the same
configuration, and writes a results directory in the project's format: runs.jsonl (one
RunRecord per line, with `implementation` = "pytorch <version>"), machine.json (the export's
fingerprint of this machine, with the backend and threads of this process) and
experiment.toml. `analyze` reads it like any other results directory.

Done as the Rust side does it (src/train.rs): weights from the canonical initialisation
(drawn from torch's generator seeded with the run seed), minibatches without replacement from
a fresh permutation each epoch (the incomplete tail dropped), the loss curve's first point the
loss of the first minibatch and then the mean minibatch loss since the previous checkpoint,
probes on the first minibatch at initialisation and at the end (batch statistics, running
statistics untouched), evaluation with running statistics, f32 throughout, the learning rate
of each update from the run's `lr_schedule` when it has one (warm-up, step decays). MLPs only:
a run of family `conv` is refused.
Not filled (left empty, as the Rust side leaves them when not asked for): the mechanism probes
`shattered_acf_init/final` and `lesion_train_losses`.
"""
import json
import math
import time
from pathlib import Path

import torch

from export_files import Export, ExportError
from network import Net, initialise, loss_fn, make_optimizer

# Streams of the run seed: initialisation and batch order draw from separate generators.
INIT_STREAM, SHUFFLE_STREAM = 0, 1


def checkpoint_steps(steps, count):
    """`count` evenly spaced steps, the last at `steps` (src/train.rs `checkpoint_steps`)."""
    count = min(count, steps)
    points = [-(-(j * steps) // count) for j in range(1, count + 1)]
    return sorted(set(points))


class BatchOrder:
    def __init__(self, length, batch, generator):
        self.length, self.batch, self.generator = length, batch, generator
        self.permutation, self.position = torch.randperm(length, generator=generator), 0

    def next_batch(self):
        if self.position + self.batch > self.length:
            self.permutation, self.position = torch.randperm(self.length, generator=self.generator), 0
        rows = self.permutation[self.position : self.position + self.batch]
        self.position += self.batch
        return rows


def lr_at(schedule, lr, step, steps):
    """The learning rate of update `step` (1-based) of `steps` (src/config/schedule.rs
    `LrSchedule::lr_at`): `warmup_lr` for the first `warmup_steps` updates, then lr times
    decay_factor per milestone passed (step > round(f * steps) for each f of `decay_at`).
    An absent schedule is constant."""
    if not schedule:
        return lr
    if step <= schedule.get("warmup_steps", 0):
        return schedule["warmup_lr"]
    # Rust's f64::round rounds halves away from zero (Python's round would round them to even).
    passed = sum(1 for at in schedule.get("decay_at", []) if step > math.floor(at * steps + 0.5))
    return lr if passed == 0 else lr * schedule.get("decay_factor", 0.1) ** passed


def tail_start(steps):
    """First step of the last 10% of steps (src/train.rs `tail_start`): from there on each
    checkpoint also evaluates the whole training set, for the robust final loss."""
    return steps - steps // 10


def median_loss(points):
    """Median of the tail losses (src/train.rs `median_loss`); None if any is missing."""
    losses = [p["loss"] for p in points]
    if not losses or any(v is None for v in losses):
        return None
    losses.sort()
    middle = len(losses) // 2
    return losses[middle] if len(losses) % 2 == 1 else (losses[middle - 1] + losses[middle]) / 2


def probe(net, inputs, targets):
    """Per-layer statistics of one forward/backward pass, or None if any is not finite:
    ‖∂L/∂W_l‖ per hidden layer, RMS and ‖∂L/∂h_k‖ of each hidden state, ‖α_k v_k‖/‖h_{k−1}‖."""
    saved = {name: buffer.clone() for name, buffer in net.named_buffers()}
    keep = {}
    net.zero_grad(set_to_none=True)
    loss = loss_fn(net(inputs, keep), targets)
    for h in keep["states"]:
        h.retain_grad()
    loss.backward()
    with torch.no_grad():
        for name, buffer in net.named_buffers():
            buffer.copy_(saved[name])
        states = keep["states"]
        stats = {
            "weight_grad_norms": [float(lin.weight.grad.double().norm()) for lin in net.hidden_linears()],
            "state_rms": [float(h.double().pow(2).mean().sqrt()) for h in states],
            "state_grad_norms": [float(h.grad.double().norm()) for h in states],
            "branch_ratios": [
                float(b.double().norm() / states[k].double().norm()) if float(states[k].norm()) > 0 else float("nan")
                for k, b in enumerate(keep["branches"])
            ],
        }
    net.zero_grad(set_to_none=True)
    finite = all(math.isfinite(v) for values in stats.values() for v in values)
    return stats if finite and math.isfinite(float(loss)) else None


def evaluate(net, split, chunk):
    """Mean loss and accuracy (classification) over a whole split, running statistics."""
    net.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(split), chunk):
            x = split.inputs[start : start + chunk]
            y = split.targets_as(torch.float32)[start : start + chunk]
            logits = net(x)
            total += float(loss_fn(logits, y)) * len(x)
            if split.num_classes is not None:
                correct += int((logits.argmax(dim=1) == y).sum())
    net.train()
    n = max(len(split), 1)
    return total / n, (correct / n if split.num_classes is not None else None)


def train_run(run, export):
    """One run, returning its RunRecord as a dict."""
    config, model = run.config, run.config["model"]
    if config.get("family", "mlp") != "mlp":
        raise ExportError(f"{run.dir / 'run.json'}: family `{config['family']}`: the peer trains MLPs only")
    schedule = config.get("lr_schedule")
    started = time.perf_counter()
    init_gen = torch.Generator().manual_seed(config["seed"] * 2 + INIT_STREAM)
    shuffle_gen = torch.Generator().manual_seed(config["seed"] * 2 + SHUFFLE_STREAM)
    net = Net(model).to(torch.float32)
    initialise(net, model["init"], init_gen)
    net.train()
    optimizer = make_optimizer(net.parameters(), config["optimizer"])
    train = export.train
    inputs, targets = train.inputs, train.targets_as(torch.float32)
    batch, steps = config["batch_size"], config["steps"]
    order = BatchOrder(len(train), batch, shuffle_gen)
    probe_rows = order.next_batch()
    order.position = 0
    probe_init = probe(net, inputs[probe_rows], targets[probe_rows]) or {}

    checkpoints = checkpoint_steps(steps, config["checkpoints"])
    loss_curve, interval, diverged_at = [], [], None
    first_tail_step, tail_train_losses, tail_seconds = tail_start(steps), [], 0.0
    train_started = time.perf_counter()
    for step in range(1, steps + 1):
        rows = order.next_batch()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(inputs[rows]), targets[rows])
        value = float(loss)
        if step == 1:
            loss_curve.append({"step": 0, "loss": value if math.isfinite(value) else None})
        if not math.isfinite(value):
            diverged_at = step
            break
        loss.backward()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(schedule, config["optimizer"]["lr"], step, steps)
        optimizer.step()
        interval.append(value)
        if step in checkpoints:
            loss_curve.append({"step": step, "loss": sum(interval) / len(interval)})
            interval = []
            if step >= first_tail_step:
                evaluated = time.perf_counter()
                tail_loss, _ = evaluate(net, train, batch)
                tail_train_losses.append({"step": step, "loss": tail_loss if math.isfinite(tail_loss) else None})
                tail_seconds += time.perf_counter() - evaluated
    train_seconds = time.perf_counter() - train_started - tail_seconds
    steps_done = steps if diverged_at is None else diverged_at - 1

    record = {"final_train_loss": None, "final_train_accuracy": None, "test_loss": None, "test_accuracy": None}
    probe_final = {}
    if diverged_at is None:
        train_loss, train_acc = evaluate(net, train, batch)
        test_loss, test_acc = evaluate(net, export.test, batch)
        if math.isfinite(train_loss) and math.isfinite(test_loss):
            record.update(final_train_loss=train_loss, final_train_accuracy=train_acc, test_loss=test_loss, test_accuracy=test_acc)
        else:
            diverged_at = steps
        probe_final = probe(net, inputs[probe_rows], targets[probe_rows]) or {}
    if steps == 0:
        loss_curve = []
    opt = config["optimizer"]
    return {
        "run_id": run.run_id,
        "experiment": config["experiment"],
        "dataset": config["dataset"],
        "arch": model["arch"],
        "depth": model["depth"],
        "width": model["width"],
        "block_layers": model["block_layers"],
        "activation": model["activation"],
        "norm": model["norm"],
        "residual_scale": model["residual_scale"] if model["arch"] == "residual" else None,
        "init": model["init"],
        "optimizer": opt["kind"],
        "lr": opt["lr"],
        "momentum": opt.get("momentum", 0.0),
        "weight_decay": opt.get("weight_decay", 0.0),
        **({"lr_schedule": schedule} if schedule else {}),
        "batch_size": batch,
        "steps": steps,
        "seed": config["seed"],
        "machine_id": export.machine["machine_id"],
        **record,
        "diverged": diverged_at is not None,
        "diverged_at_step": diverged_at,
        "loss_curve": loss_curve,
        "tail_train_losses": tail_train_losses,
        "robust_train_loss": median_loss(tail_train_losses) if diverged_at is None else None,
        "weight_grad_norms_init": probe_init.get("weight_grad_norms", []),
        "weight_grad_norms_final": probe_final.get("weight_grad_norms", []),
        "state_rms_init": probe_init.get("state_rms", []),
        "state_grad_norms_init": probe_init.get("state_grad_norms", []),
        "state_rms_final": probe_final.get("state_rms", []),
        "state_grad_norms_final": probe_final.get("state_grad_norms", []),
        "branch_ratios_init": probe_init.get("branch_ratios", []),
        "branch_ratios_final": probe_final.get("branch_ratios", []),
        "shattered_acf_init": [],
        "shattered_acf_final": [],
        "lesion_train_losses": [],
        "wall_seconds": time.perf_counter() - started,
        "steps_per_second": steps_done / train_seconds if train_seconds > 0 else 0.0,
        "implementation": f"pytorch {torch.__version__.split('+')[0]}",
    }


def run_all(args):
    export = Export(args.export)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = dict(export.machine)
    machine["gemm_backend"] = f"pytorch {torch.__version__}"
    machine["threads"] = torch.get_num_threads()
    (out / "machine.json").write_text(json.dumps(machine, indent=2) + "\n")
    (out / "experiment.toml").write_text(export.experiment_text)
    runs = list(export.runs())
    if args.shard is not None:
        # As `sweep --shard I/N`: the runs whose position in run-id order is I mod N.
        index, count = args.shard
        runs = sorted(runs, key=lambda run: run.run_id)[index::count]
    with open(out / "runs.jsonl", "w") as lines:
        for i, run in enumerate(runs, 1):
            record = train_run(run, export)
            lines.write(json.dumps(record) + "\n")
            lines.flush()
            loss = record["final_train_loss"]
            print(f"[{i}/{len(runs)}] {run.run_id}: final train loss {loss if loss is None else f'{loss:.4g}'} "
                  f"({record['wall_seconds']:.1f} s)", flush=True)
    print(f"{len(runs)} runs written to {out / 'runs.jsonl'}")
    return 0
