"""Where dataset files come from: search order, checksums, downloads and the cache.

``locate(spec, path=None, verify=None)`` looks, in this order, for a complete set of a
dataset's files (one of its ``layouts``) in:

1. ``path``: an explicit directory given by the caller. It is used alone: when the files
   are not there, that is an error (a typo must not silently load data from elsewhere);
2. ``$NNSCRATCH_DATA/<dataset>/``;
3. the cache ``$NNSCRATCH_CACHE/<dataset>/`` (default ``~/.nnscratch/datasets/<dataset>/``);
4. system copies, e.g. ``/usr/share/datasets/fashion-mnist`` from Debian's
   ``dataset-fashion-mnist`` package (``SYSTEM_DIRS``);
5. a download from the dataset's mirrors into the cache, unless ``NNSCRATCH_OFFLINE=1``.

Checksums (``verify``): files from the cache and system copies are checked against the
published digests unless ``verify=False``; files you point at (``path=`` and
``$NNSCRATCH_DATA``) only when ``verify=True``, so hand-made or re-compressed files can be
loaded; downloads are always checked, before they are moved into the cache. A cached file
that fails its check is deleted (and downloaded afresh once); any other mismatch is a
ValueError naming the file, the expected and the actual digest.

Downloads go through the module-level ``_download(url, dest)``, which tests replace.
A download is written to a temporary file in the cache directory, fsync'ed, verified,
then ``os.replace``'d into place, so the cache never holds a partial or unverified file.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from nnscratch.saving.atomic import fsync_directory

DOWNLOAD_TIMEOUT_S = 60

# System-wide copies per dataset (Debian packages). Tests patch this dict.
SYSTEM_DIRS = {
    "mnist": [],   # Debian ships no MNIST package (apt-cache search mnist lists only fashion)
    "fashion_mnist": ["/usr/share/datasets/fashion-mnist"],
    "cifar10": [],
    "cifar100": [],
}


class DatasetNotFoundError(FileNotFoundError):
    """No copy of a dataset was found and none could be downloaded."""


@dataclass(frozen=True)
class Checksum:
    algorithm: str      # 'sha256' or 'md5'
    hexdigest: str
    origin: str         # who published it


@dataclass(frozen=True)
class DatasetSpec:
    """The files of one dataset and where to get them.

    ``layouts`` lists alternative sets of relative paths, any one of which is a complete
    copy; ``download_layout`` is the set fetched from ``mirrors``. ``checksums`` maps a
    file's base name to its accepted digests (any one matching is enough).
    """
    name: str
    title: str
    layouts: tuple
    download_layout: tuple
    mirrors: tuple
    checksums: dict = field(default_factory=dict)
    install_hint: str = ""


def data_root():
    value = os.environ.get("NNSCRATCH_DATA")
    return Path(value).expanduser() if value else None


def cache_dir(dataset):
    """The cache directory of ``dataset`` ($NNSCRATCH_CACHE or ~/.nnscratch/datasets)."""
    root = os.environ.get("NNSCRATCH_CACHE") or os.path.join("~", ".nnscratch", "datasets")
    return Path(root).expanduser() / dataset


def downloads_enabled():
    return os.environ.get("NNSCRATCH_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


# ----------------------------------------------------------------------------------- checksums
def file_digests(path, algorithms):
    """{algorithm: hexdigest} of the file, reading it once."""
    hashers = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            for h in hashers.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashers.items()}


def verify_file(path, spec, fname=None):
    """Raise ValueError unless the file matches one of the published digests of its name.

    ``fname`` is the canonical name to judge the file by (default: its own base name);
    a download is checked in its temporary file under the name it will get.
    """
    path = Path(path)
    fname = fname or path.name
    expected = spec.checksums.get(fname)
    if not expected:
        raise ValueError(f"{path}: no published checksum for a {spec.title} file named {fname!r}")
    actual = file_digests(path, sorted({c.algorithm for c in expected}))
    if any(actual[c.algorithm] == c.hexdigest for c in expected):
        return
    want = "; or ".join(f"{c.algorithm} {c.hexdigest} ({c.origin})" for c in expected)
    got = ", ".join(f"{a} {d}" for a, d in actual.items())
    shown = path if fname == path.name else f"{path} (as {fname})"
    raise ValueError(f"{shown}: checksum mismatch: expected {want}; actual {got}")


# ----------------------------------------------------------------------------------- search
@dataclass
class Located:
    """A complete copy of a dataset: ``kind`` is 'path', 'env', 'cache', 'system' or
    'download'; ``files`` maps each relative name of the layout to its absolute path."""
    kind: str
    directory: Path
    files: dict
    verified: bool


def _complete_layout(directory, spec):
    for layout in spec.layouts:
        if all((directory / rel).is_file() for rel in layout):
            return {rel: directory / rel for rel in layout}
    return None


def _describe_layouts(spec):
    return " or ".join("{" + ", ".join(layout) + "}" for layout in spec.layouts)


def _candidates(spec):
    root = data_root()
    if root is not None:
        yield "env", root / spec.name, "$NNSCRATCH_DATA"
    yield "cache", cache_dir(spec.name), "cache"
    for d in SYSTEM_DIRS.get(spec.name, []):
        yield "system", Path(d), "system copy"


def locate(spec, path=None, verify=None):
    """Find (or download) a complete copy of ``spec``'s files; see the module docstring."""
    if path is not None:
        directory = Path(path).expanduser()
        files = _complete_layout(directory, spec)
        if files is None:
            raise DatasetNotFoundError(
                f"{spec.title}: path={str(path)!r} does not hold the dataset files; "
                f"expected {_describe_layouts(spec)} in that directory"
            )
        return _checked(Located("path", directory, files, False), spec, verify is True)

    looked = []
    for kind, directory, label in _candidates(spec):
        files = _complete_layout(directory, spec)
        if files is None:
            looked.append(f"{label}: {directory} (not found)")
            continue
        check = verify is True if kind == "env" else verify is not False
        if kind == "cache" and check:
            try:
                return _checked(Located(kind, directory, files, False), spec, True)
            except ValueError as exc:  # corrupt cache entry: delete, download afresh once
                for p in files.values():
                    p.unlink(missing_ok=True)
                looked.append(f"{label}: {directory} (corrupt, deleted: {exc})")
                continue
        return _checked(Located(kind, directory, files, False), spec, check)

    if not downloads_enabled():
        looked.append("download: disabled by NNSCRATCH_OFFLINE")
    else:
        try:
            return _download_layout(spec, looked)
        except OSError as exc:
            looked.append(f"download: failed ({exc})")
    raise DatasetNotFoundError(
        f"{spec.title} not found. Looked in:\n  - " + "\n  - ".join(looked)
        + f"\nTo get it: {spec.install_hint or ''}put {_describe_layouts(spec)} in "
        f"$NNSCRATCH_DATA/{spec.name}/ or {cache_dir(spec.name)}/, or pass path=DIR, "
        "or allow downloads (unset NNSCRATCH_OFFLINE, with network access)."
    )


