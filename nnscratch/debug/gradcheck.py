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

Kinks: where the ±h perturbation crosses a corner of the function (ReLU at 0, a max-pooling
tie, the loss's clip, MAE at 0; see ``debug.kinks``), the central difference is not a
derivative: on real images (black pixels, zero biases) many pre-activations are exactly 0.
Such coordinates are detected by comparing the forward passes' branch patterns at x + h and
x - h, left out, replaced by other sampled coordinates where possible, and reported apart
(``result.left_out``), never as errors.

A model check also checks each layer's own backward alone, top-down, at the activations the
batch gives it, and names the first wrong one (``result.culprit``).
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.debug import kinks
from nnscratch.layers.base import Layer
from nnscratch.losses import Loss
from nnscratch.models.data_adapter import OutputSpec
from nnscratch.models.model import Model

#: The default pass threshold: a correct float64 backward gives about 1e-8 or less.
DEFAULT_TOL = 1e-6


class GradCheckResult(dict):
    """{name: relative error}; ``.worst`` is (name, error); ``.max_error`` the largest error;
    ``.passed`` is True when every error is below ``.tol`` (the check's ``tol`` argument).

    ``.left_out``: {name: '37 of 87 tried coordinates crossed a ReLU kink ... and were left out'}
    for the arrays where some perturbations crossed a kink (not errors; see ``debug.kinks``); an
    array whose every tried coordinate crossed one has the error ``nan`` (unchecked).
    Model checks also have ``.layers`` ({layer name: the check of that layer's own backward at
    the batch's activations}) and ``.culprit``, one line naming the first layer from the top
    whose own backward is wrong (None when every layer passes)."""

    def __init__(self, *args, tol=DEFAULT_TOL, **kwargs):
        super().__init__(*args, **kwargs)
        self.tol = tol
        self.left_out = {}
        self.layers = {}
        self.culprit = None

    def _checked(self):
        return [(k, v) for k, v in self.items() if v == v]  # NaN: every coordinate crossed a kink

    @property
    def worst(self):
        checked = self._checked()
        return max(checked, key=lambda kv: kv[1]) if checked else (None, 0.0)

    @property
    def max_error(self):
        return self.worst[1]

    @property
    def passed(self) -> bool:
        return self.max_error < self.tol and all(r.passed for r in self.layers.values())

    def report(self) -> str:
        """One line per array ('ok' / 'WRONG' / 'unchecked'), the kink notes, the culprit line."""
        lines = []
        width = max([len(k) for k in self] + [4])
        for k, v in self.items():
            verdict = "unchecked" if v != v else ("ok" if v < self.tol else "WRONG")
            note = f"  ({self.left_out[k]})" if k in self.left_out else ""
            lines.append(f"{k:{width}s} {v:.2e}  {verdict}{note}")
        if self.layers:
            bad = [n for n, r in self.layers.items() if not r.passed]
            lines.append(f"each layer's own backward at this batch's activations: "
                         f"{len(self.layers) - len(bad)} of {len(self.layers)} pass"
                         + (f"; wrong: {', '.join(bad)}" if bad else ""))
        if self.culprit:
            lines.append(self.culprit)
        elif self.layers:
            lines.append("every layer's own backward agrees with central differences"
                         + ("" if self.passed else "; the model's difference comes from the loss or the wiring"))
        return "\n".join(lines)

    def __repr__(self):
        body = ", ".join(f"{k}: {v:.2e}" for k, v in self.items())
        verdict = "passed" if self.passed else "FAILED"
        kinks = f"; {len(self.left_out)} arrays had coordinates at kinks left out" if self.left_out else ""
        culprit = f"; {self.culprit}" if self.culprit else ""
        return (f"GradCheckResult({body}; worst {self.worst[0]} {self.worst[1]:.2e}; {verdict} at tol {self.tol:g}"
                f"{kinks}{culprit})")


def rel_error(analytic, numeric):
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return float("nan")
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0), 1e-12)
    return float(np.abs(a - n).max(initial=0.0) / scale)


def _candidates(shape, max_checks, gen):
    """Flat indices to try, in random order: all of them for a small array, else up to
    4 * max_checks, so that coordinates at kinks can be replaced by others."""
    size = int(np.prod(shape))
    if size <= max_checks:
        return list(range(size))
    return gen.choice(size, size=min(size, 4 * max_checks), replace=False).tolist()


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


