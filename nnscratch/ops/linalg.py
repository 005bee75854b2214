"""Contractions and structured ops: einsum, tensordot, outer, tril, triu, pad, roll.

Math::

    einsum   y = einsum("ab,bc->ac", A, B)      dA = einsum("ac,bc->ab", dY, B)  (every operand
             the same way: contract dy with the other operands into this operand's subscripts;
             an index that only this operand has is summed in forward, so its gradient is
             broadcast back along it)
    tril/triu  y = x * M (M the triangle mask)  dx = dy * M
    pad      y = x placed inside a constant border    dx = the centre of dy
    roll     y = x shifted cyclically by s            dx = dy shifted by -s
    tensordot, outer: composed of reshape/transpose/matmul/multiply, whose backwards apply.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.ops.arithmetic import matmul, multiply
from nnscratch.ops.core import Op, apply
from nnscratch.ops.reshaping import reshape, transpose


def _parse_einsum(subscripts, n_operands):
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise NotImplementedError(f"ops.einsum: ellipsis ('...') is not supported; received {subscripts!r}")
    if "->" in spec:
        inputs, output = spec.split("->")
    else:  # implicit mode: the output is every index that appears once, in alphabetical order
        inputs = spec
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = inputs.split(",")
    if len(terms) != n_operands:
        raise ValueError(f"ops.einsum: {subscripts!r} names {len(terms)} operands, received {n_operands}")
    for t in terms:
        if len(set(t)) != len(t):
            raise NotImplementedError(f"ops.einsum: a repeated index inside one operand ({t!r}, a diagonal) "
                                      "is not supported")
    return terms, output


def _einsum_compute(*operands, subscripts=""):
    xp = backend.get_array_module(*operands)
    terms, output = _parse_einsum(subscripts, len(operands))
    y = xp.einsum(",".join(terms) + "->" + output, *operands)
    return y, {"operands": operands, "terms": terms, "output": output}


def _einsum_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    operands, terms, output = ctx["operands"], ctx["terms"], ctx["output"]
    grads = []
    for i, (x, term) in enumerate(zip(operands, terms)):
        others = [(t, o) for j, (t, o) in enumerate(zip(terms, operands)) if j != i]
        available = set(output).union(*[set(t) for t, _ in others])
        kept = "".join(c for c in term if c in available)  # indices the contraction can produce
        spec = ",".join([output] + [t for t, _ in others]) + "->" + kept
        g = xp.einsum(spec, dy, *[o for _, o in others])
        # indices only this operand had were summed away in forward: broadcast dy back along them
        shape = tuple(x.shape[k] if c in available else 1 for k, c in enumerate(term))
        g = g.reshape(shape)
        grads.append(xp.broadcast_to(g, x.shape).astype(x.dtype))
    return tuple(grads)


EINSUM = Op("einsum", _einsum_compute, _einsum_gradient)


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation (explicit ``->`` or implicit form; no ellipsis, no diagonals).
    Math: each operand's gradient is dy contracted with the other operands (module docstring)."""
    if kwargs:
        raise NotImplementedError(f"ops.einsum: keyword arguments {sorted(kwargs)} are not supported")
    return apply(EINSUM, *operands, subscripts=subscripts)


def tensordot(x1, x2, axes=2):
    """``numpy.tensordot`` composed of transpose, reshape and matmul (each with its backward)."""
    n1, n2 = len(x1.shape), len(x2.shape)
    if isinstance(axes, int):
        a1, a2 = list(range(n1 - axes, n1)), list(range(axes))
    else:
        a1 = [a % n1 for a in ([axes[0]] if isinstance(axes[0], int) else axes[0])]
        a2 = [a % n2 for a in ([axes[1]] if isinstance(axes[1], int) else axes[1])]
    free1 = [i for i in range(n1) if i not in a1]
    free2 = [i for i in range(n2) if i not in a2]
    k = 1
    for a in a1:
        k *= x1.shape[a]
    left = reshape(transpose(x1, free1 + a1), (-1, k))  # (free1..., K)
    right = reshape(transpose(x2, a2 + free2), (k, -1))  # (K, free2...)
    out_shape = tuple(x1.shape[i] for i in free1) + tuple(x2.shape[i] for i in free2)
    return reshape(matmul(left, right), out_shape)


def outer(x1, x2):
    """Outer product of the flattened inputs: ``x1[:, None] * x2[None, :]``."""
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def _triangle_compute(x, k=0, lower=True):
    xp = backend.get_array_module(x)
    ones = xp.ones(x.shape[-2:], dtype=bool)
    mask = xp.tril(ones, k) if lower else xp.triu(ones, k)
    return x * mask, {"mask": mask}


TRIANGLE = Op("tril_triu", _triangle_compute, lambda ctx, dy: (dy * ctx["mask"],), convert="each")


def tril(x, k=0):
    """The lower triangle of the last two axes (zeros above diagonal k). Math: dx = dy * mask."""
    return apply(TRIANGLE, x, k=k, lower=True)


def triu(x, k=0):
    """The upper triangle of the last two axes. Math: dx = dy * mask."""
    return apply(TRIANGLE, x, k=k, lower=False)


def _pad_compute(x, pad_width=0, constant_values=0):
    xp = backend.get_array_module(x)
    pads = tuple(tuple(int(v) for v in p) for p in _pad_pairs(pad_width, x.ndim))
    y = xp.pad(x, pads, mode="constant", constant_values=constant_values)
    return y, {"pads": pads}


def _pad_gradient(ctx, dy):
    centre = tuple(slice(before, dy.shape[i] - after) for i, (before, after) in enumerate(ctx["pads"]))
    return (dy[centre],)


def _pad_pairs(pad_width, ndim):
    if isinstance(pad_width, int):
        return [(pad_width, pad_width)] * ndim
    pairs = [tuple(p) if not isinstance(p, int) else (p, p) for p in pad_width]
    return pairs * ndim if len(pairs) == 1 else pairs


PAD = Op("pad", _pad_compute, _pad_gradient, convert="each")


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad with a constant border (``mode='constant'`` only). Math: dx = the centre of dy."""
    if mode != "constant":
        raise NotImplementedError(f"ops.pad: mode={mode!r} is not supported (only 'constant')")
    return apply(PAD, x, pad_width=pad_width, constant_values=0 if constant_values is None else constant_values)


def _roll_compute(x, shift=0, axis=None):
    xp = backend.get_array_module(x)
    return xp.roll(x, shift, axis=axis), {"shift": shift, "axis": axis}


def _roll_gradient(ctx, dy):
    xp = backend.get_array_module(dy)
    shift = ctx["shift"]
    back = -shift if isinstance(shift, int) else tuple(-s for s in shift)
    return (xp.roll(dy, back, axis=ctx["axis"]),)


ROLL = Op("roll", _roll_compute, _roll_gradient, convert="each")


def roll(x, shift, axis=None):
    """Shift elements cyclically along ``axis`` (flattened when None). Math: dx = roll(dy, -shift)."""
    return apply(ROLL, x, shift=shift, axis=axis)
