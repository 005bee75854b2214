"""ModelCheckpoint: save the model or its weights during training."""
from __future__ import annotations

import os
import warnings

from nnscratch.callbacks.monitor import _MonitorCallback


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or only its weights) at the end of each epoch, or every ``save_freq`` batches.

    ``filepath`` may hold ``{epoch:02d}`` (1-based, as Keras), ``{batch}`` and any log key, e.g.
    ``'ckpt_{epoch:02d}-{val_accuracy:.2f}.keras'``. With ``save_weights_only=True`` the file is
    ``model.save_weights`` ('.npz', nnscratch's format with optimizer state, or Keras's
    '.weights.h5', which Keras itself can load), otherwise ``model.save`` ('.keras' or
    '.nnscratch'). With ``save_best_only`` a file is written only when ``monitor`` improved; if
    the key is missing from the logs Keras 3 warns and skips the save, and so do we.
    ``initial_value_threshold`` is the best value to beat first. ``verbose=1`` prints
    'Epoch 1: saving model to ...' as Keras does."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0.0, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, bool(save_best_only), bool(save_weights_only)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int (batches), "
                             f"received {save_freq!r}")
        self.save_freq = save_freq
        if self.save_weights_only and not self.filepath.endswith((".npz", ".weights.h5")):
            raise ValueError("ModelCheckpoint: with save_weights_only=True the filepath must end in '.npz' "
                             f"(nnscratch's weights format) or '.weights.h5' (Keras's), received {self.filepath!r}")
        if not self.save_weights_only and not self.filepath.endswith((".keras", ".nnscratch")):
            raise ValueError("ModelCheckpoint: the filepath must end in '.keras' or '.nnscratch' (a whole model), "
                             f"received {self.filepath!r}")
        self._batches_seen, self._epoch = 0, 0

    def _overrides(self, name):
        if name == "on_train_batch_end":
            return self.save_freq != "epoch"
        return super()._overrides(name)

    def on_train_begin(self, logs=None):
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch, batch, logs):
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=batch, **logs)
        except KeyError as exc:
            raise KeyError(f"ModelCheckpoint: cannot format filepath {self.filepath!r}: no log key {exc} "
                           f"(logs: {', '.join(logs)})") from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=3)
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                best = "inf" if self.best is None else f"{self.best:.5f}"
                what = "weights" if self.save_weights_only else "model"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving {what} to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving {'weights' if self.save_weights_only else 'model'} to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)  # as Keras: the checkpoint's folder is created
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, overwrite=True)
