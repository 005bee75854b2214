"""Ops built from other nn.ops (no backward of their own: under a tracer each piece is
recorded with its own hand-written backward, so the chain rule runs through them).

* ``batch_normalization(x, mean, variance, axis, offset, scale, epsilon=1e-3)``:
  ``y = x * inv + (offset - mean * inv)``, ``inv = scale / sqrt(variance + epsilon)`` (Keras's form);
* ``layer_normalization(x, gamma, beta, axis=-1, epsilon=None, rms_scaling=False)``: moments
  over ``axis``, then the same affine map;
* ``rms_normalization(x, scale, axis=-1, epsilon=None)``: ``x / sqrt(mean(x^2) + eps) * scale``;
* ``average``, ``divide_no_nan``, ``hstack``, ``vstack``, ``copy``; and the non-differentiable
  ``isclose``, ``allclose``, ``count_nonzero``, ``multi_hot``, ``in_top_k``, ``empty_like``.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.arithmetic import add, divide, multiply, subtract
from nnscratch.ops.core import as_dtype
from nnscratch.ops.core import epsilon as _epsilon
from nnscratch.ops.core import is_symbolic
from nnscratch.ops.creation import convert_to_tensor, equal, greater, less, less_equal, shape, zeros_like
from nnscratch.ops.elementwise import abs, cast
from nnscratch.ops.indexing import take_along_axis, where
from nnscratch.ops.nn import moments, one_hot
from nnscratch.ops.reductions import all, max, mean, sum
from nnscratch.ops.reshaping import concatenate, expand_dims, reshape
from nnscratch.ops.transcendental import rsqrt


def _tensor(x):
    return x if is_symbolic(x) or backend.is_array(x) else convert_to_tensor(x)


def _along(v, axis, ndim):
    """A 1-D per-channel vector shaped to broadcast against rank-``ndim`` inputs on ``axis``."""
    if v is None or len(shape(v)) != 1:
        return v
    target = [1] * ndim
    target[axis % ndim] = -1
    return reshape(v, tuple(target))


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """Normalise with given statistics: ``(x - mean) / sqrt(variance + epsilon) * scale + offset``."""
    x = _tensor(x)
    n = len(shape(x))
    inv = rsqrt(add(_along(variance, axis, n), epsilon))
    if scale is not None:
        inv = multiply(inv, _along(scale, axis, n))
    res = multiply(_along(mean, axis, n), inv)
    res = subtract(_along(offset, axis, n), res) if offset is not None else multiply(res, -1.0)
    return add(multiply(x, inv), res)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, rms_scaling=False):
    """Normalise over ``axis`` with the input's own moments, then ``* gamma + beta``."""
    x = _tensor(x)
    eps = _epsilon() if epsilon is None else epsilon
    m, v = moments(x, axes=[axis] if isinstance(axis, int) else list(axis), keepdims=True)
    inv = rsqrt(add(v, eps))
    if rms_scaling:
        out = multiply(x, inv)
        return out if gamma is None else multiply(out, gamma)
    if gamma is not None:
        inv = multiply(inv, gamma)
    res = multiply(m, inv)
    res = subtract(beta, res) if beta is not None else multiply(res, -1.0)
    return add(multiply(x, inv), res)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2, axis) + epsilon) * scale``."""
    x = _tensor(x)
    eps = _epsilon() if epsilon is None else epsilon
    out = multiply(x, rsqrt(add(mean(multiply(x, x), axis=axis, keepdims=True), eps)))
    return out if scale is None else multiply(out, scale)


def average(x, axis=None, weights=None):
    """Weighted mean ``sum(x * w) / sum(w)`` along ``axis`` (the plain mean without weights)."""
    x = _tensor(x)
    if weights is None:
        return mean(cast(x, "float32") if not _is_float(x) else x, axis=axis)
    weights = _tensor(weights)
    if axis is not None and len(shape(weights)) == 1 and len(shape(x)) > 1:
        weights = _along(weights, axis, len(shape(x)))
    return divide(sum(multiply(x, weights), axis=axis), sum(add(zeros_like(x), weights), axis=axis))


def _is_float(x):
    return as_dtype(x.dtype).kind == "f"


def divide_no_nan(x1, x2):
    """``x1 / x2``, and 0 where ``x2 == 0``. The gradient is 0 there too (a where over a safe divide)."""
    x2 = _tensor(x2)
    zero = equal(x2, 0)
    safe = where(zero, 1.0, x2)
    return where(zero, 0.0, divide(x1, safe))


def hstack(xs):
    """Concatenate along axis 1 (axis 0 for 1-D inputs)."""
    xs = [_tensor(x) for x in xs]
    return concatenate(xs, axis=0 if len(shape(xs[0])) == 1 else 1)


def vstack(xs):
    """Concatenate along axis 0 (1-D inputs become rows)."""
    xs = [_tensor(x) for x in xs]
    return concatenate([expand_dims(x, 0) if len(shape(x)) == 1 else x for x in xs], axis=0)


def copy(x):
    """A copy of ``x`` (differentiable: dx = dy)."""
    return multiply(_tensor(x), 1)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|x1 - x2| <= atol + rtol |x2|`` elementwise (bool, no gradient)."""
    if equal_nan:
        raise NotImplementedError("ops.isclose: equal_nan=True is not supported")
    return less_equal(abs(subtract(x1, x2)), add(atol, multiply(rtol, abs(x2))))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """True when ``isclose`` holds everywhere (a 0-d bool array)."""
    return all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def count_nonzero(x, axis=None):
    """Number of non-zero elements along ``axis`` (int32, no gradient)."""
    return cast(sum(cast(cast(x, "bool"), "int32"), axis=axis), "int32")


def empty_like(x, dtype=None):
    """Keras's ``empty_like``: here zeros (never uninitialised memory)."""
    return zeros_like(x, dtype=dtype)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 at every class that appears in each row of integer ``inputs`` (no gradient)."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    x = _tensor(inputs)
    reduce_axis = 1 if len(shape(x)) > 1 else 0
    return max(one_hot(cast(x, "int32"), num_classes, axis=axis, dtype=dtype, sparse=sparse), axis=reduce_axis)


def in_top_k(targets, predictions, k):
    """True where the target class is among the ``k`` largest predictions of its row (no gradient)."""
    predictions = _tensor(predictions)
    targets = cast(_tensor(targets), "int32")
    target_score = take_along_axis(predictions, expand_dims(targets, -1), axis=-1)  # (N, 1)
    better = sum(cast(greater(predictions, target_score), "int32"), axis=-1)  # classes scoring higher
    return less(better, k)
