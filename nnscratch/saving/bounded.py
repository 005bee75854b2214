"""Readers that a hostile file cannot hurt: every size is checked before anything is read.

A 10 KB file can declare a 4 GB array (an ``.npy`` header, an HDF5 dataspace) or a zip member
that inflates to gigabytes. The helpers here read the declared sizes first (zip ``file_size``,
the ``.npy`` header, h5py ``.shape``/``.dtype``), compare them with what the model expects or with
a fixed limit, and refuse with a ValueError naming the file before allocating. They also turn
every parsing failure (bad UTF-8, bad JSON, JSON nested too deeply, wrong types) into a
ValueError naming the file, so callers never see a KeyError or RecursionError from inside.
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib

import numpy as np

MAX_CONFIG_BYTES = 16 * 2**20   # config.json / metadata.json / HDF5 attributes holding JSON
MAX_JSON_DEPTH = 64             # Keras configs nest about 8 deep
MAX_META_BYTES = 2**20          # small bookkeeping arrays (an .npz's __meta__)
ALLOWED_KINDS = "fiub"          # float, signed/unsigned int, bool; never complex, object, strings


class FileFormatError(ValueError):
    """A model or weights file that is malformed, hostile or does not fit the model."""


def fail(path, message):
    return FileFormatError(f"{path}: {message}")


# ---------------------------------------------------------------------------------- JSON
def _depth_ok(obj, limit):
    """True when ``obj`` nests at most ``limit`` containers deep (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children)
    return True


def parse_json(data: bytes, path, what="config.json", max_bytes=MAX_CONFIG_BYTES):
    """Parse JSON bytes (UTF-8) with a size and a nesting limit; ValueError naming ``path``."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise fail(path, f"{what} is {len(data)} bytes, more than the {max_bytes} a model file may hold")
    try:
        text = data.decode("utf-8")
        obj = json.loads(text)
    except UnicodeDecodeError as exc:
        raise fail(path, f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise fail(path, f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise fail(path, f"{what} nests too deeply (more than {MAX_JSON_DEPTH} levels)") from None
    if not _depth_ok(obj, MAX_JSON_DEPTH):
        raise fail(path, f"{what} nests too deeply (more than {MAX_JSON_DEPTH} levels)")
    return obj


def need(obj, key, kind, path, where):
    """``obj[key]`` checked to be a ``kind`` (a type or tuple of types); ValueError otherwise."""
    if not isinstance(obj, dict):
        raise fail(path, f"{where} must be a JSON object, found {type(obj).__name__}")
    if key not in obj:
        raise fail(path, f"{where} has no key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = "/".join(t.__name__ for t in _as_tuple(kind))
        raise fail(path, f"{where}[{key!r}] must be {names}, found {type(value).__name__}")
    return value


def _as_tuple(kind):
    return kind if isinstance(kind, tuple) else (kind,)


# ---------------------------------------------------------------------------------- zip
def open_zip(path):
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise fail(path, f"is truncated or not a zip archive ({exc})") from None


def read_member(zf, name, path, max_bytes):
    """The bytes of zip member ``name``, refusing a declared or actual size over ``max_bytes``."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise fail(path, f"has no member {name!r} (members: {sorted(zf.namelist())[:20]})") from None
    if info.file_size > max_bytes:
        raise fail(path, f"member {name!r} declares {info.file_size} bytes, more than the {max_bytes} allowed")
    try:
        with zf.open(info) as f:
            data = f.read(max_bytes + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError, zlib.error) as exc:
        raise fail(path, f"member {name!r} is corrupt ({exc})") from None
    if len(data) > max_bytes:
        raise fail(path, f"member {name!r} inflates past the {max_bytes} bytes allowed")
    return data


