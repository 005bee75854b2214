"""Merge layers: forward values, a list of input gradients checked numerically (each input)."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend
from nnscratch.debug.gradcheck import numerical_gradient, rel_error


def merge_gradient_errors(layer, xs, seed=0):
    """{'x0': err, 'x1': err, ...}: each input's gradient from backward vs central differences."""
    gen = np.random.default_rng(seed)
    xs = [backend.to_device(np.asarray(x, dtype=np.float64)) for x in xs]
    y = layer(xs)
    dy = backend.to_device(gen.standard_normal(y.shape))
    layer(xs)
    dxs = layer.call_backward(dy)
    assert isinstance(dxs, list) and len(dxs) == len(xs), "backward must return one gradient per input"

    def f():
        return float(backend.to_host(layer.forward(xs) * dy).sum())

    errors = {}
    for i, x in enumerate(xs):
        assert dxs[i].shape == x.shape, f"dx{i} shape {dxs[i].shape} != x{i} shape {x.shape}"
        coords, num = numerical_gradient(f, x)
        errors[f"x{i}"] = rel_error(backend.to_host(dxs[i]).reshape(-1)[coords], num)
    return errors


def _inputs(k, shape=(3, 4), seed=1):
    gen = np.random.default_rng(seed)
    return [gen.standard_normal(shape) for _ in range(k)]


@pytest.mark.parametrize("cls, k", [(nn.layers.Add, 2), (nn.layers.Add, 3), (nn.layers.Subtract, 2),
                                    (nn.layers.Multiply, 2), (nn.layers.Multiply, 3), (nn.layers.Average, 3),
                                    (nn.layers.Maximum, 2), (nn.layers.Maximum, 3), (nn.layers.Minimum, 3)])
def test_elementwise_merge_backward_matches_numerical_gradient(backend, cls, k):
    errors = merge_gradient_errors(cls(), _inputs(k))
    for name, err in errors.items():
        assert err < 1e-6, f"{cls.__name__}: gradient of {name} has relative error {err:.2e}"


@pytest.mark.parametrize("axis, shapes", [(-1, [(2, 3, 4), (2, 3, 2)]), (1, [(2, 1, 4), (2, 3, 4), (2, 2, 4)])])
def test_concatenate_backward_matches_numerical_gradient(backend, axis, shapes):
    gen = np.random.default_rng(0)
    errors = merge_gradient_errors(nn.layers.Concatenate(axis=axis), [gen.standard_normal(s) for s in shapes])
    for name, err in errors.items():
        assert err < 1e-6, f"Concatenate(axis={axis}): gradient of {name} has relative error {err:.2e}"


def test_merge_forward_values(backend):
    a, b, c = _inputs(3)
    da, db, dc = (backend.to_device(v) for v in (a, b, c))
    host = backend.to_host
    np.testing.assert_allclose(host(nn.layers.Add()([da, db, dc])), a + b + c, err_msg="Add")
    np.testing.assert_allclose(host(nn.layers.Subtract()([da, db])), a - b, err_msg="Subtract")
    np.testing.assert_allclose(host(nn.layers.Multiply()([da, db, dc])), a * b * c, err_msg="Multiply")
    np.testing.assert_allclose(host(nn.layers.Average()([da, db, dc])), (a + b + c) / 3, err_msg="Average")
    np.testing.assert_allclose(host(nn.layers.Concatenate()([da, db])), np.concatenate([a, b], -1),
                               err_msg="Concatenate")


def test_merge_inputs_are_not_modified(backend):
    a0, b0 = _inputs(2)
    a, b = backend.to_device(a0.copy()), backend.to_device(b0.copy())
    layer = nn.layers.Add()
    layer([a, b])
    layer.call_backward(backend.to_device(np.ones_like(a0)))
    np.testing.assert_array_equal(backend.to_host(a), a0)
    np.testing.assert_array_equal(backend.to_host(b), b0)


def test_merge_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match="same shape"):
        nn.layers.Add(name="adder")([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="at least 2"):
        nn.layers.Add()([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="exactly 2"):
        nn.layers.Subtract()(_inputs(3))
    with pytest.raises(ValueError, match="every axis but"):
        nn.layers.Concatenate(axis=-1)([np.zeros((2, 3, 4)), np.zeros((2, 2, 4))])
    with pytest.raises(ValueError, match="batch axis"):
        nn.layers.Concatenate(axis=0)([np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(TypeError, match="list of arrays"):
        nn.layers.Add()(np.zeros((2, 3)))


def test_concatenate_output_shape_in_a_graph():
    a, b = nn.Input((5,)), nn.Input((3,))
    out = nn.layers.Concatenate()([a, b])
    assert out.shape == (None, 8)


def test_maximum_ties_send_the_gradient_to_the_earliest_input():
    a = np.array([[1.0, 2.0, 5.0]])
    b = np.array([[1.0, 3.0, 0.0]])
    layer = nn.layers.Maximum()
    np.testing.assert_array_equal(layer([a, b]), [[1.0, 3.0, 5.0]])
    da, db = layer.call_backward(np.ones_like(a))
    np.testing.assert_array_equal(da, [[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(db, [[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(nn.layers.Minimum()([a, b]), [[1.0, 2.0, 0.0]])


@pytest.mark.parametrize("fn, cls", [("add", "Add"), ("subtract", "Subtract"), ("multiply", "Multiply"),
                                     ("average", "Average"), ("maximum", "Maximum"), ("minimum", "Minimum"),
                                     ("concatenate", "Concatenate")])
def test_functional_forms_build_the_merge_layer(fn, cls):
    a, b = nn.Input((4,)), nn.Input((4,))
    out = getattr(nn.layers, fn)([a, b], name=f"merge_{fn}")
    assert type(out.layer).__name__ == cls and out.layer.name == f"merge_{fn}"
    model = nn.Model([a, b], out)
    xa, xb = _inputs(2, (3, 4))
    expected = {"add": xa + xb, "subtract": xa - xb, "multiply": xa * xb, "average": (xa + xb) / 2,
                "maximum": np.maximum(xa, xb), "minimum": np.minimum(xa, xb),
                "concatenate": np.concatenate([xa, xb], -1)}[fn]
    np.testing.assert_allclose(model([xa, xb]), expected, rtol=1e-6, err_msg=fn)
