"""The fast tier's Adam update (one compiled pass) against the readable one, and where it
declines (the readable update then runs)."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import kernels
from nnscratch.kernels import fast_adam, jit
from nnscratch.optimizers.adam import adam_update

pytest.importorskip("numba")
if not jit.enabled():
    pytest.skip("the compiled loops are switched off (NNSCRATCH_NO_JIT)", allow_module_level=True)


def state(shape, dtype, seed):
    g = np.random.default_rng(seed)
    p, grad = g.standard_normal(shape).astype(dtype), g.standard_normal(shape).astype(dtype)
    m, v = (g.standard_normal(shape) * 0.1).astype(dtype), (g.random(shape) * 0.01).astype(dtype)
    return p, grad, m, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (33, 5), (3, 3, 2, 4)])
def test_fast_adam_update_equals_the_readable_one(dtype, shape):
    t = np.dtype(dtype).type
    args = (t(0.1), t(0.001), t(0.0123), t(1e-7))
    fast, slow = state(shape, dtype, 0), state(shape, dtype, 0)
    assert fast_adam.adam_update(*fast[:4], None, *args, None, None) is True
    adam_update(*slow[:4], None, *args, np.empty(shape, dtype), np.empty(shape, dtype))
    for a, b, what in zip(fast, slow, ("param", "grad", "m", "v")):
        np.testing.assert_array_equal(a, b, err_msg=what)  # the same float operations, in the same order
    assert not np.array_equal(fast[0], state(shape, dtype, 0)[0])  # the parameter moved


def test_fast_adam_declines_what_it_does_not_handle():
    p, g, m, v = state((4, 3), "float32", 1)
    args = (np.float32(0.1), np.float32(0.001), np.float32(0.01), np.float32(1e-7), None, None)
    before = p.copy()
    assert fast_adam.adam_update(p, g, m, v, v.copy(), *args) is False  # amsgrad
    assert fast_adam.adam_update(p.T, g.T, m.T, v.T, None, *args) is False  # not contiguous
    assert fast_adam.adam_update(p, g.astype("float64"), m, v, None, *args) is False  # mixed dtypes
    np.testing.assert_array_equal(p, before)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_trains_the_same_on_the_fast_and_readable_tiers(amsgrad):
    def run(tier):
        nn.utils.set_random_seed(3)
        model = nn.Sequential([nn.Input((6,)), nn.layers.Dense(5, activation="relu"), nn.layers.Dense(3)])
        model.compile(nn.optimizers.Adam(0.01, amsgrad=amsgrad), loss="mse")
        x = np.random.default_rng(4).random((32, 6)).astype("float32")
        y = np.random.default_rng(5).random((32, 3)).astype("float32")
        with kernels.use_tier(tier):
            model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
        return model.get_weights()

    for a, b in zip(run("fast"), run("readable")):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


TINY32 = np.finfo(np.float32).tiny  # 1.18e-38, the smallest normal float32


def test_fast_adam_flushes_denormals_to_zero_as_tensorflow_does():
    """TF runs its ops with FTZ/DAZ (denormal results written, and denormal inputs read, as 0);
    the fast update does too (kernels/denormals.py), the caller's NumPy outside it does not."""
    p = np.ones(6, np.float32)
    g = np.array([1e-20, 0, 0, 1e-3, 0, 3e-20], np.float32)  # g * g = 1e-40: denormal
    m = np.array([0, 5e-39, 2e-38, 1e-3, 0, 0], np.float32)  # 5e-39: a denormal moment
    v = np.zeros(6, np.float32)
    args = (np.float32(0.1), np.float32(0.001), np.float32(0.01), np.float32(1e-7), None, None)
    assert fast_adam.adam_update(p, g, m, v, None, *args) is True
    assert v[0] == 0 and v[5] == 0  # 0 + (1e-40 - 0) * 0.001: flushed (NumPy: 1e-43)
    assert m[1] == 0  # 5e-39 read as 0 (NumPy: 4.5e-39)
    assert m[2] == np.float32(2e-38)  # the step (0 - m) * 0.1 = -2e-39 is flushed, so m stays (NumPy: 1.8e-38)
    assert v[3] > 0 and m[3] > 0 and p[3] < 1  # normal values update as before
    assert np.float32(1e-20) * np.float32(1e-20) > 0  # the flush ended with the update
