"""What to say when training produces NaN or Inf: where the values first became non-finite,
how it started, and the likely causes; ``fit`` stops with that message (``model.stop_reason``)
and ``nn.debug.detect_anomaly`` raises with the same diagnosis.

Where, in this order (the first that applies):

1. the input batch: a NaN/Inf in the data (a float64 value beyond float32's range becomes inf
   when cast) names the sample, ``x[i]``; the weights are not blamed for it;
2. a weight whose update made it non-finite (top-down, the order in which backward meets
   the layers, so detect_anomaly's backward check names the same layer);
3. the forward pass re-run with the weights as they were *before* the failing step (the
   update already ran): the first layer whose output is non-finite, as detect_anomaly's
   forward check says during that step;
4. the loss itself.

How it started: a ``StepMonitor`` keeps the last few steps' loss and, on the NumPy backend while
the loss is rising, the update ratio ||w_after - w_before|| / ||w_before|| (the weights are
copied only after a step whose loss rose, so a healthy run pays nothing).
"""
from __future__ import annotations

import collections
import math

from nnscratch import backend

KEEP_STEPS = 5
UPDATE_RATIO_RULE = 1e-3


def _sq(xp, a):
    """||a||^2 as a Python float (BLAS dot in the array's dtype: cheap; may overflow to inf)."""
    flat = a.reshape(-1)
    return float(xp.vdot(flat, flat))


class StepMonitor:
    """The last steps' (step, loss, update ratio), and, while the loss is rising, the weights
    before the latest step.

    A normal step costs nothing here but appending its loss. Only when a step's loss set a new
    high (more than RISE times every loss of the last KEEP_STEPS steps, or it is the first step
    of the fit) are the weights copied after it, so that the next step's update ratio
    ||w_after - w_before|| / ||w_before|| can be measured and a failing next step re-run with
    the weights it started from: an exploding run sets a new high at every step, so its ratios
    are all measured, while a healthy run copies almost never (performance: a copy per step
    cost a batch-32 MLP up to 20%; the MLP's noisy batch-32 losses rose by more than RISE over
    the step before in 34% of the steps of an epoch, over the highest of the last 5 in 6%)."""

    RISE = 1.2

    def __init__(self, owner=None):
        self.owner = owner
        self.recent = collections.deque(maxlen=KEEP_STEPS)
        self.snapshot = None  # [copy of each parameter] as they were after step ``snapshot_step``
        self.snapshot_step = None
        self._diff = None

    def after_step(self, model, step, loss):
        """Record one step; returns False when the update left a parameter non-finite. On a
        device (checked once per epoch) only the loss is recorded."""
        if backend.current() != "numpy":
            self.recent.append((step, loss, None))
            return True
        params = [p for _, p, _ in model.parameters()]
        ratio, finite = None, True
        previous = max((r[1] for r in self.recent), default=None)  # the highest recent loss
        if params:
            xp = backend.get_array_module(params[0])
            armed = (self.snapshot_step == step - 1 and self.snapshot is not None
                     and [s.shape for s in self.snapshot] == [p.shape for p in params])
            if armed:  # the weights before this step's update were kept: measure the update
                du = w = 0.0
                for p, s, d in zip(params, self.snapshot, self._diff):
                    xp.subtract(p, s, out=d)
                    du += _sq(xp, d)
                    w += _sq(xp, s)
                ratio = math.sqrt(du / w) if w > 0 else float("inf")
                finite = math.isfinite(du)
                if not finite:  # inf from squaring 1e20 in float32, or a real NaN/Inf?
                    finite = all(bool(backend.to_host(xp.isfinite(p).all())) for p in params)
            rising = previous is None or not math.isfinite(previous) or loss > self.RISE * previous
            if rising and finite:
                if armed:
                    for p, s in zip(params, self.snapshot):
                        xp.copyto(s, p)
                else:
                    self.snapshot = [p.copy() for p in params]
                    self._diff = [xp.empty_like(p) for p in params]
                self.snapshot_step = step
        self.recent.append((step, loss, ratio))
        return finite

    def note(self, step, loss):
        self.recent.append((step, loss, None))


