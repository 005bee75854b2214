"""Tests for nnscratch.datasets: original-format readers, validation, sources, checksums.

Fixtures are written at test time in the exact original formats by small writers in this
file (independent of nnscratch's own ``write_idx``), under ``tmp_path``. No test reaches
the network: ``_sources._download`` is replaced, downloads are disabled and the cache is
a temporary directory unless a test says otherwise.
"""
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from nnscratch import cli, datasets
from nnscratch.datasets import _catalog, _formats, _sources, cifar10, cifar100, fashion_mnist, mnist

IDX = _catalog.IDX_FILES
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_full_fashion = pytest.mark.skipif(
    not all((SYSTEM_FASHION / f).is_file() for f in IDX),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)


@pytest.fixture(autouse=True)
def hermetic(monkeypatch, tmp_path):
    """No network, an empty private cache, no $NNSCRATCH_DATA, no system copies."""
    monkeypatch.setenv("NNSCRATCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NNSCRATCH_OFFLINE", "1")
    monkeypatch.delenv("NNSCRATCH_DATA", raising=False)
    monkeypatch.setattr(_sources, "SYSTEM_DIRS", {k: [] for k in _sources.SYSTEM_DIRS})

    def no_network(url, dest):
        pytest.fail(f"test tried to download {url}")

    monkeypatch.setattr(_sources, "_download", no_network)


# ----------------------------------------------------------------------------- writers
def idx_bytes(arr, magic=None, compress=True):
    arr = np.asarray(arr, dtype=np.uint8)
    magic = magic if magic is not None else 0x0800 + arr.ndim
    raw = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    return gzip.compress(raw) if compress else raw


def write_idx_set(directory, seed=0, n_train=7, n_test=5):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        (directory / name).write_bytes(idx_bytes(arr))
    return arrays


class Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as the real CIFAR batches do."""

    def save_py2_str(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_py2_str


def cifar_batch_bytes(data, labels, label_keys=(b"labels",), protocol=4):
    d = {b"batch_label": b"testing batch", b"data": data, b"filenames": [b"x.png"] * len(data)}
    for key in label_keys:
        d[key] = [int(v) for v in labels]
    if protocol == "py2":
        buf = io.BytesIO()
        Py2StylePickler(buf, protocol=2).dump(d)
        return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    return pickle.dumps(d, protocol=protocol)


def write_cifar10(directory, rng, n=3, protocol=4):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for b in _catalog.CIFAR10_BATCHES:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        (directory / b).write_bytes(cifar_batch_bytes(data, labels, protocol=protocol))
        batches[b] = (data, labels)
    return batches


def make_tar(archive, src_dir, arcname):
    Path(archive).parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src_dir, arcname=arcname)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("module", [mnist, fashion_mnist])
def test_idx_loader_returns_exactly_the_written_arrays(tmp_path, module):
    arrays = write_idx_set(tmp_path / "d")
    (x, y), (xt, yt), info = module.load_data(path=tmp_path / "d", return_info=True)
    for got, name in [(x, IDX[0]), (y, IDX[1]), (xt, IDX[2]), (yt, IDX[3])]:
        np.testing.assert_array_equal(got, arrays[name], err_msg=name)
        assert got.dtype == np.uint8 and got.shape == arrays[name].shape, name
    assert (info.source, info.n_train, info.n_test, info.verified) == ("path", 7, 5, False)
    assert module.last_source() == info
    assert str(info) == f"{info.title} full set from {tmp_path / 'd'} (7 train, 5 test images)"


def test_plain_uncompressed_idx_is_read_too():
    arr = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    np.testing.assert_array_equal(_formats.read_idx_images(idx_bytes(arr, compress=False)), arr)


@pytest.mark.parametrize("protocol", ["py2", 2, 3, 4, 5])
def test_cifar10_directory_gives_nhwc_uint8_and_n_by_1_labels(tmp_path, protocol):
    batches = write_cifar10(tmp_path / "cifar-10-batches-py", np.random.default_rng(1), protocol=protocol)
    (x, y), (xt, yt) = cifar10.load_data(path=tmp_path)
    assert x.shape == (15, 32, 32, 3) and xt.shape == (3, 32, 32, 3)
    assert y.shape == (15, 1) and yt.shape == (3, 1)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    data = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)])
    np.testing.assert_array_equal(y[:, 0], labels)
    np.testing.assert_array_equal(yt[:, 0], batches["test_batch"][1])
    # Row layout: 1024 red, 1024 green, 1024 blue values, each plane row-major 32x32.
    for i, r, c, ch in [(0, 0, 0, 0), (3, 5, 31, 1), (14, 31, 7, 2), (8, 16, 0, 2)]:
        assert x[i, r, c, ch] == data[i, ch * 1024 + r * 32 + c], (i, r, c, ch)
    assert xt[2, 1, 2, 1] == batches["test_batch"][0][2, 1024 + 32 + 2]


def test_cifar10_archive_read_without_extracting_matches_directory(tmp_path):
    write_cifar10(tmp_path / "src" / "cifar-10-batches-py", np.random.default_rng(2))
    make_tar(tmp_path / "arc" / "cifar-10-python.tar.gz", tmp_path / "src" / "cifar-10-batches-py",
             "cifar-10-batches-py")
    from_dir = cifar10.load_data(path=tmp_path / "src")
    from_tar = cifar10.load_data(path=tmp_path / "arc")
    for part in range(2):
        for k in range(2):
            np.testing.assert_array_equal(from_dir[part][k], from_tar[part][k])
    assert sorted(os.listdir(tmp_path / "arc")) == ["cifar-10-python.tar.gz"]  # nothing extracted


@pytest.mark.parametrize("mode,key", [("fine", b"fine_labels"), ("coarse", b"coarse_labels")])
def test_cifar100_label_modes(tmp_path, mode, key):
    rng = np.random.default_rng(3)
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    written = {}
    for split, n in [("train", 4), ("test", 2)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine, coarse = rng.integers(0, 100, n), rng.integers(0, 20, n)
        raw = pickle.dumps({b"data": data, b"fine_labels": fine.tolist(), b"coarse_labels": coarse.tolist()})
        (d / split).write_bytes(raw)
        written[split] = {b"fine_labels": fine, b"coarse_labels": coarse}
    (x, y), (xt, yt) = cifar100.load_data(label_mode=mode, path=tmp_path)
    np.testing.assert_array_equal(y[:, 0], written["train"][key])
    np.testing.assert_array_equal(yt[:, 0], written["test"][key])
    assert x.shape == (4, 32, 32, 3) and y.shape == (4, 1) and y.dtype == np.uint8
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium", path=tmp_path)


# ----------------------------------------------------------------------------- bad files
def _corrupt_gzip(raw):
    b = bytearray(raw)
    b[len(b) // 2] ^= 0xFF
    return bytes(b)


BAD_IDX = {
    "truncated image data": lambda a: (IDX[0], gzip.compress(gzip.decompress(a[IDX[0]])[:-100])),
    "wrong magic number": lambda a: (IDX[0], a[IDX[1]]),
    "label count mismatch": lambda a: (IDX[1], idx_bytes(np.zeros(6, np.uint8))),
    "corrupted gzip": lambda a: (IDX[0], _corrupt_gzip(a[IDX[0]])),
    "truncated gzip": lambda a: (IDX[0], a[IDX[0]][:-20]),
    "label out of range": lambda a: (IDX[3], idx_bytes(np.array([0, 1, 10, 2, 3], np.uint8))),
    "longer than declared": lambda a: (IDX[1], gzip.compress(gzip.decompress(a[IDX[1]]) + b"\0")),
    "images not 28x28": lambda a: (IDX[2], idx_bytes(np.zeros((5, 28, 27), np.uint8))),
    "not gzip or idx": lambda a: (IDX[2], b"<html>404 Not Found</html>"),
}


@pytest.mark.parametrize("case", sorted(BAD_IDX))
def test_bad_idx_file_gives_value_error_naming_the_file(tmp_path, case):
    d = tmp_path / "d"
    write_idx_set(d)
    raws = {f: (d / f).read_bytes() for f in IDX}
    fname, raw = BAD_IDX[case](raws)
    (d / fname).write_bytes(raw)
    with pytest.raises(ValueError) as err:
        fashion_mnist.load_data(path=d)
    assert fname in str(err.value), f"{case}: {err.value}"


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    write_cifar10(d, np.random.default_rng(4))
    marker = tmp_path / "pwned"
    (d / "data_batch_3").write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": [0]}))
    with pytest.raises(ValueError, match=r"data_batch_3.*refusing to load global pathlib"):
        cifar10.load_data(path=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 5])
def test_malicious_global_in_python3_repickle_is_refused(tmp_path, protocol):
    """Protocols 2 and 5 need ``_codecs.encode`` / ``numpy._core.numeric._frombuffer``; those are
    allowed as inert stand-ins, every other global still refused and never called."""
    marker = tmp_path / "pwned"
    good = np.zeros((1, 3072), np.uint8)
    for payload in ({b"data": _Evil(marker), b"labels": [0]}, {b"data": good, b"labels": [_Evil(marker)]},
                    {b"data": good, b"labels": [0], b"x": _Evil(marker)}):
        with pytest.raises(ValueError, match=r"evil_batch.*refusing to load global (pathlib|__builtin__)"):
            _formats.read_cifar_batch(pickle.dumps(payload, protocol=protocol), "evil_batch")
    assert not marker.exists()


@pytest.mark.parametrize("forge", ["encode to utf-16", "encode a list", "frombuffer of a list",
                                   "frombuffer object dtype", "frombuffer short buffer"])
def test_allowed_python3_globals_only_do_what_numpy_pickles_need(forge):
    raw2 = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=2)
    raw5 = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=5)
    forged = {
        "encode to utf-16": lambda: raw2.replace(b"X\x06\x00\x00\x00latin1", b"X\x06\x00\x00\x00utf_16"),
        "encode a list": lambda: b"\x80\x02c_codecs\nencode\n]X\x06\x00\x00\x00latin1\x86R.",
        "frombuffer of a list": lambda: (b"\x80\x02cnumpy._core.numeric\n_frombuffer\n(]cnumpy\ndtype\n"
                                         b"X\x02\x00\x00\x00u1\x89\x88\x87RK\x00\x85X\x01\x00\x00\x00CtR."),
        "frombuffer object dtype": lambda: raw5.replace(b"\x8c\x02u1", b"\x8c\x02O8"),
        "frombuffer short buffer": lambda: raw5.replace(b"K\x01M\x00\x0c\x86", b"K\x02M\x00\x0c\x86"),
    }[forge]()
    assert forged != raw2 and forged != raw5
    with pytest.raises(ValueError, match="forged: not a valid CIFAR pickle"):
        _formats.read_cifar_batch(forged, "forged")


def test_reconstruct_of_anything_but_ndarray_is_refused(tmp_path):
    raw = cifar_batch_bytes(np.zeros((1, 3072), np.uint8), [0], protocol="py2")
    assert raw.count(b"cnumpy\nndarray\n") == 1
    forged = raw.replace(b"cnumpy\nndarray\n", b"cnumpy\ndtype\n")
    with pytest.raises(ValueError, match="only build numpy.ndarray"):
        _formats.read_cifar_batch(forged, "forged")


@pytest.mark.parametrize("case", ["label out of range", "wrong data shape", "label count", "not a dict",
                                  "missing key", "object array", "garbage"])
def test_bad_cifar_batch_gives_value_error_naming_the_file(tmp_path, case):
    d = tmp_path / "cifar-10-batches-py"
    write_cifar10(d, np.random.default_rng(5))
    data = np.zeros((3, 3072), np.uint8)
    raw = {
        "label out of range": lambda: cifar_batch_bytes(data, [0, 10, 1]),
        "wrong data shape": lambda: cifar_batch_bytes(np.zeros((3, 3071), np.uint8), [0, 1, 2]),
        "label count": lambda: cifar_batch_bytes(data, [0, 1]),
        "not a dict": lambda: pickle.dumps([data, [0, 1, 2]]),
        "missing key": lambda: pickle.dumps({b"data": data}),
        "object array": lambda: cifar_batch_bytes(np.zeros((3, 3072), object), [0, 1, 2]),
        "garbage": lambda: b"\x80\x04not a pickle at all",
    }[case]()
    (d / "test_batch").write_bytes(raw)
    with pytest.raises(ValueError, match="test_batch"):
        cifar10.load_data(path=tmp_path)


def test_forged_sizes_are_rejected_without_trusting_them():
    header = struct.pack(">IIII", 2051, 50000, 28, 28)  # claims 39 MB, holds 10 bytes
    with pytest.raises(ValueError, match="truncated"):
        _formats.read_idx_images(gzip.compress(header + bytes(10)), "forged.gz")
    with pytest.raises(ValueError, match="more than the"):
        _formats.read_idx(struct.pack(">IIIII", 0x0804, 4096, 4096, 4096, 4096), "huge")
    # a BINBYTES opcode whose 4-byte length claims 4 GB
    forged = b"\x80\x04B" + struct.pack("<I", 0xFFFFFFF0) + b"abc."
    with pytest.raises(ValueError, match="forged.pkl: not a valid CIFAR pickle"):
        _formats.read_cifar_batch(forged, "forged.pkl")
    forged_memo = b"\x80\x02K\x01r" + struct.pack("<I", 1 << 28) + b"."  # LONG_BINPUT 2**28
    with pytest.raises(ValueError, match="memo index"):
        _formats.read_cifar_batch(forged_memo, "memo.pkl")


def test_readers_survive_random_corruption_with_value_error_only():
    rng = np.random.default_rng(6)
    good_idx = idx_bytes(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    good_pkl = cifar_batch_bytes(rng.integers(0, 256, (2, 3072), dtype=np.uint8), [1, 2])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(good_pkl)
        tar.addfile(info, io.BytesIO(good_pkl))
    good_tar = buf.getvalue()
    readers = [
        (good_idx, lambda b: _formats.read_idx_images(b)),
        (good_pkl, lambda b: _formats.read_cifar_batch(b)),
        (good_tar, lambda b: _formats.read_tar_members(b, ["cifar-10-batches-py/test_batch"])),
    ]
    for good, read in readers:
        read(good)  # the unmutated input is accepted
        for _ in range(150):
            b = bytearray(good)
            for pos in rng.integers(0, len(b), rng.integers(1, 4)):
                b[pos] = rng.integers(0, 256)
            cut = int(rng.integers(0, len(b) + 1)) if rng.random() < 0.3 else len(b)
            try:
                read(bytes(b[:cut]))
            except ValueError:
                pass


# ----------------------------------------------------------------------------- checksums
def _pin_checksums(monkeypatch, spec, directory):
    """Make the files in ``directory`` the 'published' ones for this test."""
    for f in Path(directory).iterdir():
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        monkeypatch.setitem(spec.checksums, f.name, (_sources.Checksum("sha256", digest, "test"),))


def test_wrong_checksum_names_file_expected_and_actual(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "d")
    _pin_checksums(monkeypatch, fashion_mnist.SPEC, tmp_path / "d")
    assert fashion_mnist.load_data(path=tmp_path / "d", verify=True, return_info=True)[2].verified
    bad = tmp_path / "d" / IDX[3]
    bad.write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    expected = fashion_mnist.SPEC.checksums[IDX[3]][0].hexdigest
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(ValueError) as err:
        fashion_mnist.load_data(path=tmp_path / "d", verify=True)
    assert str(bad) in str(err.value) and expected in str(err.value) and actual in str(err.value)
    fashion_mnist.load_data(path=tmp_path / "d")  # explicit path: not verified by default


def test_system_copy_is_verified_by_default(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "sys")
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "mnist", [str(tmp_path / "sys")])
    with pytest.raises(ValueError, match="checksum mismatch"):
        mnist.load_data()
    assert mnist.load_data(verify=False, return_info=True)[2].source == "system"


# ----------------------------------------------------------------------------- source order
def test_source_order_path_env_cache_system(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "explicit", n_train=1)
    write_idx_set(tmp_path / "env" / "mnist", n_train=2)
    write_idx_set(tmp_path / "cache" / "mnist", n_train=3)
    write_idx_set(tmp_path / "sys", n_train=4)
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "env"))
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "mnist", [str(tmp_path / "sys")])

    def used(**kw):
        info = mnist.load_data(verify=False, return_info=True, **kw)[2]
        return info.source, info.n_train

    assert used(path=tmp_path / "explicit") == ("path", 1)
    assert used() == ("env", 2)
    monkeypatch.delenv("NNSCRATCH_DATA")
    assert used() == ("cache", 3)
    for f in IDX:
        (tmp_path / "cache" / "mnist" / f).unlink()
    assert used() == ("system", 4)


def test_explicit_path_without_files_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "sys")
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "mnist", [str(tmp_path / "sys")])
    with pytest.raises(FileNotFoundError, match="does not hold"):
        mnist.load_data(path=tmp_path / "empty", verify=False)


def test_nothing_found_and_offline_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "env"))
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "fashion_mnist", [str(tmp_path / "sys")])
    with pytest.raises(datasets.DatasetNotFoundError) as err:
        fashion_mnist.load_data(source="full")
    msg = str(err.value)
    for place in [tmp_path / "env" / "fashion_mnist", tmp_path / "cache" / "fashion_mnist",
                  tmp_path / "sys", "NNSCRATCH_OFFLINE", "apt-get install dataset-fashion-mnist"]:
        assert str(place) in msg, place


# ----------------------------------------------------------------------------- downloads
def _serve(monkeypatch, files, calls):
    def fake_download(url, dest):
        calls.append(url)
        Path(dest).write_bytes(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(_sources, "_download", fake_download)
    monkeypatch.setenv("NNSCRATCH_OFFLINE", "0")


def test_download_verified_then_cached_atomically(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "served")
    _pin_checksums(monkeypatch, mnist.SPEC, tmp_path / "served")
    files = {f: (tmp_path / "served" / f).read_bytes() for f in IDX}
    calls = []
    _serve(monkeypatch, files, calls)
    info = mnist.load_data(return_info=True)[2]
    cache = tmp_path / "cache" / "mnist"
    assert (info.source, info.verified, len(calls)) == ("download", True, 4)
    assert sorted(os.listdir(cache)) == sorted(IDX)  # no temp files left
    assert all((cache / f).read_bytes() == files[f] for f in IDX)
    assert mnist.load_data(return_info=True)[2].source == "cache" and len(calls) == 4


def test_download_with_bad_checksum_leaves_nothing_in_cache(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "served")
    files = {f: (tmp_path / "served" / f).read_bytes() for f in IDX}
    _serve(monkeypatch, files, [])
    with pytest.raises(ValueError, match="checksum mismatch") as err:
        mnist.load_data()
    assert mnist.SPEC.checksums[IDX[0]][0].hexdigest in str(err.value)
    cache = tmp_path / "cache" / "mnist"
    assert not cache.exists() or os.listdir(cache) == []


def test_corrupt_cache_is_deleted_and_downloaded_again_once(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "served")
    _pin_checksums(monkeypatch, mnist.SPEC, tmp_path / "served")
    cache = tmp_path / "cache" / "mnist"
    write_idx_set(cache, seed=9)  # same names, wrong content
    files = {f: (tmp_path / "served" / f).read_bytes() for f in IDX}
    calls = []
    _serve(monkeypatch, files, calls)
    assert mnist.load_data(return_info=True)[2].source == "download" and len(calls) == 4
    assert all((cache / f).read_bytes() == files[f] for f in IDX)


def test_corrupt_cache_offline_is_deleted_and_reported(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "served")
    _pin_checksums(monkeypatch, mnist.SPEC, tmp_path / "served")
    cache = tmp_path / "cache" / "mnist"
    write_idx_set(cache, seed=9)
    with pytest.raises(datasets.DatasetNotFoundError, match="corrupt, deleted"):
        mnist.load_data()
    assert not any((cache / f).exists() for f in IDX)


# ----------------------------------------------------------------------------- real data and sample
@needs_full_fashion
def test_real_fashion_mnist_full_set(monkeypatch):
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "fashion_mnist", [str(SYSTEM_FASHION)])
    (x, y), (xt, yt), info = fashion_mnist.load_data(source="full", return_info=True)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == y.dtype == np.uint8 and y.shape == (60000,) and yt.shape == (10000,)
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 6000))
    assert yt.max() == 9 and yt.min() == 0
    assert (info.source, info.verified) == ("system", True)
    with gzip.open(SYSTEM_FASHION / IDX[2]) as f:  # independent read of the test images
        np.testing.assert_array_equal(xt, np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28))


def test_shipped_sample_loads_balanced():
    (x, y), (xt, yt), info = fashion_mnist.load_data(source="sample", return_info=True)
    assert x.shape == (5000, 28, 28) and xt.shape == (1000, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 500))
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), np.full(10, 100))
    assert info.source == "sample" and "shipped sample" in str(info)
    assert sum(p.stat().st_size for p in fashion_mnist.SAMPLE_DIR.iterdir()) < 2.8e6


@needs_full_fashion
def test_shipped_sample_matches_the_full_set(monkeypatch):
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "fashion_mnist", [str(SYSTEM_FASHION)])
    (x, y), (xt, yt) = fashion_mnist.load_data(source="full")
    (sx, sy), (sxt, syt) = fashion_mnist.load_data(source="sample")
    manifest = json.loads((fashion_mnist.SAMPLE_DIR / "indices.json").read_text())
    for full_y, idx, per_class in [(y, manifest["train_indices"], 500), (yt, manifest["test_indices"], 100)]:
        rule = np.sort(np.concatenate([np.flatnonzero(full_y == c)[:per_class] for c in range(10)]))
        np.testing.assert_array_equal(idx, rule)
    np.testing.assert_array_equal(sx, x[manifest["train_indices"]])
    np.testing.assert_array_equal(sy, y[manifest["train_indices"]])
    np.testing.assert_array_equal(sxt, xt[manifest["test_indices"]])
    np.testing.assert_array_equal(syt, yt[manifest["test_indices"]])


def test_auto_falls_back_to_sample_only_when_nothing_found(tmp_path):
    info = fashion_mnist.load_data(return_info=True)[2]
    assert info.source == "sample" and "not found" in info.note
    with pytest.raises(datasets.DatasetNotFoundError):
        fashion_mnist.load_data(source="full")
    with pytest.raises(ValueError, match="source"):
        fashion_mnist.load_data(source="everything")
    with pytest.raises(ValueError, match="path="):
        fashion_mnist.load_data(path=tmp_path, source="sample")


def test_namespace_and_class_names():
    assert datasets.CLASS_NAMES["fashion_mnist"][9] == "Ankle boot"
    assert datasets.CLASS_NAMES["cifar10"][0] == "airplane" and len(datasets.CLASS_NAMES["cifar10"]) == 10
    names = datasets.CLASS_NAMES["cifar100"]
    assert len(set(names)) == 100 and list(names) == sorted(names)  # the meta file is alphabetical
    assert len(cifar100.COARSE_CLASS_NAMES) == 20


# ----------------------------------------------------------------------------- hostile sizes (issue 16, item 1)
# Small files that declare huge contents. Each must be refused with a ValueError naming the
# file, having read next to nothing: the bound asserted is peak traced memory < 200 MB (a reader
# that holds what the file declares needs 0.5-6 GB) and < 5 s (such a reader needs tens).
MiB = 1 << 20
_ZEROS_MIB_GZ = gzip.compress(bytes(MiB), compresslevel=1)  # one gzip member: 1 MiB of zeros


def gz_zeros(n_mib):
    """A gzip stream of n_mib MiB of zeros, as concatenated members (costs ~1 KB per MiB)."""
    return _ZEROS_MIB_GZ * n_mib


def refused_quickly(fn, must_name, max_peak=200 * MiB):
    """Run fn, which must raise ValueError mentioning ``must_name``; return the message.
    Asserts the traced peak stays under ``max_peak`` (200 MB) and the refusal under 5 s."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ValueError) as err:
            fn()
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < max_peak, f"peak traced memory {peak / MiB:.0f} MiB ({elapsed:.2f} s): {err.value}"
    assert elapsed < 5.0, f"took {elapsed:.2f} s (peak {peak / MiB:.0f} MiB)"
    assert str(must_name) in str(err.value), str(err.value)
    return str(err.value)


