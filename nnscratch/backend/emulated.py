"""An emulated GPU backend: NumPy underneath, CuPy's manners at the border.

Why it exists: most of us write and test layers on machines without an NVIDIA GPU, yet the
engine must run unchanged on CuPy. CuPy is strict where NumPy is lenient, and the mistakes it
catches are easy to make on the CPU:

* ``numpy.asarray(device_array)`` raises ``TypeError`` (no implicit device -> host copy);
* a device array and a plain ``numpy.ndarray`` cannot meet in arithmetic or in ``xp``
  functions (``TypeError``); Python and NumPy *scalars* are fine;
* ``float(x)``, ``int(x)``, ``bool(x)``, ``x.item()``, ``x.tolist()``, ``print(x)``,
  ``f"{x}"`` and ``backend.to_host(x)`` copy device memory to the host and wait for the GPU
  (a *synchronisation*): harmless at logging time, a stall inside a training step;
* reductions return 0-d arrays, never NumPy scalars.

``DeviceArray`` reproduces these rules on the CPU and counts every synchronisation
(``backend.sync_count()``; ``backend.expect_no_sync()`` turns one into an error), so a test
can prove that a training step never waits for the device.

Design: ``DeviceArray`` WRAPS a ``numpy.ndarray`` (``._data``) instead of subclassing it,
because NumPy never calls ``__array__`` on an ndarray subclass: ``numpy.asarray(sub)`` would
silently succeed. Operators come from ``numpy.lib.mixins.NDArrayOperatorsMixin`` (each one is
a ufunc call routed to ``__array_ufunc__``, where operands are checked); methods and
attributes are forwarded to the wrapped array by ``__getattr__``; ``xp`` is a namespace of
wrapped NumPy functions (``emulated.xp.matmul`` ...).

Stricter than CuPy in one place: indexing with a host ``numpy.ndarray`` (CuPy copies it to
the device silently) is refused, so the training loop's shuffle order must be moved with
``backend.to_device`` once per epoch, not once per batch.
"""
from __future__ import annotations

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

from nnscratch.backend.emulated_names import _FUNCTIONS, _PASSTHROUGH
from nnscratch.backend.sync import record_sync

# Attributes of numpy.ndarray that hand out host memory: refused on a device array.
_HOST_ONLY = {"flat", "ctypes", "data", "tofile", "dump", "dumps", "tostring", "setflags"}


def _mixing_error(value, where):
    return TypeError(
        f"{where}: a host numpy.ndarray (shape {value.shape}, dtype {value.dtype}) was mixed with a "
        "device array; CuPy refuses this. Move it first with backend.to_device(x)."
    )


def _unwrap(value, where):
    """Device arrays -> their numpy data; host arrays -> TypeError; containers recursively."""
    if isinstance(value, DeviceArray):
        return value._data
    if isinstance(value, numpy.ndarray):
        raise _mixing_error(value, where)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, where) for v in value)
    return value  # Python/NumPy scalars, dtypes, shapes, slices, None, strings


def _wrap(value, owners=()):
    """numpy results -> device arrays (NumPy scalars become 0-d arrays, as in CuPy).

    ``owners`` are the DeviceArrays passed in: a result that IS one of their buffers (an
    ``out=`` argument) is returned as that same DeviceArray."""
    if isinstance(value, numpy.ndarray):
        for owner in owners:
            if owner._data is value:
                return owner
        return DeviceArray(value)
    if isinstance(value, numpy.generic):
        return DeviceArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v, owners) for v in value)
    if isinstance(value, list):
        return [_wrap(v, owners) for v in value]
    return value


def _owners(values):
    out = []
    for v in values:
        if isinstance(v, DeviceArray):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(_owners(v))
    return out


def _call(fn, args, kwargs, where):
    """Call a numpy function on unwrapped arguments and wrap its results."""
    owners = _owners(list(args) + list(kwargs.values()))
    result = fn(*_unwrap(tuple(args), where), **{k: _unwrap(v, where) for k, v in kwargs.items()})
    return _wrap(result, owners)