def monitor_for(model):
    """The model's StepMonitor for the current fit (a new History starts a new one)."""
    mon = getattr(model, "_step_monitor", None)
    owner = getattr(model, "history", None)
    if mon is None or mon.owner is not owner:
        mon = model._step_monitor = StepMonitor(owner)
    return mon


def where_layer(layer):
    return f"layer '{layer.name}' ({type(layer).__name__})"


def nonfinite_rows(xb):
    """Row indices of the batch that hold NaN or Inf (host list)."""
    a = xb[0] if isinstance(xb, list) else xb
    xp = backend.get_array_module(a)
    if a.dtype.kind not in "fc":
        return []
    bad = backend.to_host(~xp.isfinite(a).reshape(a.shape[0], -1).all(axis=1))
    return [int(i) for i in bad.nonzero()[0]]


def input_culprit(xb, rows=None, order=None):
    """'the input: sample 3 of this batch (x[1234]) contains NaN' or None."""
    bad = nonfinite_rows(xb)
    if not bad:
        return None
    j = bad[0]
    where = ""
    if rows is not None:
        i = rows[0] + j
        where = f" (x[{int(order[i]) if order is not None else i}])"
    a = (xb[0] if isinstance(xb, list) else xb)[j]
    xp = backend.get_array_module(a)
    kind = "NaN" if bool(backend.to_host(xp.isnan(a).any())) else "Inf"
    more = f"; {len(bad)} samples of this batch are non-finite" if len(bad) > 1 else ""
    return f"the input: sample {j} of this batch{where} contains {kind}{more}"


def weight_culprit(model, step):
    """The first non-finite weight, top-down (the order backward meets the layers)."""
    for layer in reversed(model.layers):
        for name, w in list(layer.params.items()) + list(layer.state.items()):
            xp = backend.get_array_module(w)
            if not bool(backend.to_host(xp.isfinite(w).all())):
                return (f"weight '{name}' of {where_layer(layer)}: the update of step {step + 1} made it non-finite "
                        "(its gradient was non-finite or too large)")
    return None


def forward_culprit(model, xb, weights=None):
    """Re-run the forward (inference mode) with ``weights`` (the parameters before the step)
    and name the first layer whose output is non-finite."""
    params = [p for _, p, _ in model.parameters()]
    saved = None
    if weights is not None and len(weights) == len(params):
        xp = backend.get_array_module(params[0])
        saved = [p.copy() for p in params]
        for p, w in zip(params, weights):
            xp.copyto(p, w)
    found, last = [], []

    def note(layer, _x, out):
        if not found and hasattr(out, "dtype"):
            xp = backend.get_array_module(out)
            if not bool(backend.to_host(xp.isfinite(out).all())):
                found.append(layer)
            last[:] = [backend.to_float(xp.abs(out).max())]

    handles = [layer.register_forward_hook(note) for layer in model.layers]
    try:
        model.forward(xb, training=False)
    finally:
        for h in handles:
            h.remove()
        if saved is not None:
            for p, s in zip(params, saved):
                xp.copyto(p, s)
    if found:
        return f"the forward output of {where_layer(found[0])} (its input was finite), with the weights before the step"
    if last:
        return (f"the loss itself (every layer output was finite with the weights before the step; the largest "
                f"output, {last[0]:.3g}, overflowed in the loss)")
    return None


