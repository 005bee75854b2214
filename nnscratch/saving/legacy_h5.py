"""Keras's legacy HDF5 model file (``model.save("x.h5")``), as Keras 3 writes and reads it.

Layout (``keras.src.legacy.saving.legacy_h5_format``)::

    attrs: backend, keras_version, model_config (JSON: {"class_name", "config"}; the layer
           entries without "module"/"registered_name"), training_config (JSON: compile
           settings with "optimizer_config")
    model_weights            attrs layer_names (Keras's model.layers order), backend, keras_version
    model_weights/<layer>    attrs weight_names ['<model>/<layer>/kernel', ...]; the datasets at
                             those paths inside the group
    optimizer_weights        attrs weight_names; datasets = optimizer.variables in order

Keras matches the layers that have weights by position, and so does ``read_h5``. A long name
list is split by Keras into attributes ``weight_names0``, ``weight_names1``, ...; both are read.
"""
from __future__ import annotations

import json
import warnings

import numpy as np

from nnscratch import backend
from nnscratch.saving import bounded, keras_file, keras_layout
from nnscratch.saving.bounded import fail

WARNING = ("You are saving your model as an HDF5 file via `model.save()` or `keras.saving.save_model(model)`. "
           "This file format is considered legacy. We recommend using instead the native Keras format, e.g. "
           "`model.save('my_model.keras')` or `keras.saving.save_model(model, 'my_model.keras')`. ")


def _legacy(config):
    """Keras's legacy form of a model config: layer entries keep class_name/config (and the
    functional name/inbound_nodes) only."""
    out = {"class_name": config["class_name"], "config": dict(config["config"])}
    out["config"]["layers"] = [{k: v for k, v in l.items() if k in ("class_name", "config", "name", "inbound_nodes")}
                               for l in config["config"]["layers"]]
    return out


