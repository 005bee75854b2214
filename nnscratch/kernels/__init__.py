"""nnscratch.kernels: the tiers of the convolution, pooling and Adam kernels, and the one switch.

* **readable**: the vectorized kernels a student reads, in the layer files themselves
  (``conv2d_forward`` in ``layers/conv.py``, ``max_pool_forward`` in ``layers/pooling.py``,
  im2col/col2im in ``layers/im2col.py``, ``adam_update`` in ``optimizers/adam.py``): one line
  per formula, no buffers kept.
* **fast** (``kernels/fast*.py``): the same kernels with the speed tricks (thread pool, strided
  im2col, fused activations, the correlation form of dx, chunked pooling, reused scratch memory,
  3x3 stride-1 convolutions by Winograd's F(2x2, 3x3) (``fast_winograd.py``), and loops
  compiled by Numba (``fast_loops.py``, ``conv1_loops.py`` and ``winograd_loops.py`` through
  ``jit.py``: 2x2 pooling, pooling backward, im2col and col2im, bias + ReLU, a one-channel
  conv's forward and weight gradient, Winograd's tile transforms, the Adam update, run with
  denormals flushed to zero as TF's ops are (``denormals.py``); ``NNSCRATCH_NO_JIT=1`` turns them off); each trick's docstring gives the measurement that earned it, and
  ``tests/kernels/`` compares this tier with the other two.
* **reference** (``kernels/reference.py``): plain loops, one index per ``for``.

Every tier has the same functions with the same signatures. A layer asks the dispatcher for
the current tier's version of its readable kernel::

    y, cache = kernels.get(conv2d_forward, self.kernel_tier)(x, kernel, bias, ..., activation)

``get`` returns the function of the same name in the chosen tier, or the readable function
itself (so under ``set_tier('readable')`` a breakpoint in ``conv2d_forward`` is hit directly).

    nn.kernels.set_tier("readable")          # process-wide: 'fast' (default), 'readable', 'reference'
                                             # (or NNSCRATCH_KERNEL_TIER=readable in the environment)
    with nn.kernels.use_tier("reference"):   # for a block
        model.fit(...)
    with nn.kernels.no_buffer_reuse():       # the fast tier allocates fresh scratch (debug tools)
        ...

A layer's ``kernel_tier`` attribute (None: follow the global switch) overrides the tier for
that layer only; ``nn.debug.use_reference_kernels(model)`` sets it.

Nothing a layer caches for backward is ever a buffer that a later call refills, in any tier:
the fast tier reuses memory only for values that live inside one call (scratch).
"""
from __future__ import annotations

import contextlib
import os

from nnscratch.kernels import fast, reference
from nnscratch.kernels.scratch import buffer_reuse, no_buffer_reuse
from nnscratch.kernels.threads import num_threads, set_num_threads

TIERS = ("fast", "readable", "reference")
_MODULES = {"fast": fast, "reference": reference}
_state = {"tier": "fast"}


def _check(tier, what):
    if tier not in TIERS:
        raise ValueError(f"{what}: tier must be one of {', '.join(map(repr, TIERS))}, received {tier!r}")
    return tier


# NNSCRATCH_KERNEL_TIER=readable runs a whole program (or the test suite) on another tier.
_state["tier"] = _check(os.environ.get("NNSCRATCH_KERNEL_TIER") or "fast", "NNSCRATCH_KERNEL_TIER")


def set_tier(tier):
    """Choose the kernel tier for every layer whose ``kernel_tier`` is None (process-wide)."""
    _state["tier"] = _check(tier, "kernels.set_tier")


def get_tier():
    """The tier chosen with ``set_tier`` ('fast' unless changed)."""
    return _state["tier"]


@contextlib.contextmanager
def use_tier(tier):
    """``with use_tier('readable'):`` runs the block on that tier, then restores the previous one."""
    old = _state["tier"]
    _state["tier"] = _check(tier, "kernels.use_tier")
    try:
        yield tier
    finally:
        _state["tier"] = old


def get(readable_fn, tier=None):
    """The kernel named ``readable_fn.__name__`` in ``tier`` (default: the global one).

    'readable' returns ``readable_fn`` itself; 'fast' and 'reference' return the entry of that
    name in their ``KERNELS`` table, or ``readable_fn`` when the tier does not provide one."""
    tier = _state["tier"] if tier is None else _check(tier, "kernels.get")
    if tier == "readable":
        return readable_fn
    return _MODULES[tier].KERNELS.get(readable_fn.__name__, readable_fn)


__all__ = ["TIERS", "set_tier", "get_tier", "use_tier", "get", "no_buffer_reuse", "buffer_reuse", "num_threads",
           "set_num_threads"]