def _checked(located, spec, check):
    if check:
        for p in located.files.values():
            verify_file(p, spec)
    located.verified = check
    return located


# ----------------------------------------------------------------------------------- download
def _download(url, dest):
    """Fetch ``url`` into the file ``dest`` (tests monkeypatch this function)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def fetch(spec, rel, cache):
    """Download one file into ``cache/rel``: temp file, fsync, verify, os.replace.

    Tries each mirror in turn. Returns the final path. Raises ValueError when a mirror
    served a file with the wrong checksum (and none served a good one), OSError when no
    mirror could be reached. Nothing is left in the cache on failure.
    """
    final = cache / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    errors, bad = [], []
    for mirror in spec.mirrors:
        url = mirror + Path(rel).name
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
        os.close(fd)
        try:
            _download(url, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            verify_file(tmp, spec, fname=final.name)  # BEFORE it enters the cache
            os.replace(tmp, final)
            fsync_directory(final.parent)
            return final
        except ValueError as exc:
            bad.append(f"{url}: {exc}")
        except OSError as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if bad:
        raise ValueError(f"{spec.title}: downloaded {rel} failed verification:\n  " + "\n  ".join(bad))
    raise OSError("; ".join(errors) or "no mirror configured")


def _download_layout(spec, looked):
    cache = cache_dir(spec.name)
    files = {}
    for rel in spec.download_layout:
        final = cache / rel
        if final.is_file():  # an earlier partial run already fetched (and verified) it
            try:
                verify_file(final, spec)
                files[rel] = final
                continue
            except ValueError:
                final.unlink()
        files[rel] = fetch(spec, rel, cache)
    return Located("download", cache, files, True)
