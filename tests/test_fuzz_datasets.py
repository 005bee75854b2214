"""Fuzzing the dataset readers (hypothesis): corrupted and truncated idx and CIFAR files always
give a clear ValueError naming the file, never another exception, a hang, or a wrong array.

Every format a dataset is read from is covered: IDX (gzip and plain), CIFAR python pickles
(as written by Python 2 and by Python 3 with protocols 2-5, with values of the wrong type), and
the CIFAR .tar.gz archives (compressed, where gzip's CRC guards the bytes, and plain, where the
tar headers themselves are mutated); the seeded test at the end goes through ``load_data`` on
files, the way a user meets them."""
import gzip
import io
import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnscratch.datasets import _formats

RNG = np.random.default_rng(7)
IMAGES = RNG.integers(0, 256, (4, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 4).astype(np.uint8)
GOOD_IMAGES = _formats.write_idx(IMAGES)          # gzip idx3
GOOD_LABELS = _formats.write_idx(LABELS)          # gzip idx1
CIFAR_DATA = RNG.integers(0, 256, (3, 3072), dtype=np.uint8)
GOOD_CIFAR = pickle.dumps({b"data": CIFAR_DATA, b"labels": [1, 2, 3]}, protocol=4)

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
mutations = st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1, max_size=6)


def test_the_unmutated_files_are_accepted():
    np.testing.assert_array_equal(_formats.read_idx_images(GOOD_IMAGES, "good.gz"), IMAGES)
    np.testing.assert_array_equal(_formats.read_idx_labels(GOOD_LABELS, "good.gz"), LABELS)
    np.testing.assert_array_equal(_formats.read_idx_images(gzip.decompress(GOOD_IMAGES), "good"), IMAGES)
    x, y = _formats.read_cifar_batch(GOOD_CIFAR, "good_batch")
    np.testing.assert_array_equal(x, CIFAR_DATA)
    np.testing.assert_array_equal(np.asarray(y).reshape(-1), [1, 2, 3])


def mutate(good, edits, cut):
    b = bytearray(good)
    for pos, value in edits:
        b[pos % len(b)] = value
    return bytes(b[: cut % (len(b) + 1)]) if cut is not None else bytes(b)


def read_or_error(read, data, name=None):
    """Run a reader: it either returns an array or raises ValueError naming the file, quickly.
    Any other exception (KeyError, AttributeError, TypeError, ...) fails the test."""
    t0 = time.monotonic()
    try:
        out = read(data)
    except ValueError as exc:
        assert str(exc), "the error must say something"
        if name is not None:
            assert name in str(exc), f"the error must name the file {name!r}: {exc}"
        out = None
    assert time.monotonic() - t0 < 2.0, "a reader must not hang on bad input"
    return out


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_gzip_idx_images_error_or_exact(edits, cut):
    out = read_or_error(lambda b: _formats.read_idx_images(b, "fuzz-images.gz"), mutate(GOOD_IMAGES, edits, cut),
                        "fuzz-images.gz")
    if out is not None:  # gzip's CRC-32 guards the payload: any accepted file is the original
        np.testing.assert_array_equal(out, IMAGES)


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_gzip_idx_labels_error_or_exact(edits, cut):
    out = read_or_error(lambda b: _formats.read_idx_labels(b, "fuzz-labels.gz"), mutate(GOOD_LABELS, edits, cut),
                        "fuzz-labels.gz")
    if out is not None:
        np.testing.assert_array_equal(out, LABELS)


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_raw_idx_header_never_gives_a_wrong_shape(edits, cut):
    raw = gzip.decompress(GOOD_IMAGES)
    edits = [(pos % 16, v) for pos, v in edits]  # the header: magic and dimensions
    out = read_or_error(lambda b: _formats.read_idx_images(b, "fuzz-raw"), mutate(raw, edits, cut), "fuzz-raw")
    if out is not None:  # a header that still parses must describe exactly the bytes present
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[1:] == (28, 28)
        assert out.size == len(raw[: (cut % (len(raw) + 1)) if cut is not None else len(raw)]) - 16


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_cifar_pickle_errors_cleanly(edits, cut):
    out = read_or_error(lambda b: _formats.read_cifar_batch(b, "fuzz_batch"), mutate(GOOD_CIFAR, edits, cut),
                        "fuzz_batch")
    if out is not None:  # a pickle has no checksum of its own (the loaders verify the file's):
        x, y = out  # what parses must still be well-formed
        assert x.shape == (3, 3072) and x.dtype == np.uint8
        assert len(y) == 3 and (np.asarray(y) < 10).all()


@given(st.binary(max_size=600))
@FUZZ
def test_arbitrary_bytes_never_crash_any_reader(data):
    for read in (lambda b: _formats.read_idx_images(b, "any"), lambda b: _formats.read_idx_labels(b, "any"),
                 lambda b: _formats.read_cifar_batch(b, "any"), lambda b: _formats.read_tar_members(b, [TAR_MEMBER], "any")):
        read_or_error(read, data, "any")


# ----------------------------------------------------------------------------- more formats
TAR_MEMBER = "cifar-10-batches-py/test_batch"


def tar_bytes(members, compress):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as tar:
        for member_name, raw in members.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


GOOD_TARS = {c: tar_bytes({"cifar-10-batches-py/readme.html": b"<html/>", TAR_MEMBER: GOOD_CIFAR}, c)
             for c in (True, False)}
PROTOCOLS = {p: pickle.dumps({b"data": CIFAR_DATA, b"labels": [1, 2, 3]}, protocol=p) for p in (2, 3, 5)}