# ---------------------------------------------------------------------------------- .npy / .npz
def check_array_header(shape, dtype, path, where, expected_shape=None, max_bytes=None, text=False):
    """Refuse a declared array that is complex/object/strings (``text``: a unicode string is
    allowed), has a bad shape, or is too big."""
    kinds = ALLOWED_KINDS + ("U" if text else "")
    if not isinstance(dtype, np.dtype) or dtype.kind not in kinds or dtype.fields is not None:
        kind = "complex" if getattr(dtype, "kind", "") == "c" else str(dtype)
        raise fail(path, f"{where} holds {kind} values; only real numbers (float/int/bool) are accepted")
    if not isinstance(shape, tuple) or any(not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
        raise fail(path, f"{where} has an invalid shape {shape!r}")
    shape = tuple(int(d) for d in shape)
    if expected_shape is not None and shape != tuple(expected_shape):
        raise fail(path, f"{where} has shape {shape} in the file but {tuple(expected_shape)} in the model")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if max_bytes is not None and nbytes > max_bytes:
        raise fail(path, f"{where} declares {nbytes} bytes ({shape}, {dtype}), more than the {max_bytes} expected")
    return shape, nbytes


def read_npz(path, expect, data=None, text_keys=()):
    """Every array of an ``.npz`` (a path, or its bytes in ``data``), each ``.npy`` header read and
    checked by ``expect(key) -> (shape or None, max_bytes)`` before its data is read."""
    source = io.BytesIO(data) if data is not None else path
    zf = open_zip(source) if data is None else _open_zip_bytes(source, path)
    out = {}
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise fail(path, f"member {info.filename!r} is not an .npy array")
            key = info.filename[:-4]
            shape_want, max_bytes = expect(key)
            try:
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10000)
                    elif version in ((2, 0), (3, 0)):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10000)
                    else:
                        raise ValueError(f"unsupported .npy version {version}")
                    shape, nbytes = check_array_header(shape, dtype, path, f"array {key!r}", shape_want, max_bytes,
                                                       text=key in text_keys)
                    if nbytes > info.file_size:
                        raise fail(path, f"array {key!r} declares {nbytes} bytes in a member of {info.file_size}")
                    raw = f.read(nbytes + 1)
            except FileFormatError:
                raise
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, SyntaxError,
                    TypeError, RuntimeError, zlib.error) as exc:
                raise fail(path, f"array {key!r} is corrupt ({exc})") from None
            if len(raw) != nbytes:
                raise fail(path, f"array {key!r} holds {len(raw)} bytes, its header declares {nbytes}")
            a = np.frombuffer(raw, dtype=dtype)
            a = a.reshape(shape, order="F" if fortran else "C")
            out[key] = a.copy()  # owns its memory (np.ascontiguousarray would make a 0-d array 1-d)
    return out


def _open_zip_bytes(buf, path):
    try:
        return zipfile.ZipFile(buf)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise fail(path, f"is truncated or not a zip archive ({exc})") from None


# ---------------------------------------------------------------------------------- HDF5
# what h5py raises for a corrupt file (RuntimeError: "unknown symbol table entry cache type", ...)
_H5_ERRORS = (KeyError, OSError, ValueError, TypeError, RuntimeError, AttributeError, IndexError)

def h5_open(path, fileobj=None):
    import h5py
    try:
        return h5py.File(fileobj if fileobj is not None else path, "r")
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot be read as HDF5: it is truncated, corrupt or not HDF5 ({exc})") from None


def h5_child(group, key, path, want="group"):
    """``group[key]`` after refusing soft/external links and checking it is a Group/Dataset."""
    import h5py
    where = f"{group.name.rstrip('/')}/{key}"
    try:
        link = group.get(key, getlink=True)
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot read {where!r} ({exc})") from None
    if link is None:
        return None
    if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
        kind = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise fail(path, f"{where!r} is {kind}; links are refused in weights files")
    try:
        obj = group[key]
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot read {where!r} ({exc})") from None
    cls = h5py.Group if want == "group" else h5py.Dataset
    if not isinstance(obj, cls):
        raise fail(path, f"{where!r} is a {type(obj).__name__}, expected a {cls.__name__}")
    return obj


def h5_keys(group, path):
    try:
        return list(group.keys())
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot list {group.name!r} ({exc})") from None


def h5_array(group, key, path, expected_shape, max_bytes=None):
    """Read dataset ``group[key]`` after checking its declared shape and dtype (no complex, no
    external storage), so a crafted dataspace never allocates."""
    ds = h5_child(group, key, path, want="dataset")
    where = f"{group.name.rstrip('/')}/{key}"
    if ds is None:
        raise fail(path, f"has no dataset {where!r}")
    try:
        shape, dtype, external = ds.shape, ds.dtype, ds.external
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot read {where!r} ({exc})") from None
    if external:
        raise fail(path, f"dataset {where!r} keeps its data in external files; refused")
    if shape is None:
        raise fail(path, f"dataset {where!r} is empty (no dataspace)")
    check_array_header(tuple(shape), dtype, path, f"dataset {where!r}", expected_shape, max_bytes)
    try:
        return np.asarray(ds[()])
    except _H5_ERRORS as exc:
        raise fail(path, f"dataset {where!r} is corrupt ({exc})") from None


def h5_attr_text(obj, name, path, required=True):
    """A string attribute (JSON text in Keras's legacy files), bounded in size."""
    try:
        if name not in obj.attrs:
            if required:
                raise fail(path, f"has no attribute {name!r} on {obj.name!r}")
            return None
        value = obj.attrs[name]
    except FileFormatError:
        raise
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot read attribute {name!r} ({exc})") from None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        if len(value) > MAX_CONFIG_BYTES:
            raise fail(path, f"attribute {name!r} is {len(value)} bytes, too large")
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    raise fail(path, f"attribute {name!r} must be a string, found {type(value).__name__}")