def how_it_started(monitor, xb, cause=None):
    """Lines: the loss over the last steps, the update ratio, the input range, likely causes
    (``cause``, when the caller knows it, comes first and replaces the generic guess)."""
    lines, causes = [], [cause] if cause else []
    if monitor.recent:
        lines.append("loss over the last steps: " + ", ".join(f"step {s + 1} {l:.3g}" for s, l, _ in monitor.recent))
        ratios = [(s, r) for s, _, r in monitor.recent if r is not None]
        if ratios:
            lines.append("update ratio ||dw||/||w|| (rule of thumb ~1e-3): "
                         + ", ".join(f"step {s + 1} {r:.3g}" for s, r in ratios))
        finite = [l for _, l, _ in monitor.recent if math.isfinite(l)]
        if any(r > 0.1 for _, r in ratios) or (len(finite) >= 2 and finite[-1] > 100 * max(finite[0], 1e-12)):
            causes.append("the learning rate is too high for this model and data (try it 10x smaller)")
    a = xb[0] if isinstance(xb, list) else xb
    if a.dtype.kind == "f" and a.size:
        xp = backend.get_array_module(a)
        finite_vals = a[xp.isfinite(a)]
        if finite_vals.size:
            lo, hi = backend.to_float(finite_vals.min()), backend.to_float(finite_vals.max())
            lines.append(f"inputs of this batch range from {lo:.4g} to {hi:.4g}")
            if max(abs(lo), abs(hi)) > 10:
                causes.insert(0, f"the inputs are not scaled (up to {max(abs(lo), abs(hi)):.4g}): divide images by "
                                 "255 or standardise")
    if nonfinite_rows(xb):
        causes.insert(0, "the data contain NaN/Inf (clean them; nn.config.set_check_numerics(True) checks before fit)")
    if not causes:
        causes.append("a log or division of 0 in a custom layer or loss, or an exploding gradient "
                      "(nn.debug.trace(model) shows the update ratios; nn.debug.detect_anomaly names the layer)")
    lines.append("likely causes: " + "; ".join(causes))
    return lines


def diagnose(model, monitor, xb, step, rows=None, weights_finite=True):
    """(where, [how-it-started lines]) for a step whose loss or weights became non-finite."""
    progress = getattr(model, "_progress", None) or {}
    where = input_culprit(xb, rows, progress.get("order"))
    if where is None and not weights_finite:
        where = weight_culprit(model, step)
    if where is None:
        before = monitor.snapshot if monitor.snapshot_step == step - 1 else None  # weights before this step
        if before is not None and not all(bool(backend.to_host(backend.get_array_module(w).isfinite(w).all()))
                                          for w in before):
            where = weight_culprit(model, step - 1)
        else:
            where = forward_culprit(model, xb, before)
    return where or "the loss itself (every layer output was finite)", how_it_started(monitor, xb)


def check_finite_loss(model, loss, xb, step, epoch, rows=None, logs=None):
    """Stop training when the loss (or, after the update, a weight) became NaN/Inf: say where
    the values first became non-finite and how it started; keep the partial epoch's logs in
    the History (``model._partial_logs``), the non-finite loss included, as Keras records it."""
    lossf = backend.to_float(loss)
    monitor = monitor_for(model)
    if math.isfinite(lossf):
        if monitor.after_step(model, step, lossf):
            return
        where, how = diagnose(model, monitor, xb, step, rows, weights_finite=False)
        what = f"non-finite weights after the update of epoch {epoch + 1}, step {step + 1} (loss {lossf:.4g})"
    else:
        monitor.note(step, lossf)
        where, how = diagnose(model, monitor, xb, step, rows)
        what = f"non-finite loss ({lossf}) at epoch {epoch + 1}, step {step + 1}"
    model.stop_reason = f"{what}; first non-finite value: {where}\n  " + "\n  ".join(how)
    model.stop_training = True
    partial = logs() if callable(logs) else {"loss": lossf}
    model._partial_logs = partial
    history = getattr(model, "history", None)
    if history is not None and hasattr(history, "on_epoch_end"):
        history.on_epoch_end(epoch, partial)  # the partial epoch, as Keras records it
    print(f"\nStopping: {model.stop_reason}")

