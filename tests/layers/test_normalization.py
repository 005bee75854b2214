"""BatchNormalization: batch and moving statistics by hand, both modes, gradient checks."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2.0 + 0.5


def _bn_by_hand(x, gamma, beta, axis, eps):
    axes = tuple(i for i in range(x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    mu = x.mean(axis=axes)
    var = x.var(axis=axes)  # biased (ddof=0), as Keras
    y = (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
    return y, mu, var


@pytest.mark.parametrize("shape, axis", [((8, 5), -1), ((4, 3, 3, 2), -1), ((4, 2, 3, 3), 1)])
def test_batchnorm_training_uses_biased_batch_statistics_and_updates_moving_ones(backend, shape, axis):
    x = _x(shape).astype("float32")
    layer = nn.layers.BatchNormalization(axis=axis, momentum=0.9)
    C = shape[axis]
    gamma, beta = np.linspace(0.5, 1.5, C).astype("float32"), np.linspace(-1, 1, C).astype("float32")
    layer.build((None,) + shape[1:])
    layer.set_weights([gamma, beta, np.zeros(C, "float32"), np.ones(C, "float32")])
    y = backend.to_host(layer(backend.to_device(x), training=True))
    ax = axis % len(shape)
    y_ref, mu, var = _bn_by_hand(x.astype(np.float64), gamma, beta, ax, 1e-3)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5, err_msg="training output")
    mm, mv = layer.get_weights()[2:]
    np.testing.assert_allclose(mm, 0.9 * 0 + 0.1 * mu, rtol=1e-5, atol=1e-6, err_msg="moving_mean (old weight 0.9)")
    np.testing.assert_allclose(mv, 0.9 * 1 + 0.1 * var, rtol=1e-5, err_msg="moving_variance uses the biased variance")


def test_batchnorm_inference_uses_moving_statistics(backend):
    x = _x((6, 4)).astype("float32")
    layer = nn.layers.BatchNormalization(epsilon=0.01)
    layer.build((None, 4))
    mm, mv = np.array([0.1, -0.2, 0.3, 0.0], "float32"), np.array([1.5, 0.5, 2.0, 1.0], "float32")
    gamma, beta = np.array([1.0, 2.0, 0.5, 1.0], "float32"), np.array([0.0, 1.0, -1.0, 0.5], "float32")
    layer.set_weights([gamma, beta, mm, mv])
    y = backend.to_host(layer(backend.to_device(x), training=False))
    np.testing.assert_allclose(y, (x - mm) / np.sqrt(mv + 0.01) * gamma + beta, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.get_weights()[2], mm, err_msg="inference must not move the statistics")


def test_batchnorm_weights_order_and_trainability():
    layer = nn.layers.BatchNormalization()
    layer.build((None, 3, 3, 7))
    assert layer.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert set(layer.params) == {"gamma", "beta"}
    assert set(layer.state) == {"moving_mean", "moving_variance"}
    assert layer.count_trainable_params() == 14 and layer.count_params() == 28


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape, axis, center, scale", [((6, 4), -1, True, True), ((3, 4, 4, 2), -1, True, True),
                                                         ((3, 2, 4, 4), 1, True, True), ((5, 3), -1, False, True),
                                                         ((5, 3), -1, True, False)])
def test_batchnorm_backward_matches_numerical_gradient(backend, training, shape, axis, center, scale):
    with backend.floatx_scope("float64"):
        layer = nn.layers.BatchNormalization(axis=axis, center=center, scale=scale)
        layer.build((None,) + shape[1:])
        C = shape[axis]
        weights = ([np.linspace(0.5, 2, C)] if scale else []) + ([np.linspace(-1, 1, C)] if center else [])
        layer.set_weights(weights + [np.full(C, 0.2), np.full(C, 1.7)])
        # dy from its own stream: with dy an affine function of x (same seed), BN's dx is ~0
        dy = np.random.default_rng(42).standard_normal(shape)
        errors = nn.debug.gradient_check(layer, backend.to_device(_x(shape)), dy=backend.to_device(dy),
                                         training=training)
    for name, err in errors.items():
        assert err < 1e-6, f"BatchNormalization(training={training}): {name} relative error {err:.2e}"


def test_batchnorm_frozen_layer_runs_in_inference_mode(backend):
    x = _x((6, 3)).astype("float32")
    layer = nn.layers.BatchNormalization(trainable=False)
    y = backend.to_host(layer(backend.to_device(x), training=True))
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-6, err_msg="trainable=False uses moving stats")
    np.testing.assert_array_equal(layer.get_weights()[2], np.zeros(3))


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        nn.layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="axis 3 is invalid"):
        nn.layers.BatchNormalization(axis=3)(np.zeros((2, 3)))
