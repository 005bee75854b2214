"""Weights across the Keras border: read and write Keras 3 ``.weights.h5`` files, and copy
weights to and from a live Keras model.

A Keras 3 ``.weights.h5`` file is plain HDF5 (written by ``keras.Model.save_weights``)::

    layers/<group>/vars            attrs {'name': <layer name>}
    layers/<group>/vars/0, 1, ...  the layer's weights, trainable then non-trainable, in order
    vars                           attrs {'name': <model name>}   (the model's own variables: none)
    optimizer/vars/...             only when the optimizer was built (not read or written here)

``<group>`` is NOT the layer's name: it is the snake_case class name made unique in layer order
(``dense``, ``dense_1``, ``conv2d``, ``max_pooling2d``, ...), and layers without weights get an
empty ``vars`` group too. Keras matches by this structure and position, not by layer names, and
so do we. Weight layouts are Keras's own (Dense kernel (in, out), Conv2D kernel
(KH, KW, C_in, C_out)), so no array is transposed, whatever a Conv2D's data_format.

The optimizer state is not transferred: its slot layout is a Keras-internal detail.
"""
from __future__ import annotations

import os

import numpy as np

from nnscratch import backend
from nnscratch.saving import bounded, keras_layout
from nnscratch.saving.atomic import atomic_path

SUFFIX = ".weights.h5"


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise ImportError(f"reading/writing Keras .weights.h5 files needs h5py (pip install h5py): {exc}") from None
    return h5py


def weight_layers(model):
    """The model's layers as Keras orders them (see keras_layout), without the InputLayers."""
    return [layer for layer in keras_layout.keras_layers(model) if type(layer).__name__ != "InputLayer"]


def group_names(model):
    """Keras's group names for ``weight_layers``: snake_case class name, unique in order."""
    return keras_layout.group_names(weight_layers(model))


def _require_built(model, what):
    if not getattr(model, "built", False):
        raise ValueError(f"{what}: build model '{model.name}' first (give it an input shape) so its weights exist")


def _read_plan(model, f, path):
    """[(layer, [arrays])] read from an open h5py file and validated against the model: every
    dataset's shape and dtype are checked before it is read, links are refused."""
    layers_group = bounded.h5_child(f, "layers", path)
    if layers_group is None:
        if bounded.h5_child(f, "model_weights", path) is not None:
            raise ValueError(f"{path}: this is a legacy Keras 2 HDF5 file; save it from Keras 3 with "
                             f"model.save_weights('name{SUFFIX}')")
        raise ValueError(f"{path}: not a Keras 3 weights file (no 'layers' group; expected layers/<name>/vars/<i>)")
    expected = group_names(model)
    layers = weight_layers(model)
    extra = []
    for g in sorted(bounded.h5_keys(layers_group, path)):
        if g not in expected:
            node = bounded.h5_child(layers_group, g, path)
            vg = bounded.h5_child(node, "vars", path)
            if vg is not None and bounded.h5_keys(vg, path):
                extra.append(g)
    if extra:
        raise ValueError(f"{path}: the file holds weights for layer groups {extra} that model '{model.name}' does not "
                         f"have (model groups: {expected}); the architectures differ")
    plan = []
    for layer, group in zip(layers, expected):
        want = layer.weights
        node = bounded.h5_child(layers_group, group, path)
        datasets = bounded.h5_child(node, "vars", path) if node is not None else None
        if datasets is None:
            if want:
                raise ValueError(f"{path}: no group 'layers/{group}/vars' for layer '{layer.name}' "
                                 f"({type(layer).__name__}); the architectures differ")
            continue
        keys = bounded.h5_keys(datasets, path)
        if sorted(keys) != sorted(str(i) for i in range(len(keys))):
            raise ValueError(f"{path}: group 'layers/{group}/vars' must hold datasets named 0, 1, ..., found {keys[:10]}")
        keys = sorted(keys, key=int)  # "10" sorts after "2"
        if len(keys) != len(want):
            raise ValueError(f"{path}: layer '{layer.name}' ({type(layer).__name__}) has {len(want)} weights "
                             f"({', '.join(layer.weight_names) or 'none'}) but the file's group '{group}' holds {len(keys)}")
        arrays = [bounded.h5_array(datasets, key, path, tuple(w.shape)) for key, w in zip(keys, want)]
        plan.append((layer, arrays))
    return plan


def load_keras_weights(model, path):
    """Load a Keras 3 ``.weights.h5`` file into ``model`` (matched by structure and position).
    Everything is read and checked before any weight changes, so a failed load changes nothing."""
    path = os.fspath(path)
    _require_built(model, "load_keras_weights")
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    _h5py()
    with bounded.h5_open(path) as f:
        plan = _read_plan(model, f, path)
    for layer, arrays in plan:
        layer.set_weights(arrays)


def save_keras_weights(model, path):
    """Write ``model``'s weights as a Keras 3 ``.weights.h5`` file that ``keras_model.load_weights``
    reads. The file is written to a temporary name in the same directory, fsynced, then renamed
    over ``path``, so an interrupted save leaves any old file whole."""
    path = os.fspath(path)
    if not path.endswith(SUFFIX):
        raise ValueError(f"save_keras_weights: Keras requires the file name to end in '{SUFFIX}', received {path!r}")
    _require_built(model, "save_keras_weights")
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:  # temp file, fsync, os.replace
        layers_group = f.create_group("layers")
        for layer, group in zip(weight_layers(model), group_names(model)):
            vars_group = layers_group.create_group(group).create_group("vars")
            vars_group.attrs["name"] = layer.name
            for i, w in enumerate(layer.weights):
                vars_group.create_dataset(str(i), data=backend.to_host(w))
        f.create_group("vars").attrs["name"] = model.name


def _pairs(model, keras_model, what):
    ours = weight_layers(model)
    theirs = list(keras_model.layers)
    if len(ours) != len(theirs):
        raise ValueError(f"{what}: model '{model.name}' has {len(ours)} layers, the Keras model {len(theirs)}")
    for a, b in zip(ours, theirs):
        if type(a).__name__ != type(b).__name__:
            raise ValueError(f"{what}: layer '{a.name}' is a {type(a).__name__}, its Keras counterpart '{b.name}' "
                             f"a {type(b).__name__}")
    return list(zip(ours, theirs))


def copy_weights_from_keras(model, keras_model):
    """Copy a live Keras model's weights into the equivalent nnscratch model, layer by layer."""
    _require_built(model, "copy_weights_from_keras")
    pairs = _pairs(model, keras_model, "copy_weights_from_keras")
    values = [[np.asarray(w) for w in k.get_weights()] for _, k in pairs]
    for (ours, _), arrays in zip(pairs, values):  # validate every layer before writing any
        if len(arrays) != len(ours.weights) or any(a.shape != tuple(w.shape) for a, w in zip(arrays, ours.weights)):
            raise ValueError(f"copy_weights_from_keras: layer '{ours.name}' weights "
                             f"{[tuple(w.shape) for w in ours.weights]}, Keras {[a.shape for a in arrays]}")
    for (ours, _), arrays in zip(pairs, values):
        if arrays:
            ours.set_weights(arrays)


def copy_weights_to_keras(model, keras_model):
    """Copy this model's weights into the equivalent live Keras model, layer by layer."""
    _require_built(model, "copy_weights_to_keras")
    for ours, theirs in _pairs(model, keras_model, "copy_weights_to_keras"):
        if ours.weights:
            theirs.set_weights(ours.get_weights())
