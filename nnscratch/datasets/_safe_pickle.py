"""A restricted unpickler for the CIFAR "python version" batches.

A pickle is a small program: ``GLOBAL module name`` fetches any importable callable and
``REDUCE`` calls it, so ``pickle.load`` on a hostile file can run ``os.system``. The
CIFAR batches only contain dicts, lists, bytes, ints and NumPy arrays, and a NumPy array
is pickled as::

    _reconstruct(ndarray, (0,), b'b')                   # numpy.core.multiarray._reconstruct
    .__setstate__((1, shape, dtype, is_fortran, raw))   # raw: the array's bytes
    dtype('u1', False, True).__setstate__((3, '|', None, None, None, -1, -1, 0))

Python 3 re-pickles of the same data need two more names. Protocol 2 has no bytes type, so
every bytes object (the dict keys, the array's raw data) is written as
``_codecs.encode(text, 'latin1')``; protocol 5 writes a contiguous array as
``numpy._core.numeric._frombuffer(bytearray(raw), dtype, shape, order)``.

So ``find_class`` here allows exactly these names (under ``numpy.core`` or NumPy 2's
``numpy._core``), and maps them to *inert stand-ins* that only check and record their
arguments: ``_reconstruct``, ``ndarray``, ``dtype``, ``_frombuffer``, and ``_codecs.encode``
(which only turns a str into latin-1 bytes). NumPy itself
never sees the hostile bytes (fuzzing found NumPy internal errors and multi-second stalls
when its real ``__setstate__`` was fed mutated input). After loading, ``to_numpy``
turns each recorded array into a real one with ``np.frombuffer``, once its dtype, shape
and byte count have been checked. Before any of that, ``_prescan`` walks the opcodes
with ``pickletools`` so that forged lengths and memo indices cannot make the C
unpickler allocate gigabytes.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import warnings

import numpy as np

# dtype codes an array in a batch may use (CIFAR itself only uses 'u1').
_DTYPE_CODES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"}
MAX_ARRAY_BYTES = 1 << 30


class _NDArrayClass:
    """Stands for ``numpy.ndarray`` (only ever passed to ``_reconstruct``)."""


class _DType:
    """Stands for ``numpy.dtype(code, align, copy)``; ``__setstate__`` gives byte order."""

    def __init__(self, code, align=False, copy=True):
        if isinstance(code, bytes):
            code = code.decode("latin-1")
        if not isinstance(code, str) or code not in _DTYPE_CODES:
            raise pickle.UnpicklingError(f"unsupported dtype {code!r}")
        self.code, self.order = code, "|"

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2:
            raise pickle.UnpicklingError("malformed dtype state")
        order = state[1].decode("latin-1") if isinstance(state[1], bytes) else state[1]
        if order not in ("|", "<", ">", "="):
            raise pickle.UnpicklingError(f"bad dtype byte order {order!r}")
        self.order = order

    def to_numpy(self):
        order = "" if self.order in ("|", "=") else self.order
        return np.dtype(order + self.code)


class _Array:
    """Stands for an ndarray under reconstruction; holds the checked state."""

    def __init__(self, cls, shape, typecode):
        if cls is not _NDArrayClass:
            raise pickle.UnpicklingError("_reconstruct may only build numpy.ndarray")
        self.state = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("malformed ndarray state")
        shape, dtype, is_fortran, raw = state[-4:]
        if not isinstance(shape, tuple) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape) \
                or len(shape) > 8:
            raise pickle.UnpicklingError(f"bad ndarray shape {shape!r}")
        if not isinstance(dtype, _DType):
            raise pickle.UnpicklingError("ndarray dtype is not a numpy dtype")
        if not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError(f"ndarray data must be bytes, found {type(raw).__name__}")
        count = 1
        for d in shape:
            count *= d
        nbytes = count * np.dtype(dtype.code).itemsize
        if nbytes > MAX_ARRAY_BYTES or nbytes != len(raw):
            raise pickle.UnpicklingError(
                f"ndarray of shape {shape} and dtype {dtype.code} needs {nbytes} bytes, "
                f"the pickle holds {len(raw)}"
            )
        self.state = (shape, dtype, bool(is_fortran), bytes(raw))

    def to_numpy(self):
        if self.state is None:
            raise pickle.UnpicklingError("ndarray was never given its data")
        shape, dtype, is_fortran, raw = self.state
        arr = np.frombuffer(raw, dtype=dtype.to_numpy())
        return arr.reshape(shape, order="F" if is_fortran else "C")


def _reconstruct(cls, shape, typecode):
    return _Array(cls, shape, typecode)


def _frombuffer(buf, dtype, shape, order):
    """Protocol 5's array: checked as ``_Array.__setstate__`` checks protocol 2-4's state."""
    if order not in ("C", "F"):
        raise pickle.UnpicklingError(f"bad array order {order!r}")
    arr = _Array(_NDArrayClass, (0,), b"b")
    arr.__setstate__((1, shape, dtype, order == "F", buf))
    return arr


def _latin1_encode(text, encoding="latin1"):
    """Stands for ``_codecs.encode``: how protocol 2 writes bytes, and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed to rebuild latin-1 bytes")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise pickle.UnpicklingError(f"bytes written as text hold a non-latin-1 character: {exc}") from exc


