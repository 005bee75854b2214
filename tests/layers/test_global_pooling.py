"""GlobalAveragePooling2D / GlobalMaxPooling2D, LeakyReLU and Conv2D dilation: values and gradients."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend


def _x(shape, seed=3):
    # distinct values everywhere: no ties for the max
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0 - 1.0


def _dy(shape):
    return np.random.default_rng(11).standard_normal(shape)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_values_and_shapes(backend, data_format, keepdims):
    x = _x((2, 3, 4, 5))
    x_dev = backend.to_device(x)
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    gap = nn.layers.GlobalAveragePooling2D(data_format=data_format, keepdims=keepdims)
    gmp = nn.layers.GlobalMaxPooling2D(data_format=data_format, keepdims=keepdims)
    np.testing.assert_allclose(backend.to_host(gap(x_dev)), x.mean(axis=axes, keepdims=keepdims), err_msg="GAP value")
    np.testing.assert_allclose(backend.to_host(gmp(x_dev)), x.max(axis=axes, keepdims=keepdims), err_msg="GMP value")
    assert gap.output_shape[1:] == gap(x_dev).shape[1:] and gmp.output_shape[1:] == gmp(x_dev).shape[1:]


@pytest.mark.parametrize("cls", [nn.layers.GlobalAveragePooling2D, nn.layers.GlobalMaxPooling2D])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_backward_matches_numerical_gradient(backend, cls, data_format, keepdims):
    with backend.floatx_scope("float64"):
        layer = cls(data_format=data_format, keepdims=keepdims)
        x = backend.to_device(_x((2, 3, 4, 2)))
        y_shape = layer(x).shape
        errors = nn.debug.gradient_check(layer, x, dy=_dy(y_shape))
    assert errors["x"] < 1e-6, f"{cls.__name__}: dx relative error {errors['x']:.2e}"


def test_global_max_pooling_splits_the_gradient_between_tied_maxima(backend):
    x = np.zeros((1, 2, 2, 1))
    x[0, 0, 0, 0] = x[0, 1, 1, 0] = 1.0  # two maxima
    layer = nn.layers.GlobalMaxPooling2D()
    layer(backend.to_device(x))
    dx = backend.to_host(layer.call_backward(backend.to_device(np.array([[4.0]]))))
    np.testing.assert_allclose(dx[0, :, :, 0], [[2.0, 0.0], [0.0, 2.0]])  # TF's reduce_max gradient


def test_leaky_relu_default_slope_and_gradient(backend):
    layer = nn.layers.LeakyReLU()
    assert layer.negative_slope == 0.3
    x = np.array([[-2.0, -0.5, 0.5, 3.0]])
    np.testing.assert_allclose(backend.to_host(layer(backend.to_device(x))), np.where(x > 0, x, 0.3 * x))
    with backend.floatx_scope("float64"):
        errors = nn.debug.gradient_check(nn.layers.LeakyReLU(0.2), backend.to_device(x * 1.1), dy=_dy(x.shape))
    assert errors["x"] < 1e-6


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv2d_dilation_matches_naive_loop_and_numerical_gradient(backend, padding, data_format):
    with backend.floatx_scope("float64"):
        layer = nn.layers.Conv2D(3, 3, dilation_rate=2, padding=padding, data_format=data_format)
        x_nhwc = np.random.default_rng(5).standard_normal((2, 7, 8, 2))
        x = x_nhwc if data_format == "channels_last" else x_nhwc.transpose(0, 3, 1, 2)
        x = backend.to_device(x)
        y = backend.to_host(layer(x))
        y_nhwc = y if data_format == "channels_last" else y.transpose(0, 2, 3, 1)
        K, b = layer.get_weights()
        # naive dilated cross-correlation: effective kernel size 5
        pad = 2 if padding == "same" else 0
        xp = np.pad(x_nhwc, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        H_out, W_out = xp.shape[1] - 4, xp.shape[2] - 4
        ref = np.zeros((2, H_out, W_out, 3))
        for i in range(3):
            for j in range(3):
                ref += np.einsum("nhwc,cf->nhwf", xp[:, 2 * i:2 * i + H_out, 2 * j:2 * j + W_out, :], K[i, j])
        np.testing.assert_allclose(y_nhwc, ref + b, rtol=1e-10, atol=1e-10, err_msg="dilated forward")
        errors = nn.debug.gradient_check(layer, x, dy=_dy(y.shape))
    for name, err in errors.items():
        assert err < 1e-6, f"dilated Conv2D: {name} relative error {err:.2e}"
