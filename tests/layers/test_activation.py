"""Activation functions and layers: forward against formulas written here, gradient checks for
every activation (inputs kept away from kinks), Keras options and defaults, config, errors."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import activations

GRAD_TOL = 1e-6  # float64 central differences with h=1e-6: a correct backward gives ~1e-8


def away_from_zero(rng, shape, margin=1e-3):
    """Normal samples with |x| > margin (relu, leaky_relu and elu have a kink at 0)."""
    x = rng.standard_normal(shape) * 2
    return np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin) * 2, x)


def reference(name, x):
    """Each activation from its textbook definition (float64)."""
    if name == "linear":
        return x
    if name == "relu":
        return np.where(x > 0, x, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "leaky_relu":  # Keras's activations.leaky_relu default slope is 0.2
        return np.where(x > 0, x, 0.2 * x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(x))
    if name == "softplus":
        return np.log1p(np.exp(x))
    raise KeyError(name)


def test_every_registered_activation_has_a_reference_here():
    assert set(activations.names()) == {"linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "softplus"}


@pytest.mark.parametrize("name", activations.names())
def test_activation_forward_matches_definition(backend, name):
    x = away_from_zero(np.random.default_rng(0), (4, 6))
    y = activations.get(name)(backend.to_device(x))
    np.testing.assert_allclose(backend.to_host(y), reference(name, x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (7, 1)])
def test_activation_layer_backward_matches_numerical_gradient(backend, name, shape):
    x = away_from_zero(np.random.default_rng(1), shape)
    layer = nn.layers.Activation(name)
    result = nn.debug.gradient_check(layer, backend.to_device(x))
    assert result.max_error < GRAD_TOL, result


def test_sigmoid_and_softmax_stay_finite_for_huge_inputs(backend):
    x = backend.to_device(np.array([[-1e4, 0.0, 1e4]]))
    s = backend.to_host(activations.sigmoid(x))
    assert np.all(np.isfinite(s)) and s[0, 0] == 0.0 and s[0, 2] == 1.0
    p = backend.to_host(activations.softmax(x))
    assert np.all(np.isfinite(p)) and p[0, 2] == 1.0


def test_relu_gradient_at_exactly_zero_is_zero(backend):
    layer = nn.layers.Activation("relu")
    layer(backend.to_device(np.array([[-1.0, 0.0, 2.0]])))
    dx = layer.backward(backend.to_device(np.ones((1, 3))))
    np.testing.assert_array_equal(backend.to_host(dx), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 1.5}, {"negative_slope": 0.1}, {"threshold": 0.5},
                                    {"max_value": 2.0, "negative_slope": 0.05, "threshold": -0.5}])
def test_relu_layer_options(backend, kwargs):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 8)) * 3
    # keep x away from every kink (0, threshold, max_value)
    for kink in (kwargs.get("threshold", 0.0), kwargs.get("max_value", np.inf)):
        x = np.where(np.abs(x - kink) < 1e-3, x + 0.01, x)
    mv, slope, th = kwargs.get("max_value"), kwargs.get("negative_slope", 0.0), kwargs.get("threshold", 0.0)
    expected = np.where(x > th, x, slope * (x - th))
    if mv is not None:
        expected = np.minimum(expected, mv)
    layer = nn.layers.ReLU(**kwargs)
    np.testing.assert_allclose(backend.to_host(layer(backend.to_device(x))), expected, rtol=0, atol=1e-15)
    result = nn.debug.gradient_check(nn.layers.ReLU(**kwargs), backend.to_device(x))
    assert result.max_error < GRAD_TOL, result


def test_leaky_relu_layer_default_slope_is_keras_0_3_and_gradient_checks(backend):
    layer = nn.layers.LeakyReLU()
    assert layer.negative_slope == 0.3
    x = away_from_zero(np.random.default_rng(3), (4, 5))
    x_dev = backend.to_device(x)
    np.testing.assert_allclose(backend.to_host(layer(x_dev)), np.where(x > 0, x, 0.3 * x), rtol=0, atol=1e-15)
    assert nn.debug.gradient_check(nn.layers.LeakyReLU(0.1), x_dev).max_error < GRAD_TOL


def test_softmax_layer_rows_sum_to_one_and_gradient_checks(backend):
    x = np.random.default_rng(4).standard_normal((3, 7))
    y = backend.to_host(nn.layers.Softmax()(backend.to_device(x)))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, reference("softmax", x), rtol=1e-12)
    assert nn.debug.gradient_check(nn.layers.Softmax(), backend.to_device(x)).max_error < GRAD_TOL


@pytest.mark.parametrize("layer", [nn.layers.Activation("tanh"), nn.layers.ReLU(max_value=6.0, negative_slope=0.1),
                                   nn.layers.LeakyReLU(0.2), nn.layers.Softmax(axis=-1)],
                         ids=["Activation", "ReLU", "LeakyReLU", "Softmax"])
def test_activation_layers_config_round_trip(backend, layer):
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    x = backend.to_device(np.random.default_rng(5).standard_normal((2, 4)))
    np.testing.assert_array_equal(backend.to_host(clone(x)), backend.to_host(layer(x)))


def test_unknown_activation_name_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        nn.layers.Activation("gelu_fast")
    msg = str(info.value)
    assert "gelu_fast" in msg and all(n in msg for n in activations.names())


@pytest.mark.parametrize("kwargs", [{"max_value": -1.0}, {"negative_slope": -0.1}])
def test_relu_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        nn.layers.ReLU(**kwargs)


def test_activation_backward_before_forward_raises(backend):
    for layer in (nn.layers.Activation("relu", name="act_fresh"), nn.layers.ReLU(name="act_fresh"),
                  nn.layers.LeakyReLU(name="act_fresh"), nn.layers.Softmax(name="act_fresh")):
        with pytest.raises(RuntimeError, match="act_fresh"):
            layer.call_backward(backend.to_device(np.ones((1, 3))))
