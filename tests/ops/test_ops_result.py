"""What nn.ops returns answers .numpy(), as TensorFlow tensors do (issue 13), and stays an array."""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import nnscratch.ops as ops
from nnscratch import backend
from nnscratch.ops.result import HostResult, as_result


@pytest.fixture(autouse=True)
def _host_numpy_backend():
    """These tests are about host NumPy arrays: run them on the NumPy backend even when the
    suite runs under NNSCRATCH_BACKEND=emulated (tests/conftest.py restores the choice)."""
    backend.set_backend("numpy")


def test_numpy_backend_result_is_an_ndarray_with_numpy_method():
    x = np.arange(6.0).reshape(2, 3)
    y = ops.multiply(x, 2.0)
    assert isinstance(y, np.ndarray) and type(y) is HostResult
    host = y.numpy()
    assert type(host) is np.ndarray
    assert np.shares_memory(host, y), ".numpy() on the NumPy backend is a view, not a copy"
    np.testing.assert_array_equal(host, x * 2)


def test_result_prints_like_a_numpy_array():
    y = ops.add(np.array([1.0, 2.0]), 1.0)
    assert repr(y) == repr(np.array([2.0, 3.0])) and str(y) == str(np.array([2.0, 3.0]))


def test_numpy_math_on_a_result_keeps_numpy_method():
    y = ops.softmax(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose((y * 2).numpy().sum(), 2.0)
    np.testing.assert_allclose(np.log(y).numpy(), np.log(y.numpy()))
    assert type(y[0]) is HostResult


def test_full_reductions_give_0d_results():
    s = ops.sum(np.ones((2, 3)))
    assert s.shape == () and float(s) == 6.0
    assert float(s.numpy()) == 6.0


def test_result_pickles_saves_and_compares():
    y = ops.add(np.arange(4.0), 1.0)
    back = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(back, y)
    assert isinstance(back, np.ndarray)
    buf = io.BytesIO()
    np.save(buf, y)
    buf.seek(0)
    loaded = np.load(buf)
    assert type(loaded) is np.ndarray
    np.testing.assert_array_equal(loaded, [1, 2, 3, 4])
    np.testing.assert_allclose(y, np.arange(4.0) + 1)


def test_as_result_passes_other_values_through():
    assert as_result(3) == 3 and as_result(None) is None
    r = as_result(np.ones(2))
    assert as_result(r) is r
    assert type(as_result(np.float32(1.5))) is HostResult


def test_device_result_numpy_copies_to_host():
    backend.set_backend("emulated")  # restored after the test by tests/conftest.py
    d = backend.to_device(np.arange(3.0))
    y = ops.square(d)
    assert backend.is_device_array(y), "the result stays a device array"
    before = backend.sync_count()
    host = y.numpy()
    assert backend.sync_count() == before + 1, ".numpy() on a device result is one host synchronisation"
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, [0.0, 1.0, 4.0])
    with pytest.raises(TypeError):
        np.asarray(y)  # still refuses implicit conversion, as CuPy does
    z = ops.add(y, y)  # results feed back into ops
    np.testing.assert_array_equal(z.numpy(), [0.0, 2.0, 8.0])
