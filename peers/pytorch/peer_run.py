"""PyTorch as a peer: trains every run of an export (`export --config FILE --out DIR`, no
trajectories needed) with PyTorch's own random numbers, on the same data split with the same
configuration, and writes a results directory in the project's format: runs.jsonl (one
RunRecord per line, with `implementation` = "pytorch <version>"), machine.json (the export's
fingerprint of this machine, with the backend and threads of this process) and
experiment.toml. `analyze` reads it like any other results directory.

Done as the Rust side does it (src/train/run.rs), for both families: the MLPs of network.py
and the ResNet paper's conv nets of conv_network.py (family `conv`: each input row reshaped to
the export's `image_shape`, BatchNorm2d on batch statistics in the steps and on its running
statistics in every evaluation). Weights from the canonical initialisation (He for the conv
nets; drawn from torch's generator seeded with the run seed), minibatches without replacement from
a fresh permutation each epoch (the incomplete tail dropped), the loss curve's first point the
loss of the first minibatch and then the mean minibatch loss since the previous checkpoint,
probes on the first minibatch at initialisation and at the end (batch statistics, running
statistics untouched), evaluation with running statistics, f32 throughout, the learning rate
of each update from the run's `lr_schedule` when it has one (warm-up, step decays), and the
instruments at every checkpoint when the run asks for them (src/train/instruments.rs: fit on
the first `instrument_samples` of each split, per hidden weight layer the step's gradient norm,
update ratio and distance from initialisation). Time spent on the tail evaluations and the
instruments is left out of `steps_per_second`, as the Rust side leaves it out.
Not filled (left empty, as the Rust side leaves them when not asked for): the mechanism probes
`shattered_acf_init/final` and `lesion_train_losses`.
"""
import json
import math
import sys
import time
from pathlib import Path

import torch

import conv_network
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


def build_net(run, generator):
    """The run's network in f32, initialised from `generator`: a conv net (conv_network.py)
    or an MLP (network.py)."""
    model = run.config["model"]
    if run.is_conv():
        net = conv_network.from_config(model, run.image_shape).to(torch.float32)
        conv_network.initialise(net, generator)
    else:
        net = Net(model).to(torch.float32)
        initialise(net, model["init"], generator)
    return net


def hidden_weights(net):
    """The weights of the hidden layers the probes and instruments report, input side first:
    an MLP's D hidden linear layers, a conv net's 6n block convs."""
    layers = net.hidden_convs() if isinstance(net, conv_network.CifarNet) else net.hidden_linears()
    return [layer.weight for layer in layers]


def probe(net, inputs, targets):
    """Per-layer statistics of one forward/backward pass, or None if any is not finite:
    ‖∂L/∂W_l‖ per hidden layer, RMS and ‖∂L/∂h_k‖ of each hidden state, ‖α_k v_k‖/‖h_{k−1}‖
    (none for conv nets)."""
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
            "weight_grad_norms": [float(weight.grad.double().norm()) for weight in hidden_weights(net)],
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


class Data:
    """A split as the network takes it: inputs (images for a conv run), targets, and whether
    the targets are classes."""

    def __init__(self, run, split):
        self.inputs = run.network_inputs(split.inputs)
        self.targets = split.targets_as(torch.float32)
        self.classes = split.num_classes is not None

    def __len__(self):
        return self.inputs.shape[0]


def evaluate(net, data, chunk, samples=None):
    """Mean loss and accuracy (classification) over the first `samples` of a split (all by
    default), running statistics."""
    net.eval()
    n = len(data) if samples is None else min(samples, len(data))
    total, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, n, chunk):
            end = min(start + chunk, n)
            x, y = data.inputs[start:end], data.targets[start:end]
            logits = net(x)
            total += float(loss_fn(logits, y)) * len(x)
            if data.classes:
                correct += int((logits.argmax(dim=1) == y).sum())
    net.train()
    n = max(n, 1)
    return total / n, (correct / n if data.classes else None)


def ratios(numerators, denominators):
    """a_l ÷ b_l as src/train/instruments.rs `ratios`: a zero denominator gives 0 for a zero
    numerator and f64::MAX (JSON has no infinity) otherwise."""
    return [a / b if b > 0 else (0.0 if a == 0 else sys.float_info.max) for a, b in zip(numerators, denominators)]


