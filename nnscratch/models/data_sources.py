"""Where the batches of fit / evaluate / predict come from: in-memory arrays, Python generators
and iterators of ``(x, y)`` / ``(x, y, sample_weight)``, or an ``nn.utils.PyDataset``
(Keras 3's ``__len__``/``__getitem__`` class). Each source yields prepared device batches
``(x, y, sample_weight, n)``; arrays are converted once (``data_adapter.prepare_x``), other
sources batch by batch.

``class_weight`` becomes per-sample weights as Keras does: the class of a sample is its label
(integer labels) or the argmax of its one-hot label; classes not in the dict weigh 1.
An exhausted generator ends the epoch with Keras's warning.
"""
from __future__ import annotations

import math
import warnings

from nnscratch import backend
from nnscratch.models.data_adapter import first, prepare_x, prepare_y, shape_of, take
from nnscratch.models.py_dataset import PyDataset

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or generator can "
           "generate at least `steps_per_epoch * epochs` batches. You may need to use the `.repeat()` function "
           "when building your dataset.")


def class_weights_to_sample_weights(y, class_weight):
    """Keras's class_weight -> sample_weight (host arrays)."""
    if not hasattr(class_weight, "items"):
        raise ValueError(f"class_weight must be a dict of class index -> weight, received {class_weight!r}")
    try:
        table = {int(k): float(v) for k, v in class_weight.items()}
    except (TypeError, ValueError):
        raise ValueError(f"class_weight must have integer class indices as keys, received {class_weight!r}") from None
    labels = backend.to_host(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels.reshape(labels.shape[:-1])
    labels = labels.round().astype("int64").reshape(labels.shape[0], -1)[:, 0]
    weights = backend.host_zeros((labels.shape[0],), backend.floatx())
    for i, c in enumerate(labels.tolist()):
        weights[i] = table.get(c, 1.0)
    return weights


def _sample_weight(sw, n, where="sample_weight"):
    if sw is None:
        return None
    host = backend.to_host(sw)
    if host.ndim == 2 and host.shape[-1] == 1:
        host = host.reshape(-1)
    if host.ndim != 1 or host.shape[0] != n:
        raise ValueError(f"{where} must have shape ({n},) (one weight per sample), received {tuple(host.shape)}")
    return backend.to_device(host, dtype=backend.floatx())


def sample_weights(model, sw, n):
    """One (N,) array, or for a model with a loss per output a list (None where an output has
    none), from one array (every output), a list in output order or a dict by output name."""
    losses = getattr(model, "_output_losses", None)
    if losses is None:
        return _sample_weight(sw, n)
    return losses.prepare_sample_weights(sw, lambda w, where: _sample_weight(w, n, where))


def _single_target(model, y):
    if getattr(model, "_multi_out", False):
        raise ValueError(f"Model '{model.name}': class_weight is not supported for a model with several outputs "
                         f"{list(model.output_names)} (as in Keras); pass sample_weight per output instead")
    return y


def is_batch_source(x):
    """True for generators, iterators and PyDatasets (anything that is not array data)."""
    if isinstance(x, PyDataset):
        return True
    if backend.is_array(x) or isinstance(x, (list, tuple, dict)) or hasattr(x, "__array__"):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__len__"))


class ArraySource:
    """Batches of in-memory arrays, in the epoch's order (views when unshuffled)."""

    def __init__(self, x, y, sw, n, batch_size, steps=None):
        self.x, self.y, self.sw, self.n, self.batch_size = x, y, sw, n, batch_size
        full = math.ceil(n / batch_size)
        self.steps = full if steps is None else min(int(steps), full)
        self.y_shape = shape_of(y)
        self.exhausted = False

    def batches(self, order=None, first_step=0):
        order_dev = backend.to_device(order) if order is not None else None
        for step in range(first_step, self.steps):
            a, b = step * self.batch_size, min((step + 1) * self.batch_size, self.n)
            index = slice(a, b) if order_dev is None else order_dev[a:b]
            yield (take(self.x, index), None if self.y is None else take(self.y, index),
                   None if self.sw is None else take(self.sw, index), b - a)

    def on_epoch_end(self):
        pass


class BatchSource:
    """Batches from a generator, an iterator or a PyDataset, prepared one at a time."""

    def __init__(self, model, data, steps=None, class_weight=None, need_y=True, where="x"):
        self.model, self.data, self.class_weight, self.need_y, self.where = model, data, class_weight, need_y, where
        self.pydataset = isinstance(data, PyDataset)
        if steps is not None:
            steps = int(steps)
        elif self.pydataset:
            steps = len(data)
        self.steps = steps
        self.exhausted = False
        self._iterator = None if self.pydataset else iter(data)
        self._peeked = self._fetch(0)  # the first batch builds the model and sets the label shape
        if self._peeked is None:
            raise ValueError(f"{where}: the generator yielded no batches")
        self.y_shape = shape_of(self._peeked[1])

    def _unpack(self, batch):
        if isinstance(batch, (tuple, list)) and not backend.is_array(batch):
            if len(batch) not in (1, 2, 3):
                raise ValueError(f"{self.where}: each batch must be x, (x,), (x, y) or (x, y, sample_weight), "
                                 f"received a tuple of {len(batch)}")
            batch = tuple(batch) + (None,) * (3 - len(batch))
        else:
            batch = (batch, None, None)
        xb, yb, swb = batch
        x_dev, n = prepare_x(self.model, xb)
        if yb is None:
            if self.need_y:
                raise ValueError(f"{self.where}: the batches must be (x, y) pairs for training and evaluation")
            return x_dev, None, None, n
        y_dev = prepare_y(self.model, yb, n)
        if swb is None and self.class_weight is not None:
            swb = class_weights_to_sample_weights(_single_target(self.model, yb), self.class_weight)
        return x_dev, y_dev, sample_weights(self.model, swb, n), n

    def _fetch(self, index):
        if self.pydataset:
            return self._unpack(self.data[index]) if self.steps is None or index < self.steps else None
        try:
            return self._unpack(next(self._iterator))
        except StopIteration:
            return None

    def batches(self, order=None, first_step=0):
        step = 0
        while self.steps is None or step < self.steps:
            if self._peeked is not None:
                batch, self._peeked = self._peeked, None
            else:
                batch = self._fetch(step)
            if batch is None:
                self.exhausted = True
                if self.steps is not None:
                    warnings.warn(RAN_OUT, stacklevel=4)
                return
            yield batch
            step += 1

    def on_epoch_end(self):
        if self.pydataset:
            self.data.on_epoch_end()


def make_source(model, x, y=None, sample_weight=None, class_weight=None, batch_size=32, steps=None,
                need_y=True, where="x"):
    """A source for fit / evaluate / predict (arrays are prepared here, once)."""
    if is_batch_source(x):
        if y is not None:
            raise ValueError(f"{where}: y must not be given when x is a generator or a PyDataset (it yields (x, y))")
        if sample_weight is not None:
            raise ValueError(f"{where}: sample_weight must come from the generator, as (x, y, sample_weight)")
        return BatchSource(model, x, steps=steps, class_weight=class_weight, need_y=need_y, where=where)
    x_dev, n = prepare_x(model, x)
    y_dev = None
    if y is not None:
        y_dev = prepare_y(model, y, n)
    elif need_y:
        raise ValueError("y (the targets) is required")
    if sample_weight is None and class_weight is not None and y is not None:
        sample_weight = class_weights_to_sample_weights(_single_target(model, y), class_weight)
    return ArraySource(x_dev, y_dev, sample_weights(model, sample_weight, n), n, batch_size, steps)


__all__ = ["ArraySource", "BatchSource", "make_source", "is_batch_source", "class_weights_to_sample_weights",
           "first", "RAN_OUT"]
