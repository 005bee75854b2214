"""The fast and the readable kernel tiers (through the layers, both data formats) against the
plain-loop reference tier, and ``use_reference_kernels`` (which goes through the dispatcher)."""
import itertools

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.kernels import reference as ref
from nnscratch.layers import AveragePooling2D, Conv2D, MaxPooling2D

N, H, W, C, F = 2, 7, 6, 2, 3


def distinct_input(shape, seed):
    """Distinct values (no max-pooling ties), in a random order."""
    g = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (g.permutation(size).reshape(shape) / size - 0.5).astype("float64")


def to_layout(a, data_format):
    """Host NHWC array -> device array in the layer's layout."""
    a = a.transpose(0, 3, 1, 2) if data_format == "channels_first" else a
    return nn.backend.to_device(np.ascontiguousarray(a))


def from_layout(a, data_format):
    """Device array in the layer's layout -> host NHWC array."""
    a = nn.backend.to_host(a)
    return a.transpose(0, 2, 3, 1) if data_format == "channels_first" else a


CONV_GRID = [
    (k, s, p, d, df)
    for k, s, p, d, df in itertools.product([(1, 1), (3, 3), (2, 3)], [(1, 1), (2, 2), (2, 1)], ["valid", "same"],
                                            [(1, 1), (2, 1)], ["channels_last", "channels_first"])
    if not (max(s) > 1 and max(d) > 1)
]


@pytest.mark.parametrize("kernel_size,strides,padding,dilation,data_format", CONV_GRID)
def test_conv2d_tier_matches_loop_reference(kernel_tier, kernel_size, strides, padding, dilation, data_format):
    with nn.backend.floatx_scope("float64"):
        layer = Conv2D(F, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                       data_format=data_format)
        x = distinct_input((N, H, W, C), 0)
        y = layer(to_layout(x, data_format))
    g = np.random.default_rng(1)
    kernel = g.standard_normal(layer.params["kernel"].shape)
    bias = g.standard_normal(F)
    layer.set_weights([kernel, bias])
    y = from_layout(layer(to_layout(x, data_format)), data_format)
    y_ref = ref.conv2d_naive(x, kernel, bias, strides, padding, dilation)
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-12, err_msg="conv2d forward")
    dy = g.standard_normal(y.shape)
    dx = from_layout(layer.call_backward(to_layout(dy, data_format)), data_format)
    dx_ref, dk_ref, db_ref = ref.conv2d_naive_backward(dy, x, kernel, strides, padding, dilation)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12, err_msg="conv2d dx")
    np.testing.assert_allclose(nn.backend.to_host(layer.grads["kernel"]), dk_ref, rtol=1e-10, atol=1e-12, err_msg="conv2d dkernel")
    np.testing.assert_allclose(nn.backend.to_host(layer.grads["bias"]), db_ref, rtol=1e-10, atol=1e-12, err_msg="conv2d dbias")


POOL_GRID = list(itertools.product([(2, 2), (3, 3), (2, 3)], [None, (1, 1), (2, 2), (1, 2)], ["valid", "same"],
                                   ["channels_last", "channels_first"]))


@pytest.mark.parametrize("cls,naive,naive_backward", [
    (MaxPooling2D, ref.maxpool_naive, ref.maxpool_naive_backward),
    (AveragePooling2D, ref.avgpool_naive, ref.avgpool_naive_backward),
], ids=["max", "avg"])
@pytest.mark.parametrize("pool_size,strides,padding,data_format", POOL_GRID)
def test_pooling_tier_matches_loop_reference(kernel_tier, cls, naive, naive_backward, pool_size, strides, padding, data_format):
    x = distinct_input((N, H, W, C), 2)
    with nn.backend.floatx_scope("float64"):
        layer = cls(pool_size, strides=strides, padding=padding, data_format=data_format)
        y = from_layout(layer(to_layout(x, data_format)), data_format)
    y_ref = naive(x, pool_size, strides, padding)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-14, err_msg=f"{cls.__name__} forward")
    dy = np.random.default_rng(3).standard_normal(y.shape)
    dx = from_layout(layer.call_backward(to_layout(dy, data_format)), data_format)
    np.testing.assert_allclose(dx, naive_backward(dy, x, pool_size, strides, padding), rtol=1e-12, atol=1e-14,
                               err_msg=f"{cls.__name__} backward")


def test_avgpool_same_divides_by_real_cells_and_maxpool_ignores_padding():
    x = np.arange(1, 26, dtype="float64").reshape(1, 5, 5, 1)
    y = ref.avgpool_naive(x, (2, 2), None, "same")
    assert y[0, -1, -1, 0] == 25.0 and y[0, 0, -1, 0] == 7.5  # TF: (5 + 10) / 2
    assert ref.maxpool_naive(-x, (2, 2), None, "same")[0, -1, -1, 0] == -25.0


def test_reference_rejects_wrong_rank():
    with pytest.raises(ValueError, match="rank 4"):
        ref.maxpool_naive(np.zeros((5, 5)))


def test_use_reference_kernels_trains_a_lenet_like_model_identically():
    def build():
        nn.utils.set_random_seed(4)
        m = nn.Sequential([nn.Input((8, 8, 1)), Conv2D(2, 3, padding="same", activation="relu"),
                           MaxPooling2D(), Conv2D(3, 2), AveragePooling2D(2, padding="same"),
                           nn.layers.Flatten(), nn.layers.Dense(3, activation="softmax")])
        m.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return m

    x = distinct_input((3, 8, 8, 1), 5).astype("float32")
    y = np.array([0, 1, 2])
    fast, slow = build(), build()
    with nn.debug.use_reference_kernels(slow) as swapped:
        assert len(swapped.layers) == 4
        loss_slow = slow.train_on_batch(x, y)
        p_slow = slow.predict(x)
    loss_fast = fast.train_on_batch(x, y)
    assert loss_slow == pytest.approx(loss_fast, rel=1e-5)
    np.testing.assert_allclose(p_slow, fast.predict(x), rtol=1e-4, atol=1e-6)
    for a, b in zip(slow.get_weights(), fast.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert all("forward" not in vars(l) for l in slow.layers)  # no method patched onto an instance
    assert all(getattr(l, "kernel_tier", None) is None for l in slow.layers)  # restored


def test_use_reference_kernels_runs_the_reference_tier_through_the_dispatcher(monkeypatch):
    calls = []
    real = ref.KERNELS["conv2d_forward"]
    monkeypatch.setitem(ref.KERNELS, "conv2d_forward", lambda *a: calls.append(1) or real(*a))
    layer = Conv2D(2, 3)
    x = distinct_input((1, 5, 5, 1), 6)
    layer(x)
    assert calls == [], "the default tier must not run the reference kernels"
    with nn.debug.use_reference_kernels(layer) as swapped:
        assert swapped.layers == [(layer, None)] and layer.kernel_tier == "reference"
        layer(x)
    assert calls == [1] and layer.kernel_tier is None


def test_old_debug_reference_module_still_exports_the_loops():
    from nnscratch.debug import reference as old

    assert old.conv2d_naive is ref.conv2d_naive and old.maxpool_naive_backward is ref.maxpool_naive_backward
