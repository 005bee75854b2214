"""What a user gets back from an eager call: a layer called on an array, ``model(x)``.

TensorFlow's beginner quickstart writes ``model(x[:1]).numpy()``; nnscratch's arrays are
NumPy (or CuPy) arrays, which have no ``.numpy()``. So a layer or model called by a user
returns ``as_result(y)`` (the same memory, an array subclass that also answers ``.numpy()``,
``nnscratch/backend/result.py``), while the layers a model runs inside its forward return
plain arrays: the engine never depends on the method.
"""
from __future__ import annotations

import contextlib

from nnscratch.backend.result import as_result

_INTERNAL = [0]  # > 0 while a model runs its layers (their outputs stay plain arrays)


@contextlib.contextmanager
def internal_calls():
    """Layers called inside the block (by a model's forward) return plain arrays; called by a
    user, a layer returns a result that also answers ``.numpy()`` (as a TF tensor does)."""
    _INTERNAL[0] += 1
    try:
        yield
    finally:
        _INTERNAL[0] -= 1


def public_result(y):
    """What a user gets back from an eager call: ``as_result`` of the array (or of each array)."""
    if isinstance(y, (list, tuple)):
        return type(y)(as_result(v) for v in y)
    return as_result(y)
