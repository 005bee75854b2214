"""Callbacks that write or react to the logs: CSVLogger, TerminateOnNaN, LambdaCallback."""
from __future__ import annotations

import csv
import io
import math
import os

from nnscratch.callbacks.callback import Callback
from nnscratch.saving.atomic import atomic_write_bytes


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

    _POSITIONAL = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
                   "on_train_batch_end")  # Keras 3's order of the positional arguments

    def __init__(self, *args, **hooks):
        super().__init__()
        if len(args) > len(self._POSITIONAL):
            raise TypeError(f"LambdaCallback: at most {len(self._POSITIONAL)} positional hooks "
                            f"({', '.join(self._POSITIONAL)}), received {len(args)}")
        for name, fn in zip(self._POSITIONAL, args):
            if name in hooks:
                raise TypeError(f"LambdaCallback: {name} given twice")
            hooks[name] = fn
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
