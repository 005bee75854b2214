"""The fast tier's thread pool: a batch split into contiguous ranges, one per core.

NumPy releases the GIL inside copies, elementwise loops and BLAS calls, so Python threads run
those in parallel. Each worker runs its range of the batch through the whole kernel (im2col,
matrix product, col2im) on memory of its own; the matrix products then run on one BLAS thread
each (``single_threaded_blas``), so that the two levels of threading do not fight over cores.

Threads: ``NNSCRATCH_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the cores this process may
run on. ``set_num_threads(n)`` changes it at run time (1 = everything on the calling thread).
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

try:  # optional: without it the BLAS keeps its own thread count inside the workers
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl is a dependency of the benchmarks only
    ThreadpoolController = None


def _default_threads():
    for var in ("NNSCRATCH_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                raise ValueError(f"{var} must be a positive integer, received {value!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_state = {"threads": _default_threads(), "pool": None, "controller": None, "blas_checked": False}
_lock = threading.Lock()


def num_threads():
    """How many threads the fast tier's kernels use."""
    return _state["threads"]


def set_num_threads(n):
    """Use ``n`` threads (a positive int) for the fast tier's kernels from now on."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"kernels.set_num_threads: expected a positive integer, received {n!r}")
    with _lock:
        _state["threads"] = n
        if _state["pool"] is not None:
            _state["pool"].shutdown(wait=True)
            _state["pool"] = None


def _pool():
    with _lock:
        # a forked child inherits the executor but not its threads: make a new one there
        if _state["pool"] is None or _state.get("pid") != os.getpid():
            _state["pool"] = ThreadPoolExecutor(max_workers=max(1, _state["threads"] - 1),
                                                thread_name_prefix="nnscratch-kernel")
            _state["pid"] = os.getpid()
        return _state["pool"]


def _blas_libs():
    """threadpoolctl's controllers of the loaded BLAS libraries ([] without threadpoolctl)."""
    if not _state["blas_checked"]:
        _state["blas_checked"] = True
        libs = []
        if ThreadpoolController is not None:
            try:
                libs = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
            except Exception:  # pragma: no cover - a broken BLAS introspection must not break training
                libs = []
        _state["controller"] = libs
    return _state["controller"]


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread inside the block (when threadpoolctl can set it), then as before.
    Calls the libraries' own get/set_num_threads directly: about 1 us, where
    ``ThreadpoolController.limit`` took 52 us per call (measured, 200 calls)."""
    changed = []
    for lib in _blas_libs():
        n = lib.get_num_threads()
        if n is not None and n > 1:
            lib.set_num_threads(1)
            changed.append((lib, n))
    try:
        yield
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)


def split(n, parts):
    """[(start, stop), ...]: [0, n) in at most ``parts`` contiguous, nearly equal ranges."""
    parts = max(1, min(parts, n))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts) if bounds[k] < bounds[k + 1]]


def run_ranges(fn, ranges):
    """fn(start, stop) for every range, in parallel; the calling thread runs the first range.
    Returns the results in the order of ``ranges``; an exception in any worker is re-raised."""
    if len(ranges) == 1:
        return [fn(*ranges[0])]
    futures = [_pool().submit(fn, *r) for r in ranges[1:]]
    first = fn(*ranges[0])
    return [first] + [f.result() for f in futures]
