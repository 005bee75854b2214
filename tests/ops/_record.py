"""Find out which Op a call runs, by passing symbolic stand-ins through nn.ops's handler."""
from __future__ import annotations

import contextlib

import numpy as np

from nnscratch.ops import core


class Sym:
    """A minimal symbolic tensor: carries a concrete value so the handler can run forward."""

    _is_symbolic = True

    def __init__(self, value):
        self.value = value
        self.shape = tuple(value.shape)
        self.dtype = value.dtype


@contextlib.contextmanager
def recording():
    calls = []

    def handler(op, inputs, attrs):
        concrete = [a.value if isinstance(a, Sym) else a for a in inputs]
        out, _ = op.forward(*concrete, **attrs)
        calls.append((op, inputs, attrs))
        return tuple(Sym(o) for o in out) if isinstance(out, tuple) else Sym(out)

    old = core.set_symbolic_handler(handler)
    try:
        yield calls
    finally:
        core.set_symbolic_handler(old)


def record_one(call, inputs):
    """(op, inputs as given to the op, attrs) of ``call(nn.ops, *inputs)``; float arrays become Syms."""
    import nnscratch.ops as ops

    wrapped = [Sym(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in inputs]
    with recording() as calls:
        call(ops, *wrapped)
    if len(calls) != 1:
        raise AssertionError(f"expected the call to run one op, it ran {[c[0].name for c in calls]}")
    return calls[0]


def traced_gradients(call, inputs, dy_fn):
    """A tiny tracer (what the layers package will do properly): run ``call(nn.ops, *inputs)``
    on Syms, record every op with its ctx, then run the backwards in reverse order, summing
    the gradients of tensors used twice. ``dy_fn(outputs)`` gives the upstream gradients.
    Returns (output arrays, {input index: gradient}) for the float inputs."""
    import nnscratch.ops as ops

    wrapped = [Sym(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in inputs]
    tape = []

    def handler(op, given, attrs):
        concrete = [a.value if isinstance(a, Sym) else a for a in given]
        out, ctx = op.forward(*concrete, **attrs)
        outs = tuple(Sym(o) for o in out) if isinstance(out, tuple) else (Sym(out),)
        tape.append((op, given, ctx, outs, isinstance(out, tuple)))
        return outs if isinstance(out, tuple) else outs[0]

    old = core.set_symbolic_handler(handler)
    try:
        result = call(ops, *wrapped)
    finally:
        core.set_symbolic_handler(old)
    results = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    dys = dy_fn([s.value for s in results])
    grads = {id(s): dy for s, dy in zip(results, dys) if dy is not None}
    for op, given, ctx, outs, multi in reversed(tape):
        upstream = [grads.get(id(o)) for o in outs]
        if not op.differentiable or all(u is None for u in upstream):
            continue  # a constant for the gradient, or an unused branch
        g = op.backward(ctx, tuple(upstream) if multi else upstream[0])
        for a, ga in zip(given, g):
            if isinstance(a, Sym) and ga is not None:
                grads[id(a)] = ga if id(a) not in grads else grads[id(a)] + ga  # fan-out adds up
    return [s.value for s in results], {k: grads.get(id(w)) for k, w in enumerate(wrapped) if isinstance(w, Sym)}
