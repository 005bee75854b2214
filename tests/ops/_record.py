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
