"""Utilities with Keras's names: to_categorical, set_random_seed, load_img, img_to_array, PyDataset, normalize."""
from __future__ import annotations

import random

import numpy as np

from nnscratch import backend
from nnscratch import data
from nnscratch.layers.base import as_int, positive_int
from nnscratch.models.py_dataset import PyDataset  # noqa: F401 (nn.utils.PyDataset, Keras's path)


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels: (N,) -> (N, num_classes) (Keras's semantics: a trailing
    axis of size 1 is dropped first; num_classes defaults to max(y) + 1)."""
    y = np.asarray(backend.to_host(y))
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError("to_categorical: labels must be integers, received non-integer floats")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, received dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, received minimum {int(y.min())}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    else:
        num_classes = positive_int(num_classes, "to_categorical: num_classes", floats=False)  # NumPy ints too
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {int(y.max())} is out of range for num_classes={num_classes}")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def set_random_seed(seed):
    """Seed every random source nnscratch uses (weights, dropout masks, shuffling) and Python's
    ``random``, so that a run is bit-for-bit reproducible."""
    if as_int(seed, floats=False) is None:  # NumPy integers too; not 3.0 (Keras refuses it)
        raise TypeError(f"set_random_seed: seed must be an int, received {seed!r}")
    seed = as_int(seed)
    random.seed(seed)
    backend.set_seed(seed)


def load_img(*args, **kwargs):
    """Load an image file with Pillow (Keras's ``load_img``); see ``nnscratch.data.load_img``."""
    return data.load_img(*args, **kwargs)


def img_to_array(*args, **kwargs):
    """A PIL image as a float array (H, W, C); see ``nnscratch.data.img_to_array``."""
    return data.img_to_array(*args, **kwargs)


def normalize(x, axis=-1, order=2):
    """x divided by its L-``order`` norm along ``axis`` (Keras's ``utils.normalize``; zero
    vectors stay zero)."""
    host = np.asarray(backend.to_host(x))
    if host.dtype.kind != "f":
        host = host.astype(backend.floatx())
    norm = np.linalg.norm(host, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return host / norm
