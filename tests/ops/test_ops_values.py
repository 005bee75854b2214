"""nn.ops values against NumPy formulas on every backend, and Keras's dtype rules."""
from __future__ import annotations

import numpy as np
import pytest

import nnscratch.ops as ops
from tests.ops.cases import CASES, COMPOSITE_CASES, distinct, r

VALUE_CASES = [c for c in CASES + COMPOSITE_CASES if c.reference is not None]


def _to_device(backend, a):
    return backend.to_device(a) if isinstance(a, np.ndarray) else a


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c.id for c in VALUE_CASES])
def test_op_value_matches_numpy_formula(backend, case):
    inputs = [_to_device(backend, a) for a in case.inputs]
    out = case.call(ops, *inputs)
    expected = case.reference(np, *case.inputs)
    assert backend.is_array(out), f"{case.id}: returned {type(out).__name__}, not an array"
    if backend.current() != "numpy":
        assert backend.is_device_array(out), f"{case.id}: result left the device"
    np.testing.assert_allclose(backend.to_host(out), expected, rtol=1e-12, atol=1e-12, err_msg=case.id)
    assert backend.to_host(out).dtype == np.float64, f"{case.id}: float64 inputs gave {out.dtype}"


def test_moments_and_selu_values(backend):
    x = r(2, 3, 4)
    mean, var = ops.moments(backend.to_device(x), axes=[0, 1])
    np.testing.assert_allclose(mean, x.mean((0, 1)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var((0, 1)), rtol=1e-10, atol=1e-12)
    y = ops.selu(backend.to_device(x))
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    np.testing.assert_allclose(y, scale * np.where(x > 0, x, alpha * np.expm1(x)), rtol=1e-12)


def test_sparse_crossentropy_equals_categorical_on_one_hot(backend):
    p = np.abs(r(4, 3)) + 0.1
    p /= p.sum(-1, keepdims=True)
    y = np.array([0, 2, 1, 2])
    sparse = ops.sparse_categorical_crossentropy(backend.to_device(y), backend.to_device(p))
    np.testing.assert_allclose(sparse, -np.log(p[np.arange(4), y]), rtol=1e-12)
    column = ops.sparse_categorical_crossentropy(backend.to_device(y[:, None]), backend.to_device(p))
    np.testing.assert_allclose(column, sparse, rtol=1e-12)


def test_get_item_split_unstack_top_k_values(backend):
    x = distinct(3, 5)
    d = backend.to_device(x)
    np.testing.assert_allclose(ops.get_item(d, (slice(1, None), [0, 4])), x[1:, [0, 4]])
    a, b, c = ops.split(d, [1, 3], axis=1)
    np.testing.assert_allclose(b, x[:, 1:3])
    assert [p.shape for p in (a, b, c)] == [(3, 1), (3, 2), (3, 2)]
    rows = ops.unstack(d)
    assert len(rows) == 3
    np.testing.assert_allclose(rows[2], x[2])
    values, indices = ops.top_k(d, 2)
    expected_idx = np.argsort(-x, axis=-1)[:, :2]
    np.testing.assert_array_equal(indices, expected_idx)
    assert backend.to_host(indices).dtype == np.int32
    np.testing.assert_allclose(values, np.take_along_axis(x, expected_idx, -1))


def test_non_differentiable_values(backend):
    x = np.array([[0.5, -1.5, 2.5], [3.0, -0.2, 0.0]])
    d = backend.to_device(x)
    np.testing.assert_array_equal(ops.argmax(d, axis=1), [2, 0])
    np.testing.assert_array_equal(ops.argmin(d), 1)
    assert backend.to_host(ops.argmax(d, axis=1)).dtype == np.int32  # Keras: int32 indices
    np.testing.assert_array_equal(ops.equal(d, 0.0), x == 0)
    np.testing.assert_array_equal(ops.greater_equal(d, 0.5), x >= 0.5)
    np.testing.assert_array_equal(ops.logical_and(ops.greater(d, 0), ops.less(d, 3)), (x > 0) & (x < 3))
    np.testing.assert_array_equal(ops.logical_not(ops.not_equal(d, 0.0)), x == 0)
    np.testing.assert_array_equal(ops.round(d), np.round(x))
    np.testing.assert_array_equal(ops.floor(d), np.floor(x))
    np.testing.assert_array_equal(ops.ceil(d), np.ceil(x))
    np.testing.assert_array_equal(ops.sign(d), np.sign(x))
    np.testing.assert_array_equal(ops.stop_gradient(d), x)
    labels = backend.to_device(np.array([2, 0, -1]))
    np.testing.assert_array_equal(ops.one_hot(labels, 3), [[0, 0, 1], [1, 0, 0], [0, 0, 0]])
    assert backend.to_host(ops.one_hot(labels, 3)).dtype == np.float32
    np.testing.assert_array_equal(ops.one_hot(labels, 3, axis=0), np.array([[0, 0, 1], [1, 0, 0], [0, 0, 0]]).T)
    np.testing.assert_array_equal(ops.where(d > 0), np.nonzero(x > 0))


def test_creation_ops_use_current_backend_and_floatx(backend):
    for made in (ops.ones((2, 3)), ops.zeros(4), ops.full((2,), 7.0), ops.eye(3), ops.arange(0.0, 1.0, 0.25)):
        assert backend.get_array_module(made) is backend.xp()
        assert backend.to_host(made).dtype == np.float32
    np.testing.assert_array_equal(ops.eye(2, 3, k=1), np.eye(2, 3, k=1))
    assert backend.to_host(ops.arange(5)).dtype == np.int32  # Keras: int arguments give int32
    np.testing.assert_array_equal(ops.arange(1, 7, 2), [1, 3, 5])
    z = ops.zeros_like(backend.to_device(np.ones((2, 2), dtype="int64")))
    assert backend.to_host(z).dtype == np.int64 and backend.to_host(z).sum() == 0
    np.testing.assert_array_equal(ops.ones_like(ops.ones(3), dtype="int32"), [1, 1, 1])
    np.testing.assert_array_equal(ops.full_like(ops.ones(2), 3), [3, 3])
    backend.set_floatx("float64")
    assert backend.to_host(ops.ones(2)).dtype == np.float64


def test_convert_cast_and_facts(backend):
    t = ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
    assert backend.get_array_module(t) is backend.xp() and backend.to_host(t).dtype == np.float32
    assert backend.to_host(ops.convert_to_tensor([1, 2])).dtype == np.int32
    assert backend.to_host(ops.convert_to_tensor(np.ones(2), dtype="float32")).dtype == np.float32
    host = ops.convert_to_numpy(t)
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, [[1, 2], [3, 4]])
    assert ops.shape(t) == (2, 2) and ops.ndim(t) == 2 and ops.size(t) == 4 and ops.dtype(t) == "float32"
    assert ops.is_tensor(t) and not ops.is_tensor([1, 2])
    c = ops.cast(t, "int32")
    assert backend.to_host(c).dtype == np.int32


