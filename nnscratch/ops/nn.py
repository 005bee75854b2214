"""``keras.ops.nn``: activations, softmax, one_hot, moments, normalize (losses: ``ops/losses.py``).

Math (forward; backward given dy = dL/dy)::

    relu        y = max(x, 0)                      dx = dy * [x > 0]          (0 at 0, as TF)
    relu6       y = min(max(x, 0), 6)              dx = dy * [0 < x < 6]
    sigmoid     y = 1 / (1 + e^-x)                 dx = dy * y (1 - y)
    tanh        y = tanh x                         dx = dy * (1 - y^2)
    softplus    y = log(1 + e^x)                   dx = dy * sigmoid(x)
    softsign    y = x / (1 + |x|)                  dx = dy / (1 + |x|)^2
    silu/swish  y = x sigmoid(x)                   dx = dy * (s + x s (1 - s)),  s = sigmoid(x)
    elu         y = x if x > 0 else a (e^x - 1)    dx = dy * (1 if x > 0 else a e^x)
    selu        y = scale * elu(x, alpha)          dx = scale * elu'(x)
    leaky_relu  y = x if x > 0 else a x            dx = dy * (1 if x > 0 else a)
    gelu        y = x/2 (1 + tanh(u)),  u = c (x + 0.044715 x^3),  c = sqrt(2/pi)
                dx = dy * (1/2 (1 + tanh u) + x/2 (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2))
    softmax     y_i = e^(x_i) / sum_j e^(x_j)      dx = y * (dy - sum_j dy_j y_j)
    log_softmax y_i = x_i - logsumexp(x)           dx = dy - softmax(x) * sum_j dy_j
    normalize   y = x / max(||x||_2, eps)          dx = (dy - y sum(dy y)) / n  where n = ||x|| > eps
                                                   dx = dy / eps                 where n <= eps
    moments     mean = E[x], var = E[x^2] - E[x]^2   dx = dmean / N + dvar * 2 (x - mean) / N
"""
from __future__ import annotations

import math

from nnscratch import backend
from nnscratch.ops.core import Op, apply, epsilon, expand_reduced, normalize_axes
from nnscratch.ops.elementwise import _elementwise

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(xp, x):
    # split by sign so that exp never overflows: e^-|x| <= 1
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _gelu(xp, x):
    u = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
    return 0.5 * x * (1 + xp.tanh(u))


def _gelu_derivative(xp, x, y, dy):
    u = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
    t = xp.tanh(u)
    du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


def _silu_derivative(xp, x, y, dy):
    s = _sigmoid(xp, x)
    return dy * (s + x * s * (1 - s))


RELU = _elementwise("relu", lambda xp, x: xp.maximum(x, 0).astype(x.dtype), lambda xp, x, y, dy: dy * (x > 0),
                    convert="each")
RELU6 = _elementwise("relu6", lambda xp, x: xp.minimum(xp.maximum(x, 0), 6).astype(x.dtype),
                     lambda xp, x, y, dy: dy * ((x > 0) & (x < 6)), convert="each")
SIGMOID = _elementwise("sigmoid", _sigmoid, lambda xp, x, y, dy: dy * y * (1 - y), convert="float")
TANH = _elementwise("tanh", lambda xp, x: xp.tanh(x), lambda xp, x, y, dy: dy * (1 - y * y), convert="float")
SOFTPLUS = _elementwise("softplus", lambda xp, x: xp.logaddexp(x, 0).astype(x.dtype),
                        lambda xp, x, y, dy: dy * _sigmoid(xp, x), convert="float")
SOFTSIGN = _elementwise("softsign", lambda xp, x: x / (1 + xp.abs(x)),
                        lambda xp, x, y, dy: dy / ((1 + xp.abs(x)) ** 2), convert="float")
SILU = _elementwise("silu", lambda xp, x: x * _sigmoid(xp, x), _silu_derivative, convert="float")
GELU = _elementwise("gelu", _gelu, _gelu_derivative, convert="float")
LOG_SIGMOID = _elementwise("log_sigmoid", lambda xp, x: -xp.logaddexp(-x, 0).astype(x.dtype),
                           lambda xp, x, y, dy: dy * _sigmoid(xp, -x), convert="float")


