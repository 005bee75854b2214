"""The shared base of callbacks that watch one logged quantity (mode, min_delta, best)."""
from __future__ import annotations

import warnings

from nnscratch.callbacks.callback import Callback

_MAX_METRICS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")
_MIN_METRICS = ("loss", "mse", "mae", "mean_squared_error", "mean_absolute_error")


class _MonitorCallback(Callback):
    """Shared 'is this an improvement?' test of EarlyStopping, ModelCheckpoint, ReduceLROnPlateau.

    mode 'min': improved if current - min_delta' < best, with min_delta' = -|min_delta|
    (that is, current < best - |min_delta|); mode 'max': current - |min_delta| > best.
    mode 'auto': 'loss' (with or without 'val_') and error metrics are minimised, accuracies
    maximised; any other name raises (as Keras does). best = None counts as beaten."""

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0, baseline=None):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__}: mode {mode!r} is unknown, falling back to 'auto'", stacklevel=3)
            mode = "auto"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(float(min_delta))
        self.best = baseline
        self._direction = None  # 'min' or 'max', decided at the first epoch end

    def _decide_direction(self):
        if self.mode != "auto":
            return self.mode
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        if name in _MIN_METRICS:
            return "min"
        if name in _MAX_METRICS:
            return "max"
        for built in getattr(self.model, "_compiled_metrics", {}).values():  # Keras: the metric's _direction
            for metric_name, metric, _ in built:
                if metric_name == name:
                    return "max" if getattr(metric, "_direction", "up") == "up" else "min"
        raise ValueError(f"{type(self).__name__}: cannot tell whether monitor={self.monitor!r} should be maximised "
                         "or minimised; pass mode='max' or mode='min'")

    def _is_improvement(self, current, reference):
        if self._direction is None:
            self._direction = self._decide_direction()
        if reference is None:
            return True
        if self._direction == "min":
            return current + self.min_delta < reference
        return current - self.min_delta > reference
