"""Conv2D: Keras output shapes, im2col against the reference tier's loop convolution, gradient checks over
strides/paddings/dilations/non-square shapes, channels_first == channels_last, config, errors."""
import math

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend
from nnscratch.kernels.reference import conv2d_naive

pytestmark = pytest.mark.usefixtures("kernel_tier")  # every test on the fast and the readable kernels

GRAD_TOL = 1e-6  # float64 central differences with h=1e-6: a correct backward gives ~1e-8


def keras_out(n, k, s, padding, d):
    return math.ceil(n / s) if padding == "same" else (n - ((k - 1) * d + 1)) // s + 1


CASES = [
    # (H, W, C, F, kernel, strides, padding, dilation)
    ((6, 6, 2, 3, (3, 3), (1, 1), "valid", (1, 1))),
    ((6, 6, 2, 3, (3, 3), (1, 1), "same", (1, 1))),
    ((7, 5, 1, 2, (2, 3), (2, 1), "same", (1, 1))),   # odd total padding on H (7, k2, s2 -> 1)
    ((6, 6, 2, 2, (2, 2), (1, 1), "same", (1, 1))),   # total 1: one extra row/col bottom/right
    ((8, 7, 2, 2, (3, 2), (3, 2), "valid", (1, 1))),
    ((8, 8, 1, 2, (4, 4), (2, 2), "same", (1, 1))),
    ((7, 9, 2, 2, (3, 3), (1, 1), "valid", (2, 2))),  # dilation
    ((7, 6, 1, 3, (2, 3), (1, 1), "same", (2, 1))),   # dilation with 'same', non-square
    ((5, 4, 3, 1, (1, 1), (1, 1), "valid", (1, 1))),
]
IDS = [f"{h}x{w}x{c}-f{f}-k{k[0]}x{k[1]}-s{s[0]}x{s[1]}-{p}-d{d[0]}x{d[1]}" for h, w, c, f, k, s, p, d in CASES]


@pytest.mark.parametrize("H,W,C,F,kernel,strides,padding,dilation", CASES, ids=IDS)
def test_conv2d_output_shape_follows_keras(backend, H, W, C, F, kernel, strides, padding, dilation):
    layer = nn.layers.Conv2D(F, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    y = layer(backend.to_device(np.zeros((2, H, W, C), dtype="float32")))
    expected = (2, keras_out(H, kernel[0], strides[0], padding, dilation[0]),
                keras_out(W, kernel[1], strides[1], padding, dilation[1]), F)
    assert y.shape == expected
    assert layer.output_shape == (None,) + expected[1:]
    assert layer.params["kernel"].shape == kernel + (C, F)


@pytest.mark.parametrize("H,W,C,F,kernel,strides,padding,dilation", CASES, ids=IDS)
def test_conv2d_matches_naive_loop_convolution(backend, H, W, C, F, kernel, strides, padding, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, H, W, C))
    with backend.floatx_scope("float64"):
        layer = nn.layers.Conv2D(F, kernel, strides=strides, padding=padding, dilation_rate=dilation)
        layer.build((None, H, W, C))
    Wk, b = rng.standard_normal(kernel + (C, F)), rng.standard_normal(F)
    layer.set_weights([Wk, b])
    y = backend.to_host(layer(backend.to_device(x)))
    # float64 on both sides, sums of <= 48 products: 1e-12 covers summation-order rounding
    np.testing.assert_allclose(y, conv2d_naive(x, Wk, b, strides, padding, dilation), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("H,W,C,F,kernel,strides,padding,dilation", CASES, ids=IDS)
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_conv2d_backward_matches_numerical_gradient(backend, H, W, C, F, kernel, strides, padding, dilation,
                                                   activation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, H, W, C))
    with backend.floatx_scope("float64"):
        layer = nn.layers.Conv2D(F, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                                 activation=activation)
        layer.build((None, H, W, C))
    layer.set_weights([rng.standard_normal(kernel + (C, F)), rng.standard_normal(F)])
    if activation == "relu":
        z = nn.layers.Conv2D.from_config({**layer.get_config(), "activation": None, "name": "probe"})
        z.build((None, H, W, C))
        z.set_weights(layer.get_weights())
        assert np.abs(backend.to_host(z(backend.to_device(x)))).min() > 1e-3, \
            "test setup: pre-activations must avoid relu's kink"
    result = nn.debug.gradient_check(layer, backend.to_device(x))
    assert set(result) == {"x", "kernel", "bias"}
    assert result.max_error < GRAD_TOL, result


