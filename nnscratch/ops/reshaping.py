"""Shape ops: reshape, transpose, expand_dims, squeeze, ravel, broadcast_to, swapaxes,
moveaxis, flip, concatenate, stack, split, unstack, tile, repeat.

They move elements without changing them, so every backward moves dy back (Math)::

    reshape, ravel, expand_dims, squeeze   dx = dy.reshape(x.shape)
    transpose(axes)                        dx = transpose(dy, argsort(axes))
    broadcast_to                           dx = dy summed down to x.shape
    swapaxes, moveaxis, flip               dx = the inverse move of dy
    concatenate                            dx_i = the slice of dy that came from x_i
    stack                                  dx_i = dy[..., i, ...] (index i on the new axis)
    split, unstack                         dx = concatenate / stack of the dy pieces (zeros for unused)
    tile(reps)                             dx = dy viewed as (r_0, n_0, r_1, n_1, ...) summed over the r's
    repeat(r, axis)                        dx = dy viewed as (..., n, r, ...) summed over r
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.core import Op, apply, unbroadcast


def _reshape_back(ctx, dy):
    return (dy.reshape(ctx["shapes"][0]),)


def _moved(compute):
    def wrapped(x, **attrs):
        return compute(backend.get_array_module(x), x, **attrs), {}

    return wrapped


def _reshape_compute(xp, x, newshape):
    return xp.reshape(x, tuple(-1 if n is None else n for n in newshape) if isinstance(newshape, (tuple, list))
                      else newshape)


RESHAPE = Op("reshape", _moved(_reshape_compute), _reshape_back, convert="each")
EXPAND_DIMS = Op("expand_dims", _moved(lambda xp, x, axis: xp.expand_dims(x, axis)), _reshape_back, convert="each")
SQUEEZE = Op("squeeze", _moved(lambda xp, x, axis: xp.squeeze(x, axis=axis)), _reshape_back, convert="each")


def _transpose_compute(x, axes=None):
    xp = backend.get_array_module(x)
    axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
    return xp.transpose(x, axes), {"axes": axes}


def _transpose_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    inverse = tuple(sorted(range(len(ctx["axes"])), key=lambda i: ctx["axes"][i]))  # argsort(axes)
    return (xp.transpose(dy, inverse),)


TRANSPOSE = Op("transpose", _transpose_compute, _transpose_gradient, convert="each")
BROADCAST_TO = Op("broadcast_to", _moved(lambda xp, x, shape: xp.broadcast_to(x, tuple(shape))),
                  lambda ctx, dy: (unbroadcast(dy, ctx["shapes"][0]),), convert="each")
SWAPAXES = Op("swapaxes", _moved(lambda xp, x, axis1, axis2: xp.swapaxes(x, axis1, axis2)),
              lambda ctx, dy: (backend.get_array_module(dy).swapaxes(dy, ctx["axis1"], ctx["axis2"]),),
              convert="each")
MOVEAXIS = Op("moveaxis", _moved(lambda xp, x, source, destination: xp.moveaxis(x, source, destination)),
              lambda ctx, dy: (backend.get_array_module(dy).moveaxis(dy, ctx["destination"], ctx["source"]),),
              convert="each")
FLIP = Op("flip", _moved(lambda xp, x, axis=None: xp.flip(x, axis=axis)),
          lambda ctx, dy: (backend.get_array_module(dy).flip(dy, axis=ctx["axis"]),), convert="each")


def _keep_attrs(op):
    """Ops whose backward needs their attrs: store them in ctx."""
    compute = op.compute

    def wrapped(*arrays, **attrs):
        out, ctx = compute(*arrays, **attrs)
        ctx.update(attrs)
        return out, ctx

    op.compute = wrapped
    return op


for _op in (SWAPAXES, MOVEAXIS, FLIP):
    _keep_attrs(_op)


def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one -1 or None is inferred). Math: dx = dy.reshape(x.shape)."""
    return apply(RESHAPE, x, newshape=newshape)


def ravel(x):
    """``x`` flattened to 1-D. Math: dx = dy.reshape(x.shape)."""
    return apply(RESHAPE, x, newshape=-1)


def transpose(x, axes=None):
    """Permute axes (reverse them when ``axes`` is None). Math: dx = transpose(dy, argsort(axes))."""
    return apply(TRANSPOSE, x, axes=axes)


def expand_dims(x, axis):
    """Insert axes of length 1. Math: dx = dy.reshape(x.shape)."""
    return apply(EXPAND_DIMS, x, axis=axis)


def squeeze(x, axis=None):
    """Remove axes of length 1. Math: dx = dy.reshape(x.shape)."""
    return apply(SQUEEZE, x, axis=axis)


def broadcast_to(x, shape):
    """Broadcast ``x`` to ``shape``. Math: dx = dy summed down to x.shape."""
    return apply(BROADCAST_TO, x, shape=tuple(shape))


def swapaxes(x, axis1, axis2):
    """Swap two axes. Math: dx = swapaxes(dy, axis1, axis2)."""
    return apply(SWAPAXES, x, axis1=axis1, axis2=axis2)


def moveaxis(x, source, destination):
    """Move axes to new positions. Math: dx = moveaxis(dy, destination, source)."""
    return apply(MOVEAXIS, x, source=source, destination=destination)


def flip(x, axis=None):
    """Reverse the order of elements along ``axis``. Math: dx = flip(dy, axis)."""
    return apply(FLIP, x, axis=axis)


# ----------------------------------------------------------------------------- concatenate / stack / split
def _concatenate_compute(*xs, axis=0):
    xp = backend.get_array_module(*xs)
    return xp.concatenate(xs, axis=axis), {"axis": axis}


