"""Counting device -> host synchronisations (shared by the backend and the emulated device).

On a GPU every copy of device memory to the host waits for the device to finish its queued
work, so a training step should make none. ``record_sync`` counts one; ``sync_count()`` and
``reset_sync_count()`` read and clear the counter; ``with expect_no_sync(): ...`` turns the
first synchronisation inside the block into a HostSyncError at the offending line.
"""
from __future__ import annotations

import contextlib

_sync = {"count": 0, "forbidden": 0}


class HostSyncError(RuntimeError):
    """A device -> host synchronisation happened inside ``expect_no_sync()``."""


def record_sync(what: str) -> None:
    """Count one device -> host synchronisation (called by to_host and the emulated arrays).
    Inside ``expect_no_sync()`` it raises HostSyncError at the offending line."""
    _sync["count"] += 1
    if _sync["forbidden"]:
        raise HostSyncError(
            f"host synchronisation inside backend.expect_no_sync(): {what}. On a GPU this stalls "
            "the step until the device catches up; keep the value on the device (0-d array) "
            "until a logging boundary."
        )


def sync_count() -> int:
    """Number of host synchronisations counted since the last ``reset_sync_count()``."""
    return _sync["count"]


def reset_sync_count() -> None:
    _sync["count"] = 0


@contextlib.contextmanager
def expect_no_sync():
    """``with backend.expect_no_sync(): model.train_step(xb, yb)`` raises HostSyncError on
    the first synchronisation inside the block (exact under the emulated backend)."""
    _sync["forbidden"] += 1
    try:
        yield
    finally:
        _sync["forbidden"] -= 1