def write_h5(model, path):
    """Write ``model`` to the HDF5 file ``path`` (a temporary path: the caller renames it)."""
    import h5py
    warnings.warn(WARNING, UserWarning, stacklevel=4)
    config = _legacy(keras_file.model_config(model))
    layers = keras_layout.keras_layers(model)
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = keras_file.KERAS_VERSION
        f.attrs["model_config"] = json.dumps(config)
        comp = keras_file.compile_config(model)
        if comp is not None:
            opt = comp.pop("optimizer")
            comp["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
            f.attrs["training_config"] = json.dumps(comp)
        mw = f.create_group("model_weights")
        mw.attrs["backend"] = "tensorflow"
        mw.attrs["keras_version"] = keras_file.KERAS_VERSION
        mw.attrs["layer_names"] = np.array([l.name.encode("utf8") for l in layers], dtype="S")
        for layer in layers:
            g = mw.create_group(layer.name)
            names = [f"{model.name}/{layer.name}/{n}" for n in layer.weight_names]
            g.attrs["weight_names"] = np.array([n.encode("utf8") for n in names], dtype="S")
            for n, w in zip(names, layer.weights):
                g.create_dataset(n, data=backend.to_host(w))
        top = mw.create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.array([], dtype="S")
        if model.compiled and model.optimizer is not None:
            og = f.create_group("optimizer_weights")
            variables = keras_layout.optimizer_variables(model, model.optimizer)
            names = [f"{model.optimizer.name}/{n}" for n, _ in variables]
            og.attrs["weight_names"] = np.array([n.encode("utf8") for n in names], dtype="S")
            for n, (_, a) in zip(names, variables):
                og.create_dataset(n, data=a)


def _names(obj, attr, path):
    """A list-of-strings attribute, possibly chunked by Keras as attr0, attr1, ..."""
    try:
        attrs = obj.attrs
        if attr in attrs:
            values = [attrs[attr]]
        else:
            values, i = [], 0
            while f"{attr}{i}" in attrs and i < 10000:
                values.append(attrs[f"{attr}{i}"])
                i += 1
    except bounded._H5_ERRORS as exc:
        raise fail(path, f"cannot read attribute {attr!r} of {obj.name!r} ({exc})") from None
    out = []
    for v in values:
        v = np.asarray(v)
        if v.dtype.kind not in "SUO" and v.size:
            raise fail(path, f"attribute {attr!r} of {obj.name!r} must hold strings")
        for item in v.reshape(-1):
            if isinstance(item, bytes):
                try:
                    item = item.decode("utf8")
                except UnicodeDecodeError:
                    raise fail(path, f"attribute {attr!r} of {obj.name!r} is not valid UTF-8") from None
            if not isinstance(item, str):
                raise fail(path, f"attribute {attr!r} of {obj.name!r} must hold strings")
            out.append(item)
    return out


def read_h5_configs(f, path):
    """(model config, training config or None) of an open legacy file."""
    text = bounded.h5_attr_text(f, "model_config", path)
    config = bounded.parse_json(text, path, "the model_config attribute")
    if not isinstance(config, dict):
        raise fail(path, "the model_config attribute must hold a JSON object")
    training = bounded.h5_attr_text(f, "training_config", path, required=False)
    if training is not None:
        training = bounded.parse_json(training, path, "the training_config attribute")
        if not isinstance(training, dict):
            raise fail(path, "the training_config attribute must hold a JSON object")
    return config, training


def read_h5_weights(model, f, path, with_optimizer):
    """[(layer, arrays)] and the optimizer plan from an open legacy file; nothing assigned."""
    mw = bounded.h5_child(f, "model_weights", path)
    if mw is None:
        raise fail(path, "has no 'model_weights' group")
    file_layers = [n for n in _names(mw, "layer_names", path)]
    with_weights = []
    for n in file_layers:
        g = bounded.h5_child(mw, n, path)
        if g is None:
            raise fail(path, f"layer_names lists {n!r} but there is no group 'model_weights/{n}'")
        names = _names(g, "weight_names", path)
        if names:
            with_weights.append((n, g, names))
    layers = [l for l in keras_layout.keras_layers(model) if l.weights]
    if len(with_weights) != len(layers):
        raise fail(path, f"the file holds weights for {len(with_weights)} layers, model '{model.name}' has "
                         f"{len(layers)} layers with weights; the architectures differ")
    plan = []
    for layer, (n, g, names) in zip(layers, with_weights):
        if len(names) != len(layer.weights):
            raise fail(path, f"layer '{layer.name}' has {len(layer.weights)} weights, the file's '{n}' {len(names)}")
        arrays = []
        for wname, w in zip(names, layer.weights):
            parent, key = _walk(g, wname, path)
            arrays.append(bounded.h5_array(parent, key, path, tuple(w.shape)))
        plan.append((layer, arrays))
    opt_plan = None
    og = bounded.h5_child(f, "optimizer_weights", path) if with_optimizer else None
    if og is not None:
        names = _names(og, "weight_names", path)
        expected = keras_layout.expected_optimizer_shapes(model, model.optimizer)
        n_fixed = 1 + (model.optimizer.schedule is None)
        if len(names) != len(expected) and not (len(names) <= n_fixed < len(expected)):
            raise fail(path, f"the optimizer has {len(expected)} variables for this model, the file {len(names)}")
        if len(names) == len(expected):
            arrays = []
            for wname, (_, shape) in zip(names, expected):
                parent, key = _walk(og, wname, path)
                arrays.append(bounded.h5_array(parent, key, path, shape))
            opt_plan = keras_layout.optimizer_plan(model, model.optimizer, arrays, path)
    return plan, opt_plan


def _walk(group, name, path):
    """(parent group, last key) of the slash path ``name`` under ``group``, every hop checked."""
    parts = [p for p in name.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise fail(path, f"invalid weight name {name!r}")
    for p in parts[:-1]:
        nxt = bounded.h5_child(group, p, path)
        if nxt is None:
            raise fail(path, f"no group {p!r} for weight {name!r} under {group.name!r}")
        group = nxt
    return group, parts[-1]
