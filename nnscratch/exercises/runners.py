"""Run one implementation (the reference, the student's or a planted mistake) on one case, in
float64, on inputs that every implementation shares: {quantity name: host array}.

Quantities: layers 'y' (and BatchNormalization's moving statistics after the forward), then
'dx' and 'd<param>' after ``backward(dy)``; losses 'loss' and 'dz'; optimizers
'step<k>/<param>' and 'step<k>/<param>/<slot>' after each of a few steps.
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.layers.activation import Activation

OPT_STEPS = 4


def host(a):
    return np.array(backend.to_host(a), dtype=np.float64, copy=True)


def make_layer(ex, cls, config):
    """A layer object for ``cls``: the class itself, or an Activation layer around an
    ActivationFunction subclass."""
    if ex.kind == "activation":
        return Activation(cls(**config))
    return cls(**config)


def draw_inputs(case, rng):
    shape = case.shape
    if case.inputs == "away_from_zero":  # no input within 0.1 of ReLU's kink
        return rng.uniform(0.1, 1.5, shape) * rng.choice([-1.0, 1.0], size=shape)
    if case.inputs == "distinct":  # max pooling without ties: values at least 3/size apart
        size = int(np.prod(shape))
        return (rng.permutation(size).reshape(shape) - size / 2) * (3.0 / size)
    if case.inputs == "wide":
        return rng.standard_normal(shape) * 8.0
    if case.inputs == "large":
        return rng.standard_normal(shape) * 1000.0
    return rng.standard_normal(shape)


class CaseData:
    """Inputs, upstream gradient, weights and dropout mask of one case (from the reference)."""

    def __init__(self, ex, case, index):
        rng = np.random.default_rng(1000 + index)
        self.case, self.x, self.dy, self.weights, self.mask, self.labels = case, None, None, None, None, None
        if ex.kind == "optimizer":
            shapes = {"kernel": (3, 4), "bias": (4,), "filters": (2, 2, 3)}
            self.params = {k: rng.standard_normal(s) for k, s in shapes.items()}
            scale = 1e-3 if case.config.get("epsilon", 0) >= 0.1 else 1.0  # where eps matters
            self.grads = [{k: rng.standard_normal(s) * scale for k, s in shapes.items()} for _ in range(OPT_STEPS)]
            return
        self.x = draw_inputs(case, rng)
        if ex.kind == "loss":
            self.labels = rng.integers(0, case.shape[-1], size=case.shape[:-1])
            return
        with backend.floatx_scope("float64"):
            ref = make_layer(ex, ex.target, case.config)
            ref.build((None,) + tuple(self.x.shape[1:]))
            y_shape = (self.x.shape[0],) + tuple(ref.compute_output_shape((None,) + self.x.shape[1:])[1:])
        self.weights = []
        for name in ref.weight_names:
            w = ref.get_weights()[ref.weight_names.index(name)]
            if name == "moving_variance":
                self.weights.append(rng.uniform(0.5, 1.5, w.shape))
            else:
                self.weights.append(rng.standard_normal(w.shape) * 0.5)
        self.dy = rng.standard_normal(y_shape)
        if ex.target.__name__ == "Dropout" and case.training:
            self.mask = host(ref.make_mask(self.x.shape, "float64"))


def fix_mask(layer, mask):
    """Make a Dropout layer (and subclasses) draw ``mask`` every time (an instance attribute)."""
    if mask is not None:
        layer.make_mask = lambda shape, dtype: backend.to_device(mask.copy(), dtype=dtype)


def build_layer(ex, cls, data):
    with backend.floatx_scope("float64"):
        layer = make_layer(ex, cls, data.case.config)
        layer.build((None,) + tuple(data.x.shape[1:]))
    if data.weights:
        layer.set_weights(data.weights)
    fix_mask(layer, data.mask)
    return layer


def run(ex, cls, data):
    """{quantity: array}; an exception is stored as out['_error'] = (phase, exception)."""
    out = {}
    phase = "building the layer"
    try:
        if ex.kind == "optimizer":
            return _run_optimizer(cls, data, out)
        if ex.kind == "loss":
            phase = "forward_logits"
            loss = cls(**data.case.config)
            z = backend.to_device(data.x.copy())
            out["loss"] = host(loss.forward(z, backend.to_device(data.labels)))
            phase = "backward"
            out["dz"] = host(loss.backward())
            return out
        layer = build_layer(ex, cls, data)
        phase = "forward"
        y = layer(backend.to_device(data.x.copy()), training=data.case.training)
        out["y"] = host(y)
        for k, v in layer.state.items():
            out[k] = host(v)
        phase = "backward"
        if tuple(y.shape) != tuple(data.dy.shape):
            raise ValueError(f"forward returned shape {tuple(y.shape)}, expected {tuple(data.dy.shape)}")
        dx = layer.call_backward(backend.to_device(data.dy.copy()))
        out["dx"] = None if dx is None else host(dx)
        for k, g in layer.grads.items():
            out["d" + k] = host(g)
    except Exception as exc:  # the student's code may raise anything; the report names it
        out["_error"] = (phase, exc)
    return out


def _run_optimizer(cls, data, out):
    opt = cls(**data.case.config)
    params = {k: backend.to_device(v.copy()) for k, v in data.params.items()}
    for step, grads in enumerate(data.grads, start=1):
        opt.step([(k, params[k], backend.to_device(grads[k].copy())) for k in params])
        for k, p in params.items():
            out[f"step{step}/{k}"] = host(p)
            for slot, s in opt.state.get(k, {}).items():
                out[f"step{step}/{k}/{slot}"] = host(s)
    return out


def quantities(ex, out, phase):
    """The names compared in the 'forward' or 'backward' check, in report order."""
    if ex.kind == "loss":
        return ["loss"] if phase == "forward" else ["dz"]
    if phase == "forward":
        return ["y"] + [k for k in ("moving_mean", "moving_variance") if k in out]
    return ["dx"] + sorted(k for k in out if k.startswith("d") and k != "dx" and k != "dz")
