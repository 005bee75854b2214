"""Assemble Keras-shaped arrays from located files, and record which data was used.

``_formats`` reads one file; ``_sources`` finds the files; this module puts them together
(train/test pairs, count agreement, NHWC transpose) and keeps a ``DataInfo`` per dataset so
that callers (the command line, notebooks) can say exactly what they trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _formats, _sources
from ._catalog import CIFAR_IMAGES, IDX_FILES, IDX_MAX_ITEMS

_LAST = {}


@dataclass(frozen=True)
class DataInfo:
    """Which copy of a dataset ``load_data`` returned.

    Attributes:
        dataset: module name ('fashion_mnist').
        title: human name ('Fashion-MNIST').
        source: 'path', 'env' ($NNSCRATCH_DATA), 'cache', 'system', 'download' or 'sample'.
        path: the directory (or archive's directory) the arrays were read from.
        n_train, n_test: number of training and test images.
        verified: whether checksums were checked for this load.
        note: extra context, e.g. why ``source='auto'`` fell back to the sample.
    """
    dataset: str
    title: str
    source: str
    path: str
    n_train: int
    n_test: int
    verified: bool
    note: str = ""

    @property
    def description(self) -> str:
        """'Fashion-MNIST full set' or 'Fashion-MNIST shipped sample'."""
        kind = "shipped sample" if self.source == "sample" else "full set"
        return f"{self.title} {kind}"

    def __str__(self) -> str:
        return (f"{self.description} from {self.path} "
                f"({self.n_train} train, {self.n_test} test images)")


def record(info: DataInfo) -> DataInfo:
    _LAST[info.dataset] = info
    return info


def last_info(dataset):
    """The DataInfo of the most recent successful load of ``dataset`` (None if none yet)."""
    return _LAST.get(dataset)


def _info(spec, located, n_train, n_test, source=None, note=""):
    return DataInfo(spec.name, spec.title, source or located.kind, str(located.directory),
                    int(n_train), int(n_test), bool(located.verified), note)


# ----------------------------------------------------------------------------------- IDX family
def read_idx_split(images_path, labels_path, num_classes=10):
    """(x, y) from an IDX image file and label file, checking that their counts agree and
    (before reading) that neither declares more items than its file holds in the dataset."""
    x = _formats.read_idx_images(images_path, max_items=IDX_MAX_ITEMS.get(Path(images_path).name,
                                                                          _formats.IDX_MAX_ITEMS))
    y = _formats.read_idx_labels(labels_path, num_classes=num_classes,
                                 max_items=IDX_MAX_ITEMS.get(Path(labels_path).name, _formats.IDX_MAX_ITEMS))
    if len(x) != len(y):
        raise ValueError(
            f"{images_path} holds {len(x)} images but {labels_path} holds {len(y)} labels"
        )
    return x, y


def load_idx_dataset(spec, located, source=None, note=""):
    """((x_train, y_train), (x_test, y_test)) from the four IDX .gz files, plus DataInfo."""
    train_images, train_labels, test_images, test_labels = (located.files[f] for f in IDX_FILES)
    x_train, y_train = read_idx_split(train_images, train_labels)
    x_test, y_test = read_idx_split(test_images, test_labels)
    info = _info(spec, located, len(x_train), len(x_test), source=source, note=note)
    return ((x_train, y_train), (x_test, y_test)), info


def idx_located(directory, kind):
    """A Located for the four IDX files in ``directory`` (no search, no checksum)."""
    directory = Path(directory)
    return _sources.Located(kind, directory, {f: directory / f for f in IDX_FILES}, False)


# ----------------------------------------------------------------------------------- CIFAR
def _read_batches(located, batch_names, archive_prefix, label_key, num_classes):
    """[(images, labels)] per batch, from the batch files or the archive's members.

    Each batch is bounded by its real number of images (``CIFAR_IMAGES``) before it is read;
    archive members are parsed one by one as the archive is read (see ``_tar``)."""
    def parse(source, shown, base, reencoded):
        return _formats.read_cifar_batch(source, shown, label_key=label_key, num_classes=num_classes,
                                         max_images=CIFAR_IMAGES[base], reencoded=reencoded)

    files = located.files
    if len(files) == 1:  # the .tar.gz layout: the original files, stored raw
        (archive,) = files.values()
        wanted = {f"{archive_prefix}/{b}": _formats.cifar_batch_max_bytes(CIFAR_IMAGES[b], reencoded=False)
                  for b in batch_names}
        parsed = _formats.read_tar_members(
            archive, wanted, str(archive),
            parse=lambda data, shown: parse(data, shown, shown.rsplit("/", 1)[-1], False))
        return [parsed[m] for m in wanted]
    by_base = {Path(rel).name: p for rel, p in files.items()}
    return [parse(by_base[b], str(by_base[b]), b, True) for b in batch_names]


def load_cifar(spec, located, train_batches, test_batches, archive_prefix,
               label_key, num_classes):
    """Keras-shaped CIFAR arrays: x (n, 32, 32, 3) uint8, y (n, 1) uint8."""
    parts = _read_batches(located, train_batches + test_batches, archive_prefix, label_key, num_classes)
    n_tr = len(train_batches)

    def join(chunk):
        x = np.concatenate([d for d, _ in chunk]) if chunk else np.empty((0, 3072), np.uint8)
        y = np.concatenate([lab for _, lab in chunk]) if chunk else np.empty((0,), np.uint8)
        return _formats.cifar_to_nhwc(x), y.reshape(-1, 1)

    (x_train, y_train), (x_test, y_test) = join(parts[:n_tr]), join(parts[n_tr:])
    info = _info(spec, located, len(x_train), len(x_test))
    return ((x_train, y_train), (x_test, y_test)), info