class DeviceArray(NDArrayOperatorsMixin):
    """An array that lives 'on the device' (in an emulated sense; see the module docstring)."""

    __array_priority__ = 100
    __hash__ = None

    def __init__(self, data):
        if not isinstance(data, numpy.ndarray):
            raise TypeError(f"DeviceArray wraps a numpy.ndarray, received {type(data).__name__}; use backend.to_device")
        self._data = data

    # ------------------------------------------------------------------ the borders
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed (as in CuPy). "
            "Use backend.to_host(x) to copy a device array to the host explicitly."
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if method == "at":
            raise TypeError(f"{where} on a device array: use backend.scatter_add(a, indices, values)")
        out = kwargs.get("out")
        owners = _owners(list(inputs) + list(out or ()))
        kwargs = {k: _unwrap(v, where) for k, v in kwargs.items()}  # out=(device,) included
        result = getattr(ufunc, method)(*_unwrap(inputs, where), **kwargs)
        return _wrap(result, owners)

    def __array_function__(self, func, types, args, kwargs):
        # numpy.f(device_array): CuPy runs cupy.f when it exists; so do we, through ``xp``.
        impl = getattr(xp, func.__name__, None) if func.__name__ in _FUNCTIONS else None
        if impl is None:
            return NotImplemented  # NumPy then raises TypeError ("no implementation found")
        return impl(*args, **kwargs)

    # ------------------------------------------------------------------ synchronisations
    def _host(self, what):
        record_sync(what)
        return self._data

    def get(self):
        """CuPy's explicit device -> host copy (a synchronisation)."""
        return self._host("DeviceArray.get()").copy()

    def item(self, *args):
        return self._host("DeviceArray.item()").item(*args)

    def tolist(self):
        return self._host("DeviceArray.tolist()").tolist()

    def tobytes(self, order="C"):
        return self._host("DeviceArray.tobytes()").tobytes(order)

    def __float__(self):
        return float(self._host("float(DeviceArray)"))

    def __int__(self):
        return int(self._host("int(DeviceArray)"))

    def __index__(self):
        return self._host("operator.index(DeviceArray)").__index__()

    def __complex__(self):
        return complex(self._host("complex(DeviceArray)"))

    def __bool__(self):
        return bool(self._host("bool(DeviceArray) (a Python `if` on an array value)"))

    def __repr__(self):
        return "DeviceArray(" + repr(self._host("repr(DeviceArray)"))[6:]

    def __str__(self):
        return str(self._host("str(DeviceArray)"))

    def __format__(self, spec):
        data = self._host("format(DeviceArray)")
        return format(data.item() if data.ndim == 0 else data, spec)

    def __contains__(self, value):
        return value in self._host("`in` on a DeviceArray")

    # ------------------------------------------------------------------ no synchronisation
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d device array")
        return len(self._data)

    def __iter__(self):
        for i in range(len(self)):
            yield _wrap(self._data[i])

    def __getitem__(self, key):
        return _wrap(self._data[_unwrap_index(key)])

    def __setitem__(self, key, value):
        self._data[_unwrap_index(key)] = _unwrap(value, "DeviceArray.__setitem__")

    def __copy__(self):
        return DeviceArray(self._data.copy())

    def __deepcopy__(self, memo):
        return DeviceArray(self._data.copy())

    def __getattr__(self, name):
        # Only reached for names not defined above: forward to the wrapped ndarray.
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)  # keeps __array_interface__ & co. from leaking host memory
        if name in _HOST_ONLY:
            raise AttributeError(f"DeviceArray.{name} exposes host memory; use backend.to_host(x) first")
        attr = getattr(self._data, name)
        if callable(attr):
            def method(*args, **kwargs):
                return _call(attr, args, kwargs, f"DeviceArray.{name}")

            method.__name__ = name
            return method
        return _wrap(attr)


