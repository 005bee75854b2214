"""The array backend: the one module that decides whether arrays are NumPy or CuPy.

Every layer, loss, activation and optimizer gets its array module from here::

    xp = backend.get_array_module(x)    # numpy for host arrays, cupy for device arrays

so the same line of code runs on the CPU and on the GPU (Chainer's ``xp`` idiom).
Nothing else in the engine imports ``numpy`` or ``cupy`` for array math.

Global choices (Keras-style, process-wide):

* the backend: ``set_backend('numpy' | 'cupy' | 'emulated')`` or the environment variable
  ``NNSCRATCH_BACKEND``; 'emulated' is NumPy dressed as CuPy (``nnscratch/backend/emulated.py``):
  its arrays refuse implicit conversion to NumPy and mixing with NumPy arrays, and every
  host synchronisation is counted, so GPU discipline can be tested on any machine;
* the float type: ``set_floatx('float32' | 'float64')`` (float32 by default);
* the random seed: ``set_seed(s)``; every random draw (initializers, dropout masks,
  shuffling) comes from a host ``numpy.random.Generator`` so that runs are reproducible and
  identical across backends.

Crossings between host and device happen only through ``to_device`` and ``to_host``.
Synchronisations (device -> host copies) are counted: ``sync_count()``, ``reset_sync_count()``
and ``with expect_no_sync(): ...`` (which raises on the first one). The emulated backend
counts every one (float(), .item(), bool(), print, to_host); with CuPy only ``to_host`` is seen.
"""
from __future__ import annotations

from nnscratch import naming  # a leaf module (no nnscratch imports)

import contextlib
import os

import numpy

from nnscratch.backend import emulated as _emulated_module
from nnscratch.backend.sync import HostSyncError, expect_no_sync, record_sync, reset_sync_count, sync_count  # noqa: F401 (public)

try:  # CuPy is optional: pip install "nnscratch[gpu]"
    import cupy as _cupy
    import cupyx as _cupyx

    _CUPY_IMPORT_ERROR = None
except Exception as exc:  # pragma: no cover - depends on the machine
    _cupy = None
    _cupyx = None
    _CUPY_IMPORT_ERROR = exc

BACKENDS = ("numpy", "cupy", "emulated")
FLOATX = ("float32", "float64")

_state = {
    "backend": "numpy",
    "floatx": "float32",
    "rng": numpy.random.default_rng(),
    "seed": None,
}
_emu = None  # the emulated module once the emulated backend has been used (fast checks until then)


def _emulated():
    """The emulated device module, marked as in use (``_is_emulated`` checks only once it is)."""
    global _emu
    _emu = _emulated_module
    return _emu


def _is_emulated(x) -> bool:
    return _emu is not None and isinstance(x, _emu.DeviceArray)


def _is_cupy(x) -> bool:
    return _cupy is not None and isinstance(x, _cupy.ndarray)


# ----------------------------------------------------------------------------- backend choice
def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _cupy_missing_message() -> str:
    reason = _CUPY_IMPORT_ERROR if _cupy is None else "no CUDA device is visible"
    return (
        f"backend 'cupy' requested but CuPy is not usable: {reason}. "
        "Install it with pip install 'nnscratch[gpu]' (cupy-cuda12x) or "
        "pip install cupy-cuda13x for CUDA 13, on a machine with an NVIDIA GPU."
    )


def set_backend(name: str) -> None:
    """Choose the array backend for new arrays: 'numpy' (default), 'cupy' or 'emulated'."""
    name = str(name).lower()
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(BACKENDS)}")
    if name == "cupy" and not cupy_available():
        raise RuntimeError(_cupy_missing_message())
    if name == "emulated":
        _emulated()
    _state["backend"] = name


def current() -> str:
    """Name of the current backend ('numpy', 'cupy' or 'emulated')."""
    return _state["backend"]


def xp():
    """The array module of the current backend (numpy, cupy or the emulated namespace)."""
    if _state["backend"] == "emulated":
        return _emulated().xp
    return _cupy if _state["backend"] == "cupy" else numpy


def get_array_module(*arrays):
    """The array module that the given arrays live in (CuPy's idiom): cupy if any is a
    cupy array, the emulated namespace if any is an emulated device array, else numpy."""
    if _emu is not None:
        for a in arrays:
            if isinstance(a, _emu.DeviceArray):
                return _emu.xp
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return numpy


def is_array(x) -> bool:
    """True for a numpy, cupy or emulated device array."""
    if isinstance(x, numpy.ndarray):
        return True
    return _is_cupy(x) or _is_emulated(x)


def backend_of(x) -> str:
    """The backend an array lives on: 'numpy', 'cupy' or 'emulated'."""
    if _is_emulated(x):
        return "emulated"
    return "cupy" if _is_cupy(x) else "numpy"


def is_device_array(x) -> bool:
    """True for a cupy or emulated device array (False for numpy arrays)."""
    return _is_cupy(x) or _is_emulated(x)


# ----------------------------------------------------------------------------- float type
def floatx() -> str:
    """Default float dtype name for new arrays ('float32' unless changed)."""
    return _state["floatx"]


