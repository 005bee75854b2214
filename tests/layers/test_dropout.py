"""Dropout: identity in inference, inverted scaling and mask statistics in training, seeding,
backward through the same mask, config, argument errors."""
import numpy as np
import pytest

import nnscratch as nn


def test_dropout_is_identity_when_not_training(backend):
    x = np.random.default_rng(0).standard_normal((8, 16)).astype("float32")
    x_dev = backend.to_device(x)
    layer = nn.layers.Dropout(0.5)
    y = layer(x_dev)  # training defaults to False
    np.testing.assert_array_equal(backend.to_host(y), x)
    np.testing.assert_array_equal(backend.to_host(layer(x_dev, training=False)), x)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(backend.to_host(layer.backward(backend.to_device(dy))), dy)


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.8])
def test_dropout_training_mask_statistics_and_scale(backend, rate):
    n = 200_000
    x = np.ones((n // 100, 100), dtype="float64")
    layer = nn.layers.Dropout(rate, seed=1)
    y = backend.to_host(layer(backend.to_device(x), training=True))
    kept = y != 0
    # kept cells are scaled by exactly 1 / (1 - rate) (inverted dropout)
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - rate), rtol=1e-15)
    # the kept fraction is Binomial(n, 1 - rate) / n: 5 standard deviations of slack
    sd = np.sqrt(rate * (1 - rate) / n)
    assert abs(kept.mean() - (1 - rate)) < 5 * sd, f"kept fraction {kept.mean()} for rate {rate}"
    # so the expected value of y is x: mean within 5 sd of 1
    assert abs(y.mean() - 1.0) < 5 * sd / (1 - rate)


def test_dropout_scale_for_rate_quarter_is_four_thirds_in_float32(backend):
    y = nn.layers.Dropout(0.25, seed=0)(backend.to_device(np.ones((10, 10), dtype="float32")), training=True)
    y = backend.to_host(y)
    assert y.dtype == np.float32
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1.0) / np.float32(0.75))}


def test_dropout_same_seed_gives_same_mask_and_different_seed_differs(backend):
    x = backend.to_device(np.ones((50, 40)))
    a = nn.layers.Dropout(0.5, seed=123)(x, training=True)
    b = nn.layers.Dropout(0.5, seed=123)(x, training=True)
    c = nn.layers.Dropout(0.5, seed=124)(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(backend.to_host(a), backend.to_host(c))


def test_dropout_draws_a_new_mask_each_training_call(backend):
    layer = nn.layers.Dropout(0.5, seed=7)
    x = backend.to_device(np.ones((30, 30)))
    first, second = backend.to_host(layer(x, training=True)), backend.to_host(layer(x, training=True))
    assert not np.array_equal(first, second)


def test_dropout_global_seed_makes_unseeded_layers_reproducible(backend):
    x = backend.to_device(np.ones((20, 20)))
    nn.utils.set_random_seed(42)
    a = nn.layers.Dropout(0.3)(x, training=True)
    nn.utils.set_random_seed(42)
    b = nn.layers.Dropout(0.3)(x, training=True)
    np.testing.assert_array_equal(a, b)


def test_dropout_backward_uses_the_forward_mask_and_scale(backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 9))
    layer = nn.layers.Dropout(0.4, seed=5)
    y = backend.to_host(layer(backend.to_device(x), training=True))
    scale = y / x  # the mask and scale that forward applied (x has no zeros)
    assert set(np.round(np.unique(scale), 12).tolist()) <= {0.0, round(1 / 0.6, 12)}
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(backend.to_host(layer.backward(backend.to_device(dy))), dy * scale, rtol=1e-12)
    # the numerical gradient through a fixed mask agrees too
    mask = layer.cache["scaled_mask"]

    class FixedMask(nn.layers.Dropout):
        def forward(self, x, training=False):
            return super().forward(x, training=True, mask=mask)

    result = nn.debug.gradient_check(FixedMask(0.4), backend.to_device(x))
    assert result.max_error < 1e-6, result  # float64 central differences


def test_dropout_rate_zero_is_identity_even_when_training(backend):
    x = np.random.default_rng(4).standard_normal((4, 4))
    np.testing.assert_array_equal(backend.to_host(nn.layers.Dropout(0.0)(backend.to_device(x), training=True)), x)


def test_dropout_config_round_trip():
    layer = nn.layers.Dropout(0.3, seed=9)
    cfg = layer.get_config()
    assert nn.layers.Dropout.from_config(cfg).get_config() == cfg
    assert cfg["rate"] == 0.3 and cfg["seed"] == 9
    assert nn.layers.Dropout(0.3).get_weights() == []


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, "0.5", None])
def test_dropout_invalid_rate_raises_with_valid_range(rate):
    with pytest.raises(ValueError, match=r"drop_args.*\[0, 1\)"):
        nn.layers.Dropout(rate, name="drop_args")


def test_dropout_backward_before_forward_raises(backend):
    with pytest.raises(RuntimeError, match="drop_fresh"):
        nn.layers.Dropout(0.5, name="drop_fresh").call_backward(backend.to_device(np.ones((2, 2))))
