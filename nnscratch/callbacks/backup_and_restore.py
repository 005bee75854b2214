"""Training checkpoints that resume exactly: BackupAndRestore (Keras's name and arguments).

A checkpoint holds everything that decides what the rest of a run computes:

* the weights and the optimizer state (moments, iteration count), as ``save_weights`` writes;
* the position in training: epoch, step within the epoch, the epoch's shuffling order, and
  the running loss/metric sums of the partial epoch;
* every random-number state: the global generator (next epoch's shuffle) and each Dropout
  layer's own mask generator;
* the History so far.

It also records a fingerprint of what the rest of the run depends on (number of samples, batch
size, a hash of x and y, the model's architecture: ``fit_fingerprint.py``); resuming with a
different one is refused (ValueError naming what changed) before anything is restored.

Resuming from it on the NumPy backend with the same data gives final weights identical, bit
for bit, to those of an uninterrupted run. Checkpoints are written atomically (temporary file,
fsync, rename), so an interruption while saving leaves the previous checkpoint whole.
"""
from __future__ import annotations

import json
import os

import numpy as np

from nnscratch import backend
from nnscratch.callbacks.callback import Callback
from nnscratch.callbacks.fit_fingerprint import differences, fit_fingerprint
from nnscratch.layers.base import as_int
from nnscratch.saving import npz as saving

CHECKPOINT_NAME = "checkpoint.npz"


def _jsonable_rng_state(state):
    return json.loads(json.dumps(state, default=int))


def save_training_checkpoint(model, path, epoch_logs=None, fingerprint=None):
    """Write weights, optimizer state, training position and RNG states to ``path`` (.npz).
    ``epoch_logs`` = (epoch, logs) of an epoch that History has not recorded yet;
    ``fingerprint`` = what the run depends on (``fit_fingerprint``), checked on resume."""
    arrays = saving.weights_to_arrays(model)
    progress = model._progress or {"epoch": 0, "step": 0, "order": None, "sums": (0.0, [], 0)}
    loss_sum, metric_sums, seen = progress["sums"]
    info = {
        "epoch": int(progress["epoch"]),
        "step": int(progress["step"]),
        "loss_sum": float(backend.to_host(loss_sum)),
        "metric_sums": [[backend.to_host(v).tolist() for v in state] for state in metric_sums],  # metric variables
        "seen": int(seen),
        "global_rng": _jsonable_rng_state(backend.get_rng_state()),
        "layer_rngs": {str(i): _jsonable_rng_state(l.get_rng_state()) for i, l in enumerate(model.layers)
                       if hasattr(l, "get_rng_state") and l.get_rng_state() is not None},
        "history": {k: list(v) for k, v in model.history.history.items()} if model.history is not None else {},
        "history_epochs": list(model.history.epoch) if model.history is not None else [],
        "fingerprint": fingerprint,
    }
    if epoch_logs is not None:  # History runs after this callback in on_epoch_end
        epoch, logs = epoch_logs
        info["history_epochs"].append(epoch)
        for k, v in logs.items():
            info["history"].setdefault(k, []).append(float(v))
    if progress["order"] is not None:
        arrays["progress/order"] = np.asarray(backend.to_host(progress["order"]), dtype=np.int64)
    arrays["progress/info"] = np.asarray(json.dumps(info))
    saving.atomic_write_bytes(path, saving.arrays_to_bytes(arrays))


def load_training_checkpoint(model, path, fingerprint=None):
    """Restore weights, optimizer state and RNG states from ``path``; returns the resume point
    (epoch, step, order, running sums) for fit. Nothing changes if the file is invalid or if
    ``fingerprint`` (this fit's) differs from the one recorded in the checkpoint."""
    arrays = saving.read_arrays(path)
    if "progress/info" not in arrays:
        raise ValueError(f"{path} is a weights file, not a training checkpoint (no progress information)")
    info = json.loads(str(arrays["progress/info"]))
    # a checkpoint written before fingerprints existed (or outside fit) has none to compare
    changed = differences(info["fingerprint"], fingerprint) if info.get("fingerprint") and fingerprint else []
    if changed:
        where = os.path.dirname(os.fspath(path)) or "."
        raise ValueError(
            f"BackupAndRestore: the backup {path} was made by another run, so it cannot be resumed: "
            + "; ".join(changed) + f". To start afresh, delete the backup directory {where} (or pass another "
            "backup_dir); to resume, call fit with the data, batch_size and model of the interrupted run.")
    order = arrays.get("progress/order")
    weights = {k: v for k, v in arrays.items() if not k.startswith("progress/")}
    saving.apply_arrays(model, weights, source=path)  # validates everything before writing
    backend.set_rng_state(info["global_rng"])
    for i, layer in enumerate(model.layers):  # by position: layer names are per-process counters
        if str(i) in info["layer_rngs"] and hasattr(layer, "set_rng_state"):
            layer.set_rng_state(info["layer_rngs"][str(i)])
    if model.history is not None:
        model.history.history = {k: list(v) for k, v in info["history"].items()}
        model.history.epoch = list(info["history_epochs"])
    return {"epoch": info["epoch"], "step": info["step"], "order": order, "loss_sum": info["loss_sum"],
            "metric_sums": info["metric_sums"], "seen": info["seen"]}


class BackupAndRestore(Callback):
    """Back up training state regularly and resume from it when ``fit`` is run again.

    Args:
        backup_dir: directory for the checkpoint (created if needed).
        save_freq: 'epoch' (at the end of every epoch) or an int N (every N training steps).
        double_checkpoint: accepted (Keras 3 keeps a second copy in case a save is interrupted;
            here every save is already atomic, so one file is never half-written).
        delete_checkpoint: remove the checkpoint once training finishes normally (True).
    Usage: pass the same callback (or one with the same directory) to a new ``fit`` call after
    an interruption; training continues from the last backup, and an uninterrupted run and an
    interrupted-and-resumed run end with identical weights (NumPy backend, same seed and data).
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if save_freq != "epoch":  # NumPy ints too; not 5.0 (Keras refuses it)
            if as_int(save_freq, floats=False) is None or save_freq <= 0:
                raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive int, received {save_freq!r}")
            save_freq = as_int(save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.double_checkpoint = bool(double_checkpoint)
        self._steps = 0
        self._fingerprint = None

    @property
    def path(self):
        return os.path.join(self.backup_dir, CHECKPOINT_NAME)

    def on_train_begin(self, logs=None):
        self._steps = 0
        self._fingerprint = fit_fingerprint(self.model)
        if os.path.exists(self.path):
            point = load_training_checkpoint(self.model, self.path, self._fingerprint)
            self.model._resume_point = point
            print(f"BackupAndRestore: resuming from {self.path} at epoch {point['epoch'] + 1}, step {point['step']}")

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if isinstance(self.save_freq, int) and self._steps % self.save_freq == 0:
            save_training_checkpoint(self.model, self.path, fingerprint=self._fingerprint)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            # the position after a finished epoch is the start of the next one
            self.model._progress = {"epoch": epoch + 1, "step": 0, "order": None, "sums": (0.0, [], 0)}
            save_training_checkpoint(self.model, self.path, epoch_logs=(epoch, dict(logs or {})),
                                     fingerprint=self._fingerprint)

    def on_train_end(self, logs=None):
        finished = not getattr(self.model, "_interrupted", False) and not getattr(self.model, "stop_reason", None)
        if finished and self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