def set_floatx(name: str) -> None:
    """Set the default float dtype: 'float32' (default) or 'float64' (gradient checks)."""
    name = numpy.dtype(name).name
    if name not in FLOATX:
        raise ValueError(f"unknown floatx {name!r}; valid: {', '.join(FLOATX)}")
    _state["floatx"] = name


@contextlib.contextmanager
def floatx_scope(name: str):
    """Temporarily use another default float dtype: ``with floatx_scope('float64'): ...``."""
    old = floatx()
    set_floatx(name)
    try:
        yield
    finally:
        set_floatx(old)


@contextlib.contextmanager
def backend_scope(name: str):
    """Temporarily use another backend."""
    old = current()
    set_backend(name)
    try:
        yield
    finally:
        _state["backend"] = old


# ----------------------------------------------------------------------------- crossings
def to_device(x, dtype=None):
    """Move a host array (or anything array-like) to the current backend's device.

    With the numpy backend this is ``numpy.asarray``. ``dtype`` casts on the way (a cast
    happens on the host, before the copy, so only the smaller array travels)."""
    if _state["backend"] == "emulated":
        if _is_cupy(x):
            x = to_host(x)
        return _emu.to_device(x, dtype=dtype)
    if _is_emulated(x):
        x = to_host(x)
    if _state["backend"] == "cupy":
        if isinstance(x, _cupy.ndarray):
            return x if dtype is None else x.astype(dtype, copy=False)
        host = numpy.asarray(x, dtype=dtype)
        return _cupy.asarray(host)
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        x = x.get()
    return numpy.asarray(x, dtype=dtype)


def to_host(x):
    """Bring an array (or 0-d array / scalar) back to the host as a numpy array. This is a
    synchronisation point on the GPU: call it at logging and metric boundaries only."""
    if _is_emulated(x):
        return _emu.to_host(x)  # counts the sync itself
    if _is_cupy(x):
        record_sync("backend.to_host")
        return x.get()
    return numpy.asarray(x)


def to_float(x) -> float:
    """A 0-d array (host or device) as a Python float (a host synchronisation)."""
    return float(to_host(x))


# ----------------------------------------------------------------------------- kernels
def as_strided(x, shape, strides):
    """A view of x's memory with the given shape and byte strides (NumPy's or CuPy's
    ``lib.stride_tricks.as_strided``, read-only on NumPy). The caller keeps it inside x."""
    if _is_cupy(x):
        return _cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)
    if _is_emulated(x):
        raise TypeError("as_strided: not available on emulated device arrays (use slices)")
    return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)


def scatter_add(a, indices, values) -> None:
    """In-place ``a[indices] += values`` that accumulates duplicate indices.

    ``numpy.add.at`` on the host, ``cupyx.scatter_add`` on the GPU (same semantics). Plain
    fancy-index ``a[idx] += v`` silently drops duplicates on both backends."""
    if _is_emulated(a):
        _emu.scatter_add(a, indices, values)
    elif _is_cupy(a):
        _cupyx.scatter_add(a, indices, values)
    else:
        numpy.add.at(a, indices, values)


def free_memory_pool() -> None:
    """Release CuPy's cached device blocks (no-op on numpy)."""
    if _cupy is not None:
        _cupy.get_default_memory_pool().free_all_blocks()


def host_scalar(value, dtype):
    """A host scalar of ``dtype`` (e.g. numpy.float32(0.9)); arithmetic between such scalars
    stays in that precision, as Keras's float32 optimizer math does."""
    return numpy.dtype(dtype).type(value)


def host_zeros(shape, dtype="float64"):
    """A zero array on the host (initializers fill host arrays, then ``to_device``)."""
    return numpy.zeros(shape, dtype=dtype)


# ----------------------------------------------------------------------------- randomness
def set_seed(seed) -> None:
    """Seed the global host generator used for initializers, dropout and shuffling."""
    _state["seed"] = seed
    _state["rng"] = numpy.random.default_rng(seed)


def global_rng() -> numpy.random.Generator:
    """The global host random generator (seeded by ``set_seed``)."""
    return _state["rng"]


def rng(seed=None) -> numpy.random.Generator:
    """A host random generator: a fresh one seeded with ``seed`` if given, else a child
    drawn from the global generator (so the global seed determines it)."""
    if seed is None:
        return numpy.random.default_rng(_state["rng"].integers(0, 2**63 - 1))
    return numpy.random.default_rng(seed)


def get_rng_state():
    """The global generator's state (a JSON-able dict), for checkpoints."""
    return _state["rng"].bit_generator.state


def set_rng_state(state) -> None:
    gen = numpy.random.default_rng()
    gen.bit_generator.state = state
    _state["rng"] = gen


def _init_from_env() -> None:
    name = os.environ.get("NNSCRATCH_BACKEND")
    if name:
        set_backend(name)
    fx = os.environ.get("NNSCRATCH_FLOATX")
    if fx:
        set_floatx(fx)


_init_from_env()


def clear_session():
    """Keras's ``backend.clear_session()``: reset the automatic layer and model names (the
    next Dense is 'dense' again). nnscratch keeps no graph, so there is nothing else to free."""
    naming.reset_names()
