"""Parity suite setup: TensorFlow quiet and single-threaded, skipped when absent; --full grid.

* ``TF_CPP_MIN_LOG_LEVEL=2`` and one intra-/inter-op thread are set before TensorFlow is
  imported (``tests/parity/_tf.py``), so the suite shares two CPU cores politely.
* Without TensorFlow every test module here is skipped, with the reason, by its own
  ``pytest.importorskip`` (a skip raised inside a conftest would be a collection error).
* The default run covers a representative subset of each grid. Grid points outside it are
  marked ``slow`` and skipped unless ``--full`` is given (``python -m pytest tests/parity --full``,
  the option lives in tests/conftest.py) or ``NNSCRATCH_PARITY_FULL=1`` is set.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
try:  # configure TensorFlow once, before any test imports it
    from tests.parity._tf import load_tf

    load_tf()
except ImportError:
    pass  # every test module then skips itself, with the reason, via pytest.importorskip


# ---- --full (the option itself is registered in tests/conftest.py, so it works from the root) ----
def full_grid_requested(config):
    return bool(config.getoption("--full", default=False)) or os.environ.get("NNSCRATCH_PARITY_FULL") == "1"


def pytest_collection_modifyitems(config, items):
    if full_grid_requested(config):
        return
    skip = pytest.mark.skip(reason="full TF-parity grid point: run with --full or NNSCRATCH_PARITY_FULL=1")
    for item in items:
        if "slow" in item.keywords and "parity" in item.path.parts:
            item.add_marker(skip)
