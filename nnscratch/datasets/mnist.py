"""MNIST handwritten digits, read from the original IDX files (Keras-shaped arrays).

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
(60000, 28, 28) and (10000, 28, 28), uint8 labels 0-9 of shape (60000,) and (10000,),
like ``keras.datasets.mnist.load_data``. The files are the four ``*-idx?-ubyte.gz`` files
of the original distribution (Keras downloads a repackaged ``mnist.npz`` instead).

Bounds (checked before the data is read; see ``_formats``): a header may declare at most 60000
(train) or 10000 (t10k) items, images 28x28, so at most 47,040,000 bytes are decompressed from
a file of at most 47.1 MB. A file that declares more is refused with a ValueError naming it.

Licence: Yann LeCun and Corinna Cortes hold the copyright of MNIST, a derivative work of
NIST data, made available under CC BY-SA 3.0.
"""
from __future__ import annotations

from . import _catalog, _loaders, _sources

SPEC = _catalog.MNIST
CLASS_NAMES = tuple(str(d) for d in range(10))


def load_data(path=None, verify=None, return_info=False):
    """Load MNIST.

    Args:
        path: a directory holding the four IDX .gz files, or None to search
            $NNSCRATCH_DATA/mnist, the cache, system copies, then download
            (see ``nnscratch.datasets._sources``). Keras's ``path`` is a cache file name;
            ours is a directory.
        verify: None checks published checksums for cached/system/downloaded files only;
            True also for ``path``/$NNSCRATCH_DATA files; False skips them except for
            downloads.
        return_info: also return a ``DataInfo`` saying which copy was read.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, plus the DataInfo if ``return_info``.
    """
    located = _sources.locate(SPEC, path=path, verify=verify)
    (train, test), info = _loaders.load_idx_dataset(SPEC, located)
    _loaders.record(info)
    return (train, test, info) if return_info else (train, test)


def last_source():
    """DataInfo of the last successful ``load_data()`` call, or None."""
    return _loaders.last_info(SPEC.name)