def _concatenate_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    axis = ctx["axis"] % dy.ndim
    ends, total = [], 0
    for shape in ctx["shapes"][:-1]:
        total += shape[axis]
        ends.append(total)
    return tuple(xp.split(dy, ends, axis=axis))  # the slice of dy each input filled


def _stack_compute(*xs, axis=0):
    xp = backend.get_array_module(*xs)
    return xp.stack(xs, axis=axis), {"axis": axis}


def _stack_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    moved = xp.moveaxis(dy, ctx["axis"], 0)  # (n_inputs, ...)
    return tuple(moved[i] for i in range(moved.shape[0]))


CONCATENATE = Op("concatenate", _concatenate_compute, _concatenate_gradient)
STACK = Op("stack", _stack_compute, _stack_gradient)


def concatenate(xs, axis=0):
    """Join ``xs`` along an existing axis. Math: dx_i = the slice of dy that came from x_i."""
    return apply(CONCATENATE, *xs, axis=axis)


def stack(x, axis=0):
    """Join the arrays ``x`` along a new axis. Math: dx_i = dy[..., i, ...]."""
    return apply(STACK, *x, axis=axis)


def _split_compute(x, indices_or_sections=1, axis=0):
    xp = backend.get_array_module(x)
    pieces = tuple(xp.split(x, indices_or_sections, axis=axis))
    return pieces, {"axis": axis, "x": x, "piece_shapes": [p.shape for p in pieces]}


def _split_gradient(ctx, dys):
    xp = backend.get_array_module(ctx["x"])
    x, axis = ctx["x"], ctx["axis"]
    pieces = []
    for dy_i, shape in zip(dys, ctx["piece_shapes"]):
        pieces.append(xp.zeros(shape, dtype=x.dtype) if dy_i is None else dy_i)  # zeros for an unused piece
    return (xp.concatenate(pieces, axis=axis),)


SPLIT = Op("split", _split_compute, _split_gradient, convert="each", n_outputs=None)


def split(x, indices_or_sections, axis=0):
    """Split ``x`` into equal sections or at indices (a list of arrays). Math: dx =
    concatenate of the dy pieces, zeros for unused pieces."""
    if not isinstance(indices_or_sections, int):
        indices_or_sections = [int(i) for i in indices_or_sections]
    return list(apply(SPLIT, x, indices_or_sections=indices_or_sections, axis=axis))


def _unstack_compute(x, axis=0):
    xp = backend.get_array_module(x)
    moved = xp.moveaxis(x, axis, 0)
    return tuple(moved[i] for i in range(moved.shape[0])), {"axis": axis, "x": x}


def _unstack_gradient(ctx, dys):
    xp = backend.get_array_module(ctx["x"])
    x, axis = ctx["x"], ctx["axis"]
    shape = tuple(n for i, n in enumerate(x.shape) if i != axis % x.ndim)
    pieces = [xp.zeros(shape, dtype=x.dtype) if d is None else d for d in dys]
    return (xp.stack(pieces, axis=axis),)


UNSTACK = Op("unstack", _unstack_compute, _unstack_gradient, convert="each", n_outputs=None)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis`` as a list. Math: dx = stack of the dy slices."""
    return list(apply(UNSTACK, x, axis=axis))


# ----------------------------------------------------------------------------- tile / repeat
def _tile_compute(x, repeats=1):
    xp = backend.get_array_module(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    return xp.tile(x, reps), {"reps": reps}


def _tile_gradient(ctx, dy):
    (shape,) = ctx["shapes"]
    reps = ctx["reps"]
    d = max(len(shape), len(reps))
    full_shape = (1,) * (d - len(shape)) + tuple(shape)  # numpy pads both with leading 1s
    full_reps = (1,) * (d - len(reps)) + reps
    interleaved = []
    for r, n in zip(full_reps, full_shape):
        interleaved += [r, n]
    dx = dy.reshape(tuple(interleaved)).sum(axis=tuple(range(0, 2 * d, 2)))  # sum over the copies
    return (dx.reshape(shape),)


def _repeat_compute(x, repeats=1, axis=None):
    xp = backend.get_array_module(x)
    flat = x.reshape(-1) if axis is None else x
    return xp.repeat(flat, repeats, axis=0 if axis is None else axis), {"repeats": repeats, "axis": axis}


def _repeat_gradient(ctx, dy):
    (shape,) = ctx["shapes"]
    r, axis = ctx["repeats"], ctx["axis"]
    if axis is None:
        return (dy.reshape(-1, r).sum(axis=1).reshape(shape),)
    axis = axis % len(shape)
    viewed = dy.reshape(tuple(shape[:axis]) + (shape[axis], r) + tuple(shape[axis + 1:]))  # (..., n, r, ...)
    return (viewed.sum(axis=axis + 1),)


TILE = Op("tile", _tile_compute, _tile_gradient, convert="each")
REPEAT = Op("repeat", _repeat_compute, _repeat_gradient, convert="each")


def tile(x, repeats):
    """Repeat the whole of ``x`` ``repeats`` times per axis. Math: dx = sum over the copies."""
    return apply(TILE, x, repeats=repeats)


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` (an int) times along ``axis`` (flattened when None).
    Math: dx = dy viewed as (..., n, r, ...) summed over r."""
    if not isinstance(repeats, int):
        raise NotImplementedError(f"ops.repeat: only an int repeats is supported; received {repeats!r}")
    return apply(REPEAT, x, repeats=repeats, axis=axis)
