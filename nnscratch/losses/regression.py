"""Regression losses: mean squared and mean absolute error, with hand-written gradients."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.losses.base import Loss


class MeanSquaredError(Loss):
    """Mean squared error.

    Math (M = number of elements of y_pred):
        forward:   L = mean((y_pred - y_true)^2)   (Keras: mean over the last axis, then the batch)
        backward:  dL/dy_pred = 2 (y_pred - y_true) / M
    Shapes: y_pred (N, ...) and y_true of the same shape ((N,) is accepted for (N, 1)).
    """

    def check_labels(self, y_true, y_pred):
        y_true = Loss.check_labels(self, y_true, y_pred)  # not super(): MeanAbsoluteError borrows this method
        if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y_true = y_true.reshape(tuple(y_true.shape) + (1,))
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{type(self).__name__}: targets of shape {tuple(y_true.shape)} do not match predictions of shape "
                f"{tuple(y_pred.shape)}"
            )
        return y_true.astype(y_pred.dtype, copy=False)

    def forward(self, y_pred, y_true):
        xp = backend.get_array_module(y_pred)
        diff = y_pred - y_true
        K = diff.shape[-1] if diff.ndim > 1 else 1
        value = self._reduce(xp, (diff * diff).mean(axis=-1) if diff.ndim > 1 else diff * diff)
        self.cache.update(diff=diff, K=K)
        return value

    def backward(self):
        c = self.cache
        return 2.0 * c["diff"] * (self.grad_scale(int(c["diff"].ndim > 1)) / c["K"])


class MeanAbsoluteError(Loss):
    """Mean absolute error.

    Math (M = number of elements of y_pred):
        forward:   L = mean(|y_pred - y_true|)
        backward:  dL/dy_pred = sign(y_pred - y_true) / M
    Shapes: y_pred (N, ...) and y_true of the same shape ((N,) is accepted for (N, 1)).
    """

    check_labels = MeanSquaredError.check_labels

    def forward(self, y_pred, y_true):
        xp = backend.get_array_module(y_pred)
        diff = y_pred - y_true
        K = diff.shape[-1] if diff.ndim > 1 else 1
        value = self._reduce(xp, xp.abs(diff).mean(axis=-1) if diff.ndim > 1 else xp.abs(diff))
        self.cache.update(diff=diff, K=K)
        return value

    def backward(self):
        c = self.cache
        xp = backend.get_array_module(c["diff"])
        return xp.sign(c["diff"]) * (self.grad_scale(int(c["diff"].ndim > 1)) / c["K"])