def _elu_compute(x, alpha=1.0, scale=1.0):
    xp = backend.get_array_module(x)
    y = scale * xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
    return y.astype(x.dtype), {"x": x, "alpha": alpha, "scale": scale}


def _elu_gradient(ctx, dy):
    x, alpha, scale = ctx["x"], ctx["alpha"], ctx["scale"]
    xp = backend.get_array_module(x)
    return (dy * scale * xp.where(x > 0, 1, alpha * xp.exp(xp.minimum(x, 0))),)


def _leaky_relu_compute(x, negative_slope=0.2):
    xp = backend.get_array_module(x)
    return xp.where(x > 0, x, negative_slope * x).astype(x.dtype), {"x": x, "slope": negative_slope}


def _leaky_relu_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    return (dy * xp.where(ctx["x"] > 0, 1, ctx["slope"]),)


ELU = Op("elu", _elu_compute, _elu_gradient, convert="float")
LEAKY_RELU = Op("leaky_relu", _leaky_relu_compute, _leaky_relu_gradient, convert="float")


def relu(x):
    """``max(x, 0)``. Math: dx = dy * [x > 0]."""
    return apply(RELU, x)


def relu6(x):
    """``min(max(x, 0), 6)``. Math: dx = dy * [0 < x < 6]."""
    return apply(RELU6, x)


def sigmoid(x):
    """``1 / (1 + exp(-x))``. Math: dx = dy * y * (1 - y)."""
    return apply(SIGMOID, x)


def tanh(x):
    """Hyperbolic tangent. Math: dx = dy * (1 - y^2)."""
    return apply(TANH, x)


def softplus(x):
    """``log(1 + exp(x))``. Math: dx = dy * sigmoid(x)."""
    return apply(SOFTPLUS, x)


def softsign(x):
    """``x / (1 + |x|)``. Math: dx = dy / (1 + |x|)^2."""
    return apply(SOFTSIGN, x)


def silu(x):
    """``x * sigmoid(x)`` (also ``swish``). Math: dx = dy * (s + x s (1 - s))."""
    return apply(SILU, x)


