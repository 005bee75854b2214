"""Creating and converting arrays, array facts, comparisons and logic (no gradients here,
except ``cast`` in elementwise.py).

Creation ops use the current backend (``backend.current()``) and Keras's default dtype
``backend.floatx()`` (ones, zeros, full, eye); ``arange`` infers its dtype from its
arguments as Keras does (ints -> int32, any float -> floatx). ``*_like`` ops follow their
argument's device and dtype.

Comparisons (equal, greater, ...) and logical ops return booleans and take no gradient;
``stop_gradient`` is the identity whose output a tracer treats as a constant.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, as_dtype, is_symbolic, result_type, to_array, type_of
from nnscratch.ops.elementwise import cast
from nnscratch.ops.result import as_result


def _dtype(dtype):
    return backend.floatx() if dtype is None else as_dtype(dtype).name


def _shape(shape):
    return (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)


def ones(shape, dtype=None):
    """An array of ones on the current backend (floatx unless ``dtype``)."""
    return as_result(backend.xp().ones(_shape(shape), dtype=_dtype(dtype)))


def zeros(shape, dtype=None):
    """An array of zeros on the current backend (floatx unless ``dtype``)."""
    return as_result(backend.xp().zeros(_shape(shape), dtype=_dtype(dtype)))


def empty(shape, dtype=None):
    """Keras's ``empty``: here zeros (never uninitialised memory)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    """An array filled with ``fill_value`` (floatx unless ``dtype``)."""
    return as_result(backend.xp().full(_shape(shape), fill_value, dtype=_dtype(dtype)))


def _full_like_compute(x, fill_value=0, dtype=None):
    xp = backend.get_array_module(x)
    return xp.full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype), {}


FULL_LIKE = Op("full_like", _full_like_compute, None, convert="each")  # no gradient: the values are constants


def ones_like(x, dtype=None):
    """Ones with the shape (and dtype, unless given) of ``x``, on x's device."""
    return apply(FULL_LIKE, x, fill_value=1, dtype=None if dtype is None else _dtype(dtype))


def zeros_like(x, dtype=None):
    """Zeros with the shape (and dtype, unless given) of ``x``."""
    return apply(FULL_LIKE, x, fill_value=0, dtype=None if dtype is None else _dtype(dtype))


def full_like(x, fill_value, dtype=None):
    """``fill_value`` with the shape (and dtype, unless given) of ``x``."""
    return apply(FULL_LIKE, x, fill_value=fill_value, dtype=None if dtype is None else _dtype(dtype))


def arange(start, stop=None, step=None, dtype=None):
    """``[start, stop)`` in steps; int32 for int arguments, floatx if any is a float."""
    if dtype is None:
        dtype = result_type(*[type_of(v) for v in (start, stop, step) if v is not None])
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    return as_result(backend.xp().arange(start, stop, step, dtype=dtype))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 - Keras's names
    """Ones on the k-th diagonal (floatx unless ``dtype``)."""
    return as_result(backend.xp().eye(int(N), None if M is None else int(M), k=int(k), dtype=_dtype(dtype)))


def identity(n, dtype=None):
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from start to stop (floatx unless ``dtype``)."""
    if retstep or axis != 0:
        raise NotImplementedError("ops.linspace: retstep=True and axis != 0 are not supported")
    return as_result(backend.xp().linspace(start, stop, int(num), endpoint=endpoint).astype(_dtype(dtype)))


# ----------------------------------------------------------------------------- conversion and facts
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` (numbers, lists, host or device arrays) as an array of the current backend, with
    Keras's dtypes: Python floats -> floatx, ints -> int32; arrays keep theirs unless ``dtype``."""
    if sparse or ragged:
        raise ValueError("ops.convert_to_tensor: sparse and ragged tensors are not supported")
    if is_symbolic(x):
        return x if dtype is None else cast(x, dtype)
    return as_result(to_array(x, None if dtype is None else as_dtype(dtype)))


def convert_to_numpy(x):
    """``x`` as a plain host ``numpy.ndarray`` (a copy to the host for device arrays)."""
    if is_symbolic(x):
        raise TypeError("ops.convert_to_numpy: received a symbolic tensor, which has no values while a layer's "
                        "call is being traced; convert the arrays a model returns instead")
    if hasattr(x, "numpy") and not backend.is_array(x):
        x = x.numpy()  # e.g. a TensorFlow tensor
    host = backend.to_host(x)
    return host.view(backend.get_array_module().ndarray) if backend.is_array(host) else host


