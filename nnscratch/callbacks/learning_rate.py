"""Callbacks that change the learning rate: LearningRateScheduler and ReduceLROnPlateau."""
from __future__ import annotations

import math
import warnings

from nnscratch.callbacks.callback import Callback
from nnscratch.callbacks.monitor import _MonitorCallback
from nnscratch.layers.base import non_negative_int


class LearningRateScheduler(Callback):
    """At each epoch's start, set the optimizer's learning rate to ``schedule(epoch, lr)``
    (epoch 0-based; a one-argument ``schedule(epoch)`` also works, as in Keras). Adds
    'learning_rate' to the epoch logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, received {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a one-argument schedule(epoch)
            lr = self.schedule(epoch)
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or math.isnan(float(lr)):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, received {lr!r}")
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement
    (by more than ``min_delta``), then wait ``cooldown`` epochs; never below ``min_lr``.
    Adds 'learning_rate' (before any reduction this epoch) to the epoch logs, as Keras does."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected keyword argument(s) {', '.join(sorted(kwargs))}"
                            + ("; epsilon= is Keras 2's spelling of min_delta=" if "epsilon" in kwargs else ""))
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, received factor={factor}")
        self.factor, self.verbose, self.min_lr = float(factor), verbose, float(min_lr)
        self.patience = non_negative_int(patience, "ReduceLROnPlateau: patience")  # NumPy ints and 2.0, as Keras
        self.cooldown = non_negative_int(cooldown, "ReduceLROnPlateau: cooldown")
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = float(opt.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"ReduceLROnPlateau: monitor {self.monitor!r} is not in the logs ({', '.join(logs)})",
                          stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(opt.learning_rate)
                if old_lr > self.min_lr:
                    opt.learning_rate = max(old_lr * self.factor, self.min_lr)
                    if self.verbose > 0:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {opt.learning_rate}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0
