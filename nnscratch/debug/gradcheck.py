"""Gradient checks: compare hand-written backward passes with central differences (float64).

For a function with output y and an upstream gradient dy (random, fixed), the scalar
f(x) = sum(y(x) * dy) has df/dx = the vector-Jacobian product that ``backward(dy)`` returns.
Central differences estimate it coordinate by coordinate:

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

(the CS231n "upstream dy" form). The reported error for each input or parameter is

    max_i |analytic_i - numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|, 1e-12)

that is, the worst difference relative to the largest gradient of that array; a correct
backward gives about 1e-8 or less in float64, a wrong formula gives O(1). Large arrays are
checked on a random sample of coordinates (``max_checks`` per array).
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.layers.base import Layer
from nnscratch.losses import Loss
from nnscratch.models.data_adapter import OutputSpec
from nnscratch.models.model import Model

#: The default pass threshold: a correct float64 backward gives about 1e-8 or less.
DEFAULT_TOL = 1e-6


class GradCheckResult(dict):
    """{name: relative error}; ``.worst`` is (name, error); ``.max_error`` the largest error;
    ``.passed`` is True when every error is below ``.tol`` (the check's ``tol`` argument)."""

    def __init__(self, *args, tol=DEFAULT_TOL, **kwargs):
        super().__init__(*args, **kwargs)
        self.tol = tol

    @property
    def worst(self):
        return max(self.items(), key=lambda kv: kv[1]) if len(self) else (None, 0.0)

    @property
    def max_error(self):
        return self.worst[1]

    @property
    def passed(self) -> bool:
        return self.max_error < self.tol

    def __repr__(self):
        body = ", ".join(f"{k}: {v:.2e}" for k, v in self.items())
        verdict = "passed" if self.passed else "FAILED"
        return f"GradCheckResult({body}; worst {self.worst[0]} {self.worst[1]:.2e}; {verdict} at tol {self.tol:g})"


def rel_error(analytic, numeric):
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0), 1e-12)
    return float(np.abs(a - n).max(initial=0.0) / scale)


def _coords(shape, max_checks, gen):
    size = int(np.prod(shape))
    if size <= max_checks:
        return list(range(size))
    return sorted(gen.choice(size, size=max_checks, replace=False).tolist())


def numerical_gradient(f, arr, h=1e-6, coords=None):
    """Central-difference gradient of the scalar f() with respect to ``arr`` (modified in place
    and restored), at the flat indices ``coords`` (all by default). Returns (coords, values)."""
    flat = arr.reshape(-1)
    if coords is None:
        coords = range(flat.size)
    values = []
    for i in coords:
        old = flat[i].copy()
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        values.append((fp - fm) / (2 * h))
    return list(coords), np.asarray(values, dtype=np.float64)


def _host_sum(a):
    return float(backend.to_host(a).sum())


def check_layer(layer, x, dy=None, h=1e-6, max_checks=200, seed=0, training=False, tol=DEFAULT_TOL):
    """Gradient check of a layer's backward (dx and every parameter) in float64."""
    """Gradient check of a layer's backward at input ``x``: errors for 'x' and each parameter."""
    gen = np.random.default_rng(seed)
    x64 = backend.to_device(np.ascontiguousarray(backend.to_host(x), dtype=np.float64))  # contiguous: perturbed through a flat view
    if not layer.built:
        with backend.floatx_scope("float64"):
            layer(x64, training=training)
    old_dtypes = {k: v.dtype for k, v in layer.params.items()}
    layer.cast_params("float64")
    try:
        y = layer.forward(x64, training=training)
        if dy is None:
            dy = gen.standard_normal(y.shape)
        dy = backend.to_device(np.asarray(backend.to_host(dy), dtype=np.float64))
        y = layer.forward(x64, training=training)
        need, layer.need_input_grad = layer.need_input_grad, True  # the check needs dx
        try:
            dx = layer.backward(dy)
        finally:
            layer.need_input_grad = need
        analytic = {"x": backend.to_host(dx)}
        analytic.update({k: backend.to_host(g).copy() for k, g in layer.grads.items()})

        def f():
            return _host_sum(layer.forward(x64, training=training) * dy)

        result = GradCheckResult(tol=tol)
        for name, arr in [("x", x64)] + list(layer.params.items()):
            coords = _coords(arr.shape, max_checks, gen)
            coords, num = numerical_gradient(f, arr, h=h, coords=coords)
            result[name] = rel_error(analytic[name].reshape(-1)[coords], num)
        return result
    finally:
        for k, dt in old_dtypes.items():
            layer.params[k] = layer.params[k].astype(dt)
            layer.grads[k] = layer.grads[k].astype(dt)


