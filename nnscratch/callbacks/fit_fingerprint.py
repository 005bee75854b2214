"""What a training checkpoint depends on, in a few JSON-able values: the number of samples, the
batch size, a hash of the data and the model's architecture (BackupAndRestore records it, and
refuses to resume a run whose fingerprint differs).

The data hash is cheap: at most ``SAMPLE_ROWS`` rows taken at even strides over the training
arrays (x and y), plus their shapes, hashed with SHA-256 once per ``fit`` on a host copy of those
rows only. It tells "the same arrays" from "other arrays" (another N, another order, other
labels); a change confined to rows between the strides goes unseen.
"""
from __future__ import annotations

import hashlib

import numpy as np

from nnscratch import backend

SAMPLE_ROWS = 256


def _hash_rows(arrays):
    """SHA-256 (hex, 16 digits) of the shapes and of evenly strided rows of ``arrays``."""
    digest = hashlib.sha256()
    for a in arrays:
        n = a.shape[0]
        rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ROWS)).astype(np.int64))
        sample = np.asarray(backend.to_host(a[backend.to_device(rows)]), dtype=np.float64)  # values, not dtype
        digest.update(repr(tuple(a.shape)).encode())
        digest.update(np.ascontiguousarray(sample).tobytes())
    return digest.hexdigest()[:16]


def architecture(model):
    """One line per layer: class and weight shapes, e.g. 'Dense kernel(8, 16) bias(16,)'."""
    lines = []
    for layer in model.layers:
        shapes = " ".join(f"{name}{tuple(w.shape)}" for name, w in zip(layer.weight_names, layer.weights))
        lines.append(f"{type(layer).__name__} {shapes}".strip())
    return lines


def fit_fingerprint(model):
    """The fingerprint of the current ``fit`` (None outside fit): fit stores
    ``model._fit_fingerprint_source = (x, y, batch_size)`` for this."""
    source = getattr(model, "_fit_fingerprint_source", None)
    if source is None:
        return None
    x, y, batch_size = source
    xs = list(x) if isinstance(x, list) else [x]
    return {"samples": int(xs[0].shape[0]), "batch_size": int(batch_size), "x": _hash_rows(xs),
            "y": _hash_rows([y]), "architecture": architecture(model)}


def differences(saved, now):
    """What changed between two fingerprints, in words ([] when nothing did)."""
    out = []
    for key, what in (("samples", "number of samples"), ("batch_size", "batch_size")):
        if saved.get(key) != now.get(key):
            out.append(f"{what}: {saved.get(key)} in the backup, {now.get(key)} now")
    if saved.get("samples") == now.get("samples"):  # another N already says the arrays differ
        for key, what in (("x", "the training inputs (x) differ"), ("y", "the training targets (y) differ")):
            if saved.get(key) != now.get(key):
                out.append(what)
    if saved.get("architecture") != now.get("architecture"):
        out.append("the model's architecture differs: [" + "; ".join(saved.get("architecture") or []) +
                   "] in the backup, [" + "; ".join(now.get("architecture") or []) + "] now")
    return out
