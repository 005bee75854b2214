"""The benchmark data: real Fashion-MNIST when a full copy is on this machine, else stand-ins of
the same shapes and dtypes (the timings do not depend on the pixel values much; the report says
which one was used).

Where a full copy is looked for, in order: ``$NNSCRATCH_FASHION_DIR`` or Debian's
``/usr/share/datasets/fashion-mnist``, then wherever ``nnscratch.datasets.fashion_mnist`` finds one
without downloading ($NNSCRATCH_DATA, its cache). Without one, ``fallback`` decides: 'random'
(uniform uint8 images and labels) or 'sample' (the 5,000 real images shipped with nnscratch,
tiled to 60,000 training and 10,000 test images).
"""
from __future__ import annotations

import gzip
import os

import numpy as np

FASHION_DIR = os.environ.get("NNSCRATCH_FASHION_DIR", "/usr/share/datasets/fashion-mnist")
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
FALLBACKS = ("random", "sample")


def _read_idx(path):
    """An IDX file (big-endian header: magic with the rank, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4]!r})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _from_directory(directory):
    if not all(os.path.exists(os.path.join(directory, f)) for f in FILES.values()):
        return None
    raw = {k: _read_idx(os.path.join(directory, f)) for k, f in FILES.items()}
    for k, shape in SHAPES.items():
        if raw[k].shape != shape:
            raise ValueError(f"{directory}/{FILES[k]}: expected shape {shape}, found {raw[k].shape}")
    return raw, f"Fashion-MNIST ({directory})"


def _from_nnscratch(source):
    """nnscratch.datasets.fashion_mnist with downloads off: a full copy, or the shipped sample."""
    from nnscratch.datasets import _sources, fashion_mnist

    previous = os.environ.get("NNSCRATCH_OFFLINE")
    os.environ["NNSCRATCH_OFFLINE"] = "1"
    try:
        (xtr, ytr), (xte, yte), info = fashion_mnist.load_data(source=source, return_info=True)
    except (_sources.DatasetNotFoundError, OSError, ValueError):
        return None
    finally:
        if previous is None:
            os.environ.pop("NNSCRATCH_OFFLINE", None)
        else:
            os.environ["NNSCRATCH_OFFLINE"] = previous
    raw = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    if source == "full":
        return raw, str(info)
    tiled = {k: np.resize(a, SHAPES[k][:1] + a.shape[1:]) for k, a in raw.items()}  # repeats the sample
    return tiled, (f"the Fashion-MNIST sample shipped with nnscratch ({xtr.shape[0]} train, {xte.shape[0]} test "
                   "images) tiled to 60,000 and 10,000 (no full copy found)")


def load(directory=None, seed=0, fallback="random"):
    """{'x_train': float32 (60000, 28, 28) in [0, 1], 'y_train': int64 (60000,), 'x_test', 'y_test'}
    and a one-line description of the source."""
    if fallback not in FALLBACKS:
        raise ValueError(f"benchmark data: fallback must be one of {FALLBACKS}, received {fallback!r}")
    found = _from_directory(directory or FASHION_DIR) or _from_nnscratch("full")
    if found is None and fallback == "sample":
        found = _from_nnscratch("sample")
    if found is None:
        rng = np.random.default_rng(seed)
        raw = {k: rng.integers(0, 256 if k.startswith("x") else 10, size=s, dtype=np.uint8) for k, s in SHAPES.items()}
        found = raw, "random uint8 images and labels of Fashion-MNIST's shapes (no copy of the dataset was found)"
    raw, source = found
    out = {}
    for k, a in raw.items():
        out[k] = (a.astype(np.float32) / np.float32(255.0)) if k.startswith("x") else a.astype(np.int64)
    return out, source


def one_hot(y, classes=10):
    """float32 (N, classes) rows with a 1 at each label (keras.utils.to_categorical)."""
    out = np.zeros((y.shape[0], classes), dtype=np.float32)
    out[np.arange(y.shape[0]), y] = 1.0
    return out
