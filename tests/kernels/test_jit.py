"""The fast tier's compiled loops (``kernels/fast_loops.py`` and ``kernels/conv1_loops.py``,
through ``kernels/jit.py``) against the readable kernels, and the same fast-tier calls with the
loops switched off (its NumPy code): 2x2 pooling forward, non-overlapping pooling backward,
im2col of padded input, col2im, bias + ReLU and relu'(z) * dy, and the one-channel
convolution's loops (forward and weight gradient)."""
import itertools

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.kernels import fast, fast_conv, fast_conv1, jit, threads
from nnscratch.layers import conv, pooling
from tests.kernels.test_tiers import close, distinct

pytest.importorskip("numba")
if not jit.enabled():
    pytest.skip("the compiled loops are switched off (NNSCRATCH_NO_JIT)", allow_module_level=True)


@pytest.fixture
def used(monkeypatch):
    """The names of the compiled loops that ran (jit.compiled returned a kernel for them)."""
    names = []
    real = jit.compiled

    def recording(fn):
        kernel = real(fn)
        if kernel is not None:
            names.append(fn.__name__)
        return kernel

    monkeypatch.setattr(jit, "compiled", recording)
    return names


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def n_threads(request):
    old = threads.num_threads()
    threads.set_num_threads(request.param)
    yield request.param
    threads.set_num_threads(old)


POOLS = list(itertools.product([(3, 8, 8, 5), (2, 7, 9, 16), (2, 9, 6, 1)],
                               [((2, 2), (2, 2)), ((2, 2), (1, 1)), ((2, 2), (3, 2)), ((3, 3), (3, 3))],
                               ["valid", "same"]))


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,geometry,padding", POOLS)
def test_compiled_pooling_equals_the_readable_kernel(used, n_threads, op, dtype, shape, geometry, padding):
    pool_size, strides = geometry
    x = distinct(shape, 1, dtype)
    forward, backward = getattr(pooling, f"{op}_pool_forward"), getattr(pooling, f"{op}_pool_backward")
    y_r, c_r = forward(x, pool_size, strides, padding)
    dy = distinct(y_r.shape, 2, dtype)
    dx_r = backward(dy, c_r)
    y_f, c_f = fast.KERNELS[f"{op}_pool_forward"](x, pool_size, strides, padding)
    dx_f = fast.KERNELS[f"{op}_pool_backward"](dy, c_f)
    close(y_f, y_r, dtype, f"{op} pool y")
    close(dx_f, dx_r, dtype, f"{op} pool dx")
    assert y_f.dtype == dx_f.dtype == dtype and dx_f.shape == x.shape
    expected = ([f"{op}_pool2x2_forward"] if pool_size == (2, 2) else []) + (
        [f"{op}_pool_tiles_backward"] if pool_size == strides else [])
    assert used == expected  # the compiled loop ran exactly where it applies
    with jit.use_jit(False):  # the fast tier's NumPy code gives the same
        y_n, c_n = fast.KERNELS[f"{op}_pool_forward"](x, pool_size, strides, padding)
        close(fast.KERNELS[f"{op}_pool_backward"](dy, c_n), dx_r, dtype, f"{op} pool dx without the loops")
    close(y_n, y_r, dtype, f"{op} pool y without the loops")
    assert used == expected


def test_compiled_max_pool_keeps_the_readable_ties_and_nan_rule(used):
    x = np.zeros((1, 4, 4, 3), dtype="float32")  # every window one big tie: the first tap wins
    x[0, 1, 1, 1] = np.nan  # a NaN that is not the window's first tap is passed over (readable: v > y)
    x[0, 2, 2, 2] = np.nan  # a NaN in the first tap stays (nothing is > NaN)
    y_r, c_r = pooling.max_pool_forward(x, (2, 2), (2, 2), "valid")
    y_f, c_f = fast.max_pool_forward(x, (2, 2), (2, 2), "valid")
    np.testing.assert_array_equal(y_f, y_r)
    np.testing.assert_array_equal(c_f["argmax"], c_r["argmax"])
    dy = np.ones_like(y_r)
    np.testing.assert_array_equal(fast.max_pool_backward(dy, c_f), pooling.max_pool_backward(dy, c_r))
    assert used == ["max_pool2x2_forward", "max_pool_tiles_backward"]


CONVS = list(itertools.product([(3, 3), (2, 3)], [(1, 1), (2, 2)], ["valid", "same"], [(1, 1), (2, 1)],
                               [None, "relu", "tanh"], [6, 16, 32, 40]))