def _compare(result, name, analytic, f, arr, max_checks, gen, h):
    """Central differences away from kinks for one array; fills result[name] and its note."""
    candidates = _candidates(arr.shape, max_checks, gen)
    coords, num, left_out = kinks.numeric_away_from_kinks(f, arr, candidates, max_checks, h=h)
    result[name] = rel_error(analytic.reshape(-1)[coords], num)
    if left_out:
        result.left_out[name] = kinks.describe_left_out(len(coords) + len(left_out), left_out)


def check_layer(layer, x, dy=None, h=1e-6, max_checks=200, seed=0, training=False, tol=DEFAULT_TOL):
    """Gradient check of a layer's backward at input ``x``: errors for 'x' and each parameter
    (float64; coordinates whose perturbation crosses a kink are left out and reported apart)."""
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
            out = layer.forward(x64, training=training)
            # a layer's add_loss terms are part of what its backward differentiates (coefficient 1)
            added = sum(_host_sum(t) for t in getattr(layer, "_last_added_losses", ()))
            return _host_sum(out * dy) + added, [(k, "", a) for k, a in kinks.layer_signature(layer, x64, out)]

        result = GradCheckResult(tol=tol)
        for name, arr in [("x", x64)] + list(layer.params.items()):
            _compare(result, name, analytic[name], f, arr, max_checks, gen, h)
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
        sig = [(k, "", a) for k, a in kinks.loss_signature(loss, p, from_logits_path, t)]
        return _host_sum(forward(p, t)), sig

    result = GradCheckResult(tol=tol)
    _compare(result, "y_pred", analytic, f, p, max_checks, gen, h)
    return result


def _culprit(layer, res):
    name, err = res.worst
    what = "dx" if name == "x" else name
    return (f"layer '{layer.name}' ({type(layer).__name__}): {what} wrong, {err:.2e}; "
            f"check it alone with gradient_check(layer, x)")


def check_model(model, x, y, h=1e-6, max_checks=50, seed=0, tol=DEFAULT_TOL, layers=True):
    """Gradient check of a whole compiled model in float64: the loss's gradient with respect to
    every parameter (and the input), through every layer's backward. Returns errors keyed
    'layer/param' and 'x'; ``result.worst`` names the worst one.

    With ``layers=True`` (default) each layer's own backward is then checked alone, top-down, at
    the activations this batch gives it (``result.layers``), and ``result.culprit`` names the
    first wrong one: a wrong gradient spreads to every parameter below it, so the model-level
    errors alone cannot tell a parameter-free layer's bug from its neighbours'."""
    if not model.compiled:
        raise RuntimeError("gradient_check(model, ...): compile the model first (it needs its loss)")
    if model.loss is None:
        raise ValueError(f"gradient_check(model, ...): model '{model.name}' has no single compiled loss (a loss per "
                         "output, loss_weights, or add_loss only); check its layers with check_layer, or its total "
                         "loss with numerical_gradient as tests/test_multi_output.py does")
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
        recorder = kinks.SignatureRecorder(model.layers)

        def loss_value():
            y_pred = model.forward(x64, training=False)
            loss = model.loss_at_output(y_pred, t)[0]
            extra = model.added_loss() if hasattr(model, "added_loss") else None  # add_loss terms
            return (loss if extra is None else loss + extra), y_pred

        inputs = {}

        def keep_input(layer, xin, _y):
            inputs[layer.name] = xin

        handles = [l.register_forward_hook(keep_input) for l in model.layers]
        try:
            loss_value()
        finally:
            for hd in handles:
                hd.remove()
        dx = model.backward(model.loss.backward(), from_logits=fused, need_input_grad=True)
        analytic = {"x": backend.to_host(dx)}
        for key, _, g in model.parameters():
            analytic[key] = backend.to_host(g).copy()

        def f():
            with recorder:
                value, y_pred = loss_value()
            sig = recorder.take() + [(k, "", a) for k, a in kinks.loss_signature(model.loss, y_pred, fused, t)]
            return _host_sum(value), sig

        result = GradCheckResult(tol=tol)
        for name, arr in [("x", x64)] + [(k, p) for k, p, _ in model.parameters()]:
            _compare(result, name, analytic[name], f, arr, max_checks, gen, h)
        if layers:
            for layer in reversed(model.layers):
                xin = inputs.get(layer.name)
                if xin is None or isinstance(xin, list) or not hasattr(xin, "shape"):
                    continue  # an input layer, or a merge of several inputs: checked through the model only
                res = check_layer(layer, xin, h=h, max_checks=max_checks, seed=seed, tol=tol)
                result.layers[layer.name] = res
                if result.culprit is None and not res.passed:
                    result.culprit = _culprit(layer, res)
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
