"""Every differentiable nn.ops backward against central differences (float64, CS231n form).

For out = op(inputs) and a random upstream dy, f = sum(out * dy) has df/dinput = the
vector-Jacobian product that ``op.backward(ctx, dy)`` returns. Broadcasting cases are in the
table (tests/ops/cases.py); a gradient with the wrong shape or a missing sum-reduction fails.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnscratch.ops as ops
from nnscratch import backend
from nnscratch.debug.gradcheck import numerical_gradient, rel_error
from nnscratch.ops import core
from tests.ops._record import Sym, record_one, traced_gradients
from tests.ops.cases import CASES, COMPOSITE_CASES, KINKS, away, distinct, r

TOL = 1e-6


def gradcheck(call, inputs, drop=()):
    """Assert backward == numerical gradient for every float input; ``drop``: output indices
    whose dy is None (unused outputs of a multi-output op). Returns the op."""
    with backend.backend_scope("numpy"), backend.floatx_scope("float64"):  # gradient checks run on the host
        op, given, attrs = record_one(call, inputs)
        arrays = [a.value if isinstance(a, Sym) else a for a in given]
        out, ctx = op.forward(*arrays, **attrs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        gen = np.random.default_rng(0)
        dys = [None if i in drop else gen.standard_normal(o.shape) for i, o in enumerate(outs)]
        grads = op.backward(ctx, tuple(dys) if multi else dys[0])
        assert len(grads) == len(given), f"{op.name}: {len(grads)} gradients for {len(given)} inputs"

        def f():
            o, _ = op.forward(*arrays, **attrs)
            o = o if isinstance(o, tuple) else (o,)
            return sum(float((oi * dy).sum()) for oi, dy in zip(o, dys) if dy is not None)

        for k, a in enumerate(given):
            if not isinstance(a, Sym):
                continue
            assert grads[k] is not None, f"{op.name}: no gradient for float input {k}"
            assert grads[k].shape == a.shape, f"{op.name}: gradient {k} has shape {grads[k].shape}, input {a.shape}"
            _, numeric = numerical_gradient(f, arrays[k])
            err = rel_error(np.asarray(grads[k]).reshape(-1), numeric)
            assert err < TOL, f"{op.name} d(input {k}): rel error {err:.2e} (analytic vs central differences)"
    return op


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_backward_matches_numerical_gradient(case):
    gradcheck(case.call, [a.copy() if isinstance(a, np.ndarray) else a for a in case.inputs])


def test_moments_backward_with_one_output_unused():
    gradcheck(lambda o, x: o.moments(x, axes=[1]), [r(3, 4)], drop=(0,))
    gradcheck(lambda o, x: o.moments(x, axes=[1], keepdims=True), [r(3, 4)], drop=(1,))


@pytest.mark.parametrize("key", [(slice(None), 1), (slice(0, 3, 2), slice(None, None, -1)), (None, Ellipsis, 0),
                                 np.array([2, 0, 2]), (np.array([0, 1, 1]), np.array([3, 0, 0]))],
                         ids=["int", "strided", "newaxis", "fancy_dup", "fancy_pairs_dup"])
def test_get_item_backward_adds_duplicates(key):
    gradcheck(lambda o, x: o.get_item(x, key), [r(3, 4)])


def test_get_item_boolean_mask_backward():
    x = r(3, 4)
    mask = x > 0
    assert mask.any() and not mask.all()
    gradcheck(lambda o, x: o.get_item(x, mask), [x])


def test_split_backward_with_unused_piece():
    gradcheck(lambda o, x: o.split(x, [1, 3], axis=1), [r(2, 5)], drop=(1,))
    gradcheck(lambda o, x: o.split(x, 2, axis=0), [r(4, 3)])


def test_unstack_backward():
    gradcheck(lambda o, x: o.unstack(x, axis=1), [r(2, 3, 2)], drop=(2,))


def test_top_k_backward_values_only():
    op = gradcheck(lambda o, x: o.top_k(x, 2), [distinct(3, 5)], drop=(1,))
    assert op.n_outputs == 2


def _all_ops():
    found = {}
    for module in (ops.arithmetic, ops.elementwise, ops.reductions, ops.nn, ops.losses, ops.reshaping, ops.indexing,
                   ops.creation):
        for value in vars(module).values():
            if isinstance(value, core.Op):
                found[id(value)] = value
    return list(found.values())


def test_every_differentiable_op_is_gradient_checked():
    """A new differentiable op must get a case: this compares the ops the table runs with all Ops."""
    covered = {id(record_one(c.call, c.inputs)[0]) for c in CASES}
    extra = {id(ops.indexing.GET_ITEM), id(ops.reshaping.SPLIT), id(ops.reshaping.UNSTACK), id(ops.indexing.TOP_K)}
    missing = [op.name for op in _all_ops() if op.differentiable and id(op) not in covered | extra]
    assert not missing, f"differentiable ops without a gradient check: {missing}"


NON_DIFFERENTIABLE = ["argmax", "argsort", "equal", "not_equal", "greater", "greater_equal", "less",
                      "less_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "one_hot", "sign",
                      "round", "floor", "ceil", "trunc", "stop_gradient", "all", "any", "isnan", "isinf",
                      "isfinite", "floor_divide", "mod", "nonzero"]


def test_non_differentiable_ops_are_flagged_and_refuse_backward():
    by_name = {}
    for op in _all_ops():
        by_name.setdefault(op.name, op)
    for name in NON_DIFFERENTIABLE:
        op = by_name[name]
        assert not op.differentiable, f"ops.{name} should be flagged non-differentiable"
        with pytest.raises(RuntimeError, match="not differentiable"):
            op.backward({"shapes": [()], "dtypes": ["float64"]}, np.ones(()))


def test_integer_and_index_inputs_get_no_gradient():
    backend.set_backend("numpy")  # host arrays below; tests/conftest.py restores the backend
    x, idx = away(3, 4), np.array([1, 1, 0])
    out, ctx = ops.indexing.TAKE.forward(x, idx, axis=0)
    assert ops.indexing.TAKE.backward(ctx, np.ones(out.shape))[1] is None
    out, ctx = ops.indexing.WHERE.forward(x > 0, x, 0.0)
    assert ops.indexing.WHERE.backward(ctx, np.ones(out.shape))[0] is None
    out, ctx = ops.arithmetic.ADD.forward(np.arange(3, dtype="int32"), np.arange(3, dtype="int32"))
    assert ops.arithmetic.ADD.backward(ctx, np.ones(3)) == (None, None)


@pytest.mark.parametrize("case", COMPOSITE_CASES, ids=[c.id for c in COMPOSITE_CASES])
def test_composite_op_gradient_through_its_pieces(case):
    """Composite ops have no backward of their own: a tracer chains their pieces' backwards.
    The tiny tracer of tests/ops/_record.py does that here, against central differences."""
    with backend.backend_scope("numpy"), backend.floatx_scope("float64"):
        inputs = [a.copy() if isinstance(a, np.ndarray) else a for a in case.inputs]
        gen = np.random.default_rng(0)
        dys = []

        def dy_fn(outs):
            dys[:] = [gen.standard_normal(o.shape) for o in outs]
            return dys

        _, grads = traced_gradients(case.call, inputs, dy_fn)

        def f():
            outs, _ = traced_gradients(case.call, inputs, lambda outs: [None] * len(outs))
            return sum(float((o * dy).sum()) for o, dy in zip(outs, dys))

        for k, g in grads.items():
            assert g is not None, f"{case.id}: no gradient reached input {k}"
            skip = KINKS.get(case.id, {}).get(k, [])
            coords = [i for i in range(inputs[k].size) if i not in skip]
            _, numeric = numerical_gradient(f, inputs[k], coords=coords)
            err = rel_error(np.asarray(g).reshape(-1)[coords], numeric)
            assert err < TOL, f"{case.id} d(input {k}): rel error {err:.2e}"
