"""Re-create the shipped Fashion-MNIST sample in ``nnscratch/datasets/sample/``.

Run from the repository root::

    python -m nnscratch.datasets._make_sample [SOURCE_DIR]

SOURCE_DIR (default /usr/share/datasets/fashion-mnist) must hold the four original
IDX .gz files; their checksums are verified first. The subset is deterministic and
class-balanced: for each class, the first ``TRAIN_PER_CLASS`` training images and the
first ``TEST_PER_CLASS`` test images of that class in file order, kept in file order.
The original indices are written to ``sample/indices.json`` so the sample can be checked
against the full set. Output is byte-for-byte reproducible (gzip level 9, mtime 0), and
every file is written atomically (temp file, fsync, os.replace).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from nnscratch.saving.atomic import atomic_write_bytes

from . import _catalog, _formats, _loaders, _sources

TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def balanced_indices(y, per_class, num_classes=10):
    """Sorted indices of the first ``per_class`` examples of each class (file order)."""
    picks = []
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)[:per_class]
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} examples, need {per_class}")
        picks.append(idx)
    return np.sort(np.concatenate(picks))


def atomic_write(path, data: bytes):
    """Temp file, fsync, os.replace (nnscratch.saving.atomic_write_bytes); mode 0644 under the
    usual umask, so package data is world-readable."""
    atomic_write_bytes(path, data)


def make_sample(source_dir="/usr/share/datasets/fashion-mnist", out_dir=SAMPLE_DIR):
    spec = _catalog.FASHION_MNIST
    located = _loaders.idx_located(source_dir, "system")
    for p in located.files.values():
        _sources.verify_file(p, spec)
    ((x_train, y_train), (x_test, y_test)), _ = _loaders.load_idx_dataset(spec, located)
    train_idx = balanced_indices(y_train, TRAIN_PER_CLASS)
    test_idx = balanced_indices(y_test, TEST_PER_CLASS)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": x_train[train_idx],
        "train-labels-idx1-ubyte.gz": y_train[train_idx],
        "t10k-images-idx3-ubyte.gz": x_test[test_idx],
        "t10k-labels-idx1-ubyte.gz": y_test[test_idx],
    }
    for fname, arr in arrays.items():
        atomic_write(out_dir / fname, _formats.write_idx(arr))
    manifest = {
        "source": str(source_dir),
        "rule": f"first {TRAIN_PER_CLASS} train / {TEST_PER_CLASS} test images of each class, file order",
        "train_indices": train_idx.tolist(),
        "test_indices": test_idx.tolist(),
    }
    atomic_write(out_dir / "indices.json", json.dumps(manifest, separators=(",", ":")).encode())
    return out_dir


if __name__ == "__main__":
    print(make_sample(*sys.argv[1:2]))
