"""Gathering and selecting: get_item (``x[key]``), take, take_along_axis, where, sort,
top_k, and argsort (no gradient).

A gather reads some elements of x, possibly several times; its backward writes dy back
into zeros at the same places, *adding* where a place was read twice (``backend.scatter_add``;
plain ``dx[idx] += dy`` would drop duplicates)::

    get_item      y = x[key]                      dx = scatter_add(zeros, key, dy)
    take          y = take(x, idx, axis)          dx = scatter_add along axis
    take_along_axis, sort, top_k                  dx = scatter_add of dy at the gathered positions
    where         y = c ? x1 : x2                 dx1 = dy * c, dx2 = dy * (1 - c)  (summed to shape)
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, convert_inputs, is_symbolic, target_module, to_array, unbroadcast


# ----------------------------------------------------------------------------- x[key]
def _device_key(key, xp):
    """Array parts of an index (lists, host arrays) as integer/bool arrays on x's device."""
    if isinstance(key, tuple):
        return tuple(_device_key(k, xp) for k in key)
    if is_symbolic(key):
        raise TypeError("ops.get_item: indexing with a symbolic tensor is not supported; index with "
                        "Python ints, slices or constant arrays")
    if isinstance(key, list) or backend.is_array(key):
        return to_array(key, None, xp)
    return key


def _get_item_compute(x, key=None):
    xp = backend.get_array_module(x)
    key = _device_key(key, xp)
    return x[key], {"key": key, "x": x}


def _get_item_gradient(ctx, dy):
    x = ctx["x"]
    xp = backend.get_array_module(x)
    dx = xp.zeros(x.shape, dtype=dy.dtype)
    backend.scatter_add(dx, ctx["key"], dy)  # every read position gets its dy, duplicates add up
    return (dx,)


GET_ITEM = Op("get_item", _get_item_compute, _get_item_gradient, convert="each")


def get_item(x, key):
    """``x[key]`` (ints, slices, None, Ellipsis, integer/boolean arrays).
    Math: dx = zeros with dy added at the read positions."""
    return apply(GET_ITEM, x, key=key)


# ----------------------------------------------------------------------------- take
def _take_compute(x, indices, axis=None):
    xp = backend.get_array_module(x)
    if axis is None:
        return xp.take(x.reshape(-1), indices), {"indices": indices, "axis": None}
    return xp.take(x, indices, axis=axis), {"indices": indices, "axis": axis % x.ndim}


def _take_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    shape, idx, axis = ctx["shapes"][0], ctx["indices"], ctx["axis"]
    if axis is None:
        dx = xp.zeros((_prod(shape),), dtype=dy.dtype)
        backend.scatter_add(dx, idx.reshape(-1), dy.reshape(-1))
        return dx.reshape(shape), None
    pre, post = tuple(shape[:axis]), tuple(shape[axis + 1:])
    dy = dy.reshape(pre + (idx.size,) + post)  # the index dims of y flattened into one
    dy = xp.moveaxis(dy, axis, 0)  # (idx.size, *pre, *post)
    dx = xp.zeros((shape[axis],) + pre + post, dtype=dy.dtype)
    backend.scatter_add(dx, idx.reshape(-1), dy)
    return xp.moveaxis(dx, 0, axis), None


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _x_and_indices(inputs):
    x, indices = inputs
    xp = target_module(inputs)
    return [to_array(x, None, xp), to_array(indices, None, xp).astype("int64")]


TAKE = Op("take", _take_compute, _take_gradient, convert=_x_and_indices)


