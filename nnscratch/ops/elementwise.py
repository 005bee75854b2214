"""Unary elementwise math: negative, square, sqrt, exp, log, log1p, expm1, abs, reciprocal,
sin, cos, clip; and the piecewise-constant ones without a gradient (sign, round, floor, ceil,
trunc).

Each differentiable op is a forward ``y = f(x)`` and a derivative ``dx = dy * f'(x)``
written with the input x and/or the output y (both are cached)::

    negative    y = -x               dx = -dy
    square      y = x^2              dx = dy * 2x
    sqrt        y = x^(1/2)          dx = dy / (2y)
    exp         y = e^x              dx = dy * y
    expm1       y = e^x - 1          dx = dy * (y + 1)
    log         y = ln x             dx = dy / x
    log1p       y = ln(1 + x)        dx = dy / (1 + x)
    abs         y = |x|              dx = dy * sign(x)            (0 at x = 0, as TF)
    reciprocal  y = 1/x              dx = -dy * y^2
    sin, cos    y = sin x, cos x     dx = dy * cos x, -dy * sin x
    clip        y = min(max(x, lo), hi)   dx = dy * [lo <= x <= hi]
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, as_dtype


def _elementwise(name, forward, derivative, convert="promote"):
    """An Op for ``y = forward(xp, x)`` whose gradient is ``derivative(xp, x, y, dy)``."""

    def compute(x):
        xp = backend.get_array_module(x)
        y = forward(xp, x)
        return y, {"x": x, "y": y}

    def gradient(ctx, dy):
        xp = backend.get_array_module(dy)
        return (derivative(xp, ctx["x"], ctx["y"], dy),)

    return Op(name, compute, gradient if derivative is not None else None, convert=convert)


NEGATIVE = _elementwise("negative", lambda xp, x: -x, lambda xp, x, y, dy: -dy)
SQUARE = _elementwise("square", lambda xp, x: x * x, lambda xp, x, y, dy: dy * 2 * x)
SQRT = _elementwise("sqrt", lambda xp, x: xp.sqrt(x), lambda xp, x, y, dy: dy / (2 * y), convert="float")
EXP = _elementwise("exp", lambda xp, x: xp.exp(x), lambda xp, x, y, dy: dy * y, convert="float")
EXPM1 = _elementwise("expm1", lambda xp, x: xp.expm1(x), lambda xp, x, y, dy: dy * (y + 1), convert="float")
LOG = _elementwise("log", lambda xp, x: xp.log(x), lambda xp, x, y, dy: dy / x, convert="float")
LOG1P = _elementwise("log1p", lambda xp, x: xp.log1p(x), lambda xp, x, y, dy: dy / (1 + x), convert="float")
ABS = _elementwise("abs", lambda xp, x: xp.abs(x), lambda xp, x, y, dy: dy * xp.sign(x))
RECIPROCAL = _elementwise("reciprocal", lambda xp, x: 1 / x, lambda xp, x, y, dy: -dy * y * y, convert="float")
SIN = _elementwise("sin", lambda xp, x: xp.sin(x), lambda xp, x, y, dy: dy * xp.cos(x), convert="float")
COS = _elementwise("cos", lambda xp, x: xp.cos(x), lambda xp, x, y, dy: -dy * xp.sin(x), convert="float")
# piecewise constant: no gradient (Keras/TF give None or zeros); a tracer treats them as constants
SIGN = _elementwise("sign", lambda xp, x: xp.sign(x), None)
ROUND = _elementwise("round", lambda xp, x: xp.round(x), None)
FLOOR = _elementwise("floor", lambda xp, x: xp.floor(x), None, convert="float")
CEIL = _elementwise("ceil", lambda xp, x: xp.ceil(x), None, convert="float")
TRUNC = _elementwise("trunc", lambda xp, x: xp.trunc(x), None)


def negative(x):
    """``-x``. Math: dx = -dy."""
    return apply(NEGATIVE, x)


def square(x):
    """``x^2``. Math: dx = dy * 2x."""
    return apply(SQUARE, x)


def sqrt(x):
    """``sqrt(x)`` (float). Math: dx = dy / (2 sqrt(x))."""
    return apply(SQRT, x)


def exp(x):
    """``e^x`` (float). Math: dx = dy * e^x."""
    return apply(EXP, x)


def expm1(x):
    """``e^x - 1``, accurate near 0. Math: dx = dy * e^x."""
    return apply(EXPM1, x)


def log(x):
    """Natural logarithm (float). Math: dx = dy / x."""
    return apply(LOG, x)


def log1p(x):
    """``log(1 + x)``, accurate near 0. Math: dx = dy / (1 + x)."""
    return apply(LOG1P, x)


def abs(x):  # noqa: A001 - Keras's name
    """``|x|``. Math: dx = dy * sign(x) (0 at x = 0, as TF)."""
    return apply(ABS, x)


absolute = abs


def reciprocal(x):
    """``1 / x``. Math: dx = -dy / x^2."""
    return apply(RECIPROCAL, x)


def sin(x):
    """Sine. Math: dx = dy * cos(x)."""
    return apply(SIN, x)


def cos(x):
    """Cosine. Math: dx = -dy * sin(x)."""
    return apply(COS, x)


def sign(x):
    """-1, 0 or 1 (no gradient)."""
    return apply(SIGN, x)


def round(x, decimals=0):  # noqa: A001 - Keras's name
    """Round half to even, as NumPy (no gradient). Only ``decimals=0`` is supported."""
    if decimals != 0:
        raise NotImplementedError(f"ops.round: decimals={decimals} is not supported (only 0)")
    return apply(ROUND, x)


def floor(x):
    """Largest integer <= x, as a float (no gradient)."""
    return apply(FLOOR, x)


def ceil(x):
    """Smallest integer >= x, as a float (no gradient)."""
    return apply(CEIL, x)


def trunc(x):
    """Round toward zero (no gradient)."""
    return apply(TRUNC, x)


# ----------------------------------------------------------------------------- clip
def _clip_compute(x, x_min=None, x_max=None):
    xp = backend.get_array_module(x)
    lo = -float("inf") if x_min is None else x_min
    hi = float("inf") if x_max is None else x_max
    inside = (x >= lo) & (x <= hi)  # where the gradient passes (bounds included, as TF)
    y = xp.minimum(xp.maximum(x, lo), hi)
    return y.astype(x.dtype), {"inside": inside}


def _clip_gradient(ctx, dy):
    return (dy * ctx["inside"],)


CLIP = Op("clip", _clip_compute, _clip_gradient, convert="each")


def clip(x, x_min, x_max):
    """Clip ``x`` to ``[x_min, x_max]`` (numbers). Math: y = min(max(x, x_min), x_max),
    dx = dy * [x_min <= x <= x_max]."""
    return apply(CLIP, x, x_min=x_min, x_max=x_max)


# ----------------------------------------------------------------------------- cast
def _cast_compute(x, dtype=None):
    return x.astype(dtype), {}


def _cast_gradient(ctx, dy):
    return (dy.astype(ctx["dtypes"][0]),)  # float -> float casts pass the gradient through


CAST = Op("cast", _cast_compute, _cast_gradient, convert="each")


def cast(x, dtype):
    """``x`` as ``dtype``. Math: y = x, dx = dy cast back (None for integer inputs)."""
    return apply(CAST, x, dtype=as_dtype(dtype).name)
