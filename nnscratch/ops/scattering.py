"""Writing into arrays without mutating them: slice, slice_update, scatter, scatter_update,
diagonal, trace, and nan_to_num (keras.ops.core / numpy names).

Math::

    slice(x, start, shape)      y = x[start : start + shape]     dx = dy placed back (via get_item)
    slice_update(x, start, u)   y = x with the box replaced by u  dx = dy with the box zeroed,
                                                                  du = dy[box]
    scatter(idx, v, shape)      y = zeros(shape); y[idx] += v     dv = dy[idx]   (duplicates add, as TF)
    scatter_update(x, idx, u)   y = x; y[idx] = u                 dx = dy zeroed at idx, du = dy[idx]
    diagonal(x, offset)         y_i = x[i, i + offset]            dx = zeros with dy on the diagonal
    nan_to_num(x)               y = x where finite, else nan/posinf/neginf   dx = dy * [x finite]
"""
from __future__ import annotations

import builtins

from nnscratch import backend
from nnscratch.ops.core import Op, apply, convert_inputs, target_module, to_array
from nnscratch.ops.indexing import get_item
from nnscratch.ops.reductions import sum


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras's name
    """The box of size ``shape`` at ``start_indices``. Math: dx = dy placed back (get_item)."""
    return get_item(inputs, _box(start_indices, shape))


def _box(start, shape):
    return tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start, shape))


def _slice_update_compute(x, updates, start_indices=()):
    box = _box(start_indices, updates.shape)
    y = x.copy()
    y[box] = updates
    return y, {"box": box}


def _slice_update_gradient(ctx, dy):
    box = ctx["box"]
    dx = dy.copy()
    dx[box] = 0  # those entries of x were overwritten: no gradient reaches them
    return dx, dy[box]


SLICE_UPDATE = Op("slice_update", _slice_update_compute, _slice_update_gradient)


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the box at ``start_indices`` replaced by ``updates``.
    Math: dinputs = dy with the box zeroed, dupdates = dy[box]."""
    return apply(SLICE_UPDATE, inputs, updates, start_indices=tuple(int(s) for s in start_indices))


def _index_tuple(indices):
    """(N, k) integer indices -> a tuple of k index arrays into the first k axes."""
    return tuple(indices[:, j] for j in range(indices.shape[1]))


def _indices_values(inputs):
    indices, values = inputs
    xp = target_module(inputs)
    return [to_array(indices, None, xp).astype("int64")] + convert_inputs((values,), "each")


def _scatter_compute(indices, values, shape=()):
    xp = backend.get_array_module(values)
    y = xp.zeros(tuple(shape), dtype=values.dtype)
    key = _index_tuple(indices)
    backend.scatter_add(y, key, values)  # duplicates add up, as tf.scatter_nd does
    return y, {"key": key}


def _scatter_gradient(ctx, dy):
    return None, dy[ctx["key"]]


SCATTER = Op("scatter", _scatter_compute, _scatter_gradient, convert=_indices_values)


def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (N, k). Math: dvalues = dy[indices]."""
    return apply(SCATTER, indices, values, shape=tuple(int(n) for n in shape))


def _x_indices_updates(inputs):
    x, indices, updates = inputs
    xp = target_module(inputs)
    x, updates = convert_inputs((x, updates), "promote")
    return [x, to_array(indices, None, xp).astype("int64"), updates]


def _scatter_update_compute(x, indices, updates):
    key = _index_tuple(indices)
    y = x.copy()
    y[key] = updates
    return y, {"key": key}


def _scatter_update_gradient(ctx, dy):
    key = ctx["key"]
    dx = dy.copy()
    dx[key] = 0  # overwritten entries of x take no gradient
    return dx, None, dy[key]


SCATTER_UPDATE = Op("scatter_update", _scatter_update_compute, _scatter_update_gradient, convert=_x_indices_updates)


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with the entries at ``indices`` (N, k) replaced by ``updates``.
    Math: dinputs = dy zeroed there, dupdates = dy[indices]. Only ``reduction=None``."""
    if reduction is not None:
        raise NotImplementedError(f"ops.scatter_update: reduction={reduction!r} is not supported")
    return apply(SCATTER_UPDATE, inputs, indices, updates)


def _diagonal_compute(x, offset=0, axis1=0, axis2=1):
    xp = backend.get_array_module(x)
    moved = xp.moveaxis(x, (axis1, axis2), (-2, -1))  # (..., R, C)
    R, C = moved.shape[-2:]
    n = max(0, min(R - max(-offset, 0), C - max(offset, 0)))
    rows = xp.arange(n) + max(-offset, 0)
    cols = xp.arange(n) + max(offset, 0)
    return moved[..., rows, cols], {"rows": rows, "cols": cols, "moved_shape": moved.shape,
                                    "axes": (axis1, axis2), "dtype": x.dtype}


def _diagonal_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    dmoved = xp.zeros(ctx["moved_shape"], dtype=dy.dtype)
    backend.scatter_add(dmoved, (Ellipsis, ctx["rows"], ctx["cols"]), dy)
    return (xp.moveaxis(dmoved, (-2, -1), ctx["axes"]),)


DIAGONAL = Op("diagonal", _diagonal_compute, _diagonal_gradient, convert="each")


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal of the (axis1, axis2) planes, as the last axis. Math: dx = dy on the diagonal."""
    return apply(DIAGONAL, x, offset=offset, axis1=axis1, axis2=axis2)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum of the diagonal (composed of diagonal and sum)."""
    return sum(diagonal(x, offset=offset, axis1=axis1, axis2=axis2), axis=-1)


def _nan_to_num_compute(x, nan=0.0, posinf=None, neginf=None):
    xp = backend.get_array_module(x)
    finite = xp.isfinite(x)
    big = xp.finfo(x.dtype).max if x.dtype.kind == "f" else 0
    y = xp.where(xp.isnan(x), nan, x)
    y = xp.where(y == float("inf"), big if posinf is None else posinf, y)
    y = xp.where(y == -float("inf"), -big if neginf is None else neginf, y)
    return y.astype(x.dtype), {"finite": finite}


NAN_TO_NUM = Op("nan_to_num", _nan_to_num_compute, lambda ctx, dy: (dy * ctx["finite"],), convert="each")


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +-inf -> ``posinf``/``neginf`` (the dtype's largest by default).
    Math: dx = dy where x is finite, else 0."""
    return apply(NAN_TO_NUM, x, nan=nan, posinf=posinf, neginf=neginf)