class Instruments:
    """The instruments of src/train/instruments.rs: at step 0 and after each checkpoint's
    update, loss and error on the first `samples` training and test samples (running
    statistics) and, per hidden weight layer, ‖∂L/∂W_l‖ of the step, ‖ΔW_l‖ ÷ ‖W_l‖ of its
    update and ‖W_l − W_l(0)‖ ÷ ‖W_l(0)‖."""

    def __init__(self, net, samples, train, test, chunk):
        self.samples, self.train, self.test, self.chunk = samples, train, test, chunk
        self.initial = [w.detach().clone() for w in hidden_weights(net)]
        self.initial_norms = [float(w.double().norm()) for w in self.initial]
        self.before_update = self.initial
        point = self.fit(net, 0)
        point.update(weight_grad_norms=[], update_ratios=[], distance_from_init=[0.0] * len(self.initial))
        self.points = [point]

    def before_step(self, net):
        self.before_update = [w.detach().clone() for w in hidden_weights(net)]

    def checkpoint(self, net, step):
        weights = hidden_weights(net)
        norms = [float(w.double().norm()) for w in weights]
        point = self.fit(net, step)
        point.update(
            weight_grad_norms=[float(w.grad.double().norm()) for w in weights],
            update_ratios=ratios([float((w - b).double().norm()) for w, b in zip(weights, self.before_update)], norms),
            distance_from_init=ratios(
                [float((w - w0).double().norm()) for w, w0 in zip(weights, self.initial)], self.initial_norms
            ),
        )
        self.points.append(point)

    def fit(self, net, step):
        with torch.no_grad():
            train_loss, train_acc = evaluate(net, self.train, self.chunk, self.samples)
            test_loss, test_acc = evaluate(net, self.test, self.chunk, self.samples)
        return {
            "step": step,
            "train_loss": train_loss if math.isfinite(train_loss) else None,
            "train_error": None if train_acc is None else 1.0 - train_acc,
            "test_loss": test_loss if math.isfinite(test_loss) else None,
            "test_error": None if test_acc is None else 1.0 - test_acc,
        }


def train_run(run, export):
    """One run, returning its RunRecord as a dict."""
    config, model = run.config, run.config["model"]
    if run.is_conv() and run.image_shape is None:
        raise ExportError(f"{run.dir / 'run.json'}: a conv run without `image_shape`")
    schedule = config.get("lr_schedule")
    started = time.perf_counter()
    init_gen = torch.Generator().manual_seed(config["seed"] * 2 + INIT_STREAM)
    shuffle_gen = torch.Generator().manual_seed(config["seed"] * 2 + SHUFFLE_STREAM)
    net = build_net(run, init_gen)
    net.train()
    optimizer = make_optimizer(net.parameters(), config["optimizer"])
    train, test = Data(run, export.train), Data(run, export.test)
    inputs, targets = train.inputs, train.targets
    batch, steps = config["batch_size"], config["steps"]
    order = BatchOrder(len(train), batch, shuffle_gen)
    probe_rows = order.next_batch()
    order.position = 0
    probe_init = probe(net, inputs[probe_rows], targets[probe_rows]) or {}

    checkpoints = checkpoint_steps(steps, config["checkpoints"])
    loss_curve, interval, diverged_at = [], [], None
    first_tail_step, tail_train_losses, aside_seconds = tail_start(steps), [], 0.0
    samples = config.get("probes", {}).get("instrument_samples", 0)
    instruments = Instruments(net, samples, train, test, batch) if samples > 0 else None
    train_started = time.perf_counter()
    for step in range(1, steps + 1):
        if instruments is not None and step in checkpoints:
            aside = time.perf_counter()
            instruments.before_step(net)
            aside_seconds += time.perf_counter() - aside
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
            aside = time.perf_counter()
            if instruments is not None:
                instruments.checkpoint(net, step)
            if step >= first_tail_step:
                tail_loss, _ = evaluate(net, train, batch)
                tail_train_losses.append({"step": step, "loss": tail_loss if math.isfinite(tail_loss) else None})
            aside_seconds += time.perf_counter() - aside
    train_seconds = time.perf_counter() - train_started - aside_seconds
    steps_done = steps if diverged_at is None else diverged_at - 1

    record = {"final_train_loss": None, "final_train_accuracy": None, "test_loss": None, "test_accuracy": None}
    probe_final = {}
    if diverged_at is None:
        train_loss, train_acc = evaluate(net, train, batch)
        test_loss, test_acc = evaluate(net, test, batch)
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
        **({"family": "conv"} if run.is_conv() else {}),
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
        **({"instruments": instruments.points, "instrument_samples": samples} if instruments is not None else {}),
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
