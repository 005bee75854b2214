"""MaxPooling2D / AveragePooling2D: Keras shapes, values against the reference tier's loops
(the definition), tie routing, overlapping windows, 'same' semantics, gradient checks, config, errors."""
import math

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend
from nnscratch.kernels import reference as ref

pytestmark = pytest.mark.usefixtures("kernel_tier")  # every test on the fast and the readable kernels

GRAD_TOL = 1e-6  # float64 central differences with h=1e-6: a correct backward gives ~1e-8


def pool_naive(x, pool, strides, padding, op):
    """The reference tier's loop pooling (nnscratch/kernels/reference.py): 'same' windows only
    see real (unpadded) cells, TF's rule for both max (pad -inf) and average (not counted)."""
    naive = ref.maxpool_naive if op == "max" else ref.avgpool_naive
    return naive(x, pool, strides, padding)


def distinct_values(rng, shape):
    """A random permutation of well-separated values: no ties in any window, and a +-1e-6
    perturbation never changes which cell is the max."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.01 - 1.0


CASES = [  # (H, W, pool, strides, padding)
    (4, 4, (2, 2), None, "valid"),
    (5, 5, (2, 2), None, "valid"),       # floors: 5x5 -> 2x2
    (5, 5, (2, 2), None, "same"),        # odd total padding: extra row/col bottom/right
    (6, 7, (3, 2), (2, 1), "same"),      # non-square pool, strides, input
    (7, 6, (3, 3), (1, 1), "valid"),     # overlapping windows
    (6, 5, (2, 3), (3, 2), "valid"),
    (7, 7, (3, 3), (2, 2), "same"),
]
IDS = [f"{h}x{w}-p{p[0]}x{p[1]}-s{s}-{pad}" for h, w, p, s, pad in CASES]
CLASSES = {"max": nn.layers.MaxPooling2D, "avg": nn.layers.AveragePooling2D}


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("H,W,pool,strides,padding", CASES, ids=IDS)
def test_pooling_shape_and_values_match_naive_loop(backend, op, H, W, pool, strides, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, H, W, 3))
    layer = CLASSES[op](pool, strides=strides, padding=padding)
    y = backend.to_host(layer(backend.to_device(x)))
    s = strides or pool
    if padding == "same":
        expected_hw = (math.ceil(H / s[0]), math.ceil(W / s[1]))
    else:
        expected_hw = ((H - pool[0]) // s[0] + 1, (W - pool[1]) // s[1] + 1)
    assert y.shape == (2,) + expected_hw + (3,)
    assert layer.output_shape == (None,) + expected_hw + (3,)
    # float64; averages of <= 9 numbers: 1e-12 covers summation order
    np.testing.assert_allclose(y, pool_naive(x, pool, s, padding, op), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("H,W,pool,strides,padding", CASES, ids=IDS)
def test_pooling_backward_matches_numerical_gradient(backend, op, H, W, pool, strides, padding):
    rng = np.random.default_rng(1)
    x = backend.to_device(distinct_values(rng, (2, H, W, 2)))
    result = nn.debug.gradient_check(CLASSES[op](pool, strides=strides, padding=padding), x)
    assert set(result) == {"x"}
    assert result.max_error < GRAD_TOL, result


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("H,W,pool,strides,padding", [CASES[2], CASES[3], CASES[5]], ids=[IDS[2], IDS[3], IDS[5]])
def test_pooling_channels_first_equals_channels_last_on_transposed_data(backend, op, H, W, pool, strides, padding):
    dev, host = backend.to_device, backend.to_host
    rng = np.random.default_rng(2)
    x = distinct_values(rng, (2, H, W, 3))
    last = CLASSES[op](pool, strides=strides, padding=padding)
    first = CLASSES[op](pool, strides=strides, padding=padding, data_format="channels_first")
    y = host(last(dev(x)))
    np.testing.assert_array_equal(host(first(dev(x.transpose(0, 3, 1, 2)))), y.transpose(0, 3, 1, 2))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(host(first.backward(dev(dy.transpose(0, 3, 1, 2)))),
                               host(last.backward(dev(dy))).transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)
    result = nn.debug.gradient_check(first, dev(x.transpose(0, 3, 1, 2)))
    assert result.max_error < GRAD_TOL, result


def test_maxpool_tie_routes_whole_gradient_to_first_max_in_row_major_order(backend):
    x = np.array([[1.0, 5.0, 2.0, 2.0],
                  [5.0, 5.0, 2.0, 2.0],
                  [0.0, 0.0, 3.0, 1.0],
                  [0.0, 0.0, 1.0, 3.0]]).reshape(1, 4, 4, 1)
    layer = nn.layers.MaxPooling2D(2)
    y = backend.to_host(layer(backend.to_device(x)))
    np.testing.assert_array_equal(y[0, :, :, 0], [[5.0, 2.0], [0.0, 3.0]])
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 2, 2, 1)
    dx = backend.to_host(layer.backward(backend.to_device(dy)))[0, :, :, 0]
    expected = np.zeros((4, 4))
    # first max in row-major order of each window
    for (h, w), g in np.ndenumerate(dy[0, :, :, 0]):
        win = x[0, 2 * h:2 * h + 2, 2 * w:2 * w + 2, 0]
        i, j = divmod(int(np.argmax(win)), 2)  # np.argmax returns the first occurrence
        expected[2 * h + i, 2 * w + j] += g
    np.testing.assert_array_equal(dx, expected)
    assert dx[0, 1] == 10.0 and dx[1, 0] == 0.0 and dx[1, 1] == 0.0, "tie: only the first max gets dy"


def test_maxpool_overlapping_windows_accumulate_gradient(backend):
    # pool 3, stride 1 on 4x4: an isolated global max in the interior wins all 4 windows
    x = np.zeros((1, 4, 4, 1))
    x[0, 1, 2, 0] = 9.0
    x[0, :, :, 0] += np.arange(16).reshape(4, 4) * 1e-3  # no other ties
    layer = nn.layers.MaxPooling2D(3, strides=1)
    y = layer(backend.to_device(x))
    assert y.shape == (1, 2, 2, 1)
    dx = backend.to_host(layer.backward(backend.to_device(np.ones(y.shape))))
    windows_containing = sum(1 for h in range(2) for w in range(2) if h <= 1 < h + 3 and w <= 2 < w + 3)
    assert dx[0, 1, 2, 0] == windows_containing == 4
    assert dx.sum() == 4.0


def test_maxpool_same_pads_with_minus_infinity(backend):
    x = -np.arange(1, 26, dtype=np.float64).reshape(1, 5, 5, 1)  # all negative
    y = backend.to_host(nn.layers.MaxPooling2D(2, padding="same")(backend.to_device(x)))
    np.testing.assert_array_equal(y, pool_naive(x, (2, 2), (2, 2), "same", "max"))
    assert y[0, -1, -1, 0] == -25.0, "the padded corner window returns its one real cell, not 0"


def test_avgpool_same_excludes_padded_cells(backend):
    x = np.arange(1, 26, dtype=np.float64).reshape(1, 5, 5, 1)
    layer = nn.layers.AveragePooling2D(2, padding="same")
    y = backend.to_host(layer(backend.to_device(x)))
    # expectations from the definition: mean over the real cells of each window
    img = x[0, :, :, 0]
    bottom_right = img[4:6, 4:6].mean()   # one real cell: 25
    top_right = img[0:2, 4:6].mean()      # cells 5 and 10: 7.5
    assert y.shape == (1, 3, 3, 1)
    assert y[0, 2, 2, 0] == bottom_right == 25.0
    assert y[0, 0, 2, 0] == top_right == 7.5
    # backward: each cell gets dy / (number of real cells in its window)
    dx = backend.to_host(layer.backward(backend.to_device(np.ones_like(y))))[0, :, :, 0]
    counts = np.array([[4, 4, 2], [4, 4, 2], [2, 2, 1]], dtype=np.float64)
    expected = np.zeros((5, 5))
    for h in range(3):
        for w in range(3):
            expected[2 * h:2 * h + 2, 2 * w:2 * w + 2] += 1.0 / counts[h, w]
    np.testing.assert_allclose(dx, expected, rtol=0, atol=1e-15)


def test_pooling_has_no_weights_and_keras_defaults():
    mp = nn.layers.MaxPooling2D()
    assert mp.pool_size == (2, 2) and mp.strides == (2, 2) and mp.padding == "valid"
    mp.build((None, 4, 4, 1))
    assert mp.get_weights() == [] and mp.params == {}
    with pytest.raises(TypeError):
        nn.layers.AveragePooling2D()  # pool_size is required in Keras 3


@pytest.mark.parametrize("cls", [nn.layers.MaxPooling2D, nn.layers.AveragePooling2D])
def test_pooling_config_round_trip(cls):
    layer = cls((3, 2), strides=(1, 2), padding="same", data_format="channels_first")
    cfg = layer.get_config()
    assert cls.from_config(cfg).get_config() == cfg
    assert cfg["pool_size"] == [3, 2] and cfg["strides"] == [1, 2]


@pytest.mark.parametrize("cls", [nn.layers.MaxPooling2D, nn.layers.AveragePooling2D])
@pytest.mark.parametrize("kwargs,valid", [({"strides": 0}, "positive"), ({"pool_size": 0}, "positive"),
                                          ({"padding": "foo"}, "valid.*same"),
                                          ({"data_format": "nchw"}, "channels_last.*channels_first")])
def test_pooling_invalid_arguments_raise_value_error(cls, kwargs, valid):
    args = {"pool_size": 2, "name": "pool_args", **kwargs}
    with pytest.raises(ValueError, match=valid) as info:
        cls(**args)
    assert "pool_args" in str(info.value), "the error names the layer"


@pytest.mark.parametrize("cls", [nn.layers.MaxPooling2D, nn.layers.AveragePooling2D])
def test_pooling_errors_name_the_layer(backend, cls):
    layer = cls(2, name="pool_err")
    with pytest.raises(ValueError, match=r"pool_err.*rank 4.*\(None, 4, 4\)"):
        layer(np.zeros((1, 4, 4)))
    layer(np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match=r"pool_err.*\(None, 4, 4, 2\).*\(None, 6, 6, 2\)"):
        layer(np.zeros((1, 6, 6, 2)))
    fresh = cls(2, name="pool_fresh")
    fresh.build((None, 4, 4, 1))
    with pytest.raises(RuntimeError, match="pool_fresh"):
        fresh.call_backward(backend.to_device(np.zeros((1, 2, 2, 1))))
