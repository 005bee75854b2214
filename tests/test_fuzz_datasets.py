"""Fuzzing the dataset readers (hypothesis): corrupted and truncated idx and CIFAR files always
give a clear ValueError, never another exception, a hang, or a wrong array."""
import gzip
import io
import pickle
import time

import numpy as np
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


def read_or_error(read, data):
    """Run a reader: it either returns an array or raises ValueError, quickly."""
    t0 = time.monotonic()
    try:
        out = read(data)
    except ValueError as exc:
        assert "fuzz" in str(exc) or str(exc), "the error must say something"
        out = None
    assert time.monotonic() - t0 < 2.0, "a reader must not hang on bad input"
    return out


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_gzip_idx_images_error_or_exact(edits, cut):
    out = read_or_error(lambda b: _formats.read_idx_images(b, "fuzz-images.gz"), mutate(GOOD_IMAGES, edits, cut))
    if out is not None:  # gzip's CRC-32 guards the payload: any accepted file is the original
        np.testing.assert_array_equal(out, IMAGES)


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_gzip_idx_labels_error_or_exact(edits, cut):
    out = read_or_error(lambda b: _formats.read_idx_labels(b, "fuzz-labels.gz"), mutate(GOOD_LABELS, edits, cut))
    if out is not None:
        np.testing.assert_array_equal(out, LABELS)


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_raw_idx_header_never_gives_a_wrong_shape(edits, cut):
    raw = gzip.decompress(GOOD_IMAGES)
    edits = [(pos % 16, v) for pos, v in edits]  # the header: magic and dimensions
    out = read_or_error(lambda b: _formats.read_idx_images(b, "fuzz-raw"), mutate(raw, edits, cut))
    if out is not None:  # a header that still parses must describe exactly the bytes present
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[1:] == (28, 28)
        assert out.size == len(raw[: (cut % (len(raw) + 1)) if cut is not None else len(raw)]) - 16


@given(mutations, st.one_of(st.none(), st.integers(0, 10**9)))
@FUZZ
def test_corrupt_cifar_pickle_errors_cleanly(edits, cut):
    out = read_or_error(lambda b: _formats.read_cifar_batch(b, "fuzz_batch"), mutate(GOOD_CIFAR, edits, cut))
    if out is not None:  # a pickle has no checksum of its own (the loaders verify the file's):
        x, y = out  # what parses must still be well-formed
        assert x.shape == (3, 3072) and x.dtype == np.uint8
        assert len(y) == 3 and (np.asarray(y) < 10).all()


@given(st.binary(max_size=600))
@FUZZ
def test_arbitrary_bytes_never_crash_any_reader(data):
    for read in (lambda b: _formats.read_idx_images(b, "any"), lambda b: _formats.read_idx_labels(b, "any"),
                 lambda b: _formats.read_cifar_batch(b, "any")):
        read_or_error(read, data)
