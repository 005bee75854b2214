"""Dense: shapes, Keras weight layout, numerical gradient checks, config, errors."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import activations, backend

GRAD_TOL = 1e-6  # float64 central differences with h=1e-6: a correct backward gives ~1e-8


def away_from_zero(rng, shape, margin=1e-3):
    """Normal samples with |x| > margin, so relu-like kinks are never straddled by x +- h."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)


@pytest.mark.parametrize("shape,units", [((4, 3), 5), ((1, 7), 1), ((6, 2), 3)])
def test_dense_output_shape(backend, shape, units):
    layer = nn.layers.Dense(units)
    y = layer(backend.to_device(np.zeros(shape, dtype="float32")))
    assert y.shape == (shape[0], units)
    assert layer.output_shape == (None, units)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None, units)


def test_dense_contracts_last_axis_of_rank3_input(backend):
    layer = nn.layers.Dense(4)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    y = backend.to_host(layer(backend.to_device(x)))
    W, b = layer.get_weights()
    assert y.shape == (2, 5, 4)
    np.testing.assert_allclose(y, x @ W + b, rtol=1e-5, atol=1e-6)  # float32 matmul rounding


def test_dense_weights_are_in_keras_layout_and_forward_is_xW_plus_b(backend):
    rng = np.random.default_rng(1)
    layer = nn.layers.Dense(3, activation="relu")
    layer.build((None, 4))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    assert np.all(bias == 0), "bias_initializer defaults to zeros"
    limit = np.sqrt(6 / (4 + 3))  # glorot_uniform: U(-L, L), L = sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit
    W = rng.standard_normal((4, 3)).astype("float32")
    b = rng.standard_normal(3).astype("float32")
    layer.set_weights([W, b])
    np.testing.assert_array_equal(layer.get_weights()[0], W)
    x = rng.standard_normal((5, 4)).astype("float32")
    y = backend.to_host(layer(backend.to_device(x)))
    np.testing.assert_allclose(y, np.maximum(x @ W + b, 0), rtol=1e-5, atol=1e-6)


def test_dense_get_weights_returns_copies(backend):
    layer = nn.layers.Dense(2)
    layer.build((None, 3))
    w = layer.get_weights()[0]
    w[...] = 123.0
    assert not np.any(layer.get_weights()[0] == 123.0)


@pytest.mark.parametrize("activation", activations.names())
@pytest.mark.parametrize("shape,units", [((4, 3), 5), ((3, 6), 2)])
def test_dense_backward_matches_numerical_gradient(backend, activation, shape, units):
    rng = np.random.default_rng(2)
    layer = nn.layers.Dense(units, activation=activation)
    x = away_from_zero(rng, shape)
    with backend.floatx_scope("float64"):
        layer.build((None,) + shape[1:])
        # put the pre-activations away from relu's kink: z = x W + b with a random bias
        W = rng.standard_normal(layer.params["kernel"].shape)
        layer.set_weights([W, rng.standard_normal(units)])
        z = x @ W + backend.to_host(layer.params["bias"])
        assert np.abs(z).min() > 1e-3, "test setup: pre-activations must avoid relu's kink"
    result = nn.debug.gradient_check(layer, backend.to_device(x))
    assert set(result) == {"x", "kernel", "bias"}
    assert result.max_error < GRAD_TOL, result


def test_dense_without_bias_has_only_a_kernel(backend):
    layer = nn.layers.Dense(3, use_bias=False)
    layer.build((None, 2))
    assert list(layer.params) == ["kernel"] and len(layer.get_weights()) == 1
    result = nn.debug.gradient_check(layer, backend.to_device(np.random.default_rng(3).standard_normal((4, 2))))
    assert result.max_error < GRAD_TOL, result


def test_dense_backward_does_not_mutate_dy(backend):
    layer = nn.layers.Dense(3, activation="relu")
    x = np.random.default_rng(4).standard_normal((4, 2)).astype("float32")
    layer(backend.to_device(x))
    dy = backend.to_device(np.ones((4, 3), dtype="float32"))
    dx = layer.backward(dy)
    assert dx.shape == x.shape
    assert np.all(backend.to_host(dy) == 1.0), "backward must not write into dy"


def test_dense_config_round_trip():
    layer = nn.layers.Dense(7, activation="tanh", use_bias=False, kernel_initializer="he_normal")
    cfg = layer.get_config()
    clone = nn.layers.Dense.from_config(cfg)
    assert clone.get_config() == cfg
    assert (cfg["units"], cfg["activation"], cfg["use_bias"]) == (7, "tanh", False)


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_dense_rejects_invalid_units(units):
    with pytest.raises(ValueError, match="dense_args.*units"):
        nn.layers.Dense(units, name="dense_args")


def test_dense_unknown_activation_lists_valid_ones():
    with pytest.raises(ValueError, match="relu") as info:
        nn.layers.Dense(3, activation="reluu")
    assert "reluu" in str(info.value)


def test_dense_wrong_input_shape_names_layer_and_both_shapes():
    layer = nn.layers.Dense(3, name="hidden")
    layer(np.zeros((2, 4), dtype="float32"))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 5), dtype="float32"))
    msg = str(info.value)
    assert "hidden" in msg and "4" in msg and "5" in msg


def test_dense_rank1_input_is_rejected_with_layer_name():
    layer = nn.layers.Dense(3, name="d_rank")
    with pytest.raises(ValueError, match="d_rank"):
        layer(np.zeros((4,), dtype="float32"))


def test_dense_backward_before_forward_raises_runtime_error(backend):
    layer = nn.layers.Dense(3, name="fresh")
    layer.build((None, 2))
    dy = backend.to_device(np.ones((1, 3), dtype="float32"))
    with pytest.raises(RuntimeError, match="fresh"):
        layer.call_backward(dy)
    with pytest.raises(RuntimeError, match="fresh"):
        layer.call_backward(dy)


def test_dense_dy_of_wrong_shape_names_both_shapes(backend):
    layer = nn.layers.Dense(3, name="dd")
    layer(backend.to_device(np.zeros((2, 4), dtype="float32")))
    with pytest.raises(ValueError, match=r"dd.*\(2, 3\).*\(2, 4\)"):
        layer.call_backward(backend.to_device(np.ones((2, 4), dtype="float32")))


def test_dense_set_weights_with_wrong_shape_names_both_shapes_and_changes_nothing():
    layer = nn.layers.Dense(3, name="sw")
    layer.build((None, 2))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"sw.*\(2, 3\).*\(3, 2\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