def read_tar_batch(b, name):
    return _formats.read_tar_members(
        b, [TAR_MEMBER], name, parse=lambda data, shown: _formats.read_cifar_batch(data, shown))[TAR_MEMBER]


@pytest.mark.parametrize("compress", [True, False], ids=["tar.gz", "tar"])
@given(edits=mutations, cut=st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_cifar_archive_errors_cleanly(compress, edits, cut):
    good = GOOD_TARS[compress]
    out = read_or_error(lambda b: read_tar_batch(b, "fuzz.tar.gz"), mutate(good, edits, cut), "fuzz.tar.gz")
    if out is not None:
        x, y = out
        assert x.shape[1:] == (3072,) and x.dtype == np.uint8 and len(y) == len(x)
        if compress:  # gzip's CRC guards the member: what is accepted is the original
            np.testing.assert_array_equal(x, CIFAR_DATA)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@given(edits=mutations, cut=st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_python3_repickles_error_cleanly(protocol, edits, cut):
    out = read_or_error(lambda b: _formats.read_cifar_batch(b, "fuzz_p3"), mutate(PROTOCOLS[protocol], edits, cut),
                        "fuzz_p3")
    if out is not None:
        x, y = out
        assert x.shape == (3, 3072) and x.dtype == np.uint8 and len(y) == 3


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=5),
                  st.binary(max_size=5), st.just(CIFAR_DATA), st.just(CIFAR_DATA.astype(np.float32)),
                  st.just(CIFAR_DATA[:, :5]), st.just(np.zeros((3, 3072, 1), np.uint8)), st.just(np.int64(3)))
_values = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                      st.dictionaries(st.binary(max_size=3), inner, max_size=3)),
                       max_leaves=8)


@given(data=_values, labels=_values, extra=st.booleans(), protocol=st.sampled_from([2, 3, 4, 5]),
       str_keys=st.booleans())
@FUZZ
def test_type_swapped_cifar_values_error_cleanly(data, labels, extra, protocol, str_keys):
    """The right keys holding values of the wrong type (a list where an array belongs, a dict
    for the labels, floats, nested lists, huge ints) give a ValueError naming the file."""
    d = {b"data": data, b"labels": labels}
    if extra:
        d[b"fine_labels"] = labels
    if str_keys:
        d = {k.decode(): v for k, v in d.items()}
    try:
        raw = pickle.dumps(d, protocol=protocol)
    except Exception:  # e.g. a float NaN is fine, but some objects cannot be pickled: nothing to test
        return
    out = read_or_error(lambda b: _formats.read_cifar_batch(b, "swapped_batch"), raw, "swapped_batch")
    if out is not None:
        x, y = out
        assert x.shape[1:] == (3072,) and x.dtype == np.uint8 and len(y) == len(x) and y.dtype == np.uint8


def _write_dataset(root, fmt):
    """A complete small copy of a dataset in format ``fmt`` under ``root``; returns
    (load function, the files to mutate)."""
    from tests.test_datasets import cifar_batch_bytes, make_tar, write_cifar10, write_idx_set

    from nnscratch.datasets import cifar10, cifar100, mnist

    if fmt == "idx":
        write_idx_set(root)
        return mnist.load_data, sorted(root.iterdir())
    if fmt in ("cifar10-dir", "cifar10-tar"):
        src = root / "src" / "cifar-10-batches-py"
        write_cifar10(src, np.random.default_rng(11), protocol="py2")
        if fmt == "cifar10-dir":
            return (lambda path: cifar10.load_data(path=path)), sorted(src.iterdir())
        make_tar(root / "cifar-10-python.tar.gz", src, "cifar-10-batches-py")
        return cifar10.load_data, [root / "cifar-10-python.tar.gz"]
    d = root / "src" / "cifar-100-python"
    d.mkdir(parents=True)
    for split, n in [("train", 4), ("test", 2)]:
        raw = cifar_batch_bytes(np.random.default_rng(12).integers(0, 256, (n, 3072), dtype=np.uint8), [1] * n,
                                label_keys=(b"fine_labels", b"coarse_labels"))
        (d / split).write_bytes(raw)
    make_tar(root / "cifar-100-python.tar.gz", d, "cifar-100-python")
    return cifar100.load_data, [root / "cifar-100-python.tar.gz"]


@pytest.mark.parametrize("fmt", ["idx", "cifar10-dir", "cifar10-tar", "cifar100-tar"])
def test_load_data_on_mutated_files_gives_value_error_naming_the_file(tmp_path, monkeypatch, fmt):
    """Seeded truncations and byte flips of every file, through ``load_data(path=...)``: only
    ValueError (or OSError) with the mutated file's path in the message."""
    monkeypatch.setenv("NNSCRATCH_OFFLINE", "1")
    monkeypatch.setenv("NNSCRATCH_CACHE", str(tmp_path / "cache"))
    load, files = _write_dataset(tmp_path / "data", fmt)
    directory = files[0].parent
    load(path=directory)  # the unmutated copy loads
    rng = np.random.default_rng(13)
    for trial in range(40):
        victim = files[trial % len(files)]
        good = victim.read_bytes()
        b = bytearray(good)
        for pos in rng.integers(0, len(b), rng.integers(1, 5)):
            b[pos] = rng.integers(0, 256)
        if rng.random() < 0.4:
            b = b[: int(rng.integers(0, len(b)))]
        victim.write_bytes(bytes(b))
        try:
            load(path=directory)
        except (ValueError, OSError) as exc:
            assert str(victim) in str(exc), f"trial {trial}: the error must name {victim}: {exc}"
        finally:
            victim.write_bytes(good)
