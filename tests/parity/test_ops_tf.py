"""nn.ops against keras.ops on the TensorFlow backend: values, and gradients against
tf.GradientTape (output_gradients = the same random dy), for every case of tests/ops/cases.py.

The same call text runs on both namespaces (``call(nn.ops, ...)`` and ``call(keras.ops, ...)``),
because nn.ops uses Keras's names and arguments. TF runs in the test; nothing is pasted.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import nnscratch.ops as ops  # noqa: E402
from nnscratch import backend  # noqa: E402
from tests.ops._record import Sym, record_one, traced_gradients  # noqa: E402
from tests.ops.cases import CASES, COMPOSITE_CASES, KINKS, distinct, r  # noqa: E402
from tests.parity import tolerances  # noqa: E402
from tests.parity._compare import assert_close  # noqa: E402
from tests.parity._tf import load_tf  # noqa: E402

pytestmark = pytest.mark.tf


@pytest.fixture(autouse=True)
def _host_numpy_backend():
    """These tests are about host NumPy arrays: run them on the NumPy backend even when the
    suite runs under NNSCRATCH_BACKEND=emulated (tests/conftest.py restores the choice)."""
    backend.set_backend("numpy")


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _ours(call, inputs, dys):
    """Our values and input gradients (None for non-float inputs) through the Op protocol."""
    op, given, attrs = record_one(call, inputs)
    arrays = [a.value if isinstance(a, Sym) else a for a in given]
    out, ctx = op.forward(*arrays, **attrs)
    outs = out if isinstance(out, tuple) else (out,)
    dys = dys(outs)
    grads = op.backward(ctx, tuple(dys) if isinstance(out, tuple) else dys[0])
    by_input = {id(a.value): g for a, g in zip(given, grads) if isinstance(a, Sym)}
    return outs, [by_input.get(id(a)) if _is_float(a) else None for a in inputs]


def _theirs(call, inputs, dys, grads=True):
    tf, keras = load_tf()
    tensors = [tf.constant(a) if isinstance(a, np.ndarray) else a for a in inputs]
    watched = [t for t, a in zip(tensors, inputs) if _is_float(a)]
    with tf.GradientTape() as tape:
        for t in watched:
            tape.watch(t)
        out = call(keras.ops, *tensors)
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    if not grads:
        return [o.numpy() for o in outs], [None] * len(inputs)
    targets = [(o, tf.constant(d)) for o, d in zip(outs, dys) if d is not None]  # float outputs only
    grads = tape.gradient([o for o, _ in targets], watched, output_gradients=[d for _, d in targets])
    grads = iter(tf.convert_to_tensor(g).numpy() if g is not None else None for g in grads)
    return [o.numpy() for o in outs], [next(grads) if _is_float(a) else None for a in inputs]


def _ours_traced(call, inputs, dys):
    """Composite ops: values and gradients through the tiny tracer of tests/ops/_record.py."""
    outs, by_index = traced_gradients(call, inputs, dys)
    return outs, [by_index.get(k) for k in range(len(inputs))]


def _compare(case_id, call, inputs, dtype, ours_fn=_ours):
    grads = case_id not in TF_NO_GRADIENT
    inputs = [a.astype(dtype) if _is_float(a) else a for a in inputs]
    tol = tolerances.LAYER[dtype]
    gen = np.random.default_rng(7)
    drawn = []

    def dys(outs):
        drawn[:] = [gen.standard_normal(o.shape).astype(dtype) if o.dtype.kind == "f" else None for o in outs]
        return drawn

    with backend.floatx_scope(dtype):
        ours, our_grads = ours_fn(call, [a.copy() if isinstance(a, np.ndarray) else a for a in inputs], dys)
    theirs, their_grads = _theirs(call, inputs, drawn, grads)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(f"ops.{case_id}", f"output {k} {dtype}", a, b, tol)
    for k, (a, b) in enumerate(zip(our_grads, their_grads)):
        if _is_float(inputs[k]) and grads:
            assert a is not None, f"ops.{case_id}: no gradient for input {k}"
            assert b is not None, f"ops.{case_id}: TensorFlow gives no gradient for input {k}"
            keep = np.ones(np.shape(a), dtype=bool).reshape(-1)
            keep[KINKS.get(case_id, {}).get(k, [])] = False  # TF and nnscratch differ only in a jump's limit
            assert_close(f"ops.{case_id}", f"d input {k} {dtype}", np.reshape(a, -1)[keep], np.reshape(b, -1)[keep],
                         tol)


# TensorFlow rounds these constants to float32 even for float64 inputs (tf.nn.gelu casts
# 0.044715 from a float32 tensor; tf.nn.leaky_relu does the same with alpha=0.2): checked by
# hand, TF's float64 gelu equals the formula with float32(0.044715) to 2e-16. nn.ops keeps
# float64 constants, as Keras's NumPy backend does, so these two compare in float32 only.
TF_FLOAT32_CONSTANTS = {"gelu", "leaky_relu"}
# keras.ops.slice_update lowers to XlaDynamicUpdateSlice, which has no registered gradient in TF:
# its values are compared here, its backward only by the float64 gradient check (tests/ops).
TF_NO_GRADIENT = {"slice_update"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_value_and_gradient_match_keras_ops(case, dtype):
    if dtype == "float64" and case.id in TF_FLOAT32_CONSTANTS:
        pytest.skip("TensorFlow rounds this op's constant to float32 in float64 (see TF_FLOAT32_CONSTANTS)")
    _compare(case.id, case.call, case.inputs, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", COMPOSITE_CASES, ids=[c.id for c in COMPOSITE_CASES])
def test_composite_op_value_and_gradient_match_keras_ops(case, dtype):
    _compare(case.id, case.call, case.inputs, dtype, ours_fn=_ours_traced)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_output_ops_match_keras_ops(dtype):
    _compare("top_k", lambda o, x: o.top_k(x, 3), [distinct(3, 5)], dtype)
    _compare("split", lambda o, x: o.split(x, [1, 3], axis=1), [r(2, 5)], dtype)
    _compare("unstack", lambda o, x: o.unstack(x, axis=1), [r(2, 3, 2)], dtype)


def _int32(*shape):
    return np.arange(1, 1 + int(np.prod(shape)), dtype="int32").reshape(shape)


DTYPE_CASES = [
    ("add_int_pyfloat", lambda o: o.add(_int32(3), 2.0)),
    ("add_float32_pyfloat", lambda o: o.add(np.ones(3, "float32"), 2.0)),
    ("add_int_pyint", lambda o: o.add(_int32(3), 2)),
    ("multiply_int64_float32", lambda o: o.multiply(np.arange(3), np.ones(3, "float32"))),
    ("divide_ints", lambda o: o.divide(_int32(3), _int32(3))),
    ("sqrt_int", lambda o: o.sqrt(_int32(3))),
    ("mean_int", lambda o: o.mean(_int32(2, 3))),
    ("sum_float32", lambda o: o.sum(np.ones((2, 3), "float32"))),
    ("sum_int32", lambda o: o.sum(_int32(2, 3), axis=0)),
    ("sum_bool", lambda o: o.sum(np.array([True, False, True]))),
    ("prod_int8", lambda o: o.prod(np.array([2, 3], "int8"))),
    ("cumsum_int32", lambda o: o.cumsum(_int32(4))),
    ("max_int32", lambda o: o.max(_int32(2, 2), axis=1)),
    ("square_int32", lambda o: o.square(_int32(3))),
    ("abs_int32", lambda o: o.abs(_int32(3))),
    ("clip_int32", lambda o: o.clip(_int32(4), 2, 3)),
    ("where_int_float", lambda o: o.where(np.array([True, False]), _int32(2), 0.5)),
    ("concatenate_int_float", lambda o: o.concatenate([_int32(2), np.ones(2, "float32")])),
    ("var_int32", lambda o: o.var(_int32(4))),
    ("softmax_int", lambda o: o.softmax(np.array([1.0, 2.0], "float32"))),
    ("power_int_float", lambda o: o.power(_int32(3), 2.0)),
    ("argmax", lambda o: o.argmax(np.ones((2, 3), "float32"), axis=1)),
    ("one_hot", lambda o: o.one_hot(_int32(3), 4)),
    ("arange_ints", lambda o: o.arange(5)),
    ("arange_floats", lambda o: o.arange(0.0, 1.0, 0.25)),
    ("ones", lambda o: o.ones((2,))),
    ("convert_list_of_ints", lambda o: o.convert_to_tensor([1, 2])),
    ("convert_list_of_floats", lambda o: o.convert_to_tensor([1.0, 2.0])),
    ("relu_int", lambda o: o.relu(_int32(3))),
    ("equal", lambda o: o.equal(_int32(3), 2)),
    ("count_nonzero", lambda o: o.count_nonzero(np.array([[0.0, 1.5], [2.0, 0.0]]), axis=0)),
    ("in_top_k", lambda o: o.in_top_k(np.array([0, 2, 1]), np.array([[0.1, 0.5, 0.4], [0.3, 0.2, 0.5],
                                                                    [0.6, 0.1, 0.3]], "float32"), 2)),
    ("multi_hot", lambda o: o.multi_hot(np.array([[0, 2], [1, 1]]), 3)),
    ("isclose", lambda o: o.isclose(np.array([1.0, 1.1]), np.array([1.0 + 1e-9, 1.0]))),
    ("zeros_like_int", lambda o: o.zeros_like(_int32(2))),
]


@pytest.mark.parametrize("case", DTYPE_CASES, ids=[c[0] for c in DTYPE_CASES])
def test_result_dtype_matches_keras_ops(case):
    """Keras's dtype promotion (weak Python numbers, a float array beats any int array, ints
    to floatx in divide/sqrt/mean, int32 indices), compared with keras.ops on TensorFlow."""
    name, call = case
    tf, keras = load_tf()
    ours, theirs = call(ops), call(keras.ops)
    assert np.dtype(ours.dtype).name == keras.backend.standardize_dtype(theirs.dtype), (
        f"ops.{name}: nnscratch gives {ours.dtype}, keras.ops gives {theirs.dtype}")
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), np.asarray(theirs).astype(np.float64),
                               rtol=1e-6, err_msg=name)
