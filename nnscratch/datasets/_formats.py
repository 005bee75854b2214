"""Readers for the original dataset file formats: IDX (MNIST family) and CIFAR pickles.

These functions read *bytes* and return NumPy arrays, or raise ``ValueError`` naming the
file and what was wrong. They never return a silently wrong array, and they are written to
survive any byte string (truncated, corrupted or hostile files): every failure of the
underlying gzip/pickle/tar machinery is turned into a ``ValueError``.

IDX format (http://yann.lecun.com/exdb/mnist/), all integers big-endian::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 = unsigned byte (the only type these datasets use)
    byte  3     number of dimensions D
    next 4*D    the size of each dimension (uint32)
    then        prod(sizes) elements, row-major

so the "magic number" of an image file is 0x00000803 = 2051 (uint8, 3 dims: n, rows,
cols) and of a label file 0x00000801 = 2049 (uint8, 1 dim: n).

CIFAR "python version" files are pickled dicts (written by Python 2): ``b'data'`` is a
uint8 array of shape (n, 3072) holding each image as three 32x32 planes (red, green,
blue), and ``b'labels'`` (CIFAR-10) or ``b'fine_labels'``/``b'coarse_labels'``
(CIFAR-100) are lists of n ints. Unpickling can run arbitrary code, so they are read
with the restricted unpickler of ``_safe_pickle``.
"""
from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib

import numpy as np

from ._safe_pickle import load_restricted

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
_IDX_UBYTE = 0x08

# Upper bounds so a 20-byte hostile header cannot make us allocate terabytes.
MAX_FILE_BYTES = 1 << 30        # compressed or raw file size we agree to read
MAX_PAYLOAD_BYTES = 1 << 29     # decompressed data size we agree to produce (512 MiB)

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _name_of(source, name):
    if name is not None:
        return str(name)
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


def read_bytes(source, name=None) -> bytes:
    """The raw bytes of ``source`` (a path or a bytes object), refusing absurd sizes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    name = _name_of(source, name)
    try:
        size = os.path.getsize(source)
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{name}: file is {size} bytes, more than the {MAX_FILE_BYTES} allowed")
        with open(source, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ValueError(f"{name}: cannot read file: {exc}") from exc


# ----------------------------------------------------------------------------------- IDX
def _read_exact(stream, n, name, what):
    """Read exactly n bytes of ``what`` or raise ValueError (truncated file).

    Reads in 1 MiB chunks: ``GzipFile.read(n)`` allocates n bytes up front, so one
    large read would let a forged header cost gigabytes before truncation is noticed.
    """
    chunks, remaining = [], n
    while remaining:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) != n:
        raise ValueError(
            f"{name}: file is truncated: expected {n} bytes of {what}, found {len(data)}"
        )
    return data


def read_idx(source, name=None, expected_magic=None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into a uint8 array of its declared shape.

    Args:
        source: a path, or the file's bytes.
        name: how to call the file in error messages (default: the path).
        expected_magic: 2051 for image files, 2049 for label files, None for any
            unsigned-byte IDX file.

    Returns:
        A uint8 array whose shape is the dimensions declared in the header.

    Raises:
        ValueError: naming the file, for a bad gzip stream (CRC error, truncation), a
        wrong magic number, a payload shorter or longer than declared, or sizes over
        ``MAX_PAYLOAD_BYTES``.
    """
    name = _name_of(source, name)
    raw = read_bytes(source, name)
    compressed = raw[:2] == _GZIP_MAGIC
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") if compressed else io.BytesIO(raw)
    try:
        header = _read_exact(stream, 4, name, "IDX header")
        magic = int.from_bytes(header, "big")
        if header[0:2] != b"\x00\x00" or header[2] != _IDX_UBYTE or not 1 <= header[3] <= 4:
            raise ValueError(
                f"{name}: not an unsigned-byte IDX file: magic number {magic} (0x{magic:08x}); "
                f"expected {expected_magic or '2049 (labels) or 2051 (images)'}"
            )
        if expected_magic is not None and magic != expected_magic:
            raise ValueError(
                f"{name}: wrong IDX magic number: expected {expected_magic}, found {magic}"
            )
        ndim = header[3]
        dims_raw = _read_exact(stream, 4 * ndim, name, "IDX dimension sizes")
        shape = tuple(int.from_bytes(dims_raw[4 * i: 4 * i + 4], "big") for i in range(ndim))
        count = 1
        for d in shape:
            count *= d
        if count > MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"{name}: declared shape {shape} needs {count} bytes, more than the "
                f"{MAX_PAYLOAD_BYTES} allowed"
            )
        payload = _read_exact(stream, count, name, f"data for shape {shape}")
        # Reading past the end also makes gzip check the CRC and length trailer.
        if stream.read(1):
            raise ValueError(f"{name}: file is longer than its declared shape {shape}")
    except _GZIP_ERRORS as exc:
        raise ValueError(f"{name}: corrupted gzip data: {exc}") from exc
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def read_idx_images(source, name=None, image_shape=(28, 28)) -> np.ndarray:
    """An IDX image file (magic 2051) as a uint8 array (n, rows, cols), checking rows/cols."""
    name = _name_of(source, name)
    x = read_idx(source, name, expected_magic=IDX_IMAGES_MAGIC)
    if image_shape is not None and x.shape[1:] != tuple(image_shape):
        raise ValueError(
            f"{name}: images are {x.shape[1]}x{x.shape[2]}, expected "
            f"{image_shape[0]}x{image_shape[1]}"
        )
    return x


