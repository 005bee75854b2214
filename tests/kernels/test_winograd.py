"""The fast tier's Winograd convolution F(2x2, 3x3) (``kernels/fast_winograd.py`` and its loops
``kernels/winograd_loops.py``): each tile transform against its adjoint (<T x, v> = <x, T^T v>,
the loops run compiled and as plain Python), and the convolution through ``fast.conv2d_*``
against the readable kernels, forward and backward, over odd and even sizes, both paddings,
activations, dtypes, chunks and threads; where it applies and where it does not."""
import itertools

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.kernels import fast, fast_winograd, jit, threads, winograd_loops
from nnscratch.layers import conv
from tests.kernels.test_tiers import close, distinct

pytest.importorskip("numba")
if not jit.enabled():
    pytest.skip("the compiled loops are switched off (NNSCRATCH_NO_JIT)", allow_module_level=True)


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "python"])
@pytest.mark.parametrize("n,H,W,C,top,left,th,tw", [(2, 5, 4, 3, 1, 1, 3, 2), (1, 4, 7, 2, 0, 0, 1, 3), (2, 3, 3, 1, 2, 1, 2, 2)])
def test_input_tiles_adjoint_is_its_transpose(compiled, n, H, W, C, top, left, th, tw):
    fwd, adj = winograd_loops.input_tiles, winograd_loops.input_tiles_adjoint
    if compiled:
        fwd, adj = jit.compiled(fwd), jit.compiled(adj)
    x, v = rand((n, H, W, C), 0), rand((16, n * th * tw, C), 1)
    V = np.empty((16, n * th * tw, C))
    fwd(x, V, top, left, th, tw)
    xT = np.full_like(x, np.nan)  # overwritten
    adj(v, xT, top, left, th, tw)
    assert abs(np.vdot(V, v) - np.vdot(x, xT)) < 1e-10 * (1 + abs(np.vdot(V, v)))
    assert np.abs(xT).max() > 0  # every input under some tile got a share


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "python"])
@pytest.mark.parametrize("n,H_out,W_out,F", [(2, 4, 4, 3), (1, 5, 3, 2), (3, 1, 1, 4)])
def test_output_tiles_adjoint_is_its_transpose_and_sums_the_bias_gradient(compiled, n, H_out, W_out, F):
    fwd, adj = winograd_loops.output_tiles, winograd_loops.output_tiles_adjoint
    if compiled:
        fwd, adj = jit.compiled(fwd), jit.compiled(adj)
    th, tw = (H_out + 1) // 2, (W_out + 1) // 2
    M, g = rand((16, n * th * tw, F), 2), rand((n, H_out, W_out, F), 3)
    y = np.empty((n, H_out, W_out, F))
    fwd(M, np.zeros(F), y, th, tw, False)
    DY, db = np.empty_like(M), np.zeros(F)
    adj(g, g, DY, db, th, tw, False)
    assert abs(np.vdot(y, g) - np.vdot(M, DY)) < 1e-10 * (1 + abs(np.vdot(y, g)))
    np.testing.assert_allclose(db, g.sum(axis=(0, 1, 2)), rtol=1e-12)
    # with ReLU: forward clips at 0, backward masks dz by y > 0
    yr = np.empty_like(y)
    fwd(M, np.zeros(F), yr, th, tw, True)
    np.testing.assert_array_equal(yr, np.maximum(y, 0))
    DYr, dbr = np.empty_like(M), np.zeros(F)
    adj(g, yr, DYr, dbr, th, tw, True)
    DYm = np.empty_like(M)
    adj(g * (yr > 0), g, DYm, np.zeros(F), th, tw, False)
    np.testing.assert_allclose(DYr, DYm, rtol=1e-12, atol=1e-12)


def test_kernel_transform_and_its_gradient_are_transposes():
    g, dU = rand((3, 3, 4, 5), 4), rand((16, 4, 5), 5)
    U = fast_winograd.kernel_tiles(g)
    assert U.shape == (16, 4, 5)
    assert abs(np.vdot(U, dU) - np.vdot(g, fast_winograd.kernel_grad(dU))) < 1e-10 * abs(np.vdot(U, dU))
    # U = G g G^T per (c, f), spelled out
    G = np.array(fast_winograd.G)
    np.testing.assert_allclose(U[:, 1, 2].reshape(4, 4), G @ g[:, :, 1, 2] @ G.T, rtol=1e-12)


CASES = list(itertools.product([(2, 7, 6, 16, 4), (3, 8, 9, 17, 2), (1, 3, 4, 20, 3), (2, 12, 10, 32, 32)],
                               ["valid", "same"], [None, "relu", "tanh"]))