# NumPy 2 renamed numpy.core to numpy._core; pickles from either era name one or the other.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _latin1_encode,
    ("numpy", "ndarray"): _NDArrayClass,
    ("numpy", "dtype"): _DType,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that refuses every global except NumPy's array reconstruction (and the
    latin-1 ``_codecs.encode`` of protocol 2)."""

    def find_class(self, module, name):
        target = _ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: CIFAR batches contain only "
                "dicts, lists and numpy arrays"
            )
        return target


# Opcodes a CIFAR batch never uses: persistent ids, the extension registry, old-style
# instance building, and protocol-5 out-of-band buffers (in-band BYTEARRAY8 is allowed: it
# holds a protocol-5 array's bytes).
_FORBIDDEN_OPCODES = {"PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4", "INST", "OBJ",
                      "NEWOBJ", "NEWOBJ_EX", "NEXT_BUFFER", "READONLY_BUFFER"}


class _Clamped:
    """A file's read(n) clamped to what remains: ``BufferedReader.read(n)`` allocates n bytes
    before reading, so a forged 4 GB length must never reach it."""

    def __init__(self, f):
        self.f = f
        self.size = f.seek(0, 2)
        f.seek(0)

    def read(self, n=-1):
        remaining = self.size - self.f.tell()
        return self.f.read(remaining if n is None or n < 0 else min(n, remaining))

    def readline(self):
        return self.f.readline()

    def tell(self):
        return self.f.tell()


def _prescan(raw):
    """Walk the opcode stream with the pure-Python ``pickletools.genops`` first.

    CPython's C unpickler allocates a bytes object of the *declared* length before
    reading it, so a 4-byte length field edited to 4 GB makes it allocate 4 GB (fuzzing
    measured 45-second stalls); it also sizes its memo table by the largest PUT index.
    ``genops`` reads through ``_Clamped`` and fails as soon as a declared length exceeds
    what remains, so after this pass every length is honest and every index plausible.
    """
    for opcode, arg, pos in pickletools.genops(_Clamped(raw)):
        if opcode.name in _FORBIDDEN_OPCODES:
            raise pickle.UnpicklingError(f"opcode {opcode.name} at byte {pos} is not allowed")
        # The C unpickler grows its memo table to the index it is given, so PUT 2**28
        # costs gigabytes. A real pickler numbers memo entries 0, 1, 2, ..., so an index
        # can never exceed the byte offset at which it appears.
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and not 0 <= int(arg) <= pos:
            raise pickle.UnpicklingError(f"memo index {arg} at byte {pos} is out of range")


def load_restricted(raw, name: str):
    """Unpickle ``raw`` (bytes, or a seekable binary file read as a stream) with the
    restricted unpickler (encoding='bytes', for Python 2 files); top-level dict values that
    are arrays become real NumPy arrays. Any failure is a ValueError naming ``name``."""
    f = io.BytesIO(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else raw
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _prescan(f)
            f.seek(0)
            obj = RestrictedUnpickler(f, encoding="bytes").load()
            if isinstance(obj, dict):
                obj = {k: (v.to_numpy() if isinstance(v, _Array) else v) for k, v in obj.items()}
    except MemoryError as exc:
        raise ValueError(f"{name}: not a valid CIFAR pickle: it asks for too much memory") from exc
    except Exception as exc:  # pickle raises many types on hostile input
        raise ValueError(f"{name}: not a valid CIFAR pickle: {type(exc).__name__}: {exc}") from exc
    return obj
