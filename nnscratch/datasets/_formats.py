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

Bounds (the formats' real sizes; each checked before the bytes it covers are read, so a
hostile file is refused having read a few KB, never allocating what it declares):

* IDX: at most 60000 items (``IDX_MAX_ITEMS``, the largest split), images 28x28, so at
  most 47,040,000 bytes of data, decompressed only that far (plus one byte, to see the end),
  from a file of at most ``gzip_max_bytes`` of that (47.1 MB);
* CIFAR batch files: at most ``cifar_batch_max_bytes(n)`` bytes for n images, with n 10000
  (CIFAR-10 batches, CIFAR-100 test; 32.1 MB) or 50000 (CIFAR-100 train; 160.1 MB), twice the
  pixel bytes for Python 3 protocol-2 re-pickles read from a directory;
* CIFAR archives: each wanted member at most its file's bound, the other members 1 MiB in
  all, the decompressed stream capped at their sum plus tar's headers (see ``_tar``): 193.6 MB for
  CIFAR-10, 193.3 MB for CIFAR-100.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from contextlib import contextmanager

import numpy as np

from . import _tar
from ._safe_pickle import load_restricted

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
_IDX_UBYTE = 0x08

# The real sizes of the formats. Every reader checks a file's size, and every declared shape
# or length, against these before it reads what they describe.
IDX_MAX_ITEMS = 60000                  # the largest split of MNIST and Fashion-MNIST
IDX_IMAGE_SHAPE = (28, 28)
MAX_IDX_PAYLOAD = IDX_MAX_ITEMS * 28 * 28   # 47,040,000 bytes: 60000 28x28 images
CIFAR_ROW_BYTES = 3072                 # one 32x32x3 image
CIFAR_MAX_IMAGES = 50000               # CIFAR-100's train file; CIFAR-10 batches hold 10000
_CIFAR_META_PER_IMAGE = 128            # label(s), file name and opcodes of one image (real: ~33)
_CIFAR_META_FIXED = 1 << 16


def gzip_max_bytes(raw_bytes):
    """The most bytes a gzip file of ``raw_bytes`` decompressed bytes needs: deflate's stored
    blocks add 5 bytes per 64 KiB; 4 KiB covers the header's optional name and comment."""
    return raw_bytes + raw_bytes // 1000 + 4096


def cifar_batch_max_bytes(n_images, reencoded=True):
    """The most bytes a CIFAR python batch of ``n_images`` images can take: 3072 bytes of pixels
    and up to 128 of metadata per image, plus 64 KiB. ``reencoded`` doubles the pixels, for
    Python 3 protocol-2 re-pickles, which store bytes as UTF-8 text of their latin-1 string
    (the original files, and those in the archives, store them raw)."""
    pixels = CIFAR_ROW_BYTES * (2 if reencoded else 1)
    return n_images * (pixels + _CIFAR_META_PER_IMAGE) + _CIFAR_META_FIXED


_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _name_of(source, name):
    if name is not None:
        return str(name)
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


@contextmanager
def open_bounded(source, name, max_bytes):
    """A binary stream over ``source`` (a path or bytes), refusing it, before reading a byte,
    when it is larger than ``max_bytes``. A path is read as a stream, never whole."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        size, opener = len(source), (lambda: io.BytesIO(bytes(source)))
    else:
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise ValueError(f"{name}: cannot read file: {exc}") from exc
        opener = lambda: open(source, "rb")  # noqa: E731
    if size > max_bytes:
        raise ValueError(f"{name}: file is {size} bytes, more than the {max_bytes} a file of "
                         "this dataset can hold")
    try:
        f = opener()
    except OSError as exc:
        raise ValueError(f"{name}: cannot read file: {exc}") from exc
    with f:
        yield f


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


def read_idx(source, name=None, expected_magic=None, item_shape=None, max_items=None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into a uint8 array of its declared shape.

    Args:
        source: a path, or the file's bytes.
        name: how to call the file in error messages (default: the path).
        expected_magic: 2051 for image files, 2049 for label files, None for any
            unsigned-byte IDX file.
        item_shape: the shape of one item (``(28, 28)`` for images, ``()`` for labels), or
            None for any.
        max_items: the most items (first dimension) the file may declare, or None.

    Bounds, all checked before the data is read: the header's shape must match
    ``item_shape`` and ``max_items``; the data may be at most ``max_items * prod(item_shape)``
    bytes when both are given, else ``MAX_IDX_PAYLOAD`` (47,040,000: 60000 28x28 images);
    the file itself at most ``gzip_max_bytes`` of that; the gzip stream is decompressed
    only as far as the declared data plus one byte (which must not exist).

    Returns:
        A uint8 array whose shape is the dimensions declared in the header.

    Raises:
        ValueError: naming the file, for a bad gzip stream (CRC error, truncation), a
        wrong magic number, a shape other than expected, a payload shorter or longer than
        declared, or sizes over the bounds above.
    """
    name = _name_of(source, name)
    limit = MAX_IDX_PAYLOAD
    if item_shape is not None and max_items is not None:
        limit = max_items * int(np.prod(item_shape, dtype=np.int64))
    with open_bounded(source, name, gzip_max_bytes(limit + 4 + 4 * 4)) as f:
        compressed = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if compressed else f
        try:
            shape = _read_idx_header(stream, name, expected_magic)
            if item_shape is not None and shape[1:] != tuple(item_shape):
                got = "x".join(map(str, shape[1:])) or "scalars"
                want = "x".join(map(str, item_shape)) or "scalars"
                raise ValueError(f"{name}: IDX header declares shape {shape}: items are {got}, expected {want}")
            if max_items is not None and shape[0] > max_items:
                raise ValueError(f"{name}: IDX header declares {shape[0]} items, more than the "
                                 f"{max_items} of this dataset's largest file")
            count = 1
            for d in shape:
                count *= d
            if count > limit:
                raise ValueError(
                    f"{name}: declared shape {shape} needs {count} bytes, more than the "
                    f"{limit} allowed"
                )
            payload = _read_exact(stream, count, name, f"data for shape {shape}")
            # Reading past the end also makes gzip check the CRC and length trailer.
            if stream.read(1):
                raise ValueError(f"{name}: file is longer than its declared shape {shape}")
        except _GZIP_ERRORS as exc:
            raise ValueError(f"{name}: corrupted gzip data: {exc}") from exc
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def _read_idx_header(stream, name, expected_magic):
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
    return tuple(int.from_bytes(dims_raw[4 * i: 4 * i + 4], "big") for i in range(ndim))


