"""Property tests (hypothesis) over random layer configurations and input shapes: output shapes
follow Keras's formulas, backward returns the forward input's shape, gradient checks pass."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnscratch as nn

L = nn.layers
SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def keras_out_len(n, k, s, padding, d=1):
    """Keras's formulas, written independently of nnscratch: 'valid' floor((n - (k-1)d - 1)/s) + 1,
    'same' ceil(n / s)."""
    if padding == "same":
        return math.ceil(n / s)
    return (n - (k - 1) * d - 1) // s + 1


def distinct_input(shape, seed):
    """Values spread apart (no ties within a pooling window, far from ReLU's kink)."""
    g = np.random.default_rng(seed)
    size = int(np.prod(shape))
    vals = (g.permutation(size) + 1.0) / size * 4.0 - 2.0 + 0.01  # distinct, |x| >= ~0.01 away from 0
    return vals.reshape(shape)


conv_cfg = st.fixed_dictionaries({
    "N": st.integers(1, 3), "H": st.integers(3, 9), "W": st.integers(3, 9), "C": st.integers(1, 3),
    "F": st.integers(1, 3), "KH": st.integers(1, 3), "KW": st.integers(1, 3),
    "S": st.integers(1, 3), "padding": st.sampled_from(["valid", "same"]),
    "data_format": st.sampled_from(["channels_last", "channels_first"]),
    "activation": st.sampled_from([None, "relu", "tanh", "sigmoid"]), "seed": st.integers(0, 10_000),
})


@given(conv_cfg)
@settings(**SETTINGS)
def test_conv2d_shapes_and_gradients(cfg):
    N, H, W, C, F, KH, KW, S = (cfg[k] for k in ("N", "H", "W", "C", "F", "KH", "KW", "S"))
    layer = L.Conv2D(F, (KH, KW), strides=S, padding=cfg["padding"], data_format=cfg["data_format"],
                     activation=cfg["activation"])
    shape = (N, H, W, C) if cfg["data_format"] == "channels_last" else (N, C, H, W)
    x = distinct_input(shape, cfg["seed"])
    Ho, Wo = keras_out_len(H, KH, S, cfg["padding"]), keras_out_len(W, KW, S, cfg["padding"])
    with nn.backend.floatx_scope("float64"):
        y = layer(x)
    expected = (N, Ho, Wo, F) if cfg["data_format"] == "channels_last" else (N, F, Ho, Wo)
    assert y.shape == expected == layer.compute_output_shape((N,) + shape[1:])
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape
    errors = nn.debug.gradient_check(layer, x, max_checks=40, seed=cfg["seed"])
    assert errors.max_error < 1e-6, errors


pool_cfg = st.fixed_dictionaries({
    "N": st.integers(1, 2), "H": st.integers(2, 9), "W": st.integers(2, 9), "C": st.integers(1, 3),
    "P": st.integers(1, 4), "S": st.integers(1, 3), "padding": st.sampled_from(["valid", "same"]),
    "kind": st.sampled_from(["max", "avg"]), "data_format": st.sampled_from(["channels_last", "channels_first"]),
    "seed": st.integers(0, 10_000),
})


@given(pool_cfg)
@settings(**SETTINGS)
def test_pooling_shapes_and_gradients(cfg):
    N, H, W, C, P, S = (cfg[k] for k in ("N", "H", "W", "C", "P", "S"))
    if cfg["padding"] == "valid" and (P > H or P > W):
        return  # rejected with a ValueError (tested elsewhere)
    cls = L.MaxPooling2D if cfg["kind"] == "max" else L.AveragePooling2D
    layer = cls(P, strides=S, padding=cfg["padding"], data_format=cfg["data_format"])
    shape = (N, H, W, C) if cfg["data_format"] == "channels_last" else (N, C, H, W)
    x = distinct_input(shape, cfg["seed"])
    Ho, Wo = keras_out_len(H, P, S, cfg["padding"]), keras_out_len(W, P, S, cfg["padding"])
    with nn.backend.floatx_scope("float64"):
        y = layer(x)
    expected = (N, Ho, Wo, C) if cfg["data_format"] == "channels_last" else (N, C, Ho, Wo)
    assert y.shape == expected
    assert layer.backward(np.ones_like(y)).shape == x.shape
    errors = nn.debug.gradient_check(layer, x, max_checks=40, seed=cfg["seed"])
    assert errors.max_error < 1e-6, errors


@given(st.integers(1, 4), st.lists(st.integers(1, 5), min_size=1, max_size=3), st.integers(1, 6),
       st.sampled_from([None, "relu", "sigmoid", "tanh", "softmax", "elu", "softplus", "leaky_relu"]),
       st.integers(0, 10_000))
@settings(**SETTINGS)
def test_dense_shapes_and_gradients(n, feature_shape, units, activation, seed):
    layer = L.Dense(units, activation=activation)
    x = distinct_input((n, *feature_shape), seed)
    with nn.backend.floatx_scope("float64"):
        y = layer(x)
    assert y.shape == (n, *feature_shape[:-1], units)
    assert layer.backward(np.ones_like(y)).shape == x.shape
    errors = nn.debug.gradient_check(layer, x, max_checks=40, seed=seed)
    assert errors.max_error < 1e-6, errors


@given(st.integers(1, 3), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.sampled_from(["channels_last", "channels_first"]), st.integers(0, 100))
@settings(**SETTINGS)
def test_flatten_shapes_and_gradients(n, dims, data_format, seed):
    layer = L.Flatten(data_format=data_format)
    x = distinct_input((n, *dims), seed)
    y = layer(x)
    assert y.shape == (n, int(np.prod(dims)))
    assert layer.backward(np.ones_like(y)).shape == x.shape
    assert nn.debug.gradient_check(layer, x, seed=seed).max_error < 1e-6
