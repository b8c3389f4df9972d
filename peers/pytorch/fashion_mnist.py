"""Fashion-MNIST from its four IDX files, read exactly as the Rust loader reads them
(src/data/fashion_mnist.rs, src/data/idx.rs), with numpy alone (no torchvision, nothing
downloaded):

- files `<stem>.gz`, else `<stem>`, in `dir` (default /usr/share/datasets/fashion-mnist, where
  Debian's `dataset-fashion-mnist` puts them); gzip or raw told apart by the gzip magic;
- IDX: a big-endian u32 magic 0x00000803 (images, 3 dimensions) or 0x00000801 (labels), one
  big-endian u32 per dimension, then the bytes; no byte more or less;
- inputs = pixels / 255 as f32 (correctly rounded f32 division, as Rust's `f32 / f32`), one
  image per row, its rows one after another (784 features); labels 0-9;
- the training set is the first `train_samples` images (0 or None: all), the test set all.

An export of a Fashion-MNIST experiment (src/export/mod.rs, `DataSource::FashionMnist`) holds
no arrays, only the directory and the SHA-256 of the inputs (little-endian f32) and labels
(little-endian u32) the Rust loader produced; `export_files.py` loads the split with this
module and checks both digests. Run as a script it prints the digests itself:

  python3 peers/pytorch/fashion_mnist.py [--dir DIR] [--train-samples N]
"""
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
NUM_CLASSES = 10
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
UNSIGNED_BYTES = 0x08
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(Exception):
    """A missing or malformed IDX file; the message names the file."""


def locate(directory, stem):
    """`directory/<stem>.gz`, else `directory/<stem>`."""
    for path in (directory / f"{stem}.gz", directory / stem):
        if path.exists():
            return path
    raise IdxError(
        f"{directory / (stem + '.gz')}: not found (nor `{stem}` beside it). Fashion-MNIST comes with the "
        f"Debian package `dataset-fashion-mnist` (apt-get install -y dataset-fashion-mnist), or set "
        f"`dataset_options.dir` to a directory holding its four files"
    )


def read_idx(path, ndims):
    """(dims, uint8 array of that shape) of the IDX file `path` of unsigned bytes in `ndims` dimensions."""
    raw = Path(path).read_bytes()
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IdxError(f"{path}: not a valid gzip stream (corrupt or cut short): {e}") from e
    header_len = 4 * (1 + ndims)
    if len(raw) < header_len:
        raise IdxError(f"{path}: truncated header: {len(raw)} bytes, expected at least {header_len}")
    magic, *dims = struct.unpack(f">{1 + ndims}I", raw[:header_len])
    expected = UNSIGNED_BYTES << 8 | ndims
    if magic != expected:
        raise IdxError(f"{path}: magic 0x{magic:08x}, expected 0x{expected:08x}")
    if 0 in dims:
        raise IdxError(f"{path}: a dimension of size 0 ({dims})")
    data_len = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header_len != data_len:
        raise IdxError(f"{path}: {len(raw) - header_len} data bytes, the header's {dims} needs {data_len}")
    return dims, np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def load_set(which, directory=None, limit=None):
    """Inputs (n, rows*cols) float32 and labels (n,) int64 of the `which` set ("train" or
    "test"), the first `limit` images when given (None or 0: all), plus the (1, rows, cols)
    image shape."""
    directory = Path(directory) if directory is not None else DEFAULT_DIR
    images_stem, labels_stem = FILES[which]
    images_path, labels_path = locate(directory, images_stem), locate(directory, labels_stem)
    (count, rows, cols), pixels = read_idx(images_path, 3)
    (label_count,), labels = read_idx(labels_path, 1)
    if label_count != count:
        raise IdxError(f"{labels_path}: {label_count} labels, but {images_path} holds {count} images")
    if labels.max() >= NUM_CLASSES:
        raise IdxError(f"{labels_path}: label {labels.max()} out of range ({NUM_CLASSES} classes)")
    if limit:
        if limit > count:
            raise IdxError(f"train_samples = {limit}: more than the {count} images in {images_path}")
        count = limit
    # f32 ÷ f32, each quotient correctly rounded (IEEE), as the Rust loader's `f32::from(p) / 255.0`.
    inputs = pixels[:count].reshape(count, rows * cols).astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(inputs, dtype=np.float32), labels[:count].astype(np.int64), (1, rows, cols)


def sha256_hex(array, dtype):
    """SHA-256 of the array's values as `dtype` (e.g. "<f4", "<u4"), row-major."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=dtype).tobytes()).hexdigest()


def digests(inputs, labels):
    """(inputs_sha256, labels_sha256) as the export writes them: little-endian f32 and u32."""
    return sha256_hex(inputs, "<f4"), sha256_hex(labels, "<u4")


def main():
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Load Fashion-MNIST as the Rust loader does and print digests.")
    ap.add_argument("--dir", type=Path, default=None, help=f"directory of the IDX files (default {DEFAULT_DIR})")
    ap.add_argument("--train-samples", type=int, default=0, help="the first N training images (0: all)")
    args = ap.parse_args()
    for which, limit in (("train", args.train_samples), ("test", None)):
        inputs, labels, shape = load_set(which, args.dir, limit)
        inputs_sha, labels_sha = digests(inputs, labels)
        print(json.dumps({"set": which, "samples": len(inputs), "input_dim": inputs.shape[1], "image_shape": shape,
                          "inputs_sha256": inputs_sha, "labels_sha256": labels_sha}))


if __name__ == "__main__":
    main()