def take(x, indices, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (flattened when None).
    Math: dx = scatter_add(zeros, indices, dy) along axis."""
    return apply(TAKE, x, indices, axis=axis)


# ----------------------------------------------------------------------------- along an axis
def _scatter_along(xp, shape, indices, values, axis):
    """zeros(shape) with ``values`` added at ``indices`` along ``axis`` (the adjoint of
    take_along_axis)."""
    dx = xp.zeros(shape, dtype=values.dtype)
    grids = []
    for i in range(len(shape)):
        if i == axis:
            grids.append(indices)
        else:
            view = [1] * len(shape)
            view[i] = indices.shape[i]
            grids.append(xp.broadcast_to(xp.arange(indices.shape[i]).reshape(view), indices.shape))
    backend.scatter_add(dx, tuple(grids), values)
    return dx


def _take_along_axis_compute(x, indices, axis=None):
    xp = backend.get_array_module(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % x.ndim
    return xp.take_along_axis(x, indices, axis=axis), {"indices": indices, "axis": axis, "flat_shape": x.shape}


def _take_along_axis_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    dx = _scatter_along(xp, ctx["flat_shape"], ctx["indices"], dy, ctx["axis"])
    return dx.reshape(ctx["shapes"][0]), None


TAKE_ALONG_AXIS = Op("take_along_axis", _take_along_axis_compute, _take_along_axis_gradient, convert=_x_and_indices)


def take_along_axis(x, indices, axis=None):
    """``numpy.take_along_axis``. Math: dx = dy added back at the gathered positions."""
    return apply(TAKE_ALONG_AXIS, x, indices, axis=axis)


def _sort_compute(x, axis=-1):
    xp = backend.get_array_module(x)
    axis = axis % x.ndim
    order = xp.argsort(x, axis=axis)
    return xp.take_along_axis(x, order, axis=axis), {"order": order, "axis": axis}


def _sort_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    return (_scatter_along(xp, dy.shape, ctx["order"], dy, ctx["axis"]),)


def _top_k_compute(x, k=1, sorted=True):
    xp = backend.get_array_module(x)
    order = xp.argsort(-x, axis=-1, kind="stable")[..., :k]  # largest first; ties keep index order
    return (xp.take_along_axis(x, order, axis=-1), order.astype("int32")), {"order": order, "x": x}


def _top_k_gradient(ctx, dys):
    xp = backend.get_array_module(ctx["x"])
    d_values = dys[0]
    if d_values is None:
        return (xp.zeros_like(ctx["x"]),)
    return (_scatter_along(xp, ctx["x"].shape, ctx["order"], d_values, ctx["x"].ndim - 1),)


def _argsort_compute(x, axis=-1):
    xp = backend.get_array_module(x)
    return xp.argsort(x, axis=axis).astype("int32"), {}


SORT = Op("sort", _sort_compute, _sort_gradient, convert="each")
TOP_K = Op("top_k", _top_k_compute, _top_k_gradient, convert="each", n_outputs=2)
ARGSORT = Op("argsort", _argsort_compute, None, convert="each")


def sort(x, axis=-1):
    """Sorted copy of ``x`` along ``axis``. Math: dx = dy put back at the original positions."""
    return apply(SORT, x, axis=axis)


def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (int32, no gradient)."""
    return apply(ARGSORT, x, axis=axis)


def top_k(x, k, sorted=True):  # noqa: A002 - Keras's name
    """(values, indices) of the ``k`` largest entries along the last axis (always sorted).
    Math: dvalues flow back to the positions they came from; indices take no gradient."""
    return apply(TOP_K, x, k=int(k), sorted=sorted)


# ----------------------------------------------------------------------------- where
def _where_inputs(inputs):
    condition, x1, x2 = inputs
    xp = target_module(inputs)
    return [to_array(condition, None, xp).astype(bool)] + convert_inputs((x1, x2), "promote")


def _where_compute(condition, x1, x2):
    xp = backend.get_array_module(condition, x1, x2)
    return xp.where(condition, x1, x2), {"condition": condition}


def _where_gradient(ctx, dy):
    c = ctx["condition"]
    _, s1, s2 = ctx["shapes"]
    return None, unbroadcast(dy * c, s1), unbroadcast(dy * ~c, s2)


def _nonzero_compute(condition):
    xp = backend.get_array_module(condition)
    return tuple(i.astype("int32") for i in xp.nonzero(condition)), {}


WHERE = Op("where", _where_compute, _where_gradient, convert=_where_inputs)
NONZERO = Op("nonzero", _nonzero_compute, None, convert="each", n_outputs=None)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` else ``x2`` (broadcast); with only ``condition``, the
    indices where it is true. Math: dx1 = dy * c, dx2 = dy * (1 - c); none for condition."""
    if x1 is None and x2 is None:
        return apply(NONZERO, condition)
    if x1 is None or x2 is None:
        raise ValueError("ops.where: x1 and x2 must both be given or both be None")
    return apply(WHERE, condition, x1, x2)


def nonzero(x):
    """Indices of the non-zero elements, one int32 array per axis (no gradient)."""
    return apply(NONZERO, x)