def shape(x):
    """The shape of ``x`` as a tuple (``None`` for unknown sizes of symbolic tensors)."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(to_array(x).shape)


def ndim(x):
    """The number of axes of ``x``."""
    return len(shape(x))


def size(x):
    """The number of elements of ``x`` (None when a size is unknown, as for a symbolic batch)."""
    n = 1
    for s in shape(x):
        if s is None:
            return None
        n *= s
    return n


def dtype(x):
    """The dtype name of ``x`` ('float32', ...)."""
    return as_dtype(x.dtype).name if hasattr(x, "dtype") else to_array(x).dtype.name


def is_tensor(x):
    """True for an array of any backend (nnscratch's tensors are arrays) or a symbolic tensor."""
    return backend.is_array(x) or is_symbolic(x)


STOP_GRADIENT = Op("stop_gradient", lambda x: (x, {}), None, convert="each")


def stop_gradient(variable):
    """The same values; no gradient flows through it (a traced graph treats it as a constant)."""
    return apply(STOP_GRADIENT, variable)


# ----------------------------------------------------------------------------- comparisons and logic
def _binary(name, fn, convert="promote"):
    def compute(x1, x2):
        return fn(backend.get_array_module(x1, x2), x1, x2), {}

    return Op(name, compute, None, convert=convert)


EQUAL = _binary("equal", lambda xp, a, b: a == b)
NOT_EQUAL = _binary("not_equal", lambda xp, a, b: a != b)
GREATER = _binary("greater", lambda xp, a, b: a > b)
GREATER_EQUAL = _binary("greater_equal", lambda xp, a, b: a >= b)
LESS = _binary("less", lambda xp, a, b: a < b)
LESS_EQUAL = _binary("less_equal", lambda xp, a, b: a <= b)
LOGICAL_AND = _binary("logical_and", lambda xp, a, b: xp.logical_and(a, b), "each")
LOGICAL_OR = _binary("logical_or", lambda xp, a, b: xp.logical_or(a, b), "each")
LOGICAL_XOR = _binary("logical_xor", lambda xp, a, b: xp.logical_xor(a, b), "each")
FLOOR_DIVIDE = _binary("floor_divide", lambda xp, a, b: xp.floor_divide(a, b))
MOD = _binary("mod", lambda xp, a, b: xp.mod(a, b))
LOGICAL_NOT = Op("logical_not", lambda x: (backend.get_array_module(x).logical_not(x), {}), None, convert="each")
ISNAN = Op("isnan", lambda x: (backend.get_array_module(x).isnan(x), {}), None, convert="each")
ISINF = Op("isinf", lambda x: (backend.get_array_module(x).isinf(x), {}), None, convert="each")
ISFINITE = Op("isfinite", lambda x: (backend.get_array_module(x).isfinite(x), {}), None, convert="each")


def equal(x1, x2):
    """``x1 == x2`` elementwise (bool, no gradient)."""
    return apply(EQUAL, x1, x2)


def not_equal(x1, x2):
    """``x1 != x2`` elementwise (bool, no gradient)."""
    return apply(NOT_EQUAL, x1, x2)


def greater(x1, x2):
    """``x1 > x2`` elementwise (bool, no gradient)."""
    return apply(GREATER, x1, x2)


def greater_equal(x1, x2):
    """``x1 >= x2`` elementwise (bool, no gradient)."""
    return apply(GREATER_EQUAL, x1, x2)


def less(x1, x2):
    """``x1 < x2`` elementwise (bool, no gradient)."""
    return apply(LESS, x1, x2)


def less_equal(x1, x2):
    """``x1 <= x2`` elementwise (bool, no gradient)."""
    return apply(LESS_EQUAL, x1, x2)


def logical_and(x1, x2):
    """Elementwise AND (bool, no gradient)."""
    return apply(LOGICAL_AND, x1, x2)


def logical_or(x1, x2):
    """Elementwise OR (bool, no gradient)."""
    return apply(LOGICAL_OR, x1, x2)


def logical_xor(x1, x2):
    """Elementwise XOR (bool, no gradient)."""
    return apply(LOGICAL_XOR, x1, x2)


def logical_not(x):
    """Elementwise NOT (bool, no gradient)."""
    return apply(LOGICAL_NOT, x)


def floor_divide(x1, x2):
    """``x1 // x2`` (no gradient)."""
    return apply(FLOOR_DIVIDE, x1, x2)


def mod(x1, x2):
    """``x1 % x2`` with the sign of x2, as NumPy (no gradient)."""
    return apply(MOD, x1, x2)


def isnan(x):
    """True where ``x`` is NaN (no gradient)."""
    return apply(ISNAN, x)


def isinf(x):
    """True where ``x`` is +-inf (no gradient)."""
    return apply(ISINF, x)


def isfinite(x):
    """True where ``x`` is finite (no gradient)."""
    return apply(ISFINITE, x)
