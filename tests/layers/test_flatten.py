"""Flatten: output shapes, (h, w, c) order for both data formats, backward, config, errors."""
import numpy as np
import pytest

import nnscratch as nn


@pytest.mark.parametrize("shape", [(2, 28, 28), (3, 4, 5, 6), (1, 7), (2, 3, 1, 2, 2)])
def test_flatten_output_shape_is_product_of_non_batch_axes(backend, shape):
    layer = nn.layers.Flatten()
    y = layer(backend.to_device(np.zeros(shape)))
    n = int(np.prod(shape[1:]))
    assert y.shape == (shape[0], n)
    assert layer.output_shape == (None, n)


def test_flatten_channels_last_is_row_major(backend):
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(backend.to_host(nn.layers.Flatten()(backend.to_device(x))), x.reshape(2, -1))


def test_flatten_channels_first_orders_features_as_h_w_c_like_keras(backend):
    x_nhwc = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    y_last = backend.to_host(nn.layers.Flatten()(backend.to_device(x_nhwc)))
    y_first = nn.layers.Flatten(data_format="channels_first")(backend.to_device(x_nhwc.transpose(0, 3, 1, 2)))
    np.testing.assert_array_equal(backend.to_host(y_first), y_last)


@pytest.mark.parametrize("data_format,shape", [("channels_last", (2, 3, 4, 5)), ("channels_first", (2, 5, 3, 4)),
                                               ("channels_last", (3, 6))])
def test_flatten_backward_is_the_inverse_reshape(backend, data_format, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    layer = nn.layers.Flatten(data_format=data_format)
    y = backend.to_host(layer(backend.to_device(x)))
    dy = rng.standard_normal(y.shape)
    dx = backend.to_host(layer.backward(backend.to_device(dy)))
    assert dx.shape == x.shape
    # a permutation's adjoint: <y, dy> == <x, dx>
    assert abs(np.sum(y * dy) - np.sum(x * dx)) < 1e-12 * np.abs(y * dy).sum()
    assert nn.debug.gradient_check(nn.layers.Flatten(data_format=data_format), backend.to_device(x)).max_error < 1e-6


def test_flatten_config_round_trip():
    layer = nn.layers.Flatten(data_format="channels_first")
    cfg = layer.get_config()
    assert nn.layers.Flatten.from_config(cfg).get_config() == cfg


def test_flatten_rejects_rank1_and_bad_data_format():
    with pytest.raises(ValueError, match="flat_err"):
        nn.layers.Flatten(name="flat_err")(np.zeros(5))
    with pytest.raises(ValueError, match="channels_last.*channels_first"):
        nn.layers.Flatten(data_format="nchw")


def test_flatten_backward_before_forward_raises(backend):
    with pytest.raises(RuntimeError, match="flat_fresh"):
        nn.layers.Flatten(name="flat_fresh").call_backward(backend.to_device(np.ones((2, 4))))
