"""Accuracy and regression metrics: Keras's per-sample functions and their Mean classes.

Each function returns per-sample values (shape ``y_pred.shape[:-1]``); the classes average them
over every sample seen (``MeanMetricWrapper``), with sample weights when given. Labels that do
not fit the predictions are refused with the metric's name and both shapes, before any math.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.metrics.base import MeanMetricWrapper


def _same_shape(where, y_true, y_pred, hint=""):
    """y_true with y_pred's shape ((N,) is accepted for (N, 1)); otherwise a clear ValueError."""
    if tuple(y_true.shape) == tuple(y_pred.shape):
        return y_true
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1 and tuple(y_true.shape) == tuple(y_pred.shape[:-1]):
        return y_true.reshape(y_pred.shape)
    raise ValueError(f"{where}: labels of shape {tuple(y_true.shape)} do not fit predictions of shape "
                     f"{tuple(y_pred.shape)}; {where} needs labels of the predictions' shape{hint}")


def _sparse_labels(where, y_true, y_pred):
    """Integer labels of shape y_pred.shape[:-1] (a trailing axis of 1 is dropped)."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(f"{where}: labels of shape {tuple(y_true.shape)} do not fit predictions of shape "
                         f"{tuple(y_pred.shape)}; expected integer class labels of shape {tuple(y_pred.shape[:-1])}"
                         " (for one-hot labels use the categorical_ form)")
    return y_true


def _ready(y_true, y_pred):
    y_pred = backend.to_device(y_pred)
    return backend.to_device(y_true), y_pred, backend.get_array_module(y_pred)


def accuracy(y_true, y_pred):
    """Elementwise [y_true == y_pred] (Keras's Accuracy compares values exactly)."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    y_true = _same_shape("accuracy", y_true, y_pred)
    return (y_true == y_pred).astype(y_pred.dtype)


_BINARY_HINT = ("; for integer class labels of a multi-unit output use 'sparse_categorical_accuracy', for "
                "one-hot labels 'categorical_accuracy'")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Elementwise [(y_pred > threshold) == y_true] (Keras 3 returns it unaveraged; the class
    averages over every element)."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    y_true = _same_shape("binary_accuracy", y_true, y_pred, _BINARY_HINT)
    hits = (y_pred > threshold).astype(y_pred.dtype) == y_true.astype(y_pred.dtype)
    return hits.astype(y_pred.dtype)


def categorical_accuracy(y_true, y_pred):
    """[argmax(y_pred) == argmax(y_true)] per sample; argmax takes the first index on ties."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"categorical_accuracy: one-hot labels of shape {tuple(y_true.shape)} do not fit predictions "
                         f"of shape {tuple(y_pred.shape)}; for integer labels use 'sparse_categorical_accuracy'")
    return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    """[argmax(y_pred) == y_true] per sample."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    y_true = _sparse_labels("sparse_categorical_accuracy", y_true, y_pred)
    return (y_pred.argmax(axis=-1) == y_true.astype("int64")).astype(y_pred.dtype)


def _in_top_k(xp, y_pred, target, k):
    """TF's in_top_k: the target is in the top k when fewer than k classes score strictly higher
    (ties at the boundary count as in)."""
    rows = xp.arange(y_pred.shape[0])
    score = y_pred[rows, target][:, None]
    return ((y_pred > score).sum(axis=-1) < k).astype(y_pred.dtype)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """[argmax(y_true) is among the k highest predictions] per sample."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"top_k_categorical_accuracy: one-hot labels of shape {tuple(y_true.shape)} do not fit "
                         f"predictions of shape {tuple(y_pred.shape)}; for integer labels use the sparse_ form")
    flat = y_pred.reshape(-1, y_pred.shape[-1])
    hits = _in_top_k(xp, flat, y_true.reshape(flat.shape).argmax(axis=-1), k)
    return hits.reshape(y_pred.shape[:-1])


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """[y_true is among the k highest predictions] per sample."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    if from_sorted_ids:
        raise ValueError("sparse_top_k_categorical_accuracy: from_sorted_ids=True is not supported")
    y_true = _sparse_labels("sparse_top_k_categorical_accuracy", y_true, y_pred)
    flat = y_pred.reshape(-1, y_pred.shape[-1])
    return _in_top_k(xp, flat, y_true.reshape(-1).astype("int64"), k).reshape(y_pred.shape[:-1])


def mean_squared_error(y_true, y_pred):
    """mean over the last axis of (y_pred - y_true)^2."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    d = y_pred - _same_shape("mean_squared_error", y_true, y_pred).astype(y_pred.dtype)
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean over the last axis of |y_pred - y_true|."""
    y_true, y_pred, xp = _ready(y_true, y_pred)
    return xp.abs(y_pred - _same_shape("mean_absolute_error", y_true, y_pred).astype(y_pred.dtype)).mean(axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)


class MeanSquaredError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)