def check_loss(loss, y_pred, y_true, h=1e-6, max_checks=200, seed=0, from_logits_path=False, tol=DEFAULT_TOL):
    """Gradient check of a loss's backward with respect to y_pred (float64)."""
    gen = np.random.default_rng(seed)
    p = backend.to_device(np.ascontiguousarray(backend.to_host(y_pred), dtype=np.float64))  # contiguous: perturbed through a flat view
    spec = p
    t = loss.check_labels(y_true, spec)
    if backend.to_host(t).dtype.kind == "f":
        t = t.astype("float64")
    forward = loss.forward_logits if from_logits_path else loss.forward
    forward(p, t)
    analytic = backend.to_host(loss.backward())

    def f():
        return _host_sum(forward(p, t))

    coords = _coords(p.shape, max_checks, gen)
    coords, num = numerical_gradient(f, p, h=h, coords=coords)
    return GradCheckResult({"y_pred": rel_error(analytic.reshape(-1)[coords], num)}, tol=tol)


def check_model(model, x, y, h=1e-6, max_checks=50, seed=0, tol=DEFAULT_TOL):
    """Gradient check of a whole compiled model in float64: the loss's gradient with respect to
    every parameter (and the input), through every layer's backward. Returns errors keyed
    'layer/param' and 'x'; ``result.worst`` names the worst one."""
    if not model.compiled:
        raise RuntimeError("gradient_check(model, ...): compile the model first (it needs its loss)")
    gen = np.random.default_rng(seed)
    x64 = backend.to_device(np.ascontiguousarray(backend.to_host(x), dtype=np.float64))  # contiguous: perturbed through a flat view
    if not model.built:
        model.build((None,) + tuple(x64.shape[1:]))
    owners = model._param_owners()  # every layer, inside nested models and custom layers too
    old = {(id(l), k): v.dtype for l in owners for k, v in l.params.items()}
    for layer in owners:
        for d in (layer.params, layer.grads, layer.state):
            for k in d:
                d[k] = d[k].astype("float64")
    try:
        spec = OutputSpec((x64.shape[0],) + tuple(model.output_shape[1:]), "float64")
        t = model.loss.check_labels(y, spec)
        if backend.to_host(t).dtype.kind == "f":
            t = t.astype("float64")
        fused = model.fuses_loss()

        def loss_value():
            loss = model.loss_at_output(model.forward(x64, training=False), t)[0]
            extra = model.added_loss() if hasattr(model, "added_loss") else None  # add_loss terms
            return loss if extra is None else loss + extra

        loss_value()
        dx = model.backward(model.loss.backward(), from_logits=fused, need_input_grad=True)
        analytic = {"x": backend.to_host(dx)}
        for key, _, g in model.parameters():
            analytic[key] = backend.to_host(g).copy()

        def f():
            return _host_sum(loss_value())

        result = GradCheckResult(tol=tol)
        for name, arr in [("x", x64)] + [(k, p) for k, p, _ in model.parameters()]:
            coords = _coords(arr.shape, max_checks, gen)
            coords, num = numerical_gradient(f, arr, h=h, coords=coords)
            result[name] = rel_error(analytic[name].reshape(-1)[coords], num)
        return result
    finally:
        for layer in owners:
            for k in layer.params:
                dt = old[(id(layer), k)]
                layer.params[k] = layer.params[k].astype(dt)
                layer.grads[k] = layer.grads[k].astype(dt)


def gradient_check(target, *args, **kwargs):
    """Check ``target``'s backward against central differences in float64.

    * ``gradient_check(layer, x, dy=None)`` -> errors for 'x', 'kernel', 'bias', ...
    * ``gradient_check(loss, y_pred, y_true)`` -> error for 'y_pred'
    * ``gradient_check(model, x, y)`` -> errors for every 'layer/param' and 'x'
    Returns a GradCheckResult (a dict with ``.worst``, ``.max_error`` and ``.passed``; the
    pass threshold is the ``tol`` keyword, 1e-6 by default)."""
    if isinstance(target, Model):
        return check_model(target, *args, **kwargs)
    if isinstance(target, Layer):
        return check_layer(target, *args, **kwargs)
    if isinstance(target, Loss):
        return check_loss(target, *args, **kwargs)
    raise TypeError(f"gradient_check: expected a Layer, Loss or Model, received {type(target).__name__}")
