"""The op protocol a tracer builds on: the symbolic handler, output_spec and OPERATORS."""
from __future__ import annotations

import numpy as np
import pytest

import nnscratch.ops as ops
from nnscratch import backend
from nnscratch.ops import core


@pytest.fixture(autouse=True)
def _host_numpy_backend():
    """These tests are about host NumPy arrays: run them on the NumPy backend even when the
    suite runs under NNSCRATCH_BACKEND=emulated (tests/conftest.py restores the choice)."""
    backend.set_backend("numpy")


class Spec:
    """A symbolic tensor with only a shape (None = unknown) and a dtype."""

    _is_symbolic = True

    def __init__(self, shape, dtype="float32"):
        self.shape, self.dtype = shape, np.dtype(dtype)


def test_symbolic_input_goes_to_the_handler_with_op_inputs_and_attrs():
    seen = []

    def handler(op, inputs, attrs):
        seen.append((op, inputs, attrs))
        return "traced"

    s = Spec((None, 3))
    old = core.set_symbolic_handler(handler)
    try:
        assert ops.add(s, 1.5) == "traced"
        assert ops.sum(s, axis=1, keepdims=True) == "traced"
        assert ops.concatenate([s, s], axis=-1) == "traced"
    finally:
        core.set_symbolic_handler(old)
    assert seen[0][0] is ops.arithmetic.ADD and seen[0][1] == (s, 1.5) and seen[0][2] == {}
    assert seen[1][0] is ops.reductions.SUM and seen[1][2] == {"axis": 1, "keepdims": True}
    assert seen[2][0] is ops.reshaping.CONCATENATE and seen[2][1] == (s, s) and seen[2][2] == {"axis": -1}


def test_symbolic_input_without_handler_is_a_clear_error():
    old = core.set_symbolic_handler(None)
    try:
        with pytest.raises(TypeError, match="no symbolic handler"):
            ops.relu(Spec((2,)))
    finally:
        core.set_symbolic_handler(old)


def test_output_spec_marks_unknown_sizes():
    w = np.ones((4, 5), dtype="float32")
    assert core.output_spec(ops.arithmetic.MATMUL, (Spec((None, 4)), w), {}) == ((None, 5), "float32")
    assert core.output_spec(ops.reshaping.RESHAPE, (Spec((None, 2, 3)),), {"newshape": (-1, 6)}) == ((None, 6),
                                                                                                    "float32")
    assert core.output_spec(ops.reductions.SUM, (Spec((None, 3)),), {"axis": 0, "keepdims": False}) == ((3,),
                                                                                                     "float32")
    assert core.output_spec(ops.reductions.ARGMAX, (Spec((None, 3)),), {"axis": -1}) == ((None,), "int32")
    mean, var = core.output_spec(ops.nn.MOMENTS, (Spec((None, 3)),), {"axes": [0]})
    assert mean == ((3,), "float32") and var == ((3,), "float32")


def test_operator_dispatch_records_op_and_operand_order():
    class T:
        _is_symbolic = True
        __array_ufunc__ = None  # numpy_array @ t then defers to T.__rmatmul__ instead of converting t
        shape, dtype = (2, 3), np.dtype("float32")

    for name, fn in ops.OPERATORS.items():
        setattr(T, name, fn)
    T.__hash__ = object.__hash__
    t, w = T(), np.ones((3, 2), dtype="float32")
    seen = []
    old = core.set_symbolic_handler(lambda op, inputs, attrs: seen.append((op.name, inputs, attrs)))
    try:
        t + 1, 1 - t, t @ w, 2 ** t, t[:, 1], -t, t > 0, t / 2, w @ t  # noqa: B018
    finally:
        core.set_symbolic_handler(old)
    assert [s[0] for s in seen] == ["add", "subtract", "matmul", "power", "get_item", "negative", "greater",
                                    "divide", "matmul"]
    assert seen[1][1] == (1, t), "1 - t is subtract(1, t)"
    assert seen[3][1] == (2, t) and seen[8][1][1] is t
    assert seen[4][2] == {"key": (slice(None), 1)}


def test_every_public_op_has_a_docstring():
    for name in ops.__all__:
        fn = getattr(ops, name)
        if callable(fn) and not isinstance(fn, type):
            assert fn.__doc__ and fn.__doc__.strip(), f"ops.{name} has no docstring"


def test_facts_of_symbolic_tensors_and_no_values():
    s = Spec((None, 3))
    assert ops.shape(s) == (None, 3) and ops.ndim(s) == 2 and ops.size(s) is None
    assert ops.is_tensor(s) and ops.convert_to_tensor(s) is s
    with pytest.raises(TypeError, match="symbolic tensor"):
        ops.convert_to_numpy(s)
