"""Keras's function forms of the losses: ``loss_fn(y_true, y_pred, ...) -> per-sample loss``.

Each is the class with ``reduction=None`` (the values before the batch average), so the math
and the label checks live in one place. Passed to ``compile(loss=...)``, a function is
replaced by its class (``CLASS_OF``), so training keeps the fused softmax/sigmoid logits path.
"""
from __future__ import annotations

from nnscratch.losses.crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
from nnscratch.losses.regression import MeanAbsoluteError, MeanSquaredError


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample -log p[y] for integer labels (shape y_pred.shape[:-1])."""
    return SparseCategoricalCrossentropy(from_logits, ignore_class, reduction=None, axis=axis)(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample -sum_j t_j log p_j for one-hot labels."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis, reduction=None)(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, averaged over the last axis."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis, reduction=None)(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean over the last axis of (y_pred - y_true)^2."""
    return MeanSquaredError(reduction=None)(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean over the last axis of |y_pred - y_true|."""
    return MeanAbsoluteError(reduction=None)(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

#: function form -> the Loss class compile uses for it
CLASS_OF = {
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
}
