"""Whole-model files: which format a name or a file is, writing each, and nnscratch's old zip.

* ``.keras``: Keras 3's format (``keras_file``), read and written; Keras opens it.
* ``.h5`` / ``.hdf5``: Keras's legacy HDF5 model file (``legacy_h5``), read and written.
* ``.nnscratch`` and ``.keras`` files written by earlier nnscratch versions: nnscratch's own zip
  (below), still read (with a note to re-save), and written for ``.nnscratch`` names::

    config.json     {"format": "nnscratch-model-v1",
                     "model": {"class_name": "Sequential" | "Model", "config": model.get_config()},
                     "compile": {"optimizer": {...}, "loss": {...}, "metrics": [...]} or null}
    weights.npz     the arrays of ``model.save_weights`` (weights, then optimizer state)

``nn.models.load_model`` (nnscratch/models/model_io.py) reads them all.
"""
from __future__ import annotations

import io
import json
import os
import warnings
import zipfile

from nnscratch import losses, optimizers
from nnscratch.saving import bounded, keras_file, keras_metrics, legacy_h5, npz
from nnscratch.saving.atomic import atomic_path, atomic_write_bytes
from nnscratch.saving.bounded import fail

FORMAT = "nnscratch-model-v1"
EXTENSIONS = (".keras", ".nnscratch", ".h5", ".hdf5")
RESAVE_NOTE = ("{path} is in the format of earlier nnscratch versions, which Keras cannot read; "
               "re-save it with model.save('name.keras') to get a Keras 3 file")


def check_path(path, what):
    path = os.fspath(path)
    if path.endswith(".weights.h5") or not path.endswith(EXTENSIONS):
        raise ValueError(f"{what}: the file name must end in '.keras', '.h5' or '.nnscratch', received {path!r}"
                         " (use save_weights/load_weights for '.weights.h5' and '.npz' weights files)")
    return path


def model_to_config(model):
    """nnscratch's own JSON description of ``model`` (the '.nnscratch' format)."""
    compile_cfg = None
    if model.compiled and model.loss is not None:  # no loss, or one per output: not written (loads uncompiled)
        metrics = [e for e in (keras_metrics.metric_to_keras(m) for m in model._metric_specs) if e is not None]
        if len(metrics) != len(model._metric_specs):
            warnings.warn("model.save: metric functions cannot be saved by name; they are left out of the file",
                          stacklevel=3)
        compile_cfg = {"optimizer": optimizers.serialize(model.optimizer), "loss": losses.serialize(model.loss),
                       "metrics": metrics}
    cls = "Sequential" if type(model).__name__ == "Sequential" else "Model"
    return {"format": FORMAT, "model": {"class_name": cls, "config": model.get_config()}, "compile": compile_cfg}


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to ``filepath`` atomically, in the format its extension names."""
    path = check_path(filepath, "model.save")
    if not model.built:
        raise ValueError(f"model.save: model '{model.name}' is not built yet (give it an input shape or call it once)")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"model.save: {path} exists and overwrite=False")
    if path.endswith(".keras"):
        return atomic_write_bytes(path, keras_file.keras_bytes(model))
    if path.endswith((".h5", ".hdf5")):
        with atomic_path(path) as tmp:
            legacy_h5.write_h5(model, tmp)
        return None
    config = json.dumps(model_to_config(model), indent=1)
    weights = npz.arrays_to_bytes(npz.weights_to_arrays(model, include_optimizer=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("config.json", config)
        zf.writestr("weights.npz", weights)
    atomic_write_bytes(path, buf.getvalue())


def detect(path):
    """'keras', 'nnscratch' or 'h5': what the file is (by its content, not its name)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: file not found: {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "h5"
    with bounded.open_zip(path) as zf:
        names = set(zf.namelist())
    if {"config.json", "model.weights.h5"} <= names:
        return "keras"
    if {"config.json", "weights.npz"} <= names:
        return "nnscratch"
    raise fail(path, f"is neither a Keras 3 .keras file nor an nnscratch model file (members: {sorted(names)[:10]})")


def read_model_file(path):
    """(config dict, weights .npz bytes) of nnscratch's own model zip, sizes checked; the
    weights are parsed by ``npz.read_arrays_checked`` once the model is built."""
    zf = bounded.open_zip(path)
    with zf:
        config = bounded.parse_json(bounded.read_member(zf, "config.json", path, bounded.MAX_CONFIG_BYTES), path)
        info = zf.getinfo("weights.npz")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise fail(path, f"has format {found!r}, expected {FORMAT!r}")
    for key, kind in (("model", dict), ("compile", (dict, type(None)))):
        if not isinstance(config.get(key), kind):
            raise fail(path, f"config.json[{key!r}] is missing or of the wrong type")

    def weights(max_bytes):
        if info.file_size > max_bytes:
            raise fail(path, f"member 'weights.npz' declares {info.file_size} bytes, more than the {max_bytes} "
                             "this model's weights can take")
        with bounded.open_zip(path) as z:
            return bounded.read_member(z, "weights.npz", path, max_bytes)
    weights.size = info.file_size
    if path.endswith(".keras"):
        warnings.warn(RESAVE_NOTE.format(path=path), UserWarning, stacklevel=3)
    return config, weights
