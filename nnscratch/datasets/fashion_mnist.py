"""Fashion-MNIST (Zalando), read from the original IDX files, with a small shipped sample.

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
(60000, 28, 28) and (10000, 28, 28), uint8 labels 0-9 of shape (60000,) and (10000,),
like ``keras.datasets.fashion_mnist.load_data``.

``source`` chooses the data:

* ``'full'``: the full set, found or downloaded (see ``nnscratch.datasets._sources``
  for the search order), else ``DatasetNotFoundError`` listing every place looked;
* ``'sample'``: the class-balanced subset shipped in ``nnscratch/datasets/sample/``
  (5,000 train and 1,000 test images of the real data; see its README);
* ``'auto'`` (default): the full set when it can be found or downloaded, else the sample.
  A full copy that is found but corrupt is still an error, never a silent fallback.

``load_data(return_info=True)`` (or ``last_source()`` afterwards) says which was used::

    >>> (x, y), (xt, yt), info = fashion_mnist.load_data(return_info=True)
    >>> print(f"Using {info}")
    Using Fashion-MNIST full set from /usr/share/datasets/fashion-mnist (60000 train, 10000 test images)

Bounds (checked before the data is read; see ``_formats``): a header may declare at most 60000
(train) or 10000 (t10k) items, images 28x28, so at most 47,040,000 bytes are decompressed from
a file of at most 47.1 MB. A file that declares more is refused with a ValueError naming it.

Licence: Fashion-MNIST is Copyright (c) 2017 Zalando SE, MIT licence.
"""
from __future__ import annotations

from pathlib import Path

from . import _catalog, _loaders, _sources

SPEC = _catalog.FASHION_MNIST
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SOURCES = ("auto", "full", "sample")


def load_data(path=None, source="auto", verify=None, return_info=False):
    """Load Fashion-MNIST.

    Args:
        path: a directory holding the four IDX .gz files (then only that directory is
            used), or None to search (see the module docstring).
        source: 'auto' (default), 'full' or 'sample'.
        verify: checksum policy, as in ``mnist.load_data``.
        return_info: also return a ``DataInfo`` (its ``str()`` reads
            "Fashion-MNIST full set from DIR (60000 train, 10000 test images)").

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, plus the DataInfo if ``return_info``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, received source={source!r}")
    if source == "sample" and path is not None:
        raise ValueError("source='sample' reads the shipped sample; it cannot be combined with path=")
    note = ""
    if source == "sample":
        located = None
    else:
        try:
            located = _sources.locate(SPEC, path=path, verify=verify)
        except _sources.DatasetNotFoundError as exc:
            if source == "full" or path is not None:
                raise
            located, note = None, f"full set not available: {exc}"
    if located is None:
        located = _loaders.idx_located(SAMPLE_DIR, "sample")
        (train, test), info = _loaders.load_idx_dataset(SPEC, located, note=note)
    else:
        (train, test), info = _loaders.load_idx_dataset(SPEC, located)
    _loaders.record(info)
    return (train, test, info) if return_info else (train, test)


def last_source():
    """DataInfo of the last successful ``load_data()`` call, or None."""
    return _loaders.last_info(SPEC.name)
