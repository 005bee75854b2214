"""Metrics: per-batch sums that the model accumulates over an epoch.

Each metric returns the SUM of its per-sample values for a batch as a 0-d array that stays on
the device; the model divides by the number of samples at the end of the epoch. That gives
Keras's per-sample averaging over the whole epoch with no host synchronisation per step.

What 'accuracy' means is decided by the shapes, as in Keras (``get_metric``):
  * y_pred's last axis has size 1                     -> binary accuracy, y_pred > 0.5
  * y_true has lower rank than y_pred, or y_true's last axis is 1 while y_pred's is not
                                                      -> sparse categorical accuracy
  * otherwise                                         -> categorical accuracy (argmax vs argmax)
"""
from __future__ import annotations

from nnscratch import backend


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """sum over samples of mean_k [ (y_pred > threshold) == y_true ]."""
    y_true = y_true.reshape(y_pred.shape)
    hits = ((y_pred > threshold) == (y_true > 0.5))
    return hits.mean(axis=-1).sum()


def sparse_categorical_accuracy(y_true, y_pred):
    """sum over samples of [argmax(y_pred) == y_true]; argmax takes the first index on ties."""
    return (y_pred.argmax(axis=-1) == y_true.reshape(y_pred.shape[:-1])).sum()


def categorical_accuracy(y_true, y_pred):
    """sum over samples of [argmax(y_pred) == argmax(y_true)]."""
    return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).sum()


def mean_squared_error(y_true, y_pred):
    y_true = y_true.reshape(y_pred.shape)
    d = y_pred - y_true
    return (d * d).reshape(d.shape[0], -1).mean(axis=-1).sum()


def mean_absolute_error(y_true, y_pred):
    xp = backend.get_array_module(y_pred)
    y_true = y_true.reshape(y_pred.shape)
    return xp.abs(y_pred - y_true).reshape(y_pred.shape[0], -1).mean(axis=-1).sum()


_BY_NAME = {
    "binary_accuracy": binary_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}


def resolve_accuracy(y_true_shape, y_pred_shape):
    """Keras's choice of accuracy function from the shapes (see the module docstring)."""
    if y_pred_shape[-1] == 1:
        return binary_accuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


def get(name, y_true_shape, y_pred_shape):
    """(key, function) for a metric given as a string (the key is the string as passed)."""
    if callable(name) and not isinstance(name, str):
        return getattr(name, "__name__", "metric"), name
    if not isinstance(name, str):
        raise TypeError(f"metrics must be strings or functions, received {name!r}")
    if name.lower() in ("accuracy", "acc"):
        return name, resolve_accuracy(y_true_shape, y_pred_shape)
    key = name.lower()
    if key not in _BY_NAME:
        raise ValueError(f"unknown metric {name!r}; valid metrics: accuracy, acc, {', '.join(sorted(_BY_NAME))}")
    return name, _BY_NAME[key]
