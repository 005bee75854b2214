"""Read chosen members of a (gzip-compressed) tar archive in one bounded forward pass.

The CIFAR archives are read in memory without extracting them. A tar header declares its
member's size, so a 27 MB hostile ``.tar.gz`` can declare six 1 GiB members of zeros;
reading first and checking afterwards costs 6 GB. Here every declared size is checked
*before* the bytes it describes are read or skipped:

* each wanted member against its own bound (``wanted`` maps a name to its most bytes);
* every other member (directories, ``readme.html``, ``batches.meta``) against
  ``EXTRA_BYTES`` in total, and at most ``MAX_MEMBERS`` members;
* GNU long-name and pax extension headers (which ``tarfile`` reads whole into memory)
  against ``MAX_EXTENSION_HEADER_BYTES``; sparse members are refused;
* the decompressed stream itself is capped at the sum of those bounds plus tar's own
  headers, so no declared size, honest or not, can make the pass longer.

The gzip stream is read to its end, so its CRC-32 is checked even though ``tarfile``
stops reading at the end-of-archive blocks. So one archive costs at most the sum of its wanted members' bounds in decompressed
bytes and time, and a refusal usually comes at the first header, having read a few KB.
Each member is handed to ``parse`` as soon as it is read, so a bad first batch is
refused before the second is decompressed and only one member's raw bytes are held.
"""
from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib

MAX_MEMBERS = 64
EXTRA_BYTES = 1 << 20                 # all members not asked for, together
MAX_EXTENSION_HEADER_BYTES = 1 << 16  # one GNU long name or pax header
_TAR_OVERHEAD = 512 * (2 * MAX_MEMBERS + 20) + MAX_EXTENSION_HEADER_BYTES
_GZIP_MAGIC = b"\x1f\x8b"


class Refused(ValueError):
    """A size bound was exceeded (a ValueError that ``tarfile`` must not swallow)."""


class _BoundedTarInfo(tarfile.TarInfo):
    """TarInfo that checks an extension header's size before ``tarfile`` reads it whole."""

    def _proc_member(self, tar):
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise Refused(f"member {self.name!r} is a sparse file, which a dataset archive never holds")
        extension = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                     tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
        if self.type in extension and self.size > MAX_EXTENSION_HEADER_BYTES:
            raise Refused(f"extension header {self.name!r} declares {self.size} bytes, more than "
                          f"the {MAX_EXTENSION_HEADER_BYTES} a file name or pax record needs")
        return super()._proc_member(tar)


class _CappedStream:
    """A read-only stream that refuses to yield more than ``cap`` bytes in total."""

    def __init__(self, raw, cap):
        self.raw, self.cap, self.pos = raw, cap, 0

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.cap + 1 - self.pos
        data = self.raw.read(max(0, min(n, self.cap + 1 - self.pos, 1 << 20)))
        self.pos += len(data)
        if self.pos > self.cap:
            raise Refused(f"archive decompresses to more than the {self.cap} bytes its members may hold")
        return data


def _read_member(tar, member, size):
    f = tar.extractfile(member)
    chunks, remaining = [], size
    while remaining:
        chunk = f.read(min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_tar_members(archive, wanted, name, parse=None):
    """{member name: parse(bytes, display name)} for each member named in ``wanted``.

    Args:
        archive: a path, or the archive's bytes (gzip-compressed or plain tar).
        wanted: {member name: the most bytes it may have}.
        name: how to call the archive in error messages.
        parse: called with each wanted member's bytes and ``"ARCHIVE:MEMBER"`` as soon as
            the member is read; its result is kept instead of the bytes (default: keep the bytes).

    Raises:
        ValueError naming the archive (and member) for a declared size over its bound, a
        corrupted or truncated archive, a wanted member missing or not a regular file.
    """
    parse = parse or (lambda data, shown: data)
    cap = sum(wanted.values()) + EXTRA_BYTES + _TAR_OVERHEAD
    found, extra, count = {}, 0, 0
    try:
        if isinstance(archive, (bytes, bytearray, memoryview)):
            raw = io.BytesIO(archive)
        else:
            size = os.path.getsize(archive)
            if size > cap:
                raise Refused(f"file is {size} bytes, more than the {cap} its members may hold")
            raw = open(archive, "rb")
        with raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream = _CappedStream(gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw, cap)
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as tar:
                for member in tar:
                    count += 1
                    if count > MAX_MEMBERS:
                        raise Refused(f"more than {MAX_MEMBERS} members")
                    if member.name not in wanted or member.name in found:
                        extra += member.size
                        if member.size < 0 or extra > EXTRA_BYTES:
                            raise Refused(
                                f"member {member.name!r} declares {member.size} bytes; the archive's "
                                f"members other than {sorted(wanted)} may hold {EXTRA_BYTES} bytes in all")
                        continue
                    bound = wanted[member.name]
                    if not member.isfile():
                        raise Refused(f"member {member.name!r} is not a regular file")
                    if member.size < 0 or member.size > bound:
                        raise Refused(f"member {member.name!r} declares {member.size} bytes, more than "
                                      f"the {bound} this file of the dataset can hold")
                    data = _read_member(tar, member, member.size)
                    if len(data) != member.size:
                        raise Refused(f"member {member.name!r} is truncated: {len(data)} of "
                                      f"{member.size} bytes")
                    found[member.name] = parse(data, f"{name}:{member.name}")
                    del data
            # tarfile stops at the end-of-archive blocks; reading on to the end of the gzip
            # stream (within the cap) makes gzip check its CRC-32 and length trailer.
            while stream.read(1 << 20):
                pass
    except Refused as exc:
        raise ValueError(f"{name}: {exc}") from None
    except ValueError as exc:  # from parse (names the member already), or from tarfile itself
        if name in str(exc):
            raise
        raise ValueError(f"{name}: corrupted tar archive: {exc}") from exc
    except MemoryError as exc:
        raise ValueError(f"{name}: corrupted tar archive: it asks for too much memory") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error, RecursionError, UnicodeError,
            LookupError, OverflowError, TypeError) as exc:
        raise ValueError(f"{name}: corrupted tar archive: {type(exc).__name__}: {exc}") from exc
    missing = [m for m in wanted if m not in found]
    if missing:
        raise ValueError(f"{name}: archive lacks member(s) {missing}")
    return found
