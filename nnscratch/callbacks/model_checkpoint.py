"""ModelCheckpoint: save the model or its weights during training."""
from __future__ import annotations

import os
import warnings

from nnscratch.callbacks.monitor import _MonitorCallback


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or only its weights) at the end of each epoch.

    ``filepath`` may hold ``{epoch:02d}`` (1-based, as Keras) and any log key, e.g.
    ``'ckpt_{epoch:02d}-{val_accuracy:.2f}.npz'``. With ``save_weights_only=True`` the file is
    ``model.save_weights`` ('.npz', nnscratch's format with optimizer state, or Keras's
    '.weights.h5', which Keras itself can load), otherwise ``model.save`` ('.keras' or '.nnscratch'). With
    ``save_best_only`` a file is written only when ``monitor`` improved (if the key is missing,
    Keras warns and saves anyway). ``initial_value_threshold`` is the best value to beat first."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0.0, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, bool(save_best_only), bool(save_weights_only)
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported, received {save_freq!r}")
        self.save_freq = save_freq
        if self.save_weights_only and not self.filepath.endswith((".npz", ".weights.h5")):
            raise ValueError("ModelCheckpoint: with save_weights_only=True the filepath must end in '.npz' "
                             f"(nnscratch's weights format) or '.weights.h5' (Keras's), received {self.filepath!r}")
        if not self.save_weights_only and not self.filepath.endswith((".keras", ".nnscratch")):
            raise ValueError("ModelCheckpoint: the filepath must end in '.keras' or '.nnscratch' (a whole model), "
                             f"received {self.filepath!r}")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise KeyError(f"ModelCheckpoint: cannot format filepath {self.filepath!r}: no log key {exc} "
                           f"(logs: {', '.join(logs)})") from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save best model only with {self.monitor} available", stacklevel=2)
            elif self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {current:.5f}, saving to {path}")
                self.best = current
            else:
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, overwrite=True)