def _unwrap_index(key):
    """Indices may be ints, slices, None, Ellipsis, lists and DEVICE arrays (see the docstring)."""
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    if isinstance(key, DeviceArray):
        return key._data
    if isinstance(key, numpy.ndarray):
        raise TypeError(
            f"indexing a device array with a host numpy.ndarray (shape {key.shape}); "
            "move the index once with backend.to_device(idx) (CuPy would copy it on every use)"
        )
    return key


# ---------------------------------------------------------------------------- the xp namespace
class _LinalgNamespace:
    def __init__(self):
        for name in ("norm", "inv", "solve", "det", "svd", "qr", "cholesky", "eigh"):
            setattr(self, name, _wrap_function(getattr(numpy.linalg, name), f"xp.linalg.{name}"))


def _wrap_function(fn, where):
    def function(*args, **kwargs):
        return _call(fn, args, kwargs, where)

    function.__name__ = fn.__name__
    function.__doc__ = f"Emulated device version of numpy.{fn.__name__}: device arrays in, device arrays out."
    return function


class EmulatedXP:
    """The emulated device module: what ``backend.get_array_module(device_array)`` returns.

    It holds a fixed list of NumPy functions (``_FUNCTIONS``) wrapped so that array arguments
    must be device arrays (or scalars) and results are device arrays; an attribute outside the
    list raises AttributeError, which flags code that would need checking on CuPy. There is no
    ``xp.random``: draw on the host with ``backend.rng()`` and ``backend.to_device``."""

    __name__ = "nnscratch.backend.emulated.xp"
    ndarray = DeviceArray

    def __init__(self):
        for name in _FUNCTIONS:
            if hasattr(numpy, name):
                setattr(self, name, _wrap_function(getattr(numpy, name), f"xp.{name}"))
        for name in _PASSTHROUGH:
            setattr(self, name, getattr(numpy, name))
        self.linalg = _LinalgNamespace()

    def asarray(self, obj, dtype=None):
        """Like ``cupy.asarray``: an EXPLICIT host -> device copy (host data allowed here)."""
        return to_device(obj, dtype)

    array = asarray

    def asnumpy(self, obj):
        """Like ``cupy.asnumpy``: device -> host copy (a synchronisation)."""
        return to_host(obj)

    def get_array_module(self, *arrays):
        """This module if any array is an emulated device array, else numpy (CuPy's rule)."""
        return self if any(isinstance(a, DeviceArray) for a in arrays) else numpy

    def __getattr__(self, name):
        if name == "random":
            raise AttributeError(
                "the emulated device module has no 'random': draw on the host with backend.rng(seed) "
                "and move the result with backend.to_device (CuPy's random streams differ from NumPy's)"
            )
        raise AttributeError(f"the emulated device module has no attribute {name!r} "
                             "(add it to nnscratch/backend/emulated.py if CuPy has it)")

    def __repr__(self):
        return "<module 'nnscratch.backend.emulated.xp' (NumPy underneath, CuPy's rules)>"


xp = EmulatedXP()


# ---------------------------------------------------------------------------- crossings
def to_device(x, dtype=None):
    """Host data -> a new DeviceArray (a copy, as a real transfer is)."""
    if isinstance(x, DeviceArray):
        return x if dtype is None else DeviceArray(x._data.astype(dtype, copy=False))
    if isinstance(x, (list, tuple)):  # e.g. a list of device arrays: stacked on the device
        x = [v._data if isinstance(v, DeviceArray) else v for v in x]
    return DeviceArray(numpy.array(x, dtype=dtype, copy=True))


def to_host(x):
    """DeviceArray -> a new numpy.ndarray (counted as a synchronisation)."""
    if isinstance(x, DeviceArray):
        return x._host("backend.to_host").copy()
    return numpy.asarray(x)


def scatter_add(a, indices, values):
    """``cupyx.scatter_add`` emulated: ``numpy.add.at`` on the wrapped buffers."""
    where = "backend.scatter_add"
    if not isinstance(a, DeviceArray):
        raise TypeError(f"{where}: the target is a host array but the backend is emulated")
    numpy.add.at(a._data, _unwrap_index(indices), _unwrap(values, where))
