"""``nn.debug.detect_anomaly(model)``: stop at the first layer that produces NaN or Inf.

    with nn.debug.detect_anomaly(model):
        model.fit(x, y, epochs=1)
    # FloatingPointError: non-finite values in the forward output of layer 'dense_1' (Dense):
    #   3 of 320 entries (nan: 3, inf: 0); its input was finite

Inside the block every layer checks, with a forward hook, that its output is finite and,
with a backward hook, that the gradient it receives (``dy``), the gradients of its parameters
and the gradient it sends down (``dx``) are finite. The first check that fails raises
``FloatingPointError`` naming the layer, so the layer that *created* the bad value is named,
not the hundred layers it then spread to. The checks cost a device-to-host synchronisation
per layer, so use the block for debugging only.

Each training step inside the block first checks its input batch (a NaN in the data names
the sample, not a layer), and every message ends with how it started: the loss over the last
steps, the update ratio and the input range, with the likely causes, from the same
``nnscratch.models.diagnosis`` that words fit's NaN stop, so the two name the same place.
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.models import diagnosis


def _nonfinite(a):
    """None if ``a`` is finite, else a description such as '3 of 320 entries (nan: 3, inf: 0)'."""
    if a is None:
        return None
    h = np.asarray(backend.to_host(a))
    if h.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(h)
    if not bad.any():
        return None
    return f"{int(bad.sum())} of {h.size} entries (nan: {int(np.isnan(h).sum())}, inf: {int(np.isinf(h).sum())})"


def _where(layer):
    return f"layer '{layer.name}' ({type(layer).__name__})"


class DetectAnomaly:
    """Context manager returned by ``detect_anomaly(model)``."""

    def __init__(self, model):
        self.model = model
        self._handles = []
        self.monitor = diagnosis.StepMonitor(self)
        self.steps = 0
        self._xb = None

    def __enter__(self):
        for layer in self.model.layers:
            self._handles.append(layer.register_forward_hook(self._check_forward))
            self._handles.append(layer.register_backward_hook(self._check_backward))
        original = self.model.train_step

        def checked_train_step(x, y, metric_fns=(), **kwargs):  # sample_weight=... passes through
            self._xb = x
            bad = diagnosis.input_culprit(x)
            if bad:
                self._raise(f"non-finite values in {bad}, before any layer ran")
            for layer in self.model.layers:
                for name, w in list(layer.params.items()) + list(layer.state.items()):
                    bad = _nonfinite(w)
                    if bad:
                        self._raise(f"non-finite values in weight '{name}' of {_where(layer)} before the step: {bad}",
                                    cause="the weight was set or loaded non-finite (set_weights, load_weights, an "
                                          "assignment), or an update outside this block made it so")
            loss, sums = original(x, y, metric_fns, **kwargs)
            self.monitor.after_step(self.model, self.steps, backend.to_float(loss))
            self.steps += 1
            self._xb = None
            return loss, sums

        self.model.train_step = checked_train_step  # instance attribute shadows the method
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        self.model.__dict__.pop("train_step", None)
        return False

    def _raise(self, message, cause=None):
        how = diagnosis.how_it_started(self.monitor, self._xb, cause) if self._xb is not None else []
        step = f" (training step {self.steps + 1} inside the block)" if self._xb is not None else ""
        raise FloatingPointError(message + step + "".join(f"\n  {line}" for line in how))

    def _check_forward(self, layer, x, y):
        bad = _nonfinite(y)
        if bad:
            origin = "its input was finite" if _nonfinite(x) is None else "its input was already non-finite"
            self._raise(f"non-finite values in the forward output of {_where(layer)}: {bad}; {origin}")

    def _check_backward(self, layer, dy, dx):
        bad = _nonfinite(dy)
        if bad:
            self._raise(f"non-finite values in the gradient dy arriving at {_where(layer)} (from the layer above "
                        f"or the loss): {bad}")
        for name, g in layer.grads.items():
            bad = _nonfinite(g)
            if bad:
                self._raise(f"non-finite values in the backward gradient of '{name}' of {_where(layer)}: {bad}")
        bad = _nonfinite(dx)
        if bad:
            self._raise(f"non-finite values in the backward output dx of {_where(layer)}: {bad}")


def detect_anomaly(model):
    """Raise FloatingPointError at the first layer whose forward or backward is non-finite."""
    if not hasattr(model, "layers"):
        raise TypeError(f"detect_anomaly: expected a model with .layers, received {type(model).__name__}")
    return DetectAnomaly(model)