swish = silu


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``. Math: dx = dy * sigmoid(-x)."""
    return apply(LOG_SIGMOID, x)


def gelu(x, approximate=True):
    """GELU; Keras's default is the tanh approximation (``approximate=True``). The exact erf
    form is not implemented (nnscratch has no erf). Math: see the module docstring."""
    if not approximate:
        raise NotImplementedError("ops.gelu(approximate=False) needs erf, which nnscratch does not implement; "
                                  "use approximate=True (Keras's default)")
    return apply(GELU, x)


def elu(x, alpha=1.0):
    """``x if x > 0 else alpha * (exp(x) - 1)``. Math: dx = dy * (1 if x > 0 else alpha e^x)."""
    return apply(ELU, x, alpha=alpha)


def selu(x):
    """``scale * elu(x, alpha)`` with Keras's constants. Math: dx = dy * scale * elu'(x)."""
    return apply(ELU, x, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def leaky_relu(x, negative_slope=0.2):
    """``x if x > 0 else negative_slope * x``. Math: dx = dy * (1 if x > 0 else negative_slope)."""
    return apply(LEAKY_RELU, x, negative_slope=negative_slope)


# ----------------------------------------------------------------------------- softmax family
def _softmax_compute(x, axis=-1):
    xp = backend.get_array_module(x)
    z = x - xp.max(x, axis=axis, keepdims=True)  # shift for exp overflow; softmax is shift-invariant
    e = xp.exp(z)
    y = e / xp.sum(e, axis=axis, keepdims=True)
    return y, {"y": y, "axis": axis}


def _softmax_gradient(ctx, dy):
    y, axis = ctx["y"], ctx["axis"]
    xp = backend.get_array_module(y)
    return (y * (dy - xp.sum(dy * y, axis=axis, keepdims=True)),)  # dx = y * (dy - <dy, y>)


def _log_softmax_compute(x, axis=-1):
    xp = backend.get_array_module(x)
    z = x - xp.max(x, axis=axis, keepdims=True)  # shift for exp overflow
    y = z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))  # log-sum-exp
    return y, {"y": y, "axis": axis}


def _log_softmax_gradient(ctx, dy):
    y, axis = ctx["y"], ctx["axis"]
    xp = backend.get_array_module(y)
    return (dy - xp.exp(y) * xp.sum(dy, axis=axis, keepdims=True),)  # dx = dy - softmax * sum(dy)


SOFTMAX = Op("softmax", _softmax_compute, _softmax_gradient, convert="float")
LOG_SOFTMAX = Op("log_softmax", _log_softmax_compute, _log_softmax_gradient, convert="float")


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``. Math: dx = y * (dy - sum(dy * y, axis))."""
    return apply(SOFTMAX, x, axis=axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``. Math: dx = dy - softmax(x) * sum(dy, axis)."""
    return apply(LOG_SOFTMAX, x, axis=axis)


# ----------------------------------------------------------------------------- normalize / moments
def _normalize_compute(x, axis=-1, epsilon=None):
    xp = backend.get_array_module(x)
    eps = _eps(epsilon)
    n = xp.sqrt(xp.sum(x * x, axis=axis, keepdims=True))  # ||x||_2 along axis
    d = xp.maximum(n, eps)  # Keras: x / max(norm, epsilon)
    y = x / d
    return y, {"y": y, "d": d, "above": n > eps, "axis": axis}


def _normalize_gradient(ctx, dy):
    y, d, above, axis = ctx["y"], ctx["d"], ctx["above"], ctx["axis"]
    xp = backend.get_array_module(y)
    # y = x / ||x||: dx = (dy - y <dy, y>) / ||x||; below eps the divisor is a constant
    dx = (dy - above * y * xp.sum(dy * y, axis=axis, keepdims=True)) / d
    return (dx,)


def _eps(epsilon_value):
    return epsilon() if epsilon_value is None else epsilon_value


NORMALIZE = Op("normalize", _normalize_compute, _normalize_gradient, convert="float")


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x / max(||x||, epsilon)`` along ``axis`` (order 2 only). Math: module docstring."""
    if order != 2:
        raise NotImplementedError(f"ops.normalize: order={order} is not supported (only 2)")
    return apply(NORMALIZE, x, axis=axis, epsilon=epsilon)


def _moments_compute(x, axes=None, keepdims=False):
    xp = backend.get_array_module(x)
    axes = normalize_axes(axes, x.ndim, "axes")
    m = xp.mean(x, axis=axes, keepdims=True)
    v = xp.mean(x * x, axis=axes, keepdims=True) - m * m  # Keras: E[x^2] - E[x]^2
    shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    out = (m, v) if keepdims else (m.reshape(shape), v.reshape(shape))
    return out, {"x": x, "m": m, "axes": axes, "keepdims": keepdims}


def _moments_gradient(ctx, dy):
    x, m, axes, keepdims = ctx["x"], ctx["m"], ctx["axes"], ctx["keepdims"]
    xp = backend.get_array_module(x)
    n = 1
    for a in axes:
        n *= x.shape[a]
    dmean, dvar = dy
    dx = xp.zeros_like(x)
    if dmean is not None:
        dx = dx + expand_reduced(dmean, x.shape, axes, keepdims) / n
    if dvar is not None:
        dx = dx + expand_reduced(dvar, x.shape, axes, keepdims) * 2 * (x - m) / n
    return (dx,)


MOMENTS = Op("moments", _moments_compute, _moments_gradient, convert="float", n_outputs=2)


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over ``axes``. Math: dx = dmean / N + dvar * 2 (x - mean) / N."""
    if synchronized:
        raise NotImplementedError("ops.moments: synchronized=True is not supported")
    return apply(MOMENTS, x, axes=axes, keepdims=keepdims)


# ----------------------------------------------------------------------------- one_hot
def _one_hot_compute(x, num_classes=None, axis=-1, dtype="float32"):
    xp = backend.get_array_module(x)
    classes = xp.arange(num_classes).reshape((1,) * x.ndim + (num_classes,))
    y = (x[..., None] == classes).astype(dtype)  # negative labels give all-zero rows, as Keras
    if axis != -1:
        y = xp.moveaxis(y, -1, axis)
    return y, {}


ONE_HOT = Op("one_hot", _one_hot_compute, None, convert="each")


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encode integer labels (float32 unless ``dtype``; no gradient)."""
    if sparse:
        raise ValueError("ops.one_hot: sparse=True is not supported (as on Keras's NumPy backend)")
    return apply(ONE_HOT, x, num_classes=int(num_classes), axis=axis, dtype=dtype or "float32")
