"""Weights files: ``.npz`` archives holding every layer's weights and the optimizer state.

Layout of the archive (Keras-like, matched by position, not by layer name, as Keras does):

    layers/<i>/<class>/<j>            weight j (Keras order) of layer i
    optimizer/iterations              int64 scalar
    optimizer/slots/<i>/<slot>        slot of the i-th trainable parameter (model.parameters() order)
    __meta__                          JSON: format version, layer names, optimizer class

Writes are atomic: the archive goes to a temporary file in the same directory, is flushed
and fsynced, then renamed over the target, so an interrupted save leaves the old file whole.
Loads read and validate everything before touching the model, so a failed load changes nothing.
"""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from nnscratch import backend
from nnscratch.saving.atomic import atomic_write_bytes

FORMAT = "nnscratch-weights-v1"


def weights_to_arrays(model, include_optimizer=True):
    arrays = {}
    for i, layer in enumerate(model.layers):
        cls = type(layer).__name__
        for j, w in enumerate(layer.weights):
            arrays[f"layers/{i}/{cls}/{j}"] = backend.to_host(w)
    meta = {"format": FORMAT, "layers": [l.name for l in model.layers], "floatx": backend.floatx()}
    opt = getattr(model, "optimizer", None)
    if include_optimizer and opt is not None and opt.state:
        st = opt.get_state()
        arrays["optimizer/iterations"] = np.asarray(st["iterations"], dtype=np.int64)
        # slots are stored by parameter position, not by name: names are per-process counters
        for i, (key, _, _) in enumerate(model.parameters()):
            for slot, a in st["slots"].get(key, {}).items():
                arrays[f"optimizer/slots/{i}/{slot}"] = a
        meta["optimizer"] = type(opt).__name__
    arrays["__meta__"] = np.asarray(json.dumps(meta))
    return arrays


def arrays_to_bytes(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_npz(model, path):
    """Write ``model``'s weights and optimizer state to the .npz ``path`` (atomically)."""
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights")
    atomic_write_bytes(path, arrays_to_bytes(weights_to_arrays(model)))


def read_arrays(path):
    """Read every array of an .npz into memory; a clear ValueError for a corrupt file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        raise ValueError(f"cannot read weights file {path}: it is truncated or corrupt ({exc})") from None


def load_npz(model, path):
    """Read the .npz ``path`` and assign it to ``model``; a failed load changes nothing."""
    arrays = read_arrays(path)
    apply_arrays(model, arrays, source=path)


def apply_arrays(model, arrays, source="<arrays>"):
    """Validate ``arrays`` against the model, then assign weights and optimizer state."""
    if "__meta__" not in arrays or json.loads(str(arrays["__meta__"])).get("format") != FORMAT:
        raise ValueError(f"{source} is not an nnscratch weights file (no '{FORMAT}' metadata)")
    if not model.built:
        raise ValueError(f"load_weights: build model '{model.name}' first (give it an input shape) so its weights exist")
    plan = []
    n_file_layers = len({k.split("/")[1] for k in arrays if k.startswith("layers/")})
    layers_with_weights = [l for l in model.layers if l.weights]
    if n_file_layers != len(layers_with_weights):
        raise ValueError(
            f"{source}: the file holds weights for {n_file_layers} layers but model '{model.name}' has "
            f"{len(layers_with_weights)} layers with weights; the architectures differ"
        )
    for i, layer in enumerate(model.layers):
        cls = type(layer).__name__
        for j, w in enumerate(layer.weights):
            key = f"layers/{i}/{cls}/{j}"
            if key not in arrays:
                raise ValueError(f"{source}: no weight {key!r} for layer '{layer.name}' ({cls}); the architectures differ")
            if arrays[key].shape != tuple(w.shape):
                raise ValueError(
                    f"{source}: layer '{layer.name}' ({cls}) weight {j} has shape {tuple(w.shape)} in the model "
                    f"but {arrays[key].shape} in the file"
                )
            plan.append((w, arrays[key]))
    opt_state = None
    opt = getattr(model, "optimizer", None)
    if opt is not None and "optimizer/iterations" in arrays:
        keys = [k for k, _, _ in model.parameters()]
        params = {k: p for k, p, _ in model.parameters()}
        slots = {}
        for k, a in arrays.items():
            if k.startswith("optimizer/slots/"):
                rest = k[len("optimizer/slots/"):]
                index, slot = rest.rsplit("/", 1)
                if not index.isdigit() or int(index) >= len(keys):
                    raise ValueError(f"{source}: optimizer state for parameter {index!r}, but the model has {len(keys)}")
                key = keys[int(index)]
                if a.shape != tuple(params[key].shape):
                    raise ValueError(f"{source}: optimizer slot {k!r} has shape {a.shape}, parameter has {tuple(params[key].shape)}")
                slots.setdefault(key, {})[slot] = a
        opt_state = {"iterations": int(arrays["optimizer/iterations"]), "slots": slots}
    for target, value in plan:  # everything validated: now write
        target[...] = backend.to_device(value, dtype=target.dtype)
    if opt_state is not None:
        opt.set_state(opt_state, like={k: p for k, p, _ in model.parameters()})
