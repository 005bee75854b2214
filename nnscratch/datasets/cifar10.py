"""CIFAR-10, read from the original "python version" pickles (Keras-shaped arrays).

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
(50000, 32, 32, 3) and (10000, 32, 32, 3) (NHWC, as Keras with channels_last), uint8
labels 0-9 of shape (50000, 1) and (10000, 1), like ``keras.datasets.cifar10.load_data``.

Each batch stores an image as a 3072-byte row: 1024 red, then 1024 green, then 1024 blue
values, each plane row-major 32x32. So a row reshapes to (3, 32, 32) (channels first) and
is transposed to (32, 32, 3).

The files may be the directory ``cifar-10-batches-py/`` (``data_batch_1``..``5``,
``test_batch``), those six files directly, or the archive ``cifar-10-python.tar.gz``,
which is read in memory without extracting it.

Bounds (checked before the bytes they cover are read; see ``_formats`` and ``_tar``): each batch
holds at most 10000 images, its file at most 32.1 MB (62.8 MB for a Python 3 protocol-2
re-pickle); in the archive every member's declared size is checked first, the members not
read may hold 1 MiB in all, and at most 193.6 MB are decompressed.
"""
from __future__ import annotations

from . import _catalog, _loaders, _sources

SPEC = _catalog.CIFAR10
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")


def load_data(path=None, verify=None, return_info=False):
    """Load CIFAR-10. ``path``, ``verify`` and ``return_info`` as in ``mnist.load_data``."""
    located = _sources.locate(SPEC, path=path, verify=verify)
    (train, test), info = _loaders.load_cifar(
        SPEC, located,
        train_batches=list(_catalog.CIFAR10_BATCHES[:5]),
        test_batches=["test_batch"],
        archive_prefix="cifar-10-batches-py",
        label_key="labels", num_classes=10,
    )
    _loaders.record(info)
    return (train, test, info) if return_info else (train, test)


def last_source():
    """DataInfo of the last successful ``load_data()`` call, or None."""
    return _loaders.last_info(SPEC.name)
