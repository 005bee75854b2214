"""The benchmark data: real Fashion-MNIST when the Debian package is installed, else random
arrays of the same shapes and dtypes (the timings do not depend on the pixel values much;
the report says which one was used)."""
from __future__ import annotations

import gzip
import os

import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}


def _read_idx(path):
    """An IDX file (big-endian header: magic with the rank, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4]!r})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def source_description(directory=FASHION_DIR):
    if all(os.path.exists(os.path.join(directory, f)) for f in FILES.values()):
        return f"Fashion-MNIST ({directory})"
    return "random uint8 images and labels of Fashion-MNIST's shapes (the dataset was not found)"


def load(directory=FASHION_DIR, seed=0):
    """{'x_train': float32 (60000, 28, 28) in [0, 1], 'y_train': int64 (60000,), 'x_test', 'y_test'}
    and a one-line description of the source."""
    if all(os.path.exists(os.path.join(directory, f)) for f in FILES.values()):
        raw = {k: _read_idx(os.path.join(directory, f)) for k, f in FILES.items()}
        for k, shape in SHAPES.items():
            if raw[k].shape != shape:
                raise ValueError(f"{directory}/{FILES[k]}: expected shape {shape}, found {raw[k].shape}")
    else:
        rng = np.random.default_rng(seed)
        raw = {k: rng.integers(0, 256 if k.startswith("x") else 10, size=s, dtype=np.uint8) for k, s in SHAPES.items()}
    out = {}
    for k, a in raw.items():
        out[k] = (a.astype(np.float32) / np.float32(255.0)) if k.startswith("x") else a.astype(np.int64)
    return out, source_description(directory)
