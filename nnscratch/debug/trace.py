"""``nn.debug.trace(model)``: record one training step layer by layer and print it as a table.

    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)        # or model.fit(...): the first step is recorded
    print(tr)                             # one row per layer

For every layer the trace keeps host copies of

* ``x`` and ``y``: the layer's input and output in the forward pass (a forward hook);
* ``dy`` and ``dx``: the gradient arriving from above and the one sent below (a backward
  hook). Two cases need care, because that is how ``Model.train_step`` works:

  - when the output activation is fused with the loss (softmax + cross-entropy), the model
    calls ``last_layer.call_backward(dz, from_logits=True)``; the trace then
    records ``dz``, the gradient at the logits, as that layer's ``dy`` (``dy_at_logits``);
  - in training the model does not compute ``dx`` for the first trainable layer and does not
    run backward at all for the layers before it: those show ``-`` in the table;

* ``grads``: the parameter gradients, and ``params_before`` / ``params_after``: the
  parameters around the optimizer's update, so ``update = after - before``.

Columns of the table: output mean/std/min/max, the fraction of exact zeros in ReLU outputs
("dead" units for this batch), ``|dy|`` and ``|dx|`` (L2 norms), ``|grad|`` (L2 norm over
all the layer's parameter gradients) and ``upd/w`` = ||update|| / ||weights||, which for a
healthy SGD run is typically around 1e-3.

The last column, ``flags``, marks the clues a student should not have to know the thresholds
for; the table ends with a legend of the flags present (``tr.flags`` lists them):

* ``U`` upd/w above 0.1, a hundred times the rule of thumb: the learning rate is too high (or
  the inputs unscaled) and the next steps will likely explode;
* ``D`` a ReLU output that is 100% zeros for the batch: dead units, no gradient flows below;
* ``x`` a parameter-free layer that multiplies or divides the gradient norm by more than 100
  (``|dx| / |dy|``): such a layer should pass the gradient on about unchanged; check its backward;
* ``0`` a gradient that is exactly zero (parameters or dx): nothing below will learn;
* ``S`` the first layer's inputs reach beyond 10 in magnitude ("inputs up to 255: not scaled?");
* ``N`` NaN or Inf in the layer's output or gradients.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnscratch import backend
from nnscratch.debug import html_report
from nnscratch.debug.trace_flags import record_flags


def _host(a):
    return None if a is None else np.array(backend.to_host(a), copy=True)


def _norm(a):
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64)))) if a is not None else None


def is_relu_output(layer) -> bool:
    """True when the layer's output is a ReLU's (a ReLU layer, or activation='relu')."""
    if type(layer).__name__ == "ReLU":
        return True
    act = getattr(layer, "activation", None)
    return getattr(act, "name", None) == "relu"


@dataclass
class LayerRecord:
    """What one layer saw during the recorded step (host NumPy arrays)."""

    index: int
    name: str
    class_name: str
    relu: bool = False
    x: np.ndarray = None
    y: np.ndarray = None
    dy: np.ndarray = None
    dx: np.ndarray = None
    dy_at_logits: bool = False
    backward_ran: bool = False
    grads: dict = field(default_factory=dict)
    params_before: dict = field(default_factory=dict)
    params_after: dict = field(default_factory=dict)

    @property
    def update(self):
        """{param: after - before}: what the optimizer changed."""
        return {k: self.params_after[k] - self.params_before[k]
                for k in self.params_before if k in self.params_after}

    @property
    def grad_norm(self):
        """L2 norm over all parameter gradients of the layer (None without parameters)."""
        if not self.grads:
            return None
        return float(np.sqrt(sum(_norm(g) ** 2 for g in self.grads.values())))

    @property
    def update_ratio(self):
        """||update|| / ||weights before|| over all the layer's parameters (None if none)."""
        upd = self.update
        if not upd:
            return None
        u = np.sqrt(sum(_norm(d) ** 2 for d in upd.values()))
        w = np.sqrt(sum(_norm(p) ** 2 for p in self.params_before.values()))
        return float(u / w) if w > 0 else float("inf")

    @property
    def zero_fraction(self):
        """Fraction of outputs that are exactly 0, for ReLU outputs (None otherwise)."""
        if not self.relu or self.y is None:
            return None
        return float(np.mean(self.y == 0))

    def stats(self):
        """mean, std, min, max of the output (float64)."""
        y = self.y.astype(np.float64)
        return float(y.mean()), float(y.std()), float(y.min()), float(y.max())


def _fmt(v, spec=".3g"):
    if v is None:
        return "-"
    return format(v, spec)


