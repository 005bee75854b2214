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

import numpy as np

from nnscratch import backend
from nnscratch.saving import bounded
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


def expected_shapes(model):
    """{key: shape} of every array ``weights_to_arrays(model)`` can write (slots: any optimizer)."""
    shapes = {}
    for i, layer in enumerate(model.layers):
        for j, w in enumerate(layer.weights):
            shapes[f"layers/{i}/{type(layer).__name__}/{j}"] = tuple(w.shape)
    shapes["optimizer/iterations"] = ()
    return shapes


def _expect_for(model, path):
    """The header check of ``bounded.read_npz`` for a file meant for ``model``."""
    shapes = expected_shapes(model) if model is not None else None
    params = [tuple(p.shape) for _, p, _ in model.parameters()] if model is not None else []
    budget = _generic_budget(path)

    def expect(key):
        if key in TEXT_KEYS:
            return None, bounded.MAX_META_BYTES
        if shapes is None:
            return None, budget
        if key in shapes:
            return shapes[key], None
        if key.startswith("optimizer/slots/"):
            index = key[len("optimizer/slots/"):].split("/", 1)[0]
            if index.isdigit() and int(index) < len(params):
                return params[int(index)], None
            raise bounded.fail(path, f"holds optimizer state {key!r} for a parameter model "
                                     f"'{model.name}' does not have ({len(params)} parameters)")
        if key.startswith("progress/"):
            return None, budget
        raise bounded.fail(path, f"holds an array {key!r} that model '{model.name}' has no place for; "
                                 "the architectures differ")
    return expect


def _generic_budget(path):
    """Without a model to compare with: an array may not exceed 4x the file's size (nnscratch
    writes uncompressed archives, so a real array is never larger than its file)."""
    try:
        return 4 * os.path.getsize(path) + 2**20
    except (OSError, TypeError):
        return 2**20


TEXT_KEYS = ("__meta__", "progress/info")


def read_arrays(path, model=None, data=None):
    """Every array of an .npz (``data``: its bytes), each ``.npy`` header checked before its
    data is read: against ``model``'s shapes when given, else against the file's size. Complex,
    object and oversized arrays are refused with a ValueError naming the file."""
    path = os.fspath(path)
    if data is None and not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    expect = _expect_for(model, path)
    if data is not None:
        budget = 4 * len(data) + 2**20
        base = expect

        def expect(key):  # noqa: F811 - the bytes' own size bounds a model-less read
            shape, max_bytes = base(key)
            return shape, max_bytes if max_bytes is None or key in TEXT_KEYS else min(max_bytes, budget)
    return bounded.read_npz(path, expect, data=data, text_keys=TEXT_KEYS)


def load_npz(model, path):
    """Read the .npz ``path`` and assign it to ``model``; a failed load changes nothing."""
    if not model.built:
        raise ValueError(f"load_weights: build model '{model.name}' first (give it an input shape) so its weights exist")
    arrays = read_arrays(path, model=model)
    apply_arrays(model, arrays, source=path)


def apply_arrays(model, arrays, source="<arrays>"):
    """Validate ``arrays`` against the model, then assign weights and optimizer state."""
    meta = bounded.parse_json(str(arrays["__meta__"]), source, "__meta__") if "__meta__" in arrays else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
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
                index, _, slot = rest.rpartition("/")
                if not index.isdigit() or int(index) >= len(keys):
                    raise ValueError(f"{source}: optimizer state for parameter {index!r}, but the model has {len(keys)}")
                key = keys[int(index)]
                if a.shape != tuple(params[key].shape):
                    raise ValueError(f"{source}: optimizer slot {k!r} has shape {a.shape}, parameter has {tuple(params[key].shape)}")
                slots.setdefault(key, {})[slot] = a
        it = arrays["optimizer/iterations"]
        if it.shape != () or it.dtype.kind not in "iu" or int(it) < 0:
            raise ValueError(f"{source}: optimizer/iterations must be a non-negative integer scalar")
        unknown = {slot for per in slots.values() for slot in per} - set(opt.slot_names)
        if unknown:
            raise ValueError(f"{source}: optimizer state {sorted(unknown)} does not belong to a {type(opt).__name__}"
                             f" (its state: {list(opt.slot_names)}); the file was saved with another optimizer")
        opt_state = {"iterations": int(it), "slots": slots}
    for target, value in plan:  # everything validated: now write
        target[...] = backend.to_device(value, dtype=target.dtype)
    if opt_state is not None:
        opt.set_state(opt_state, like={k: p for k, p, _ in model.parameters()})
