"""Model and weights files.

* ``atomic``: every file is written to a temporary file, fsynced and renamed into place.
* ``npz``: nnscratch's own weights archive (weights and optimizer state).
* ``keras_h5``: Keras 3's ``.weights.h5`` layout, and weight copies to and from live Keras models.
* ``model_file``: whole-model files: which format a file is, writing each, nnscratch's own zip.
* ``keras_file`` / ``legacy_h5``: Keras 3's ``.keras`` archive and Keras's legacy ``.h5`` model file;
  ``keras_config`` maps layer/optimizer/loss configs to and from Keras's serialization,
  ``keras_layout`` computes Keras's order of layers, weights and optimizer variables.
* ``bounded``: the size-checked readers every file goes through (hostile files refused early).
* ``onnx_export``: ``model.export(path, format="onnx")``.

``save_weights``/``load_weights`` choose the format from the file name, as Keras does.
"""
from __future__ import annotations

import os

from nnscratch.saving import keras_file, keras_h5, npz
from nnscratch.saving.atomic import atomic_path, atomic_write_bytes
from nnscratch.saving.npz import apply_arrays, arrays_to_bytes, read_arrays


def save_weights(model, path):
    """Write the weights to ``path``: ``.weights.h5`` (Keras 3's layout, readable by
    ``keras_model.load_weights``) or ``.npz`` (with the optimizer state)."""
    path = os.fspath(path)
    if path.endswith(".weights.h5"):
        return keras_h5.save_keras_weights(model, path)
    if not path.endswith(".npz"):
        raise ValueError(f"save_weights: the file name must end in '.npz' or '.weights.h5', received {path!r}")
    return npz.save_npz(model, path)


def load_weights(model, path):
    """Read weights written by ``save_weights`` (or by Keras, for ``.weights.h5``), or the weights
    of a ``.keras`` model file (Keras 3 allows that too); a failed
    load leaves the model's weights and optimizer state untouched."""
    path = os.fspath(path)
    if path.endswith(".keras"):  # Keras 3 reads the weights of a .keras archive too
        return _load_keras_archive_weights(model, path)
    if path.endswith(".h5"):
        return keras_h5.load_keras_weights(model, path)
    return npz.load_npz(model, path)


def _load_keras_archive_weights(model, path):
    if not getattr(model, "built", False):
        raise ValueError(f"load_weights: build model '{model.name}' first (give it an input shape) so its weights exist")
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    _, weights = keras_file.read_archive(path)
    plan, _ = keras_file.read_weights_h5(model, weights(keras_file.weights_budget(model)), path, with_optimizer=False)
    keras_file.apply(model, plan, None)


__all__ = ["atomic_path", "atomic_write_bytes", "apply_arrays", "arrays_to_bytes", "read_arrays", "save_weights", "load_weights", "keras_h5", "npz"]