def test_keras_dtype_promotion():
    i32 = np.arange(1, 4, dtype="int32")
    f32 = np.ones(3, dtype="float32")
    f64 = np.ones(3, dtype="float64")
    assert ops.add(f32, 2.0).dtype == np.float32  # Python numbers are weak
    assert ops.add(i32, 2).dtype == np.int32
    assert ops.add(i32, 2.0).dtype == np.float32  # NumPy says float64; Keras says floatx
    assert ops.multiply(np.arange(3, dtype="int64"), f32).dtype == np.float32  # a float array wins
    assert ops.add(f32, f64).dtype == np.float64
    assert ops.divide(i32, i32).dtype == np.float32  # divide always gives floats
    assert ops.sqrt(i32).dtype == np.float32
    assert ops.mean(i32).dtype == np.float32
    assert ops.add(True, 1).dtype == np.int32
    assert ops.add(1, 2).dtype == np.int32 and ops.add(1, 2.0).dtype == np.float32
    assert ops.relu(i32).dtype == np.int32


def test_host_inputs_move_to_the_device(backend):
    """A host array or list given to an op under a device backend is moved there, as
    Keras's convert_to_tensor does; the result is a device array."""
    out = ops.add(np.ones(3), [1.0, 2.0, 3.0])
    assert backend.get_array_module(out) is backend.xp()
    np.testing.assert_allclose(out, [2, 3, 4])


def test_dot_and_bad_inputs():
    np.testing.assert_allclose(ops.dot(2.0, np.ones(3)), 2 * np.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        ops.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="without its last axis"):
        ops.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.ones((2, 4)))
    with pytest.raises(ValueError, match="at least 1-D"):
        ops.matmul(np.ones(()), np.ones(3))
    with pytest.raises(TypeError, match="cannot convert"):
        ops.add(np.ones(2), object())
    with pytest.raises(NotImplementedError, match="erf"):
        ops.gelu(np.ones(2), approximate=False)


def test_nan_to_num_and_scatter_values(backend):
    x = np.array([1.0, np.nan, np.inf, -np.inf])
    y = backend.to_host(ops.nan_to_num(backend.to_device(x), nan=-1.0))
    np.testing.assert_array_equal(y, [1.0, -1.0, np.finfo(np.float64).max, -np.finfo(np.float64).max])
    s = ops.scatter(backend.to_device(np.array([[0, 1], [0, 1], [1, 0]])), backend.to_device(np.array([1.0, 2.0, 5.0])),
                    (2, 2))
    np.testing.assert_array_equal(s, [[0.0, 3.0], [5.0, 0.0]])  # duplicates add up
    u = ops.slice_update(backend.to_device(np.zeros((3, 3))), (1, 1), backend.to_device(np.ones((2, 2))))
    np.testing.assert_array_equal(u, [[0, 0, 0], [0, 1, 1], [0, 1, 1]])
