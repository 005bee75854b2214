"""Reductions: sum, mean, max, min, prod, var, std, logsumexp, norm, cumsum, cumprod, and
the ones without a gradient (argmax, argmin, all, any, count_nonzero).

``axis`` is None (all axes), an int or a tuple, and ``keepdims`` keeps the reduced axes with
length 1, as in NumPy. Every backward first puts the reduced axes back into dy (length 1)
so that it broadcasts against x; N is the number of elements reduced into each output::

    sum        y = sum x                    dx = dy
    mean       y = sum x / N                dx = dy / N
    max, min   y = max x                    dx = dy * [x == y] / (number of ties)   (as TF)
    prod       y = prod x                   dx = dy * y / x      (x without zeros)
    var        y = sum (x - m)^2 / N        dx = dy * 2 (x - m) / N
    std        s = sqrt(var)                dx = dy * (x - m) / (N s)
    logsumexp  y = log sum e^x              dx = dy * e^(x - y)  (= dy * softmax(x))
    norm       y = sqrt(sum x^2) (ord 2)    dx = dy * x / y;   ord 1: dx = dy * sign(x)
    cumsum     y_i = sum_{j<=i} x_j         dx_j = sum_{i>=j} dy_i  (reversed cumsum)
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, expand_reduced, normalize_axes, result_type
from nnscratch.ops.elementwise import cast as _cast


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _reduction(name, forward, derivative, convert="each"):
    """An Op for ``y = forward(xp, x, axes, keepdims)`` with gradient ``derivative(xp, x, y, dy, axes)``
    where y and dy come with the reduced axes kept (length 1)."""

    def compute(x, axis=None, keepdims=False):
        xp = backend.get_array_module(x)
        axes = normalize_axes(axis, x.ndim)
        y = forward(xp, x, axes, keepdims)
        if not backend.is_array(y):
            y = xp.asarray(y)  # NumPy returns scalars from full reductions; keep 0-d arrays
        return y, {"x": x, "y": y, "axes": axes, "keepdims": keepdims}

    def gradient(ctx, dy):
        x, axes, keepdims = ctx["x"], ctx["axes"], ctx["keepdims"]
        xp = backend.get_array_module(x)
        y = expand_reduced(ctx["y"], x.shape, axes, keepdims)  # (.., 1, ..)
        dy = expand_reduced(dy, x.shape, axes, keepdims)
        dx = derivative(xp, x, y, dy, axes)
        return (xp.broadcast_to(dx, x.shape).astype(x.dtype),)

    return Op(name, compute, gradient if derivative is not None else None, convert=convert)


def _accumulator_dtype(dtype):
    """Keras (JAX's rule): bool/int8/int16 sums and products in int32, uint8/uint16 in uint32,
    everything else in its own dtype (NumPy would widen int32 to int64)."""
    name = dtype.name
    if name in ("bool", "int8", "int16"):
        return "int32"
    return "uint32" if name in ("uint8", "uint16") else name


def _sum_forward(xp, x, axes, keepdims):
    return xp.sum(x, axis=axes, keepdims=keepdims).astype(_accumulator_dtype(x.dtype))


def _prod_forward(xp, x, axes, keepdims):
    return xp.prod(x, axis=axes, keepdims=keepdims).astype(_accumulator_dtype(x.dtype))


def _mean_forward(xp, x, axes, keepdims):
    dtype = x.dtype if x.dtype.kind == "f" else result_type(x.dtype, "float32")  # Keras: ints -> float32
    return xp.mean(x, axis=axes, keepdims=keepdims).astype(dtype)


def _var_forward(xp, x, axes, keepdims):
    return xp.var(x, axis=axes, keepdims=keepdims)


def _var_derivative(xp, x, y, dy, axes):
    m = xp.mean(x, axis=axes, keepdims=True)
    return dy * 2 * (x - m) / _count(x.shape, axes)


def _std_derivative(xp, x, y, dy, axes):
    m = xp.mean(x, axis=axes, keepdims=True)
    return dy * (x - m) / (_count(x.shape, axes) * y)


def _logsumexp_forward(xp, x, axes, keepdims):
    m = xp.max(x, axis=axes, keepdims=True)  # shift for exp overflow; the shift cancels exactly
    y = m + xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True))
    return y if keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def _max_derivative(xp, x, y, dy, axes):
    ties = x == y  # every position that attains the max shares the gradient equally
    return dy * ties / xp.sum(ties, axis=axes, keepdims=True)


SUM = _reduction("sum", _sum_forward, lambda xp, x, y, dy, axes: dy)
MEAN = _reduction("mean", _mean_forward, lambda xp, x, y, dy, axes: dy / _count(x.shape, axes))
MAX = _reduction("max", lambda xp, x, a, k: xp.max(x, axis=a, keepdims=k), _max_derivative)
MIN = _reduction("min", lambda xp, x, a, k: xp.min(x, axis=a, keepdims=k), _max_derivative)
PROD = _reduction("prod", _prod_forward, lambda xp, x, y, dy, axes: dy * y / x)
VAR = _reduction("var", _var_forward, _var_derivative, convert="float")
STD = _reduction("std", lambda xp, x, a, k: xp.std(x, axis=a, keepdims=k), _std_derivative, convert="float")
LOGSUMEXP = _reduction("logsumexp", _logsumexp_forward, lambda xp, x, y, dy, axes: dy * xp.exp(x - y), convert="float")
NORM2 = _reduction("norm", lambda xp, x, a, k: xp.sqrt(xp.sum(x * x, axis=a, keepdims=k)),
                   lambda xp, x, y, dy, axes: dy * x / y, convert="float")
NORM1 = _reduction("norm", lambda xp, x, a, k: xp.sum(xp.abs(x), axis=a, keepdims=k),
                   lambda xp, x, y, dy, axes: dy * xp.sign(x), convert="float")
ALL = _reduction("all", lambda xp, x, a, k: xp.all(x, axis=a, keepdims=k), None)
ANY = _reduction("any", lambda xp, x, a, k: xp.any(x, axis=a, keepdims=k), None)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    """Sum over ``axis``. Math: y = sum_axis x, dx = dy broadcast back to x's shape."""
    return apply(SUM, x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (ints give float32, as Keras). Math: dx = dy / N."""
    return apply(MEAN, x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Maximum over ``axis``. Math: dx = dy * [x == y] / (number of ties), as TF."""
    if initial is not None:
        raise NotImplementedError("ops.max: initial= is not supported")
    return apply(MAX, x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Minimum over ``axis``. Math: dx = dy * [x == y] / (number of ties)."""
    if initial is not None:
        raise NotImplementedError("ops.min: initial= is not supported")
    return apply(MIN, x, axis=axis, keepdims=keepdims)


amax, amin = max, min


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis``. Math: dx = dy * y / x (inputs without zeros)."""
    out = apply(PROD, x, axis=axis, keepdims=keepdims)
    return out if dtype is None else _cast(out, dtype)


def var(x, axis=None, keepdims=False):
    """Population variance (ddof 0). Math: dx = dy * 2 (x - mean) / N."""
    return apply(VAR, x, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Population standard deviation. Math: dx = dy * (x - mean) / (N std)."""
    return apply(STD, x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` computed stably. Math: dx = dy * exp(x - y) = dy * softmax(x)."""
    return apply(LOGSUMEXP, x, axis=axis, keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - Keras's name
    """Vector 2-norm (ord None or 2; the Frobenius norm over all axes when axis is None) or
    1-norm (ord 1, axis an int). Math: ord 2: dx = dy * x / y; ord 1: dx = dy * sign(x)."""
    if ord in (None, 2, "fro") and (axis is None or isinstance(axis, int) or ord in (None, "fro")):
        return apply(NORM2, x, axis=axis, keepdims=keepdims)
    if ord == 1 and isinstance(axis, int):
        return apply(NORM1, x, axis=axis, keepdims=keepdims)
    raise NotImplementedError(f"ops.norm: ord={ord!r} with axis={axis!r} is not supported "
                              "(supported: ord None/2/'fro', or ord 1 with an int axis)")


def all(x, axis=None, keepdims=False):  # noqa: A001
    """True where every element along ``axis`` is true (no gradient)."""
    return apply(ALL, x, axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    """True where some element along ``axis`` is true (no gradient)."""
    return apply(ANY, x, axis=axis, keepdims=keepdims)


# ----------------------------------------------------------------------------- arg reductions
def _argmax_compute(x, axis=None, keepdims=False, which="max"):
    xp = backend.get_array_module(x)
    fn = xp.argmax if which == "max" else xp.argmin
    if axis is None:
        y = fn(x.reshape(-1)).reshape((1,) * x.ndim if keepdims else ())
    else:
        y = fn(x, axis=axis, keepdims=keepdims)
    return xp.asarray(y).astype("int32"), {}  # Keras returns int32 indices


ARGMAX = Op("argmax", _argmax_compute, None, convert="each")


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (int32; over the flattened array when axis is None). No gradient."""
    return apply(ARGMAX, x, axis=axis, keepdims=keepdims, which="max")


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (int32). No gradient."""
    return apply(ARGMAX, x, axis=axis, keepdims=keepdims, which="min")


# ----------------------------------------------------------------------------- cumulative
def _cumsum_compute(x, axis=None):
    xp = backend.get_array_module(x)
    flat = x.reshape(-1) if axis is None else x
    a = 0 if axis is None else axis
    y = xp.cumsum(flat, axis=a).astype(_accumulator_dtype(x.dtype))  # Keras: int32 stays int32
    return y, {"axis": a, "flat": axis is None}


def _cumsum_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    a = ctx["axis"]
    dx = xp.flip(xp.cumsum(xp.flip(dy, axis=a), axis=a), axis=a)  # dx_j = sum_{i >= j} dy_i
    return (dx.reshape(ctx["shapes"][0]),)


def _cumprod_compute(x, axis=None):
    xp = backend.get_array_module(x)
    flat = x.reshape(-1) if axis is None else x
    a = 0 if axis is None else axis
    y = xp.cumprod(flat, axis=a).astype(_accumulator_dtype(x.dtype))
    return y, {"axis": a, "x": flat, "y": y}


def _cumprod_gradient(ctx, dy):
    # y_i = prod_{j<=i} x_j, so dx_j = sum_{i>=j} dy_i y_i / x_j (inputs without zeros)
    xp = backend.get_array_module(dy)
    a, x, y = ctx["axis"], ctx["x"], ctx["y"]
    dx = xp.flip(xp.cumsum(xp.flip(dy * y, axis=a), axis=a), axis=a) / x
    return (dx.reshape(ctx["shapes"][0]),)


CUMSUM = Op("cumsum", _cumsum_compute, _cumsum_gradient, convert="each")
CUMPROD = Op("cumprod", _cumprod_compute, _cumprod_gradient, convert="each")


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum (over the flattened array when axis is None). Math: dx = reversed cumsum of dy."""
    out = apply(CUMSUM, x, axis=axis)
    return out if dtype is None else _cast(out, dtype)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product. Math: dx_j = sum_{i>=j} dy_i y_i / x_j (inputs without zeros)."""
    out = apply(CUMPROD, x, axis=axis)
    return out if dtype is None else _cast(out, dtype)
