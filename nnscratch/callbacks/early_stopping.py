"""EarlyStopping: stop when a monitored quantity has stopped improving."""
from __future__ import annotations

import warnings

from nnscratch.callbacks.monitor import _MonitorCallback
from nnscratch.layers.base import non_negative_int


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has stopped improving (Keras's rules, exactly):

    at each epoch end (from ``start_from_epoch`` on): wait += 1; if improved, best = current and
    wait = 0 (only if ``baseline`` is also beaten); otherwise stop when wait >= patience and
    epoch > 0. With ``restore_best_weights`` the best epoch's weights come back at train end,
    even if training did not stop early."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = non_negative_int(patience, "EarlyStopping: patience")  # NumPy ints and 2.0, as Keras
        self.verbose, self.baseline = verbose, baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = non_negative_int(start_from_epoch, "EarlyStopping: start_from_epoch")
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping: monitor {self.monitor!r} is not in the logs "
                          f"({', '.join(logs or {})}); skipping", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
