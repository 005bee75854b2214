"""Whole-model files: architecture + weights + optimizer state + compile settings in one zip.

``model.save("net.keras")`` (or ``"net.nnscratch"``) writes a zip archive with two members:

    config.json     {"format": "nnscratch-model-v1",
                     "model": {"class_name": "Sequential" | "Model", "config": model.get_config()},
                     "compile": {"optimizer": {"class_name", "config"}, "loss": {"class_name", "config"},
                                 "metrics": ["accuracy", ...]} or null}
    weights.npz     the same arrays as ``model.save_weights`` (every layer's weights in Keras order,
                    then the optimizer's iterations and slots), see nnscratch.saving

``nn.models.load_model(path)`` rebuilds the model from its config (layer names included, so the
optimizer slots, keyed 'layer/param', find their parameters), compiles it with the saved optimizer
(its config, iteration count and slots) and loss, and loads the weights: training continues
exactly where it stopped. The name ``.keras`` is Keras's extension, but the content is
nnscratch's own format (Keras cannot read it, and we do not read Keras's).
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
import zipfile

from nnscratch import losses, metrics as metrics_mod, optimizers
from nnscratch.saving import npz
from nnscratch.saving.atomic import atomic_write_bytes

FORMAT = "nnscratch-model-v1"
EXTENSIONS = (".keras", ".nnscratch")


def check_path(path, what):
    path = os.fspath(path)
    if not path.endswith(EXTENSIONS):
        raise ValueError(f"{what}: the file name must end in '.keras' or '.nnscratch', received {path!r}"
                         " (use save_weights for a '.npz' weights file)")
    return path


def _metric_entry(m):
    """A compiled metric as JSON: its string, its class and config (nn.metrics classes), or the
    name of an nn.metrics function; None for a user's function (it cannot be saved by name)."""
    if isinstance(m, str):
        return m
    if isinstance(m, metrics_mod.Metric) and type(m).__name__ in metrics_mod.__all__:
        return metrics_mod.serialize(m)
    name = getattr(m, "__name__", None)
    if name in metrics_mod.__all__ and getattr(metrics_mod, name) is m:
        return name
    return None


def model_to_config(model):
    """The JSON-safe description of ``model``: architecture and compile settings."""
    compile_cfg = None
    if model.compiled:
        metrics = [_metric_entry(m) for m in model._metric_specs]
        metrics = [m for m in metrics if m is not None]
        if len(metrics) != len(model._metric_specs):
            warnings.warn("model.save: metric functions cannot be saved by name; they are left out of the file",
                          stacklevel=3)
        compile_cfg = {"optimizer": optimizers.serialize(model.optimizer), "loss": losses.serialize(model.loss),
                       "metrics": metrics}
    cls = "Sequential" if type(model).__name__ == "Sequential" else "Model"
    return {"format": FORMAT, "model": {"class_name": cls, "config": model.get_config()}, "compile": compile_cfg}


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to ``filepath`` atomically (see the module docstring)."""
    path = check_path(filepath, "model.save")
    if not model.built:
        raise ValueError(f"model.save: model '{model.name}' is not built yet (give it an input shape or call it once)")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"model.save: {path} exists and overwrite=False")
    config = json.dumps(model_to_config(model), indent=1)
    weights = npz.arrays_to_bytes(npz.weights_to_arrays(model, include_optimizer=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("config.json", config)
        zf.writestr("weights.npz", weights)
    atomic_write_bytes(path, buf.getvalue())


def read_model_file(path):
    """(config dict, weight arrays) from a model file; a clear ValueError for a bad one."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: file not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {"config.json", "weights.npz"} <= names:
                raise ValueError(f"load_model: {path} is not an nnscratch model file (members found: {sorted(names)})")
            config = json.loads(zf.read("config.json").decode("utf-8"))
            weights = zf.read("weights.npz")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"load_model: {path} is truncated or not a zip archive ({exc})") from None
    if config.get("format") != FORMAT:
        raise ValueError(f"load_model: {path} has format {config.get('format')!r}, expected {FORMAT!r}")
    # the weights member is an ordinary .npz: read it with the weights-file reader (numpy stays
    # out of this engine module, and a corrupt member gets the same clear error)
    with tempfile.TemporaryDirectory() as tmp:
        member = os.path.join(tmp, "weights.npz")
        with open(member, "wb") as f:
            f.write(weights)
        try:
            arrays = npz.read_arrays(member)
        except ValueError as exc:
            raise ValueError(f"load_model: the weights inside {path} are corrupt ({exc})") from None
    return config, arrays
