"""More elementwise math (trigonometric, hyperbolic, other bases) and the piecewise
activations of ``keras.ops.nn`` (hard_sigmoid, hard_silu, hard_tanh, celu, ...).

Math (forward; dx given dy)::

    tan      y = tan x                 dx = dy (1 + y^2)
    sinh     y = sinh x                dx = dy cosh x
    cosh     y = cosh x                dx = dy sinh x
    arctan   y = atan x                dx = dy / (1 + x^2)
    arcsin   y = asin x                dx = dy / sqrt(1 - x^2)
    arccos   y = acos x                dx = -dy / sqrt(1 - x^2)
    arcsinh  y = log(x + sqrt(x^2+1))  dx = dy / sqrt(x^2 + 1)
    arccosh  y = log(x + sqrt(x^2-1))  dx = dy / sqrt(x^2 - 1)
    arctanh  y = atanh x               dx = dy / (1 - x^2)
    log2, log10   y = ln x / ln b      dx = dy / (x ln b)
    exp2     y = 2^x                   dx = dy y ln 2
    rsqrt    y = 1 / sqrt x            dx = -dy y^3 / 2
    logaddexp  y = log(e^a + e^b)      da = dy e^(a - y), db = dy e^(b - y)
    hard_sigmoid  y = clip(x/6 + 1/2, 0, 1)        dx = dy / 6 * [-3 < x < 3]
    hard_silu     y = x hard_sigmoid(x)            dx = dy (h + x/6 [-3 < x < 3])
    hard_tanh     y = clip(x, -1, 1)               dx = dy [-1 < x < 1]
    celu          y = max(x,0) + a (e^(min(x,0)/a) - 1)   dx = dy (1 if x > 0 else e^(x/a))
    tanh_shrink   y = x - tanh x                   dx = dy tanh^2 x
    squareplus    y = (x + sqrt(x^2 + b)) / 2      dx = dy (1 + x / sqrt(x^2 + b)) / 2
"""
from __future__ import annotations

import math

from nnscratch import backend
from nnscratch.ops.arithmetic import _unbroadcast_pair
from nnscratch.ops.core import Op, apply
from nnscratch.ops.elementwise import _elementwise

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _asin(xp, x):
    return xp.arctan(x / xp.sqrt(1 - x * x))  # asin through atan: the device module lists atan only


TAN = _elementwise("tan", lambda xp, x: xp.tan(x), lambda xp, x, y, dy: dy * (1 + y * y), convert="float")
SINH = _elementwise("sinh", lambda xp, x: xp.sinh(x), lambda xp, x, y, dy: dy * xp.cosh(x), convert="float")
COSH = _elementwise("cosh", lambda xp, x: xp.cosh(x), lambda xp, x, y, dy: dy * xp.sinh(x), convert="float")
ARCTAN = _elementwise("arctan", lambda xp, x: xp.arctan(x), lambda xp, x, y, dy: dy / (1 + x * x), convert="float")
ARCSIN = _elementwise("arcsin", _asin, lambda xp, x, y, dy: dy / xp.sqrt(1 - x * x), convert="float")
ARCCOS = _elementwise("arccos", lambda xp, x: math.pi / 2 - _asin(xp, x),
                      lambda xp, x, y, dy: -dy / xp.sqrt(1 - x * x), convert="float")
ARCSINH = _elementwise("arcsinh", lambda xp, x: xp.log(x + xp.sqrt(x * x + 1)),
                       lambda xp, x, y, dy: dy / xp.sqrt(x * x + 1), convert="float")
ARCCOSH = _elementwise("arccosh", lambda xp, x: xp.log(x + xp.sqrt(x * x - 1)),
                       lambda xp, x, y, dy: dy / xp.sqrt(x * x - 1), convert="float")
ARCTANH = _elementwise("arctanh", lambda xp, x: xp.arctanh(x), lambda xp, x, y, dy: dy / (1 - x * x),
                       convert="float")
LOG2 = _elementwise("log2", lambda xp, x: xp.log2(x), lambda xp, x, y, dy: dy / (x * _LN2), convert="float")
LOG10 = _elementwise("log10", lambda xp, x: xp.log10(x), lambda xp, x, y, dy: dy / (x * _LN10), convert="float")
EXP2 = _elementwise("exp2", lambda xp, x: xp.exp2(x), lambda xp, x, y, dy: dy * y * _LN2, convert="float")
RSQRT = _elementwise("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y, dy: -0.5 * dy * y * y * y,
                     convert="float")
HARD_SIGMOID = _elementwise("hard_sigmoid", lambda xp, x: xp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype),
                            lambda xp, x, y, dy: dy * ((x > -3) & (x < 3)) / 6, convert="float")
HARD_SILU = _elementwise("hard_silu", lambda xp, x: x * xp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype),
                         lambda xp, x, y, dy: dy * (xp.clip(x / 6 + 0.5, 0, 1) + x / 6 * ((x > -3) & (x < 3))),
                         convert="float")
