"""Reshape and ZeroPadding2D: shapes, values, gradients, errors."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend


def test_reshape_infers_minus_one_and_round_trips_gradient(backend):
    x = np.arange(2 * 12, dtype="float64").reshape(2, 12)
    layer = nn.layers.Reshape((3, -1))
    y = backend.to_host(layer(backend.to_device(x)))
    assert y.shape == (2, 3, 4) and layer.output_shape == (None, 3, 4)
    np.testing.assert_array_equal(y, x.reshape(2, 3, 4))
    with backend.floatx_scope("float64"):
        errors = nn.debug.gradient_check(nn.layers.Reshape((2, 2, 3)), backend.to_device(x + 0.5))
    assert errors["x"] < 1e-6


def test_reshape_size_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot reshape"):
        nn.layers.Reshape((5,))(np.zeros((2, 12)))
    with pytest.raises(ValueError, match="at most one -1"):
        nn.layers.Reshape((-1, -1))


@pytest.mark.parametrize("padding, pads", [(1, ((1, 1), (1, 1))), ((1, 2), ((1, 1), (2, 2))),
                                           (((0, 1), (2, 3)), ((0, 1), (2, 3)))])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding2d_values_and_gradient(backend, padding, pads, data_format):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 2))
    layer = nn.layers.ZeroPadding2D(padding, data_format=data_format)
    y = backend.to_host(layer(backend.to_device(x)))
    full = [(0, 0), pads[0], pads[1], (0, 0)] if data_format == "channels_last" else [(0, 0), (0, 0), pads[0], pads[1]]
    np.testing.assert_array_equal(y, np.pad(x, full))
    assert layer.output_shape[1:] == y.shape[1:]
    with backend.floatx_scope("float64"):
        errors = nn.debug.gradient_check(nn.layers.ZeroPadding2D(padding, data_format=data_format),
                                         backend.to_device(x))
    assert errors["x"] < 1e-6


def test_zero_padding2d_rejects_negative_padding():
    with pytest.raises(ValueError, match="non-negative"):
        nn.layers.ZeroPadding2D(((1, -1), (0, 0)))
