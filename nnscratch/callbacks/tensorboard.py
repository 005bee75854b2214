"""TensorBoard: event files for TensorBoard, written by tensorboardX."""
from __future__ import annotations

import os
import uuid

from nnscratch import backend
from nnscratch.callbacks.callback import Callback
from nnscratch.callbacks.graph_def import model_graph_def
from nnscratch.layers.base import as_int


class TensorBoard(Callback):
    """Write TensorBoard event files: scalars 'epoch_<key>' under ``log_dir/train`` and
    ``log_dir/validation`` (val_ keys, prefix removed), as Keras lays them out, and every
    ``histogram_freq`` epochs a histogram of each weight, tagged '<layer>/<weight>'.
    ``update_freq='batch'`` or an int N also writes 'batch_<key>' every N batches.
    The files are written by tensorboardX (``pip install tensorboardX``); view them with
    ``tensorboard --logdir <log_dir>``. ``write_images=True`` writes every kernel as a grey
    image ('<layer>/kernel', 2-D kernels as they are, conv kernels one tile per filter) each
    epoch. Every run's event file has a unique suffix, so two runs into one ``log_dir`` never
    overwrite each other. ``write_graph=True`` (the default) writes the layer graph
    (``graph_def.model_graph_def``) for TensorBoard's Graphs tab. Keras's other arguments are
    accepted: ``write_steps_per_second``, ``profile_batch``,
    ``embeddings_freq``, ``embeddings_metadata`` (profiling and embeddings are not recorded)."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.write_images, self.write_steps_per_second = bool(write_images), bool(write_steps_per_second)
        self.profile_batch, self.embeddings_freq, self.embeddings_metadata = profile_batch, embeddings_freq, embeddings_metadata
        self._run_suffix = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.v2"
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
            self._writers[which] = SummaryWriter(logdir=os.path.join(self.log_dir, which),
                                                 filename_suffix=self._run_suffix)
        return self._writers[which]

    def on_train_begin(self, logs=None):
        self._step = 0
        if self.write_graph:
            from tensorboardX.proto import event_pb2

            event = event_pb2.Event(graph_def=model_graph_def(self.model).SerializeToString())
            self._writer("train").file_writer.add_event(event)

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
        if self.write_images:
            self._write_kernel_images(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _write_kernel_images(self, epoch):
        """Each kernel scaled to [0, 1] as a (1, H, W) grey image (conv: filters side by side)."""
        w = self._writer("train")
        for layer in self.model.layers:
            kernel = layer.params.get("kernel") if hasattr(layer, "params") else None
            if kernel is None:
                continue
            k = backend.to_host(kernel).astype("float32")
            if k.ndim == 4:  # (kh, kw, c_in, c_out) -> (kh*c_in, kw*c_out) tiles
                kh, kw, ci, co = k.shape
                k = k.transpose(2, 0, 3, 1).reshape(ci * kh, co * kw)
            elif k.ndim != 2:
                continue
            span = float(k.max() - k.min()) or 1.0
            w.add_image(f"{layer.name}/kernel", ((k - k.min()) / span)[None], epoch, dataformats="CHW")

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
