"""TracedLoss: a loss written with nn.ops (Keras's way), given a backward by tracing.

A user's ``loss(y_true, y_pred)`` made of ``nn.ops`` (or a ``Loss`` subclass with ``call``) is
traced on symbolic tensors into a graph of ops, each with its hand-written backward (the same
tracer as custom layers' ``call``, ``nnscratch/layers/traced.py``); ``backward`` runs that
graph in reverse. ``model.compile(loss=fn)`` wraps a plain function in it.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.layers.traced import run_backward, run_forward, trace
from nnscratch.losses.base import Loss


class TracedLoss(Loss):
    """A loss written as ``fn(y_true, y_pred)`` with nn.ops (or a ``losses.Loss`` subclass that
    defines ``call``), traced once per label rank/dtype into a graph of ops with their backwards.

    Math: per = fn(y_true, y_pred) (per-sample values, any shape);
          L = sum(per) / per.size  (Keras's 'sum_over_batch_size');
          dL/dper = 1 / per.size, then the ops' backwards in reverse give dL/dy_pred.
    Interface (nnscratch's Loss): ``forward(y_pred, y_true) -> 0-d``, ``backward() -> dy_pred``,
    ``check_labels(y, spec)``, ``fuses = None``; ``loss(y_true, y_pred)`` also works eagerly.
    """

    fuses = None

    def __init__(self, fn, name=None, reduction="sum_over_batch_size"):
        call = fn.call if isinstance(fn, Loss) and hasattr(fn, "call") else fn
        if not callable(call):
            raise TypeError(f"TracedLoss: expected a function (y_true, y_pred) or a Loss with call(), received {fn!r}")
        super().__init__(reduction=reduction,
                         name=name or getattr(fn, "name", None) or getattr(fn, "__name__", "traced_loss"))
        self.fn = call
        self._traces = {}

    def check_labels(self, y_true, y_pred):
        y = backend.to_device(y_true)
        if tuple(y.shape[:1]) != tuple(y_pred.shape[:1]):
            raise ValueError(f"loss '{self.name}': y_true has {y.shape[0]} samples, y_pred {y_pred.shape[0]} "
                             f"(y_true {tuple(y.shape)}, y_pred {tuple(y_pred.shape)})")
        if y.dtype.kind == "f" and y.dtype != y_pred.dtype:
            y = y.astype(y_pred.dtype)
        return y

    def forward(self, y_pred, y_true):
        key = (tuple(y_true.shape[1:]), str(y_true.dtype), tuple(y_pred.shape[1:]), str(y_pred.dtype))
        if key not in self._traces:
            self._traces[key] = trace(self, self.fn, [y_true, y_pred], {}, f"loss '{self.name}'")
        tr = self._traces[key]
        (per,), record, _ = run_forward(tr, [y_true, y_pred], training=False)
        xp = backend.get_array_module(per)
        n = max(int(per.size), 1)
        scale = 1.0 / n if self.reduction == "sum_over_batch_size" else 1.0
        self.cache = {"trace": tr, "record": record, "per": per, "scale": scale}
        if self.reduction in (None, "none"):
            return per
        return xp.asarray(per.sum() * scale)

    def backward(self):
        if not self.cache:
            raise RuntimeError(f"loss '{self.name}': backward() called before forward()")
        c = self.cache
        xp = backend.get_array_module(c["per"])
        dper = xp.full(c["per"].shape, c["scale"], dtype=c["per"].dtype)  # dL/dper = 1/size
        (d_true, d_pred), _ = run_backward(c["trace"], c["record"], [dper], [])
        if d_pred is None:
            raise ValueError(f"loss '{self.name}': the loss does not depend on y_pred")
        return d_pred

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}
