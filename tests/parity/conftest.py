"""Parity suite setup: TensorFlow without oneDNN, quiet and single-threaded, skipped when
absent; --full grid; a summary line saying how much of the grid the run skipped.

* ``TF_ENABLE_ONEDNN_OPTS=0`` (oneDNN's kernels have been wrong: the oracle must not be),
  ``TF_CPP_MIN_LOG_LEVEL=2`` and one intra-/inter-op thread are set before TensorFlow is
  imported (``tests/parity/_tf.py``; importing it sets the environment), so the suite
  compares against TensorFlow's reference kernels and shares two CPU cores politely.
* Without TensorFlow every test module here is skipped, with the reason, by its own
  ``pytest.importorskip`` (a skip raised inside a conftest would be a collection error).
* The default run covers a representative subset of each grid. Grid points outside it are
  marked ``slow`` and skipped unless ``--full`` is given (``python -m pytest tests/parity --full``,
  the option lives in tests/conftest.py) or ``NNSCRATCH_PARITY_FULL=1`` is set. The terminal
  summary says how many grid points were skipped and how to run them all.
* Where nnscratch and TensorFlow disagree, ``_compare.assert_close`` asks the loop reference
  kernels (``nnscratch.debug.reference``) which side is wrong.
"""
from __future__ import annotations

import os

import pytest

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # before anything can import TensorFlow (see _tf.py)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
try:  # configure TensorFlow once, before any test imports it
    from tests.parity._tf import load_tf

    load_tf()
except ImportError:
    pass  # every test module then skips itself, with the reason, via pytest.importorskip


# ---- --full (the option itself is registered in tests/conftest.py, so it works from the root) ----
def full_grid_requested(config):
    return bool(config.getoption("--full", default=False)) or os.environ.get("NNSCRATCH_PARITY_FULL") == "1"


SKIP_REASON = "full TF-parity grid point: run with --full or NNSCRATCH_PARITY_FULL=1"
FULL_HINT = "python -m pytest tests/parity --full (or NNSCRATCH_PARITY_FULL=1)"


def pytest_collection_modifyitems(config, items):
    if full_grid_requested(config):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "slow" in item.keywords and "parity" in item.path.parts:
            item.add_marker(skip)


def skipped_grid_points(terminalreporter):
    """How many tests of this run were skipped as full-grid points (deselected ones not counted)."""
    count = 0
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        count += SKIP_REASON in str(reason)
    return count


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line: how many grid points this (default, representative) run skipped, and how to run them."""
    skipped = skipped_grid_points(terminalreporter)
    if skipped:
        terminalreporter.write_sep("-", "TF parity")
        terminalreporter.write_line(
            f"{skipped} TF-parity grid points skipped: the default run is a representative subset; "
            f"run them all with {FULL_HINT}")
