"""Shared figure helpers: a pyplot-free Figure, the drawn data on ``fig.nn_data``, atomic PNGs."""
from __future__ import annotations

import io
import math
import os

import numpy as np

from nnscratch import backend

from nnscratch.saving.atomic import atomic_write_bytes

WRONG_COLOR = "tab:red"
RIGHT_COLOR = "tab:green"


# ----------------------------------------------------------------------------- helpers
def _new_figure(width, height):
    """A pyplot-free Figure (matplotlib is imported here, only when a plot is asked for)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig, data, path):
    """Attach the drawn data and, if ``path`` is given, write the PNG atomically."""
    fig.nn_data = data
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path, dpi=100):
    """Write ``fig`` as a PNG to ``path`` atomically (nnscratch.saving.atomic_write_bytes)."""
    path = os.fspath(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    try:
        atomic_write_bytes(path, buf.getvalue(), make_dirs=False)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"cannot write plot {path!r}: {exc}") from None
    return path


def _grid(n):
    """(rows, cols) of a near-square grid holding n tiles."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def _labels(y, name):
    """Integer class labels from labels (N,), (N, 1) or scores/one-hot (N, C) -> argmax."""
    y = backend.to_host(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1)
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f"{name} must hold integer class labels or (N, C) scores; got non-integers")
    return y.astype(np.int64)


def _blank(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- learning curves
