"""The Loss base class: Keras's call order, reductions and sample weights.

Contract (like a layer's): ``loss.forward(y_pred, y_true) -> 0-d array`` caches what it needs
and ``loss.backward() -> dL/dy_pred`` (same shape as y_pred, already divided by the batch as
Keras's default reduction 'sum_over_batch_size' does). Calling ``loss(y_true, y_pred)`` (Keras's
argument order) validates the labels and returns the value.

Sample weights (Keras's semantics): with weights w_n the per-sample losses become w_n * L_n,
and 'sum_over_batch_size' still divides by the number of elements N, NOT by sum(w):

    L = sum_n w_n L_n / N          dL/dL_n = w_n / N

so ``cache["scale"]`` is the array w / N (or the number 1/N without weights) and each backward
multiplies by it (``self.grad_scale()``).
"""
from __future__ import annotations

from nnscratch import backend, config
from nnscratch.backend.result import as_result


def epsilon():
    """keras.config.epsilon(): the clipping fuzz factor of the probability losses."""
    return config.epsilon()


def check_axis(where, axis):
    """The losses reduce over the last axis only; any other axis is refused (not ignored)."""
    if axis not in (-1, None):
        raise ValueError(f"{where}: only axis=-1 (the last axis) is supported, received axis={axis!r}")


class Loss:
    """Base class. Subclasses implement ``forward`` and ``backward`` (and ``check_labels``)."""

    #: 'softmax' or 'sigmoid' when forward_logits exists
    fuses = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        if reduction not in ("sum_over_batch_size", "sum", "mean", None, "none"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'sum_over_batch_size', 'sum', 'mean' or None, "
                f"received {reduction!r}"
            )
        self.reduction = "sum_over_batch_size" if reduction == "mean" else reduction
        self.name = name or DEFAULT_NAMES.get(type(self).__name__, type(self).__name__.lower())
        self.cache = {}
        self.sample_weight = None  # device array (N,) set by the trainer for one batch

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's call order: ``loss(y_true, y_pred, sample_weight=None)``; returns a 0-d array
        (per-sample values with reduction=None). Inside a traced ``call`` (symbolic tensors) the
        loss becomes a node of the graph, with this loss's own backward."""
        symbolic = next((t for t in (y_pred, y_true) if getattr(t, "_is_symbolic", False)), None)
        if symbolic is not None:
            return symbolic.trace_loss(self, y_true, y_pred)
        y_pred = backend.to_device(y_pred)  # host arrays move to the current device (no-op on numpy)
        y_true = self.check_labels(y_true, y_pred)
        with self.weighted(self.check_sample_weight(sample_weight, y_pred)):
            return as_result(self.forward(y_pred, y_true))  # loss_fn(y, p).numpy() works, as in TF

    def check_sample_weight(self, sample_weight, y_pred):
        """Host check of sample_weight (N,) against y_pred, then onto the device in y_pred's dtype."""
        if sample_weight is None:
            return None
        host = backend.to_host(sample_weight)
        if host.ndim == 2 and host.shape[-1] == 1:
            host = host.reshape(-1)
        if host.ndim != 1 or host.shape[0] != y_pred.shape[0]:
            raise ValueError(f"{type(self).__name__}: sample_weight must have shape ({y_pred.shape[0]},), "
                             f"received {tuple(host.shape)}")
        return backend.to_device(host, dtype=y_pred.dtype)

    def weighted(self, sample_weight):
        """``with loss.weighted(w): loss.forward(...)``: the sample weights of one batch."""
        return _Weighted(self, sample_weight)

    def check_labels(self, y_true, y_pred):
        """Validate and convert y_true (host check before any device indexing)."""
        return backend.to_device(y_true)  # host labels must join y_pred on the device

    def _reduce(self, xp, per_sample):
        """per_sample -> scalar by the reduction; also remembers dL/dL_n for backward."""
        n = per_sample.size
        unit = 1.0 / n if self.reduction == "sum_over_batch_size" else 1.0
        w = self.sample_weight
        if w is not None:
            w = w.reshape(w.shape + (1,) * (per_sample.ndim - 1))
            per_sample = per_sample * w
            self.cache["scale"] = xp.broadcast_to(w * unit, per_sample.shape)
        else:
            self.cache["scale"] = unit
        if self.reduction in (None, "none"):
            return per_sample
        total = per_sample.sum()
        return total / n if self.reduction == "sum_over_batch_size" else total

    def grad_scale(self, extra_axes=1):
        """dL/dL_n with ``extra_axes`` trailing axes of size 1 (the axes the loss averaged)."""
        scale = self.cache["scale"]
        if isinstance(scale, float):
            return scale
        return scale.reshape(scale.shape + (1,) * extra_axes)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class _Weighted:
    def __init__(self, loss, sample_weight):
        self.loss, self.sample_weight = loss, sample_weight

    def __enter__(self):
        self.saved, self.loss.sample_weight = self.loss.sample_weight, self.sample_weight
        return self.loss

    def __exit__(self, *exc):
        self.loss.sample_weight = self.saved


DEFAULT_NAMES = {
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
}