@pytest.mark.parametrize("H,W,C,F,kernel,strides,padding,dilation", [CASES[2], CASES[4], CASES[7]], ids=[IDS[2], IDS[4], IDS[7]])
def test_conv2d_channels_first_equals_channels_last_on_transposed_data(backend, H, W, C, F, kernel, strides,
                                                                      padding, dilation):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, H, W, C))
    with backend.floatx_scope("float64"):
        last = nn.layers.Conv2D(F, kernel, strides=strides, padding=padding, dilation_rate=dilation)
        first = nn.layers.Conv2D(F, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                                 data_format="channels_first")
        last.build((None, H, W, C))
        first.build((None, C, H, W))
    weights = [rng.standard_normal(kernel + (C, F)), rng.standard_normal(F)]
    last.set_weights(weights)
    first.set_weights(weights)  # same Keras kernel layout (KH, KW, C_in, F) for both formats
    dev, host = backend.to_device, backend.to_host
    y_last = host(last(dev(x)))
    y_first = host(first(dev(x.transpose(0, 3, 1, 2))))
    assert first.output_shape == (None,) + y_last.shape[3:] + y_last.shape[1:3]
    np.testing.assert_allclose(y_first, y_last.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y_last.shape)
    dx_last = host(last.backward(dev(dy)))
    dk_last = host(last.grads["kernel"]).copy()
    dx_first = host(first.backward(dev(dy.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(dx_first, dx_last.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(first.grads["kernel"]), dk_last, rtol=1e-12, atol=1e-12)
    result = nn.debug.gradient_check(first, dev(x.transpose(0, 3, 1, 2)))
    assert result.max_error < GRAD_TOL, result


def test_conv2d_get_set_weights_keras_layout(backend):
    layer = nn.layers.Conv2D(4, (3, 2))
    layer.build((None, 8, 8, 5))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 5, 4) and bias.shape == (4,)
    limit = math.sqrt(6 / (3 * 2 * 5 + 3 * 2 * 4))  # glorot fans include kh*kw
    assert np.abs(kernel).max() <= limit
    new = [np.full((3, 2, 5, 4), 0.5, "float32"), np.arange(4, dtype="float32")]
    layer.set_weights(new)
    for a, b in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(a, b)


def test_conv2d_config_round_trip():
    layer = nn.layers.Conv2D(3, (2, 3), strides=(1, 1), padding="same", data_format="channels_first",
                             dilation_rate=(2, 1), activation="relu", use_bias=False)
    cfg = layer.get_config()
    assert nn.layers.Conv2D.from_config(cfg).get_config() == cfg
    assert cfg["kernel_size"] == [2, 3] and cfg["padding"] == "same" and cfg["data_format"] == "channels_first"


@pytest.mark.parametrize("kwargs,valid", [
    ({"strides": 0}, "positive"), ({"kernel_size": 0}, "positive"), ({"padding": "foo"}, "valid.*same"),
    ({"data_format": "nchw"}, "channels_last.*channels_first"), ({"filters": 0}, "filters"),
    ({"strides": 2, "dilation_rate": 2}, "dilation"),
])
def test_conv2d_invalid_arguments_raise_value_error(kwargs, valid):
    args = {"filters": 2, "kernel_size": 3, "name": "conv_args", **kwargs}
    with pytest.raises(ValueError, match=valid) as info:
        nn.layers.Conv2D(**args)
    assert "conv_args" in str(info.value), "the error names the layer"


def test_conv2d_wrong_rank_names_layer_expected_rank_and_received_shape():
    layer = nn.layers.Conv2D(2, 3, name="c_rank")
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 5, 5), dtype="float32"))
    msg = str(info.value)
    assert "c_rank" in msg and "rank 4" in msg and "(None, 5, 5)" in msg


def test_conv2d_wrong_shape_after_build_names_both_shapes():
    layer = nn.layers.Conv2D(2, 3, name="c_shape")
    layer(np.zeros((1, 6, 6, 3), dtype="float32"))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((1, 6, 6, 4), dtype="float32"))
    msg = str(info.value)
    assert "c_shape" in msg and "(None, 6, 6, 3)" in msg and "(None, 6, 6, 4)" in msg


def test_conv2d_kernel_larger_than_input_with_valid_padding_raises():
    with pytest.raises(ValueError, match="larger"):
        nn.layers.Conv2D(2, 5)(np.zeros((1, 4, 4, 1), dtype="float32"))


def test_conv2d_backward_before_forward_raises_runtime_error(backend):
    layer = nn.layers.Conv2D(2, 3, name="c_fresh")
    layer.build((None, 5, 5, 1))
    with pytest.raises(RuntimeError, match="c_fresh.*before forward"):
        layer.call_backward(backend.to_device(np.zeros((1, 3, 3, 2), dtype="float32")))
