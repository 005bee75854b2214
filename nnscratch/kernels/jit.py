"""The fast tier's one door to Numba: plain-Python loop kernels, compiled on first use.

``compiled(fn)`` returns ``fn`` compiled by Numba (``nogil``, so the kernel pool's threads run
it in parallel; ``cache=True``, so a later process loads the machine code from disk instead
of compiling again; ``error_model='numpy'`` and no bounds checks, so LLVM can vectorise the
inner loops), or None when Numba is not installed or is switched off. Every caller then runs
its NumPy code instead: Numba makes the fast tier faster, never different.

Numba is imported at the first kernel call, not at ``import nnscratch`` (it takes a few tenths
of a second). ``NNSCRATCH_NO_JIT=1`` in the environment, or ``use_jit(False)`` for a block,
turns the compiled kernels off (the tests run the fast tier both ways).
"""
from __future__ import annotations

import contextlib
import os

_state = {"enabled": os.environ.get("NNSCRATCH_NO_JIT", "").strip() in ("", "0"), "numba": None}
_COMPILED = {}  # the Python function -> its compiled version (or None without Numba)


def _numba():
    if _state["numba"] is None:
        try:
            import numba
        except ImportError:  # optional: without it the NumPy code of the fast tier runs
            numba = False
        _state["numba"] = numba
    return _state["numba"]


def compiled(fn):
    """``fn`` compiled by Numba, or None (Numba missing or switched off)."""
    if not _state["enabled"]:
        return None
    if fn not in _COMPILED:
        numba = _numba()
        _COMPILED[fn] = None if numba is False else numba.njit(
            cache=True, nogil=True, error_model="numpy", boundscheck=False)(fn)
    return _COMPILED[fn]


def enabled():
    """Whether compiled kernels may run (Numba installed and not switched off)."""
    return _state["enabled"] and _numba() is not False


@contextlib.contextmanager
def use_jit(on):
    """``with use_jit(False):`` runs the block on the fast tier's NumPy code only."""
    old = _state["enabled"]
    _state["enabled"] = bool(on)
    try:
        yield
    finally:
        _state["enabled"] = old
