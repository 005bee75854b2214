"""Eager results that answer ``.numpy()``, as TensorFlow tensors do.

TensorFlow's beginner quickstart writes ``model(x[:1]).numpy()`` and ``loss_fn(y, p).numpy()``.
nnscratch returns arrays, and a plain ``numpy.ndarray`` has no ``.numpy()``. ``as_result(a)``
gives the same data (a view, never a copy) as an array subclass that adds one method:

* NumPy backend: :class:`HostResult`, a ``numpy.ndarray`` subclass. ``isinstance(r,
  numpy.ndarray)`` stays true, ``r.numpy()`` is the plain-ndarray view of the same memory,
  and it pickles, ``np.save``-s and compares with ``np.testing`` like any array. NumPy math
  on it keeps the subclass (``(r * 2).numpy()`` works, as ``(t * 2).numpy()`` does in TF);
  reductions to a scalar give NumPy scalars, as for any ndarray.
* CuPy and the emulated backend: a subclass of the device array class whose ``.numpy()``
  copies to the host with ``backend.to_host`` (a synchronisation). Device math on it gives
  plain device arrays again.

Only the public eager entry points wrap their results; the engine never relies on the method.
"""
from __future__ import annotations

from nnscratch import backend

_HOST_NDARRAY = backend.get_array_module().ndarray  # numpy.ndarray, without importing numpy here
_HOST_SCALAR = backend.get_array_module().generic  # numpy.float32(...) and friends


class HostResult(_HOST_NDARRAY):
    """A ``numpy.ndarray`` that also answers ``.numpy()`` (the same memory as a plain ndarray)."""

    def numpy(self):
        """The data as a plain ``numpy.ndarray`` (a view: no copy)."""
        return self.view(_HOST_NDARRAY)

    def __repr__(self):
        return repr(self.view(_HOST_NDARRAY))  # prints as array([...]), like any NumPy result


def _device_numpy(self):
    """The data copied to the host as a plain ``numpy.ndarray`` (a device synchronisation)."""
    return backend.to_host(self)


_device_classes = {}  # device array class -> its result subclass (built once per class)


def _device_result_class(cls):
    if cls not in _device_classes:
        sub = type(f"{cls.__name__}Result", (cls,), {"numpy": _device_numpy, "__module__": __name__})
        _device_classes[cls] = sub
        globals()[sub.__name__] = sub  # importable by name, so that pickle finds it
    return _device_classes[cls]


def as_result(a):
    """``a`` (an array of any backend) as a result answering ``.numpy()``; other values
    (Python numbers, tuples, None) pass through unchanged."""
    if isinstance(a, (HostResult, *_device_classes.values())):
        return a
    if isinstance(a, _HOST_SCALAR):
        a = backend.to_host(a)  # a NumPy scalar from a reduction: a 0-d array, as TF returns
    if isinstance(a, _HOST_NDARRAY):
        return a.view(HostResult)
    if not backend.is_device_array(a):
        return a
    cls = _device_result_class(type(a))
    if hasattr(a, "__dict__"):  # the emulated DeviceArray: same wrapped buffer, new class
        result = object.__new__(cls)
        result.__dict__.update(a.__dict__)
        return result
    return cls(a.shape, a.dtype, memptr=a.data, strides=a.strides)  # cupy: a view of the same memory