def read_idx_labels(source, name=None, num_classes=10) -> np.ndarray:
    """An IDX label file (magic 2049) as a uint8 array (n,), checking 0 <= label < num_classes."""
    name = _name_of(source, name)
    y = read_idx(source, name, expected_magic=IDX_LABELS_MAGIC)
    check_label_range(y, num_classes, name)
    return y


def check_label_range(y, num_classes, name):
    """Raise ValueError naming the file if a label is outside [0, num_classes)."""
    if y.size and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.max()) if int(y.max()) >= num_classes else int(y.min())
        raise ValueError(
            f"{name}: label {bad} out of range: expected integers in 0..{num_classes - 1}"
        )


def write_idx(arr, compress=True) -> bytes:
    """The bytes of an unsigned-byte IDX file holding ``arr`` (gzip-compressed by default).

    The inverse of ``read_idx``; used to build the shipped sample and test fixtures.
    ``mtime=0`` keeps the gzip output reproducible.
    """
    arr = np.ascontiguousarray(arr)
    if arr.dtype != np.uint8 or not 1 <= arr.ndim <= 4:
        raise ValueError(f"write_idx needs a uint8 array with 1 to 4 dims, got {arr.dtype} {arr.shape}")
    header = bytes([0, 0, _IDX_UBYTE, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape
    )
    raw = header + arr.tobytes()
    return gzip.compress(raw, compresslevel=9, mtime=0) if compress else raw


# ------------------------------------------------------------------------------- CIFAR pickles
def read_cifar_batch(source, name=None, label_key="labels", num_classes=10):
    """Read one CIFAR python batch into (images (n, 3072) uint8, labels (n,) uint8).

    Args:
        source: a path, or the file's bytes.
        name: how to call the file in error messages.
        label_key: 'labels' (CIFAR-10), 'fine_labels' or 'coarse_labels' (CIFAR-100).
        num_classes: labels must lie in 0..num_classes-1.
    """
    name = _name_of(source, name)
    obj = load_restricted(read_bytes(source, name), name)
    if not isinstance(obj, dict):
        raise ValueError(f"{name}: expected a pickled dict, found {type(obj).__name__}")
    # Python 2 pickles give bytes keys; normalise to str.
    d = {(k.decode("latin-1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    for key in ("data", label_key):
        if key not in d:
            found = sorted(str(k) for k in d)
            raise ValueError(f"{name}: missing key {key!r} (keys found: {found})")
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        desc = f"{data.dtype} array {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{name}: 'data' must be a uint8 array of shape (n, 3072), found {desc}")
    labels = d[label_key]
    if not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError(f"{name}: {label_key!r} must be a list of ints, found {type(labels).__name__}")
    try:
        y = np.asarray(labels)
    except Exception as exc:
        raise ValueError(f"{name}: {label_key!r} is not a list of ints: {exc}") from exc
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise ValueError(f"{name}: {label_key!r} must be a flat list of ints, found {y.dtype} {y.shape}")
    if len(y) != len(data):
        raise ValueError(
            f"{name}: {len(data)} images but {len(y)} labels in {label_key!r}"
        )
    check_label_range(y, num_classes, name)
    return data, y.astype(np.uint8)


def cifar_to_nhwc(data):
    """(n, 3072) channel-planar rows -> (n, 32, 32, 3) NHWC, contiguous."""
    n = data.shape[0]
    return np.ascontiguousarray(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))


def read_tar_members(archive, wanted, name=None, max_member_bytes=MAX_FILE_BYTES):
    """The bytes of the members named in ``wanted``, read from a .tar.gz without extracting.

    Reads the archive in one forward pass. Raises ValueError naming the archive for a
    corrupted archive, a missing member, or a member that is not a regular file.
    """
    name = _name_of(archive, name)
    fileobj = io.BytesIO(archive) if isinstance(archive, (bytes, bytearray)) else None
    found = {}
    try:
        with tarfile.open(name=None if fileobj else archive, fileobj=fileobj, mode="r:*") as tar:
            for member in tar:
                if member.name not in wanted or member.name in found:
                    continue
                if not member.isfile():
                    raise ValueError(f"{name}: member {member.name!r} is not a regular file")
                if member.size > max_member_bytes:
                    raise ValueError(f"{name}: member {member.name!r} is {member.size} bytes, too large")
                data = tar.extractfile(member).read()
                if len(data) != member.size:
                    raise ValueError(f"{name}: member {member.name!r} is truncated")
                found[member.name] = data
    except (tarfile.TarError, *_GZIP_ERRORS) as exc:
        raise ValueError(f"{name}: corrupted tar archive: {exc}") from exc
    missing = [m for m in wanted if m not in found]
    if missing:
        raise ValueError(f"{name}: archive lacks member(s) {missing}")
    return found
