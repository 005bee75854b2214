"""Whole-model loading: ``nn.models.load_model(path)`` rebuilds a model that ``model.save``
wrote (the file format is described in ``nnscratch.saving.model_file``)."""
from __future__ import annotations

from nnscratch import losses, optimizers
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


def load_model(filepath, compile=True):
    """Rebuild a model saved with ``model.save``: compiled (if it was) and with its optimizer
    state, so ``fit`` continues where it stopped."""
    path = model_file.check_path(filepath, "load_model")
    config, arrays = model_file.read_model_file(path)
    model = model_from_config(config["model"])
    comp = config.get("compile")
    if compile and comp is not None:
        model.compile(optimizer=optimizers.deserialize(comp["optimizer"]), loss=losses.deserialize(comp["loss"]),
                      metrics=comp["metrics"])
    else:
        arrays = {k: v for k, v in arrays.items() if not k.startswith("optimizer/")}
    npz.apply_arrays(model, arrays, source=path)
    return model
