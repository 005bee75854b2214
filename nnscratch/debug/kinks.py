"""Where a gradient check must not trust central differences: the engine's kinks.

A central difference (f(x + h) - f(x - h)) / 2h estimates a derivative only where f is smooth
between x - h and x + h. nnscratch's functions have corners (CS231n's "kinks"):

* ReLU and LeakyReLU at 0 (also an activation='relu' inside Dense/Conv2D, ReLU's threshold and
  max_value, i.e. ReLU6);
* max pooling where two values of a window tie (and, with 'same' padding, a window cut by the
  edge: the pattern of winners includes the padded border, so it is covered too);
* GlobalMaxPooling2D ties;
* the losses' 1e-7 clip of probabilities (when the loss is not fused with softmax/sigmoid);
* MeanAbsoluteError where y_pred == y_true;
* a custom parameter-free layer (a class outside nnscratch, same input and output shape): the
  sign of its input, because a hand-written activation usually has its corner at 0.

A *signature* is the pattern of branches a forward pass took: ``y > 0`` for a ReLU output, the
argmax of each pooling window, the clip mask... Two forward passes with the same signature ran
the same smooth piece, so their difference is a valid estimate; when the signatures at x + h
and x - h differ, the perturbation crossed a kink and the coordinate is left out (reported
apart, never as WRONG). The signature is read with forward hooks, so it works for any model.
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend

RELU_LIKE = ("relu", "leaky_relu")


def _h(a):
    return np.asarray(backend.to_host(a))


def layer_signature(layer, x, y):
    """[(kind, array)] for one forward call of ``layer`` (x its input, y its output)."""
    cls = type(layer).__name__
    out = []
    act = getattr(getattr(layer, "activation", None), "name", None)
    if act in RELU_LIKE:
        out.append(("a ReLU kink", _h(y) > 0))
    if cls == "ReLU" and not isinstance(x, list):
        xh = _h(x)
        out.append(("a ReLU kink", xh > layer.threshold))
        if layer.max_value is not None:
            out.append(("a ReLU max_value kink", xh >= layer.max_value))
    elif cls == "LeakyReLU" and not isinstance(x, list):
        out.append(("a LeakyReLU kink", _h(x) > 0))
    elif cls == "MaxPooling2D" and "argmax" in layer.cache:
        out.append(("a max-pooling tie", _h(layer.cache["argmax"]).copy()))
    elif cls == "GlobalMaxPooling2D" and "share" in layer.cache:
        out.append(("a max-pooling tie", _h(layer.cache["share"]) > 0))
    elif (not type(layer).__module__.startswith("nnscratch.") and not layer.params and not isinstance(x, list)
          and getattr(x, "shape", None) == getattr(y, "shape", None)):
        out.append(("the kink at 0 of a custom layer", _h(x) > 0))
    return out


def loss_signature(loss, y_pred, from_logits, y_true):
    """[(kind, array)] for the loss: its probability clip, or MAE's corner."""
    cls = type(loss).__name__
    if cls == "MeanAbsoluteError":
        return [("MAE's kink (y_pred == y_true)", np.sign(_h(y_pred) - _h(y_true)))]
    if cls.endswith("Crossentropy") and not from_logits and not getattr(loss, "from_logits", False):
        p = _h(y_pred)
        eps = 1e-7
        return [("the loss's 1e-7 clip", (p < eps) | (p > 1 - eps))]
    return []


class SignatureRecorder:
    """Forward hooks on ``layers`` that collect the signature of each forward pass."""

    def __init__(self, layers):
        self.layers = list(layers)
        self.items = []
        self._handles = []

    def __enter__(self):
        def hook(layer, x, y):
            for kind, arr in layer_signature(layer, x, y):
                self.items.append((kind, layer.name, arr))
        self._handles = [l.register_forward_hook(hook) for l in self.layers]
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        return False

    def take(self):
        items, self.items = self.items, []
        return items


def crossed(sig_plus, sig_minus):
    """The kinds ('ReLU kink in 'conv2d'') whose patterns differ between the two passes."""
    kinds = []
    for (kind, where, a), (_, _, b) in zip(sig_plus, sig_minus):
        if a.shape != b.shape or not np.array_equal(a, b):
            label = f"{kind} in '{where}'" if where else kind
            if label not in kinds:
                kinds.append(label)
    return kinds


def numeric_away_from_kinks(f, arr, candidates, max_checks, h=1e-6):
    """Central differences of f() -> (value, signature) at up to ``max_checks`` of the flat
    ``candidates`` whose ±h perturbation stays on one smooth piece.

    Returns (coords, values, left_out) where left_out maps each coordinate that crossed a kink
    to the kinds it crossed."""
    flat = arr.reshape(-1)
    coords, values, left_out = [], [], {}
    for i in candidates:
        if len(coords) >= max_checks:
            break
        old = flat[i].copy()
        flat[i] = old + h
        fp, sp = f()
        flat[i] = old - h
        fm, sm = f()
        flat[i] = old
        kinds = crossed(sp, sm)
        if kinds:
            left_out[i] = kinds
            continue
        coords.append(i)
        values.append((fp - fm) / (2 * h))
    return coords, np.asarray(values, dtype=np.float64), left_out


def describe_left_out(tried, left_out):
    """'37 of 87 tried coordinates crossed a ReLU kink in 'conv2d' and were left out' (each
    coordinate named by the first kink it crossed in forward order)."""
    if not left_out:
        return ""
    counts = {}
    for kinds in left_out.values():  # each coordinate counted once, at the lowest kink it crossed
        counts[kinds[0]] = counts.get(kinds[0], 0) + 1
    what = ", ".join(f"{k} ({n})" if len(counts) > 1 else k for k, n in counts.items())
    return f"{len(left_out)} of {tried} tried coordinates crossed {what} and were left out"
