"""Binary arithmetic with broadcasting: add, subtract, multiply, divide, power, maximum,
minimum, matmul, dot.

Math (for every op, dx1 and dx2 are then summed down to the shapes of x1 and x2, the
adjoint of broadcasting; see ``core.unbroadcast``)::

    add        y = x1 + x2          dx1 = dy              dx2 = dy
    subtract   y = x1 - x2          dx1 = dy              dx2 = -dy
    multiply   y = x1 * x2          dx1 = dy * x2         dx2 = dy * x1
    divide     y = x1 / x2          dx1 = dy / x2         dx2 = -dy * x1 / x2^2
    power      y = x1 ^ x2          dx1 = dy * x2 * x1^(x2-1)
                                    dx2 = dy * y * log(x1)   (0 where x1 <= 0, as TF)
    maximum    y = max(x1, x2)      dx1 = dy * [x1 >= x2] dx2 = dy * [x1 < x2]   (ties to x1, as TF)
    minimum    y = min(x1, x2)      dx1 = dy * [x1 <= x2] dx2 = dy * [x1 > x2]
    matmul     Y = A @ B            dA = dY @ B^T         dB = A^T @ dY   (batch dims broadcast)

Dtypes follow Keras: one common result type (a float array wins over an int array, Python
numbers are weak); ``divide``/``true_divide`` always give floats.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, unbroadcast


# ----------------------------------------------------------------------------- add / subtract / multiply
def _unbroadcast_pair(d1, d2, ctx):
    """(d1, d2) summed down to the shapes of the op's two inputs."""
    s1, s2 = ctx["shapes"]
    return unbroadcast(d1, s1), unbroadcast(d2, s2)


def _add_compute(x1, x2):
    return x1 + x2, {}


def _add_gradient(ctx, dy):
    s1, s2 = ctx["shapes"]
    return unbroadcast(dy, s1), unbroadcast(dy, s2)


def _subtract_compute(x1, x2):
    return x1 - x2, {}


def _subtract_gradient(ctx, dy):
    s1, s2 = ctx["shapes"]
    return unbroadcast(dy, s1), unbroadcast(-dy, s2)


def _multiply_compute(x1, x2):
    return x1 * x2, {"x1": x1, "x2": x2}


def _multiply_gradient(ctx, dy):
    x1, x2 = ctx["x1"], ctx["x2"]
    return unbroadcast(dy * x2, x1.shape), unbroadcast(dy * x1, x2.shape)


def _divide_compute(x1, x2):
    return x1 / x2, {"x1": x1, "x2": x2}


def _divide_gradient(ctx, dy):
    x1, x2 = ctx["x1"], ctx["x2"]
    dx1 = dy / x2  # d(x1/x2)/dx1 = 1/x2
    dx2 = -dy * x1 / (x2 * x2)  # d(x1/x2)/dx2 = -x1/x2^2
    return unbroadcast(dx1, x1.shape), unbroadcast(dx2, x2.shape)


def _power_compute(x1, x2):
    y = x1 ** x2
    return y, {"x1": x1, "x2": x2, "y": y}


def _power_gradient(ctx, dy):
    x1, x2, y = ctx["x1"], ctx["x2"], ctx["y"]
    xp = backend.get_array_module(x1)
    dx1 = dy * x2 * x1 ** (x2 - 1)
    safe = xp.where(x1 > 0, x1, 1)  # log only where defined; TF's gradient is 0 elsewhere
    dx2 = dy * xp.where(x1 > 0, y * xp.log(safe), 0)
    return unbroadcast(dx1, x1.shape), unbroadcast(dx2.astype(x2.dtype), x2.shape)


def _maximum_compute(x1, x2):
    xp = backend.get_array_module(x1, x2)
    return xp.maximum(x1, x2), {"mask": x1 >= x2}  # True where x1 wins (ties go to x1)


def _maximum_gradient(ctx, dy):
    mask = ctx["mask"]
    s1, s2 = ctx["shapes"]
    return unbroadcast(dy * mask, s1), unbroadcast(dy * ~mask, s2)


def _minimum_compute(x1, x2):
    xp = backend.get_array_module(x1, x2)
    return xp.minimum(x1, x2), {"mask": x1 <= x2}


