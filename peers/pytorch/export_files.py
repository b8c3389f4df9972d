"""Reader of the directory the project's `export` binary writes (see src/export/mod.rs):
export.json, the data split as raw little-endian arrays (Fashion-MNIST: a reference to its IDX
files, loaded by fashion_mnist.py and checked against the export's digests), and per run its
run.json, batch order, initial parameters and the Rust side's trajectory. Needs torch, and
numpy for Fashion-MNIST."""
import json
import sys
from pathlib import Path

import torch

FORMAT_VERSION = 2
DTYPES = {"f32": torch.float32, "f64": torch.float64, "u32": torch.int32}


class ExportError(Exception):
    """A missing or inconsistent export file; the message names the file."""


def read_array(path, kind, count=None):
    """A flat little-endian array of `kind` (f32, f64 or u32) as a torch tensor."""
    if sys.byteorder != "little":
        raise ExportError("exports are little-endian; this machine is not")
    try:
        raw = bytearray(Path(path).read_bytes())
    except OSError as e:
        raise ExportError(f"{path}: {e.strerror}") from e
    size = torch.tensor([], dtype=DTYPES[kind]).element_size()
    if len(raw) % size:
        raise ExportError(f"{path}: {len(raw)} bytes is not a whole number of {kind} values")
    values = torch.frombuffer(raw, dtype=DTYPES[kind]) if raw else torch.empty(0, dtype=DTYPES[kind])
    if count is not None and values.numel() != count:
        raise ExportError(f"{path}: {values.numel()} values, expected {count}")
    if kind == "u32":
        # Indices and labels are far below 2^31, so the int32 view is exact.
        values = values.to(torch.int64)
    return values


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise ExportError(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ExportError(f"{path}:{e.lineno}: {e.msg}") from e


class Split:
    """One data split: inputs (samples, input_dim) float32 and targets (int64 classes, or
    float32 (samples, dim) values). `name` is "train" or "test"."""

    def __init__(self, root, files, name):
        n, d = files["samples"], files["input_dim"]
        source = files.get("source")
        if source == "fashion_mnist":
            self._load_fashion_mnist(root, files, name)
            return
        if source != "arrays":
            raise ExportError(f"{root / 'export.json'}: {name}: unknown data source {source!r}")
        self.inputs = read_array(root / files["inputs"], "f32", n * d).reshape(n, d)
        targets = files["targets"]
        if targets["kind"] == "classes":
            self.targets = read_array(root / targets["file"], "u32", n)
            self.num_classes = targets["num_classes"]
        else:
            dim = targets["dim"]
            self.targets = read_array(root / targets["file"], "f32", n * dim).reshape(n, dim)
            self.num_classes = None

    def _load_fashion_mnist(self, root, files, name):
        """The split from the IDX files the export names, checked against its size and digests."""
        import fashion_mnist

        where = f"{root / 'export.json'}: {name}"
        n, d = files["samples"], files["input_dim"]
        try:
            inputs, labels, shape = fashion_mnist.load_set(name, files.get("dir"), n if name == "train" else None)
        except (OSError, fashion_mnist.IdxError) as e:
            raise ExportError(f"{where}: {e}") from e
        if inputs.shape != (n, d) or list(shape) != list(files["image_shape"]):
            raise ExportError(f"{where}: the IDX files give {inputs.shape} images of {shape}, the export has "
                              f"({n}, {d}) of {files['image_shape']}")
        inputs_sha, labels_sha = fashion_mnist.digests(inputs, labels)
        if (inputs_sha, labels_sha) != (files["inputs_sha256"], files["labels_sha256"]):
            raise ExportError(f"{where}: the IDX files' data differ from what the export read "
                              f"(SHA-256 of inputs {inputs_sha}, labels {labels_sha}; the export has "
                              f"{files['inputs_sha256']}, {files['labels_sha256']})")
        self.inputs = torch.from_numpy(inputs)
        self.targets = torch.from_numpy(labels)
        self.num_classes = files["num_classes"]

    def __len__(self):
        return self.inputs.shape[0]

    def targets_as(self, dtype):
        return self.targets if self.num_classes is not None else self.targets.to(dtype)


class Export:
    def __init__(self, root):
        self.root = Path(root)
        self.index = read_json(self.root / "export.json")
        version = self.index.get("format_version")
        if version != FORMAT_VERSION:
            raise ExportError(f"{self.root / 'export.json'}: format_version {version}, expected {FORMAT_VERSION}")
        self.train = Split(self.root, self.index["train"], "train")
        self.test = Split(self.root, self.index["test"], "test")
        self.experiment_text = (self.root / "experiment.toml").read_text()
        # The fingerprint of the machine that exported (a peer run on it shares its machine_id).
        self.machine = read_json(self.root / "machine.json")

    def runs(self):
        for run_id in self.index["runs"]:
            yield Run(self.root / "runs" / run_id)


class Run:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.meta = read_json(self.dir / "run.json")
        self.run_id = self.meta["run_id"]
        self.config = self.meta["config"]
        self.tensors = self.meta["tensors"]
        self.trajectory = self.meta.get("trajectory")
        # Conv runs: BatchNorm2d running statistics (offsets into buffers_step_<k>.bin) and the
        # (C, H, W) image each input row holds.
        self.buffers = self.meta.get("buffers", [])
        self.image_shape = self.meta.get("image_shape")

    def is_conv(self):
        return self.config.get("family", "mlp") == "conv"

    def label(self):
        m, o = self.config["model"], self.config["optimizer"]
        if self.is_conv():
            return f"conv {m['arch']} d{m['depth']} {o['kind']}"
        return f"{m['arch']} d{m['depth']} {m['norm']} {o['kind']}"

    def network_inputs(self, inputs):
        """The split's (samples, input_dim) rows as the network takes them: (samples, C, H, W)
        images for a conv run."""
        return inputs.reshape(inputs.shape[0], *self.image_shape) if self.is_conv() else inputs

    def batches(self):
        t = self.trajectory
        return read_array(self.dir / "batches.u32", "u32", t["steps"] * self.config["batch_size"]).reshape(
            t["steps"], self.config["batch_size"]
        )

    def flat(self, precision, name):
        """A flat parameter-layout array (`params_init`, `grads_step_1`, `params_step_<k>`)."""
        return read_array(self.dir / precision / f"{name}.bin", precision, self.meta["num_params"])

    def losses(self, precision):
        return read_array(self.dir / precision / "losses.bin", "f64")

    def split(self, flat, tensors=None):
        """The named tensors of a flat array: {name: tensor of its shape}; `tensors` is the
        layout (default: the parameters')."""
        layout = self.tensors if tensors is None else tensors
        return {t["name"]: flat[t["offset"] : t["offset"] + _numel(t["shape"])].reshape(t["shape"]) for t in layout}

    def buffers_after(self, precision, step):
        """A conv run's running statistics after `step`: {name: tensor}, or {} when not written."""
        path = self.dir / precision / f"buffers_step_{step}.bin"
        if not self.buffers or not path.exists():
            return {}
        count = sum(_numel(t["shape"]) for t in self.buffers)
        return self.split(read_array(path, precision, count), self.buffers)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n