def _run(x, kernel, bias, padding, f):
    outs = {}
    for name, tier in (("readable", conv), ("fast", fast)):
        y, cache = tier.conv2d_forward(x, kernel, bias, (1, 1), padding, (1, 1), f)
        dy = distinct(y.shape, 7, x.dtype.name)
        outs[name] = (y,) + tuple(tier.conv2d_backward(dy, cache, kernel, True)), cache
    return outs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,padding,activation", CASES)
def test_fast_tier_convolves_by_winograd_with_the_readable_results(dtype, shape, padding, activation):
    N, H, W, C, F = shape
    x = distinct((N, H, W, C), 0, dtype)
    kernel = (distinct((3, 3, C, F), 1, dtype) / np.sqrt(C)).astype(dtype)
    bias = distinct((F,), 2, dtype)
    f = None if activation is None else nn.activations.get(activation)
    outs = _run(x, kernel, bias, padding, f)
    assert "winograd" in outs["fast"][1], "a 3x3 stride-1 convolution with >= MIN_CHANNELS channels"
    for q, a, b in zip(("y", "dx", "dkernel", "dbias"), outs["fast"][0], outs["readable"][0]):
        assert a.dtype == dtype, q
        close(a, b, dtype, f"winograd {q} {shape} {padding} {activation}")
    dy = distinct(outs["fast"][0][0].shape, 7, dtype)
    none_dx, dk, db = fast.conv2d_backward(dy, outs["fast"][1], kernel, False)
    assert none_dx is None
    np.testing.assert_array_equal(dk, outs["fast"][0][2])
    np.testing.assert_array_equal(db, outs["fast"][0][3])


@pytest.mark.parametrize("n_threads", [1, 3])
def test_winograd_chunks_and_threads_give_the_readable_results(monkeypatch, n_threads):
    monkeypatch.setattr(fast_winograd, "CHUNK_BYTES", 1)  # one image per chunk
    old = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        x = distinct((5, 9, 8, 16), 3, "float64")
        kernel, bias = distinct((3, 3, 16, 6), 4, "float64") / 4, distinct((6,), 5, "float64")
        outs = _run(x, kernel, bias, "same", nn.activations.get("relu"))
        assert "winograd" in outs["fast"][1]
        for q, a, b in zip(("y", "dx", "dkernel", "dbias"), outs["fast"][0], outs["readable"][0]):
            close(a, b, "float64", f"winograd {q}, {n_threads} threads")
    finally:
        threads.set_num_threads(old)


def test_bias_none_and_a_strided_input_view():
    x = distinct((3, 8, 8, 32), 6, "float32")[:, ::2]  # (3, 4, 8, 32), not contiguous
    kernel = distinct((3, 3, 32, 5), 7, "float32") / 8
    y_f, c = fast.conv2d_forward(x, kernel, None, (1, 1), "same", (1, 1))
    y_r, _ = conv.conv2d_forward(x, kernel, None, (1, 1), "same", (1, 1))
    assert "winograd" in c
    close(y_f, y_r, "float32", "winograd without bias on a strided view")


@pytest.mark.parametrize("why,kernel_shape,strides,dilation,C", [
    ("stride 2", (3, 3), (2, 2), (1, 1), 16), ("dilation", (3, 3), (1, 1), (2, 2), 16),
    ("5x5 kernel", (5, 5), (1, 1), (1, 1), 16), ("3x1 kernel", (3, 1), (1, 1), (1, 1), 16),
    ("few channels", (3, 3), (1, 1), (1, 1), fast_winograd.MIN_CHANNELS - 1)])
def test_winograd_applies_only_to_3x3_stride_1_convolutions(why, kernel_shape, strides, dilation, C):
    x = distinct((2, 9, 9, C), 8, "float64")
    kernel = distinct(kernel_shape + (C, 3), 9, "float64")
    assert not fast_winograd.applies(x, kernel, strides, dilation), why
    y_f, cache = fast.conv2d_forward(x, kernel, None, strides, "same", dilation)
    assert "winograd" not in cache, why
    close(y_f, conv.conv2d_forward(x, kernel, None, strides, "same", dilation)[0], "float64", why)


def test_without_the_compiled_loops_the_im2col_path_runs():
    x, kernel = distinct((2, 6, 6, 16), 10, "float64"), distinct((3, 3, 16, 4), 11, "float64")
    assert fast_winograd.applies(x, kernel, (1, 1), (1, 1))
    assert not fast_winograd.applies(x.astype("float32"), kernel, (1, 1), (1, 1))  # dtypes differ
    with jit.use_jit(False):
        assert not fast_winograd.applies(x, kernel, (1, 1), (1, 1))
        y_f, cache = fast.conv2d_forward(x, kernel, None, (1, 1), "same", (1, 1))
    assert "winograd" not in cache
    close(y_f, conv.conv2d_forward(x, kernel, None, (1, 1), "same", (1, 1))[0], "float64", "no jit")
