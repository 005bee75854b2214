"""Whole-model loading: ``nn.models.load_model(path)`` rebuilds a model that ``model.save``
wrote (the file format is described in ``nnscratch.saving.model_file``)."""
from __future__ import annotations

import json

from nnscratch import losses, metrics, optimizers
from nnscratch.models.functional import Model
from nnscratch.models.sequential import Sequential
from nnscratch.saving import model_file, npz


def model_from_config(model_config):
    """A new (uncompiled) model from ``{"class_name", "config"}``."""
    classes = {"Sequential": Sequential, "Model": Model}
    name = model_config.get("class_name")
    if name not in classes:
        raise ValueError(f"load_model: unknown model class {name!r}; expected one of {sorted(classes)}")
    return classes[name].from_config(model_config["config"])


def model_from_json(json_string, custom_objects=None):
    """A new (uncompiled) model from ``model.to_json()`` (Keras's {"class_name", "config"} JSON)."""
    config = json.loads(json_string)
    return model_from_config(config)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialised weights (Keras's
    clone_model: the weights are not copied; call ``set_weights`` for that)."""
    if input_tensors is not None or clone_function is not None:
        raise ValueError("clone_model: input_tensors and clone_function are not supported")
    return model_from_config({"class_name": model_file.model_to_config(model)["model"]["class_name"],
                              "config": model.get_config()})


def load_model(filepath, compile=True):
    """Rebuild a model saved with ``model.save``: compiled (if it was) and with its optimizer
    state, so ``fit`` continues where it stopped."""
    path = model_file.check_path(filepath, "load_model")
    config, arrays = model_file.read_model_file(path)
    model = model_from_config(config["model"])
    comp = config.get("compile")
    if compile and comp is not None:
        model.compile(optimizer=optimizers.deserialize(comp["optimizer"]), loss=losses.deserialize(comp["loss"]),
                      metrics=[metrics.deserialize(m) if isinstance(m, dict) else m for m in comp["metrics"]])
    else:
        arrays = {k: v for k, v in arrays.items() if not k.startswith("optimizer/")}
    npz.apply_arrays(model, arrays, source=path)
    return model
