"""Whole-model loading: ``nn.models.load_model(path)`` rebuilds a model from a Keras 3 ``.keras``
file, a legacy Keras ``.h5`` file, or nnscratch's own older model zip (see
``nnscratch.saving.model_file``). The whole config is validated (unknown layer classes and
custom objects refused by name) before a model is built, and every weight is checked before
any is assigned. Nothing in a file is ever executed."""
from __future__ import annotations

import json

import os

from nnscratch import initializers, layers as layers_mod, losses, optimizers
from nnscratch.layers.input_layer import Input
from nnscratch.models.functional import Model
from nnscratch.models.sequential import Sequential
from nnscratch.saving import bounded, keras_config, keras_file, legacy_h5, model_file, npz

_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError)


def model_from_config(model_config):
    """A new (uncompiled) model from nnscratch's own ``{"class_name", "config"}``."""
    classes = {"Sequential": Sequential, "Model": Model}
    name = model_config.get("class_name")
    if name not in classes:
        raise ValueError(f"load_model: unknown model class {name!r}; expected one of {sorted(classes)}")
    return classes[name].from_config(model_config["config"])


def build_from_spec(spec, path):
    """The model a validated Keras spec (``keras_file.spec_from_config``) describes."""
    try:
        if spec["kind"] == "sequential":
            name, shape, batch = spec["inputs"][0]
            model = Sequential(name=spec["name"])
            model.add(Input(shape, batch_size=batch))
            for layer in spec["layers"]:
                model.add(layer)
            return model
        tensors = {n: Input(shape=s, batch_size=b, name=n) for n, s, b in spec["inputs"]}
        for layer, names, multi in spec["layers"]:
            args = [tensors[n] for n in names]
            tensors[layer.name] = layer(args if multi else args[0])
        ins = [tensors[n] for n in spec["input_names"]]
        outs = [tensors[n] for n in spec["output_names"]]
        return Model(ins if spec["multi_in"] else ins[0], outs if spec["multi_out"] else outs[0], name=spec["name"])
    except _ERRORS as exc:
        raise bounded.fail(path, f"the architecture cannot be built: {exc}") from None


def _compile(model, comp, path, key="optimizer"):
    opt, loss, metrics = keras_config.compile_from_keras(comp, path, key)
    try:
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
    except _ERRORS as exc:
        raise bounded.fail(path, f"the compile settings are not accepted: {exc}") from None


def _load_keras(path, compile):
    config, weights = keras_file.read_archive(path)
    spec = keras_file.spec_from_config(config, path)
    keras_file.check_weights_fit(spec, weights.size, path)
    comp = config.get("compile_config")
    model = build_from_spec(spec, path)
    if compile and comp:  # Keras writes {} for an uncompiled model
        _compile(model, comp, path)
    data = weights(keras_file.weights_budget(model))
    plan, opt_plan = keras_file.read_weights_h5(model, data, path, with_optimizer=model.compiled)
    keras_file.apply(model, plan, opt_plan)
    return model


def _load_h5(path, compile):
    with bounded.h5_open(path) as f:
        config, training = legacy_h5.read_h5_configs(f, path)
        spec = keras_file.spec_from_config(config, path)
        keras_file.check_weights_fit(spec, os.path.getsize(path), path)
        model = build_from_spec(spec, path)
        if compile and training is not None:
            _compile(model, training, path, key="optimizer_config")
        plan, opt_plan = legacy_h5.read_h5_weights(model, f, path, with_optimizer=model.compiled)
    keras_file.apply(model, plan, opt_plan)
    return model


def _own_spec(model_config):
    """nnscratch's own model config as a spec for ``keras_file.check_weights_fit`` (layers
    created, not built)."""
    cfg = model_config["config"]
    if model_config.get("class_name") == "Sequential":
        layers = [layers_mod.deserialize(lc) for lc in cfg["layers"]]
        shape = cfg.get("input_shape") or layers[0].get_config().get("input_shape")
        return {"kind": "sequential", "inputs": [("input", tuple(shape), None)], "layers": layers}
    inputs, nodes = [], []
    for node in cfg["layers"]:
        if node["class_name"] == "InputLayer":
            inputs.append((node["config"]["name"], tuple(node["config"]["shape"]), None))
        else:
            nodes.append((layers_mod.deserialize(node), list(node["inbound"]), bool(node.get("multi_input"))))
    return {"kind": "functional", "inputs": inputs, "layers": nodes}


def _load_own(path, compile):
    config, weights = model_file.read_model_file(path)
    try:
        if "nodes" not in config["model"].get("config", {}):  # the flat layouts: checked before building
            keras_file.check_weights_fit(_own_spec(config["model"]), weights.size, path)
        # any layout (nested models, shared layers): no parameter beyond what the file holds is made
        with initializers.weight_budget(2 * weights.size // 4 + 2 ** 16, os.fspath(path)):
            model = model_from_config(config["model"])
        comp = config.get("compile")
        if compile and comp is not None:
            model.compile(optimizer=optimizers.deserialize(comp["optimizer"]), loss=losses.deserialize(comp["loss"]),
                          metrics=comp["metrics"])
    except bounded.FileFormatError:
        raise
    except _ERRORS as exc:
        raise bounded.fail(path, f"config.json describes no model nnscratch can build ({type(exc).__name__}: {exc})") from None
    budget = 5 * sum(int(w.size) * 8 for w in model.weights) + 2**20
    arrays = npz.read_arrays(path, model=model, data=weights(budget))
    if not (compile and config.get("compile") is not None):
        arrays = {k: v for k, v in arrays.items() if not k.startswith("optimizer/")}
    npz.apply_arrays(model, arrays, source=path)
    return model


def model_from_json(json_string, custom_objects=None):
    """A new (uncompiled) model from ``model.to_json()`` (Keras's {"class_name", "config"} JSON)."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_from_json: not valid JSON ({exc})") from None
    return model_from_config(config)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialised weights (Keras's
    clone_model: the weights are not copied; call ``set_weights`` for that)."""
    if input_tensors is not None or clone_function is not None:
        raise ValueError("clone_model: input_tensors and clone_function are not supported")
    return model_from_config({"class_name": model_file.model_to_config(model)["model"]["class_name"],
                              "config": model.get_config()})


def load_model(filepath, compile=True, custom_objects=None, safe_mode=True):
    """Rebuild a model saved with ``model.save`` or by Keras (``.keras``, ``.h5``): compiled (if
    it was) and with its optimizer state, so ``fit`` continues where it stopped.
    ``custom_objects`` are not supported (nnscratch never runs code from a file)."""
    path = model_file.check_path(filepath, "load_model")
    if custom_objects:
        raise ValueError("load_model: custom_objects are not supported; nnscratch loads built-in layers only")
    kind = model_file.detect(path)
    if kind == "keras":
        return _load_keras(path, compile)
    if kind == "h5":
        return _load_h5(path, compile)
    return _load_own(path, compile)