def conv_loops(used):
    """The one-channel convolution's loops among those that ran (not the pooling/im2col/ReLU ones)."""
    return [name for name in used if name.startswith("conv")]


def expected_conv_loops(strides, dilation, activation, F):
    """The compiled loops ``fast_conv1`` picks for a one-channel conv (forward, then dW with no dx)."""
    if activation == "tanh":
        return []
    plain = strides == (1, 1) and dilation == (1, 1)
    forward = ["conv1_flat_forward"] if plain and F <= fast_conv1.FLAT_FORWARD_MAX_FILTERS else []
    if plain and F <= fast_conv1.FLAT_MAX_FILTERS:
        return forward + ["conv1_flat_weight_grad"]
    return forward + (["conv_weight_grad"] if F >= fast_conv1.PIXEL_MIN_FILTERS else [])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel_size,strides,padding,dilation,activation,F", CONVS)
def test_compiled_one_channel_conv_equals_the_readable_one(monkeypatch, used, n_threads, dtype, kernel_size,
                                                           strides, padding, dilation, activation, F):
    if max(strides) > 1 and max(dilation) > 1:
        pytest.skip("Keras refuses strides > 1 with dilation > 1")
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)  # the chunked path, which caches x
    monkeypatch.setattr(fast_conv, "KEEP_COL_BYTES", 0)  # (one thread: not the whole-batch path)
    f = None if activation is None else nn.activations.get(activation)
    x = distinct((5, 9, 8, 1), 3, dtype)
    kernel = distinct(kernel_size + (1, F), 4, dtype)
    bias = distinct((F,), 5, dtype)
    y_r, c_r = conv.conv2d_forward(x, kernel, bias, strides, padding, dilation, f)
    y_f, c_f = fast.conv2d_forward(x, kernel, bias, strides, padding, dilation, f)
    close(y_f, y_r, dtype, "conv y")
    dy = distinct(y_r.shape, 6, dtype)
    _, dk_r, db_r = conv.conv2d_backward(dy, c_r, kernel, False)
    none, dk_f, db_f = fast.conv2d_backward(dy, c_f, kernel, False)
    assert none is None and dk_f.shape == kernel.shape
    close(dk_f, dk_r, dtype, "dkernel")
    close(db_f, db_r, dtype, "dbias")
    assert conv_loops(used) == expected_conv_loops(strides, dilation, activation, F)
    used.clear()
    dx, dk_g, db_g = fast.conv2d_backward(dy, c_f, kernel, True)  # dx by the im2col path, dW as without dx
    assert conv_loops(used) == [name for name in expected_conv_loops(strides, dilation, activation, F)
                                if "grad" in name]
    np.testing.assert_array_equal(dk_g, dk_f)
    np.testing.assert_array_equal(db_g, db_f)
    close(dx, conv.conv2d_backward(dy, c_r, kernel, True)[0], dtype, "dx")


def test_compiled_conv_loops_only_for_one_channel(monkeypatch, used):
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    x, kernel = distinct((3, 7, 7, 2), 7, "float64"), distinct((3, 3, 2, 6), 8, "float64")
    y, cache = fast.conv2d_forward(x, kernel, None, (1, 1), "valid", (1, 1))
    _, dk_f, _ = fast.conv2d_backward(np.ones_like(y), cache, kernel, False)
    y_r, c_r = conv.conv2d_forward(x, kernel, None, (1, 1), "valid", (1, 1))
    close(dk_f, conv.conv2d_backward(np.ones_like(y_r), c_r, kernel, False)[1], "float64", "two channels")
    assert conv_loops(used) == []


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("C,strides,dilation,padding", [(6, (1, 1), (1, 1), "valid"), (3, (2, 1), (1, 1), "same"),
                                                        (5, (1, 1), (2, 1), "same"), (1, (3, 2), (1, 1), "valid")])