def read_idx_images(source, name=None, image_shape=IDX_IMAGE_SHAPE, max_items=IDX_MAX_ITEMS) -> np.ndarray:
    """An IDX image file (magic 2051) as a uint8 array (n, rows, cols). The header must declare
    ``image_shape`` images (28x28) and at most ``max_items`` (60000) of them, checked before
    any pixel is read; so the file is at most 47 MB decompressed (see ``read_idx``)."""
    name = _name_of(source, name)
    return read_idx(source, name, expected_magic=IDX_IMAGES_MAGIC,
                    item_shape=None if image_shape is None else tuple(image_shape), max_items=max_items)


def read_idx_labels(source, name=None, num_classes=10, max_items=IDX_MAX_ITEMS) -> np.ndarray:
    """An IDX label file (magic 2049) as a uint8 array (n,), checking 0 <= label < num_classes;
    the header may declare at most ``max_items`` (60000) labels, checked before reading them."""
    name = _name_of(source, name)
    y = read_idx(source, name, expected_magic=IDX_LABELS_MAGIC, item_shape=(), max_items=max_items)
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
def read_cifar_batch(source, name=None, label_key="labels", num_classes=10,
                     max_images=CIFAR_MAX_IMAGES, reencoded=True):
    """Read one CIFAR python batch into (images (n, 3072) uint8, labels (n,) uint8).

    Args:
        source: a path, or the file's bytes.
        name: how to call the file in error messages.
        label_key: 'labels' (CIFAR-10), 'fine_labels' or 'coarse_labels' (CIFAR-100).
        num_classes: labels must lie in 0..num_classes-1.
        max_images: the most images the file may hold: 10000 for a CIFAR-10 batch and
            CIFAR-100's test file, 50000 (the default) for CIFAR-100's train file.
        reencoded: allow for Python 3 protocol-2 re-pickles (see ``cifar_batch_max_bytes``).

    Bounds, checked before reading: the file is at most ``cifar_batch_max_bytes(max_images)``
    bytes (10000 images: 32.1 MB as the original, 62.8 MB re-pickled; 50000: 160.1 / 313.7 MB),
    every length inside the pickle is at most what remains of the file (see
    ``_safe_pickle``), and the array holds at most ``max_images`` rows.
    """
    name = _name_of(source, name)
    with open_bounded(source, name, cifar_batch_max_bytes(max_images, reencoded)) as f:
        obj = load_restricted(f, name)
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
    if len(data) > max_images:
        raise ValueError(f"{name}: holds {len(data)} images, more than the {max_images} of this file")
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


def read_tar_members(archive, wanted, name=None, parse=None):
    """The members named in ``wanted`` of a .tar.gz, read in one bounded pass without extracting.

    ``wanted`` is {member name: most bytes} or a list of names, each then bounded by the
    largest original CIFAR file (``cifar_batch_max_bytes(50000, reencoded=False)``, 160.1 MB).
    Every declared size is checked before it is read; see ``_tar.read_tar_members``.
    """
    name = _name_of(archive, name)
    if not isinstance(wanted, dict):
        wanted = {m: cifar_batch_max_bytes(CIFAR_MAX_IMAGES, reencoded=False) for m in wanted}
    return _tar.read_tar_members(archive, wanted, name, parse=parse)