def _tar_header(name, size, type_=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.size, info.type = size, type_
    return info.tobuf(format=tarfile.GNU_FORMAT)


def hostile_cifar10_tar(member_mib=1024):
    """cifar-10-python.tar.gz whose six batches are each ``member_mib`` MiB of zeros (~6 MB file
    for 6 GiB of members)."""
    parts = []
    for b in _catalog.CIFAR10_BATCHES:
        parts.append(gzip.compress(_tar_header(f"cifar-10-batches-py/{b}", member_mib * MiB)))
        parts.append(gz_zeros(member_mib))
    parts.append(gzip.compress(bytes(1024)))  # end-of-archive blocks
    return b"".join(parts)


def test_cifar_tar_with_gigabyte_members_is_refused_before_reading(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(hostile_cifar10_tar(1024))
    msg = refused_quickly(lambda: cifar10.load_data(path=tmp_path), archive)
    assert "data_batch_1" in msg and str(1024 * MiB) in msg


def test_cifar_tar_with_right_sized_garbage_members_stops_at_the_first(tmp_path):
    """Six 30 MiB members fit the format's sizes; the first is parsed (and refused) before the
    second is decompressed, so only one member is ever held (holding all six takes 180 MiB)."""
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(hostile_cifar10_tar(30))
    msg = refused_quickly(lambda: cifar10.load_data(path=tmp_path), archive, max_peak=100 * MiB)
    assert "data_batch_1: not a valid CIFAR pickle" in msg


def test_cifar_tar_with_a_huge_unwanted_member_is_refused_not_skipped(tmp_path):
    """Members are summed against the format's real size: a 1 GiB extra is not decompressed past."""
    src = tmp_path / "src" / "cifar-10-batches-py"
    write_cifar10(src, np.random.default_rng(8))
    parts = [gzip.compress(_tar_header("cifar-10-batches-py/readme.html", 1024 * MiB)), gz_zeros(1024)]
    for b in _catalog.CIFAR10_BATCHES:
        raw = (src / b).read_bytes()
        padded = raw + bytes(-len(raw) % 512)
        parts.append(gzip.compress(_tar_header(f"cifar-10-batches-py/{b}", len(raw)) + padded))
    parts.append(gzip.compress(bytes(1024)))
    archive = tmp_path / "arc" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(b"".join(parts))
    msg = refused_quickly(lambda: cifar10.load_data(path=archive.parent), archive)
    assert "readme.html" in msg


def test_cifar_tar_with_a_huge_long_name_header_is_refused(tmp_path):
    """A GNU long-name header is read whole by tarfile: its size is checked first."""
    parts = [gzip.compress(_tar_header("././@LongLink", 300 * MiB, tarfile.GNUTYPE_LONGNAME)), gz_zeros(300),
             gzip.compress(bytes(1024))]
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"".join(parts))
    refused_quickly(lambda: cifar10.load_data(path=tmp_path), archive)


@pytest.mark.parametrize("shape,fname", [
    ((500, 1024, 1024), IDX[0]),        # 500 MiB of images that are not 28x28
    ((600_000, 28, 28), IDX[0]),        # ten times the largest split
    ((400_000_000,), IDX[1]),           # 381 MiB of labels
])
def test_idx_header_declaring_too_much_is_refused_before_reading(tmp_path, shape, fname):
    write_idx_set(tmp_path)
    n_bytes = int(np.prod(shape))
    header = struct.pack(">I", 0x0800 + len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    (tmp_path / fname).write_bytes(gzip.compress(header) + gz_zeros(-(-n_bytes // MiB)))
    refused_quickly(lambda: mnist.load_data(path=tmp_path), tmp_path / fname)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_oversized_file_is_refused_by_its_size_before_reading(tmp_path, dataset):
    """A 300 MB file (sparse: it costs no disk) where the format's largest file is ~48/32 MB."""
    if dataset == "mnist":
        write_idx_set(tmp_path)
        victim = tmp_path / IDX[2]
    else:
        write_cifar10(tmp_path, np.random.default_rng(9))
        victim = tmp_path / "test_batch"
    with open(victim, "r+b") as f:
        f.truncate(300 * MiB)
    refused_quickly(lambda: getattr(datasets, dataset).load_data(path=tmp_path), victim)


def test_real_sized_batches_fit_the_bounds():
    """The bounds are the formats' real sizes, not guesses that refuse real files: a 10000-image
    batch with 60-character file names, as the original (Python 2 strings) and as a Python 3
    protocol-2 re-pickle of all-0xFF pixels (each stored as two UTF-8 bytes), is read."""
    data = np.full((10000, 3072), 0xFF, np.uint8)
    d = {b"batch_label": b"training batch 1 of 5", b"data": data, b"labels": [9] * 10000,
         b"filenames": [b"x" * 56 + b".png"] * 10000}
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=2).dump(d)
    original = buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    repickled = pickle.dumps({k: (list(v) if isinstance(v, list) else v) for k, v in d.items()}, protocol=2)
    assert len(original) <= _formats.cifar_batch_max_bytes(10000, reencoded=False) < len(repickled)
    assert len(repickled) <= _formats.cifar_batch_max_bytes(10000)
    for raw, reencoded in [(original, False), (repickled, True)]:
        x, y = _formats.read_cifar_batch(raw, "batch", max_images=10000, reencoded=reencoded)
        assert x.shape == (10000, 3072) and (x == 0xFF).all() and (y == 9).all()
    with pytest.raises(ValueError, match="more than the 128256 a file of this dataset can hold"):
        _formats.read_cifar_batch(original, "batch", max_images=10)
    small = cifar_batch_bytes(np.zeros((20, 3072), np.uint8), [0] * 20)  # fits 10 images' bytes
    with pytest.raises(ValueError, match="holds 20 images, more than the 10 of this file"):
        _formats.read_cifar_batch(small, "batch", max_images=10)


def test_cli_dataset_not_found_keeps_the_places_and_the_hint(tmp_path, monkeypatch, capsys):
    """The CLI prints one line for most errors; a missing dataset keeps its list of places
    looked in and its "To get it" hint, the lines that say what to do."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--dataset", "mnist", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "MNIST not found. Looked in:" in err
    assert str(tmp_path / "cache" / "mnist") in err and "NNSCRATCH_OFFLINE" in err
    assert "To get it: put {" in err and "pass path=DIR" in err
