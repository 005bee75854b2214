"""TensorBoard: event files for TensorBoard, written by tensorboardX."""
from __future__ import annotations

import os

from nnscratch import backend
from nnscratch.callbacks.callback import Callback
from nnscratch.layers.base import as_int


class TensorBoard(Callback):
    """Write TensorBoard event files: scalars 'epoch_<key>' under ``log_dir/train`` and
    ``log_dir/validation`` (val_ keys, prefix removed), as Keras lays them out, and every
    ``histogram_freq`` epochs a histogram of each weight, tagged '<layer>/<weight>'.
    ``update_freq='batch'`` or an int N also writes 'batch_<key>' every N batches.
    The files are written by tensorboardX (``pip install tensorboardX``); view them with
    ``tensorboard --logdir <log_dir>``. ``write_graph`` is accepted and ignored (no TF graph)."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, update_freq="epoch"):
        super().__init__()
        if as_int(histogram_freq, floats=False) is None or histogram_freq < 0:  # NumPy ints too
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative int, received {histogram_freq!r}")
        histogram_freq = as_int(histogram_freq)
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (as_int(update_freq, floats=False) is None or update_freq <= 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, received {update_freq!r}")
        update_freq = update_freq if update_freq == "epoch" else as_int(update_freq)
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
