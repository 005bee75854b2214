"""Scratch memory of the fast tier, and the switch that turns its reuse off.

A scratch array holds values that live only inside one kernel call (Conv2D's dcol in
backward): it is never returned and never cached, so reusing its memory on the next call
cannot change anything a caller holds. Reuse saves the allocation and, for arrays of many MB,
the page faults of fresh memory on every step (measured in ``fast.py``).

``no_buffer_reuse()`` makes every scratch request allocate afresh on this thread; the debug
tools (trace, backward_steps, gradient checks) run inside it.
"""
from __future__ import annotations

import contextlib
import threading

from nnscratch import backend

_local = threading.local()  # per thread: depth of no_buffer_reuse() blocks, and the pool


@contextlib.contextmanager
def no_buffer_reuse():
    """Inside the block (this thread), the fast tier allocates every scratch array afresh."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


def buffer_reuse():
    """True unless inside ``no_buffer_reuse()`` on this thread."""
    return getattr(_local, "depth", 0) == 0


def scratch(xp, shape, dtype, slot=0):
    """An uninitialised array of ``shape`` whose memory is reused by the next request for the
    same ``slot`` on this thread (per array module and dtype), grown to the largest size
    asked. The caller must be done with it before it asks for the same slot again."""
    if not buffer_reuse():
        return xp.empty(shape, dtype=dtype)
    n = 1
    for d in shape:
        n *= d
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    key = (id(xp), getattr(dtype, "char", dtype), slot)  # not str(dtype): 10 us a call, 3% of a conv-net step
    flat = pool.get(key)
    if flat is None or flat.size < n or backend.get_array_module(flat) is not xp:
        flat = pool[key] = xp.empty(max(n, 1), dtype=dtype)
    return flat[:n].reshape(shape)
