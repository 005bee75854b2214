"""The cross-entropies of ``keras.ops.nn``: per-sample losses, reduced over the class axis only.

Math (t = target, o = output, c = clip(o, eps, 1 - eps), eps = 1e-7, N = nothing: no batch
mean here; the reduction is the caller's)::

    categorical_crossentropy (probabilities)
        p = o / sum(o);  L = -sum_k t_k log clip(p_k)
        dp = -t / clip(p) * [eps <= p <= 1 - eps];  do = (dp - sum_k dp_k p_k) / sum(o)
        dt = -log clip(p)
    categorical_crossentropy (from_logits)
        L = -sum_k t_k log_softmax(z)_k;  dz = softmax(z) sum_k t_k - t;  dt = -log_softmax(z)
    sparse_categorical_crossentropy: the same with t = one_hot(target); no gradient for target
    binary_crossentropy (probabilities), elementwise
        L = -(t log c + (1 - t) log(1 - c));  do = (-t / c + (1 - t) / (1 - c)) * [eps <= o <= 1 - eps]
        dt = -(log c - log(1 - c))
    binary_crossentropy (from_logits), elementwise, the stable form TF uses
        L = max(z, 0) - z t + log(1 + e^-|z|);  dz = sigmoid(z) - t;  dt = -z
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, convert_inputs, epsilon
from nnscratch.ops.nn import _sigmoid


def _check_same_shape(name, target, output):
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(f"ops.{name}: target and output must have the same shape; received "
                         f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")


def _log_softmax(xp, z, axis):
    z = z - xp.max(z, axis=axis, keepdims=True)  # shift for exp overflow
    return z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))


def _cce_compute(target, output, from_logits=False, axis=-1, sparse=False):
    xp = backend.get_array_module(output)
    if sparse:
        target = _sparse_to_one_hot(xp, target, output, axis)
    else:
        _check_same_shape("categorical_crossentropy", target, output)
    eps = epsilon()
    if from_logits:
        log_p = _log_softmax(xp, output, axis)
        ctx = {"t": target, "log_p": log_p}
    else:
        total = xp.sum(output, axis=axis, keepdims=True)
        p = output / total  # Keras renormalises probabilities along the class axis
        c = xp.clip(p, eps, 1 - eps)
        log_p = xp.log(c)
        ctx = {"t": target, "log_p": log_p, "p": p, "c": c, "total": total, "inside": (p >= eps) & (p <= 1 - eps)}
    ctx.update(axis=axis, from_logits=from_logits, sparse=sparse)
    return -xp.sum(target * log_p, axis=axis), ctx


def _sparse_to_one_hot(xp, target, output, axis):
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = target.reshape(target.shape[:-1])
    if tuple(target.shape) != tuple(output.shape[:-1]):
        raise ValueError("ops.sparse_categorical_crossentropy: target must have the shape of output without its "
                         f"last axis; received target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")
    classes = xp.arange(output.shape[axis]).reshape((1,) * target.ndim + (-1,))
    return (target[..., None] == classes).astype(output.dtype)  # (..., C)


def _cce_gradient(ctx, dy):
    t, log_p, axis = ctx["t"], ctx["log_p"], ctx["axis"]
    xp = backend.get_array_module(t)
    dy = xp.expand_dims(dy, axis)  # (..., 1, ...) against the class axis
    if ctx["from_logits"]:
        d_out = dy * (xp.exp(log_p) * xp.sum(t, axis=axis, keepdims=True) - t)  # softmax * sum(t) - t
    else:
        dp = dy * -t / ctx["c"] * ctx["inside"]  # through log and the clip
        d_out = (dp - xp.sum(dp * ctx["p"], axis=axis, keepdims=True)) / ctx["total"]  # through o / sum(o)
    d_target = None if ctx["sparse"] else -dy * log_p
    return d_target, d_out


def _bce_compute(target, output, from_logits=False):
    _check_same_shape("binary_crossentropy", target, output)
    xp = backend.get_array_module(output)
    if from_logits:
        z = output
        loss = xp.maximum(z, 0) - z * target + xp.log1p(xp.exp(-xp.abs(z)))  # stable for any |z|
        return loss, {"t": target, "z": z, "from_logits": True}
    eps = epsilon()
    c = xp.clip(output, eps, 1 - eps)
    loss = -(target * xp.log(c) + (1 - target) * xp.log(1 - c))
    return loss, {"t": target, "c": c, "inside": (output >= eps) & (output <= 1 - eps), "from_logits": False}


def _bce_gradient(ctx, dy):
    t = ctx["t"]
    xp = backend.get_array_module(t)
    if ctx["from_logits"]:
        z = ctx["z"]
        return dy * -z, dy * (_sigmoid(xp, z) - t)
    c = ctx["c"]
    d_out = dy * (-t / c + (1 - t) / (1 - c)) * ctx["inside"]
    return dy * -(xp.log(c) - xp.log(1 - c)), d_out


def _float_pair(inputs):
    return convert_inputs(inputs, "float")


def _sparse_pair(inputs):
    target, output = inputs
    return convert_inputs((target,), "each") + convert_inputs((output,), "float")


CATEGORICAL_CROSSENTROPY = Op("categorical_crossentropy", _cce_compute, _cce_gradient, convert=_float_pair)
SPARSE_CATEGORICAL_CROSSENTROPY = Op("sparse_categorical_crossentropy", _cce_compute, _cce_gradient,
                                     convert=_sparse_pair)
BINARY_CROSSENTROPY = Op("binary_crossentropy", _bce_compute, _bce_gradient, convert=_float_pair)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample categorical cross-entropy (one-hot ``target``). Math: module docstring."""
    return apply(CATEGORICAL_CROSSENTROPY, target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample cross-entropy with integer ``target`` (shape of output without the class
    axis, or with a trailing 1). Math: module docstring; no gradient for target."""
    if axis != -1:
        raise NotImplementedError("ops.sparse_categorical_crossentropy: only axis=-1 is supported")
    return apply(SPARSE_CATEGORICAL_CROSSENTROPY, target, output, from_logits=from_logits, axis=axis, sparse=True)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no reduction). Math: module docstring."""
    return apply(BINARY_CROSSENTROPY, target, output, from_logits=from_logits)
