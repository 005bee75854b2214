"""Callbacks: hooks into fit/evaluate/predict with Keras's names and timing.

A callback overrides any of ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_begin/end``, ``on_test_batch_begin/end``,
``on_predict_begin/end``, ``on_predict_batch_begin/end``; ``self.model`` is set by fit, and
``self.model.stop_training = True`` stops training after the current epoch.

Keras's built-in callbacks follow, with Keras 3's names, arguments and timing: EarlyStopping,
ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau, CSVLogger, TerminateOnNaN,
LambdaCallback and TensorBoard (event files written by tensorboardX).
"""
from __future__ import annotations

import csv
import io
import math
import os
import warnings


class Callback:
    """Base class with Keras's hook names; every hook does nothing by default."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def _overrides(self, name):
        """True if this callback does something in hook ``name`` (the model skips the others)."""
        return getattr(type(self), name) is not getattr(Callback, name)

    # Callbacks that need per-batch logs set this to True; the model then builds host logs for
    # each batch (a device synchronisation), otherwise batch hooks get logs=None.
    wants_batch_logs = False


class CallbackList:
    """Calls every callback's hook in order."""

    def __init__(self, callbacks=None, model=None, params=None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be nn.callbacks.Callback instances, received {cb!r}")
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)
        # only call per-batch hooks that were overridden (keeps the training loop lean)
        self._batch_hooks = {
            name: [cb for cb in self.callbacks if cb._overrides(name)]
            for name in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                         "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")
        }

    @property
    def wants_batch_logs(self):
        return any(cb.wants_batch_logs for cb in self._batch_hooks["on_train_batch_end"])

    def has_batch_hooks(self, name):
        return bool(self._batch_hooks[name])

    def _call(self, name, *args):
        for cb in self.callbacks:
            getattr(cb, name)(*args)

    def _call_batch(self, name, batch, logs):
        for cb in self._batch_hooks[name]:
            getattr(cb, name)(batch, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)
    def on_train_batch_begin(self, batch, logs=None): self._call_batch("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._call_batch("on_train_batch_end", batch, logs)
    def on_test_batch_begin(self, batch, logs=None): self._call_batch("on_test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._call_batch("on_test_batch_end", batch, logs)
    def on_predict_batch_begin(self, batch, logs=None): self._call_batch("on_predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._call_batch("on_predict_batch_end", batch, logs)


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


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has stopped improving (Keras's rules, exactly):

    at each epoch end (from ``start_from_epoch`` on): wait += 1; if improved, best = current and
    wait = 0 (only if ``baseline`` is also beaten); otherwise stop when wait >= patience and
    epoch > 0. With ``restore_best_weights`` the best epoch's weights come back at train end,
    even if training did not stop early."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = int(patience), verbose, baseline
        self.restore_best_weights, self.start_from_epoch = bool(restore_best_weights), int(start_from_epoch)
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
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, received factor={factor}")
        self.factor, self.patience, self.verbose = float(factor), int(patience), verbose
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
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


class CSVLogger(Callback):
    """Write one CSV row per epoch: 'epoch' (0-based) then the log keys, sorted; when there are no
    'val_' keys, Keras adds 'val_<key>' columns holding 'NA', and so do we. The whole file is
    rewritten atomically each epoch (``append=True`` keeps the rows already in the file)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys, self._text = None, ""

    def on_train_begin(self, logs=None):
        self.keys = None
        self._text = ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._text = f.read()

    def on_epoch_end(self, epoch, logs=None):
        from nnscratch.saving import atomic_write_bytes

        logs = logs or {}
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.sep, lineterminator="\n")
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
            if not self._text:
                writer.writerow(["epoch"] + self.keys)
        writer.writerow([epoch] + [logs.get(k, "NA") for k in self.keys])
        self._text += buf.getvalue()
        atomic_write_bytes(self.filename, self._text.encode("utf-8"))


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite (``raise_error=True``: raise
    RuntimeError instead). Needs the per-batch loss, so it costs one host sync per batch."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.
    Accepts every hook name (on_train_begin(logs), on_epoch_begin(epoch, logs),
    on_train_batch_end(batch, logs), ...); hooks not given do nothing."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
              "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
              "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")

    def __init__(self, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(self._HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {', '.join(unknown)}; valid: {', '.join(self._HOOKS)}")
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, received {fn!r}")
        self._fns = {k: v for k, v in hooks.items() if v is not None}
        for name, fn in self._fns.items():
            setattr(self, name, fn)  # instance attribute shadows the no-op method

    def _overrides(self, name):
        return name in self._fns


class TensorBoard(Callback):
    """Write TensorBoard event files: scalars 'epoch_<key>' under ``log_dir/train`` and
    ``log_dir/validation`` (val_ keys, prefix removed), as Keras lays them out, and every
    ``histogram_freq`` epochs a histogram of each weight, tagged '<layer>/<weight>'.
    ``update_freq='batch'`` or an int N also writes 'batch_<key>' every N batches.
    The files are written by tensorboardX (``pip install tensorboardX``); view them with
    ``tensorboard --logdir <log_dir>``. ``write_graph`` is accepted and ignored (no TF graph)."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, update_freq="epoch"):
        super().__init__()
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative int, received {histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, int) or update_freq <= 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, received {update_freq!r}")
        self.log_dir, self.histogram_freq, self.write_graph = os.fspath(log_dir), histogram_freq, write_graph
        self.update_freq = update_freq
        self._writers, self._step = {}, 0

    def _writer(self, which):
        if which not in self._writers:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as exc:
                raise ImportError("TensorBoard callback needs tensorboardX: pip install tensorboardX") from exc
            self._writers[which] = SummaryWriter(logdir=os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs=None):
        self._step = 0

    def _overrides(self, name):
        if name == "on_train_batch_end":
            return self.update_freq != "epoch"
        return super()._overrides(name)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_freq != "epoch" and self._step % self.update_freq == 0:
            for k, v in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{k}", float(v), self._step)

    def on_epoch_end(self, epoch, logs=None):
        from nnscratch import backend

        for k, v in (logs or {}).items():
            which, key = ("validation", k[4:]) if k.startswith("val_") else ("train", k)
            self._writer(which).add_scalar(f"epoch_{key}", float(v), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            w = self._writer("train")
            for layer in self.model.layers:
                for name, value in zip(layer.weight_names, layer.weights):
                    w.add_histogram(f"{layer.name}/{name}", backend.to_host(value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def __getattr__(name):
    # BackupAndRestore lives in nnscratch/checkpointing.py (it needs the saving code); it is
    # reachable here under its Keras name, nn.callbacks.BackupAndRestore.
    if name == "BackupAndRestore":
        from nnscratch.checkpointing import BackupAndRestore

        return BackupAndRestore
    raise AttributeError(f"module 'nnscratch.callbacks' has no attribute {name!r}")
