"""Atomic writes: a file is written in full to a temporary file beside it, fsynced, renamed over
the target, and the directory fsynced, so an interrupted write leaves the old file whole.

Temporaries are named ``.nnscratch-tmp-<pid>-<random>-<target name>``. A process killed
mid-save (SIGKILL, power loss) leaves its temporary behind; the next save of the same target
removes such leftovers, but only nnscratch's own temporaries of that target whose writing
process is gone (a live process's temporary is never touched).
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import time

PREFIX = ".nnscratch-tmp-"
_STARTED = time.time()  # no earlier than this process's start


def temp_name(path):
    return os.path.join(os.path.dirname(os.path.abspath(path)),
                        f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{os.path.basename(path)}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temporaries(path):
    """Delete leftover temporaries of ``path`` whose writer is dead (or is a dead process whose
    pid this process now has: the file is older than this process). Returns the names removed."""
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape(PREFIX) + r"(\d+)-[0-9a-f]{8}-" + re.escape(os.path.basename(path)) + r"\Z")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = pattern.match(name)
        if not m:
            continue
        full = os.path.join(directory, name)
        pid = int(m.group(1))
        try:
            stale = not _alive(pid) or (pid == os.getpid() and os.path.getmtime(full) < _STARTED)
            if stale:
                os.unlink(full)
                removed.append(name)
        except OSError:
            pass  # gone already, or not ours to remove
    return removed


def fsync_directory(directory):
    """Make a rename in ``directory`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, make_dirs=True):
    """Context manager for writing ``path`` atomically with any writer: it yields a temporary
    path in the same directory; when the block ends without error, that file is fsynced,
    ``os.replace``d over ``path`` and the directory fsynced, so an interrupted write leaves the
    old file whole (on error the temporary file is removed). The file gets the usual
    permissions (0666 minus the umask)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if make_dirs:
        os.makedirs(directory, exist_ok=True)
    elif not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    remove_stale_temporaries(path)
    tmp = temp_name(path)
    umask = os.umask(0)
    os.umask(umask)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~umask)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_directory(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes, make_dirs=True):
    """Write ``data`` to ``path`` atomically (see ``atomic_path``)."""
    with atomic_path(path, make_dirs=make_dirs) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
