"""History: the per-epoch logs that fit returns."""
from __future__ import annotations

from nnscratch.callbacks.callback import Callback


class History(Callback):
    """Records the epoch logs: ``history.history['loss'][epoch]``; returned by ``fit``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []  # Keras resets per fit call but keeps the dict keys

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)



# ---------------------------------------------------------------------- monitoring a quantity
_MAX_METRICS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")
_MIN_METRICS = ("loss", "mse", "mae", "mean_squared_error", "mean_absolute_error")