ADD = Op("add", _add_compute, _add_gradient)
SUBTRACT = Op("subtract", _subtract_compute, _subtract_gradient)
MULTIPLY = Op("multiply", _multiply_compute, _multiply_gradient)
DIVIDE = Op("divide", _divide_compute, _divide_gradient, convert="float")
POWER = Op("power", _power_compute, _power_gradient)
MAXIMUM = Op("maximum", _maximum_compute, _maximum_gradient)
MINIMUM = Op("minimum", _minimum_compute, _maximum_gradient)  # same mask logic, mask = x1 <= x2


def add(x1, x2):
    """Elementwise ``x1 + x2`` with broadcasting. Math: dx1 = dy, dx2 = dy (summed to shape)."""
    return apply(ADD, x1, x2)


def subtract(x1, x2):
    """Elementwise ``x1 - x2``. Math: dx1 = dy, dx2 = -dy."""
    return apply(SUBTRACT, x1, x2)


def multiply(x1, x2):
    """Elementwise ``x1 * x2``. Math: dx1 = dy * x2, dx2 = dy * x1."""
    return apply(MULTIPLY, x1, x2)


def divide(x1, x2):
    """Elementwise ``x1 / x2`` (always float). Math: dx1 = dy / x2, dx2 = -dy * x1 / x2^2."""
    return apply(DIVIDE, x1, x2)


def true_divide(x1, x2):
    """Alias of ``divide``."""
    return apply(DIVIDE, x1, x2)


def power(x1, x2):
    """Elementwise ``x1 ** x2``. Math: dx1 = dy * x2 * x1^(x2-1), dx2 = dy * y * log(x1)."""
    return apply(POWER, x1, x2)


def maximum(x1, x2):
    """Elementwise maximum. Math: dx1 = dy * [x1 >= x2], dx2 = dy * [x1 < x2]."""
    return apply(MAXIMUM, x1, x2)


def minimum(x1, x2):
    """Elementwise minimum. Math: dx1 = dy * [x1 <= x2], dx2 = dy * [x1 > x2]."""
    return apply(MINIMUM, x1, x2)


# ----------------------------------------------------------------------------- matmul / dot
def _matmul_compute(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"ops.matmul: inputs must be at least 1-D; received shapes {a.shape} and {b.shape} "
                         "(use ops.multiply for scalars)")
    xp = backend.get_array_module(a, b)
    return xp.matmul(a, b), {"a": a, "b": b}


def _matmul_gradient(ctx, dy):
    a, b = ctx["a"], ctx["b"]
    xp = backend.get_array_module(a, b)
    # treat 1-D operands as matrices, as matmul does: a (K,) -> (1, K), b (K,) -> (K, 1)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a  # (..., M, K)
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b  # (..., K, N)
    dy2 = dy
    if a.ndim == 1:
        dy2 = xp.expand_dims(dy2, -2)
    if b.ndim == 1:
        dy2 = xp.expand_dims(dy2, -1)  # dy2: (..., M, N)
    da = xp.matmul(dy2, xp.swapaxes(b2, -1, -2))  # (..., M, K) = dY @ B^T
    db = xp.matmul(xp.swapaxes(a2, -1, -2), dy2)  # (..., K, N) = A^T @ dY
    return unbroadcast(da, a2.shape).reshape(a.shape), unbroadcast(db, b2.shape).reshape(b.shape)


MATMUL = Op("matmul", _matmul_compute, _matmul_gradient)


def matmul(x1, x2):
    """Matrix product with NumPy's rules (1-D operands, broadcast batch dims).

    Math:
        Y = A @ B
        dA = dY @ B^T, dB = A^T @ dY (summed over broadcast batch dims)
    """
    return apply(MATMUL, x1, x2)


def dot(x1, x2):
    """``numpy.dot``: a product of scalars, or ``matmul`` when ``x2`` has rank <= 2.

    Math: as multiply (a scalar operand) or matmul. N-D by N-D (rank of x2 > 2) is not
    supported (NotImplementedError); use ``ops.tensordot`` semantics through ``matmul``."""
    r1, r2 = _rank(x1), _rank(x2)
    if r1 == 0 or r2 == 0:
        return multiply(x1, x2)
    if r2 > 2:
        raise NotImplementedError(f"ops.dot: x2 of rank {r2} > 2 is not supported; received ranks {r1} and {r2}")
    return matmul(x1, x2)


def _rank(x):
    shape = getattr(x, "shape", None)
    if shape is not None:
        return len(shape)
    return 0 if isinstance(x, (int, float)) else 1 + _rank(x[0]) if len(x) else 1
