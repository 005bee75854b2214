"""Ctrl-C during fit: the step in flight completes, then training stops.

``with sigint_guard(model): ...`` installs a SIGINT handler that only sets
``model._interrupt_requested``; the epoch loop checks it after each step, so weights, optimizer
state and History stay consistent. A second Ctrl-C raises KeyboardInterrupt at once. Outside the
main thread (where signals cannot be handled) the guard does nothing.
"""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def sigint_guard(model):
    model._interrupt_requested = False
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if model._interrupt_requested:
            raise KeyboardInterrupt
        model._interrupt_requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