@pytest.mark.parametrize("path", ["whole", "chunks"])
def test_compiled_im2col_and_col2im_give_the_readable_conv(monkeypatch, used, dtype, C, strides, dilation, padding,
                                                           path):
    if path == "chunks":
        monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    x = distinct((3, 9, 8, C), 10, dtype)
    kernel = distinct((3, 2, C, 2 * C + 1), 11, dtype)  # more filters than channels: the col2im path
    bias = distinct((2 * C + 1,), 13, dtype)
    relu = nn.activations.get("relu")
    y_r, c_r = conv.conv2d_forward(x, kernel, bias, strides, padding, dilation, relu)
    assert (y_r == 0).any() and (y_r > 0).any()
    dy = distinct(y_r.shape, 12, dtype)
    dx_r, dk_r, db_r = conv.conv2d_backward(dy, c_r, kernel, True)
    for on in (True, False):
        used.clear()
        with jit.use_jit(on):
            y_f, c_f = fast.conv2d_forward(x, kernel, bias, strides, padding, dilation, relu)
            dx_f, dk_f, db_f = fast.conv2d_backward(dy, c_f, kernel, True)
        for a, b, q in zip((y_f, dx_f, dk_f, db_f), (y_r, dx_r, dk_r, db_r), ("y", "dx", "dkernel", "dbias")):
            close(a, b, dtype, f"{q}, loops {'on' if on else 'off'}")
        assert ("col2im_add" in used) == on
        assert ("im2col_padded" in used) == (on and padding == "same" and C > 1)  # im2col of the padded x
        if C > 1:  # (one channel with 3 filters: fast_conv1's row loops fuse bias and ReLU themselves)
            assert ("bias_relu" in used) == on and ("relu_grad" in used) == on


@pytest.mark.parametrize("strides,dilation", [((1, 1), (1, 1)), ((1, 1), (2, 1)), ((2, 1), (1, 1)), ((1, 2), (1, 1))])
def test_compiled_col2im_equals_the_numpy_code_and_leaves_strided_arrays_to_it(used, strides, dilation):
    """The loop (its run-per-window-row form where the width stride and dilation are 1) adds the
    same terms as the NumPy code; arrays it cannot reshape in place (views) go to the NumPy code."""
    from nnscratch.kernels import fast_im2col as f2c

    KH, KW = 3, 2
    (SH, SW), (DH, DW) = strides, dilation
    dcol = distinct((2, 3, 4, KH, KW, 5), 17, "float64")
    shape = (2, SH * 2 + DH * (KH - 1) + 1, SW * 3 + DW * (KW - 1) + 1, 5)
    with jit.use_jit(False):
        expected = f2c.col2im_add(np.ones(shape), dcol, SH, SW, DH, DW)
    assert used == []
    got = f2c.col2im_add(np.ones(shape), dcol, SH, SW, DH, DW)
    assert used == ["col2im_add"]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    used.clear()
    wide = np.ones(shape[:2] + (2 * shape[2], 5))
    view = f2c.col2im_add(wide[:, :, ::2], dcol, SH, SW, DH, DW)
    assert used == [] and not view.flags.c_contiguous
    np.testing.assert_allclose(view, expected, rtol=1e-12)
    assert (wide[:, :, 1::2] == 1).all()


def test_no_jit_switch_turns_every_loop_off(used):
    with jit.use_jit(False):
        assert not jit.enabled() and jit.compiled(pooling.max_pool_forward) is None
        fast.max_pool_forward(distinct((2, 4, 4, 3), 9, "float32"), (2, 2), (2, 2), "valid")
    assert used == [] and jit.enabled()


@pytest.mark.parametrize("C,F", [(1, 6), (3, 8)])  # the one-channel row loop; bias_relu after the product
def test_compiled_relu_keeps_nan_as_the_readable_kernel(monkeypatch, used, C, F):
    """relu(NaN) is NaN (np.maximum propagates it) and relu(-0.0) is +0.0: a NaN in the input must
    reach the loss, not be zeroed by the fused ReLU."""
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    monkeypatch.setattr(fast_conv, "KEEP_COL_BYTES", 0)
    x = distinct((2, 6, 6, C), 14, "float32")
    x[1, 2, 3, 0] = np.nan
    kernel, bias = distinct((3, 3, C, F), 15, "float32"), distinct((F,), 16, "float32")
    relu = nn.activations.get("relu")
    y_r, _ = conv.conv2d_forward(x, kernel, bias, (1, 1), "same", (1, 1), relu)
    y_f, _ = fast.conv2d_forward(x, kernel, bias, (1, 1), "same", (1, 1), relu)
    assert np.isnan(y_r).any()
    np.testing.assert_array_equal(np.isnan(y_f), np.isnan(y_r))
    assert not np.signbit(y_f).any()
    assert used and set(used) <= {"conv1_flat_forward", "bias_relu", "im2col_padded"}