class Trace:
    """Context manager returned by ``trace(model)``; see the module docstring.

    Args:
        model: a built or unbuilt Sequential (it is built by the step inside the block).
        step: which training step inside the block to record: 0 (default) the first one,
            -1 the last one (each step then overwrites the previous record).
    """

    def __init__(self, model, step=0):
        if step not in (0, -1):
            raise ValueError(f"trace: step must be 0 (the first step) or -1 (the last), received {step!r}")
        self.model = model
        self.step = step
        self.records: list = []
        self.loss = None
        self.steps_seen = 0
        self._recording = False
        self._handles = []
        self._patched = []

    # ------------------------------------------------------------------ context
    def __enter__(self):
        model = self.model
        original_train_step = model.train_step

        def traced_train_step(x, y, metric_fns=(), **kwargs):
            record = self.step == -1 or self.steps_seen == 0
            if record:
                self._start_step()
            self._recording = record
            try:
                loss, sums = original_train_step(x, y, metric_fns, **kwargs)
            finally:
                self._recording = False
            if record:
                self.loss = backend.to_float(loss)
                for rec, layer in zip(self.records, self.model.layers):
                    rec.params_after = {k: _host(p) for k, p in layer.params.items()}
            self.steps_seen += 1
            return loss, sums

        model.train_step = traced_train_step  # instance attribute shadows the method
        self._patched.append((model, "train_step"))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        for obj, attr in self._patched:
            obj.__dict__.pop(attr, None)
        self._patched = []
        return False

    def _start_step(self):
        """Fresh records and hooks for the layers (the model is built by now)."""
        for h in self._handles:
            h.remove()
        self._handles = []
        for obj, attr in self._patched[1:]:
            obj.__dict__.pop(attr, None)
        del self._patched[1:]
        self.records = []
        for i, layer in enumerate(self.model.layers):
            rec = LayerRecord(i, layer.name, type(layer).__name__, relu=is_relu_output(layer))
            rec.params_before = {k: _host(p) for k, p in layer.params.items()}
            self.records.append(rec)
            self._handles.append(layer.register_forward_hook(self._forward_hook(rec)))
            self._handles.append(layer.register_backward_hook(self._backward_hook(rec)))

    def _forward_hook(self, rec):
        def hook(layer, x, y):
            if self._recording:
                rec.x, rec.y = _host(x), _host(y)
        return hook

    def _backward_hook(self, rec):
        def hook(layer, dy, dx):
            if self._recording:
                rec.dy, rec.dx, rec.backward_ran = _host(dy), _host(dx), True
                rec.dy_at_logits = layer.last_backward_at_logits  # dy is dL/dz on the fused path
                rec.grads = {k: _host(g) for k, g in layer.grads.items()}
        return hook

    # ------------------------------------------------------------------ report
    def table(self) -> str:
        """The recorded step as a text table, one row per layer."""
        if not self.records or self.records[0].y is None:
            return "trace: no training step was recorded (call model.train_on_batch or fit inside the block)"
        header = ["layer", "type", "in shape", "out shape", "mean", "std", "min", "max", "zero%",
                  "|dy|", "|dx|", "|grad|", "upd/w", "flags"]
        rows = []
        flags = self.flags
        for r in self.records:
            mean, std, lo, hi = r.stats()
            zf = r.zero_fraction
            dy = _fmt(_norm(r.dy)) + ("*" if r.dy_at_logits else "") if r.backward_ran else "-"
            rows.append([
                r.name, r.class_name, str(tuple(r.x.shape)), str(tuple(r.y.shape)),
                _fmt(mean), _fmt(std), _fmt(lo), _fmt(hi),
                "-" if zf is None else f"{100 * zf:.1f}",
                dy, _fmt(_norm(r.dx)) if r.backward_ran else "-",
                _fmt(r.grad_norm), _fmt(r.update_ratio, ".2e"),
                "".join(code for name, code, _ in flags if name == r.name),
            ])
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        line = lambda cells: "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        out = [line(header), "-" * len(line(header))] + [line(r).rstrip() for r in rows]
        loss = f"loss {self.loss:.6g}" if self.loss is not None else ""
        out.append(f"{loss}; * = dy taken at the logits (softmax/sigmoid fused with the loss); "
                   "- = not computed in training")
        if flags:
            out.append("flags:")
            out += [f"  {code} {name}: {msg}" for name, code, msg in flags]
        else:
            out.append("flags: none (update ratios, dead ReLUs, gradient gains, zero gradients and the input range "
                       "look healthy)")
        return "\n".join(out)

    @property
    def flags(self):
        """[(layer name, code, message)] for the recorded step (see the module docstring)."""
        if not self.records or self.records[0].y is None:
            return []
        return [(r.name, code, msg) for r in self.records for code, msg in record_flags(r, r is self.records[0])]

    def __str__(self):
        return self.table()

    def save_html(self, path, title="One training step", gradcheck=None, tol=1e-6):
        """Write the recorded step as a self-contained HTML page (see ``debug.html_report``)."""
        return html_report.save_trace_html(self, path, title=title, gradcheck=gradcheck, tol=tol)

    def __getitem__(self, key):
        """``tr['dense_1']`` or ``tr[0]``: the LayerRecord of that layer."""
        if isinstance(key, int):
            return self.records[key]
        for r in self.records:
            if r.name == key:
                return r
        raise KeyError(f"no layer named {key!r} in the trace; layers: {', '.join(r.name for r in self.records)}")


def trace(model, step=0):
    """Record one training step of ``model`` (see ``Trace``); use as ``with trace(model) as tr:``."""
    return Trace(model, step=step)