HARD_TANH = _elementwise("hard_tanh", lambda xp, x: xp.clip(x, -1, 1).astype(x.dtype),
                         lambda xp, x, y, dy: dy * ((x > -1) & (x < 1)), convert="float")
TANH_SHRINK = _elementwise("tanh_shrink", lambda xp, x: x - xp.tanh(x), lambda xp, x, y, dy: dy * xp.tanh(x) ** 2,
                           convert="float")


def _celu_compute(x, alpha=1.0):
    xp = backend.get_array_module(x)
    y = xp.maximum(x, 0) + alpha * xp.expm1(xp.minimum(x, 0) / alpha)
    return y.astype(x.dtype), {"x": x, "alpha": alpha}


def _celu_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    x, alpha = ctx["x"], ctx["alpha"]
    return (dy * xp.where(x > 0, 1, xp.exp(xp.minimum(x, 0) / alpha)),)


def _squareplus_compute(x, b=4):
    xp = backend.get_array_module(x)
    root = xp.sqrt(x * x + b)
    return (x + root) / 2, {"x": x, "root": root}


def _squareplus_gradient(ctx, dy):
    return (dy * (1 + ctx["x"] / ctx["root"]) / 2,)


def _logaddexp_compute(a, b):
    xp = backend.get_array_module(a, b)
    y = xp.logaddexp(a, b)
    return y, {"a": a, "b": b, "y": y}


def _logaddexp_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    a, b, y = ctx["a"], ctx["b"], ctx["y"]
    return _unbroadcast_pair(dy * xp.exp(a - y), dy * xp.exp(b - y), ctx)


CELU = Op("celu", _celu_compute, _celu_gradient, convert="float")
SQUAREPLUS = Op("squareplus", _squareplus_compute, _squareplus_gradient, convert="float")
LOGADDEXP = Op("logaddexp", _logaddexp_compute, _logaddexp_gradient, convert="float")


def tan(x):
    """Tangent. Math: dx = dy (1 + tan^2 x)."""
    return apply(TAN, x)


def sinh(x):
    """Hyperbolic sine. Math: dx = dy cosh x."""
    return apply(SINH, x)


def cosh(x):
    """Hyperbolic cosine. Math: dx = dy sinh x."""
    return apply(COSH, x)


def arctan(x):
    """Inverse tangent. Math: dx = dy / (1 + x^2)."""
    return apply(ARCTAN, x)


def arcsin(x):
    """Inverse sine. Math: dx = dy / sqrt(1 - x^2)."""
    return apply(ARCSIN, x)


def arccos(x):
    """Inverse cosine. Math: dx = -dy / sqrt(1 - x^2)."""
    return apply(ARCCOS, x)


def arcsinh(x):
    """Inverse hyperbolic sine. Math: dx = dy / sqrt(x^2 + 1)."""
    return apply(ARCSINH, x)


def arccosh(x):
    """Inverse hyperbolic cosine (x >= 1). Math: dx = dy / sqrt(x^2 - 1)."""
    return apply(ARCCOSH, x)


def arctanh(x):
    """Inverse hyperbolic tangent. Math: dx = dy / (1 - x^2)."""
    return apply(ARCTANH, x)


def log2(x):
    """Base-2 logarithm. Math: dx = dy / (x ln 2)."""
    return apply(LOG2, x)


def log10(x):
    """Base-10 logarithm. Math: dx = dy / (x ln 10)."""
    return apply(LOG10, x)


def exp2(x):
    """``2 ** x``. Math: dx = dy 2^x ln 2."""
    return apply(EXP2, x)


def rsqrt(x):
    """``1 / sqrt(x)``. Math: dx = -dy y^3 / 2."""
    return apply(RSQRT, x)


def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))``, stably. Math: dx1 = dy e^(x1 - y), dx2 = dy e^(x2 - y)."""
    return apply(LOGADDEXP, x1, x2)


def hard_sigmoid(x):
    """``clip(x / 6 + 1/2, 0, 1)`` (Keras's). Math: dx = dy / 6 inside (-3, 3), else 0."""
    return apply(HARD_SIGMOID, x)


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also ``hard_swish``). Math: module docstring."""
    return apply(HARD_SILU, x)


hard_swish = hard_silu


def hard_tanh(x):
    """``clip(x, -1, 1)``. Math: dx = dy inside (-1, 1), else 0."""
    return apply(HARD_TANH, x)


def tanh_shrink(x):
    """``x - tanh(x)``. Math: dx = dy tanh^2 x."""
    return apply(TANH_SHRINK, x)


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha (exp(min(x, 0) / alpha) - 1)``. Math: dx = dy (1 if x > 0 else e^(x/alpha))."""
    return apply(CELU, x, alpha=alpha)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``. Math: dx = dy (1 + x / sqrt(x^2 + b)) / 2."""
    return apply(SQUAREPLUS, x, b=b)
