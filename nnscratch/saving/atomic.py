"""Atomic writes: a file is written in full to a temporary file beside it, fsynced, then renamed
over the target, so an interrupted write leaves the old file whole."""
from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, make_dirs=True):
    """Context manager for writing ``path`` atomically with any writer: it yields a temporary
    path in the same directory; when the block ends without error, that file is fsynced and
    ``os.replace``d over ``path``, so an interrupted write leaves the old file whole (on error
    the temporary file is removed). The file gets the usual permissions (0666 minus the umask;
    mkstemp makes 0600)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if make_dirs:
        os.makedirs(directory, exist_ok=True)
    elif not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes, make_dirs=True):
    """Write ``data`` to ``path`` atomically (see ``atomic_path``)."""
    with atomic_path(path, make_dirs=make_dirs) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
