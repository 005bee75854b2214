"""Fast tier: 3x3 convolutions with stride 1 by Winograd's minimal filtering F(2x2, 3x3).

The readable kernel multiplies each output's 3x3xC window by the kernel: 9*C*F
multiply-adds per output position. Winograd (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016) computes a 2x2 block of outputs from its 4x4 block of
inputs d with 16*C*F, 4*C*F per output, 2.25 times fewer:

    y = A^T [ (G g G^T) * (B^T d B) ] A      (per channel pair; * elementwise, summed over c)

with the constant matrices below (``winograd_loops`` spells B^T and A^T out). Summed over the
input channels, the 16 elementwise products become 16 matrix products, one per position k of
the 4x4 block: M[k] = V[k] @ U[k], V[k] (tiles, C) the transformed inputs, U[k] (C, F) the
transformed kernel. The transforms are additions only (``winograd_loops``, compiled).

Backward is the exact gradient of that computation (every step is linear, so its transpose):

    dL/dU[k] = V[k]^T @ DY[k]        DY = A g A^T, g = dL/dz on the tile (2x2, 0 past the edge)
    dL/dg    = G^T dL/dU G           (per (c, f))
    dL/dV[k] = DY[k] @ U[k]^T,  dL/dx = the tiles' B dL/dV B^T added into place

so dx needs no rotated kernel and dW no im2col: both come from the same tile transforms as
forward. In float32 the results differ from the direct sums by rounding only (the transforms
add at most 4 terms of each sign); ``tests/kernels/test_winograd.py`` checks them against the
readable kernel, in float32 and float64.

The batch runs in chunks of a few images whose tile matrices fit in the CPU cache, spread
over ``threads.num_threads()`` threads with BLAS on one thread inside them (as ``fast_conv``).
It applies to host arrays when Numba is there (``jit``); otherwise ``fast_conv``'s im2col path
runs.

Measured (AMD EPYC, 2 cores, OpenBLAS SkylakeX kernels, float32): per image of the suite's
conv net's 28x28, 32 -> 32 layer, one thread, medians of 300 calls: forward 107 us by im2col
(im2col 24, product 80, bias + ReLU 3) -> 83 us (input tiles 28, the 16 products 36, output
tiles 19); backward 218 us (dz's im2col 25, the two products 108 + 79, the rest 6) -> 147 us
(input tiles 28, DY 16, the two sets of products 33 + 34, dx's tiles 36). One training step,
2 threads, in-process A/B, medians of 10 alternating rounds (paired ratios, this path / the
im2col path): the suite's conv net 0.81 and 0.75, the Simple MNIST convnet 0.93 and 0.91;
LeNet (6 -> 16 channels on 13x13) 1.29, where the products' K = 6 is too small for BLAS, hence
``MIN_CHANNELS``. (An earlier attempt with the transforms as NumPy slice arithmetic lost: the
transforms ate the products' gain.)
"""
from __future__ import annotations

import contextlib

from nnscratch import backend
from nnscratch.activations import ReLU
from nnscratch.kernels import jit, threads, winograd_loops
from nnscratch.kernels import fast_pointwise as pointwise
from nnscratch.kernels.scratch import scratch

#: G (4x3): the kernel transform U = G g G^T.
G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))
#: Target size (bytes) of one chunk's tile matrices (V and M: 16 * tiles * (C + F) values).
CHUNK_BYTES = 1 << 20
#: From this many input channels on: fewer make the 16 products too thin (LeNet's 6 channels: the
#: step 1.29x slower); one channel has ``fast_conv1`` and the transposed im2col.
MIN_CHANNELS = 16


def applies(x, kernel, strides, dilation_rate):
    """Whether this tier's Winograd path computes the convolution: 3x3, stride 1, no dilation,
    host float arrays of one dtype, at least ``MIN_CHANNELS`` input channels, Numba there."""
    if backend.is_device_array(x) or x.dtype.kind != "f" or kernel.dtype != x.dtype:
        return False
    if tuple(kernel.shape[:2]) != (3, 3) or tuple(strides) != (1, 1) or tuple(dilation_rate) != (1, 1):
        return False
    return kernel.shape[2] >= MIN_CHANNELS and jit.compiled(winograd_loops.input_tiles) is not None


def kernel_tiles(kernel):
    """U (16, C, F): U[4a + b] = (G g G^T)[a, b] for each (c, f), g = kernel[:, :, c, f]."""
    xp = backend.get_array_module(kernel)
    _, _, C, F = kernel.shape
    g = xp.asarray(G, dtype=kernel.dtype)
    Gk = xp.matmul(g, kernel.reshape(3, 3 * C * F)).reshape(4, 3, C * F)  # G g: along the kernel's rows
    return xp.matmul(g, Gk).reshape(16, C, F)  # (G g) G^T: per row a, G @ (G g)[a] (3, C*F)


def kernel_grad(dU):
    """dL/dW (3, 3, C, F) = G^T dL/dU G, from dL/dU (16, C, F) (a fresh array)."""
    xp = backend.get_array_module(dU)
    _, C, F = dU.shape
    gT = xp.asarray(G, dtype=dU.dtype).T
    t = xp.matmul(gT, dU.reshape(4, 4 * C * F)).reshape(3, 4, C * F)  # G^T dU: along the rows
    return xp.matmul(gT, t).reshape(3, 3, C, F)  # (G^T dU) G: per row i, G^T @ (G^T dU)[i] (4, C*F)


def _tiles(H_out, W_out):
    return (H_out + 1) // 2, (W_out + 1) // 2


def _ranges(N, tiles_per_image, C, F, itemsize):
    step = max(1, CHUNK_BYTES // max(16 * tiles_per_image * (C + F) * itemsize, 1))
    return threads.split(N, threads.num_threads()), step


def _chunks(xp, n0, n1, step, tiles, dtype, **widths):
    """(a, e, buffers) for the chunks [a, e) of images [n0, n1): buffers[name] is a (16, tiles of
    the chunk, width) view of one scratch array per name, taken once for the whole range."""
    full = {name: scratch(xp, (16, step * tiles, w), dtype, slot="wino-" + name) for name, w in widths.items()}
    for a in range(n0, n1, step):
        e = min(a + step, n1)
        yield a, e, {name: buf[:, :(e - a) * tiles] for name, buf in full.items()}


def _blas_scope(ranges):
    return threads.single_threaded_blas() if len(ranges) > 1 else contextlib.nullcontext()


def conv2d_forward(x, kernel, bias, pads, activation=None):
    """The readable conv2d_forward for a 3x3 kernel with stride 1 (``applies``), padded by
    pads ((top, bottom), (left, right)). Cache: winograd, x, pads, activation, y."""
    xp = backend.get_array_module(x)
    N, H, W, C = x.shape
    F = kernel.shape[3]
    (top, bottom), (left, right) = pads
    H_out, W_out = H + top + bottom - 2, W + left + right - 2
    th, tw = _tiles(H_out, W_out)
    U = kernel_tiles(kernel)
    b = xp.zeros(F, dtype=x.dtype) if bias is None else bias
    relu = type(activation) is ReLU
    y = xp.empty((N, H_out, W_out, F), dtype=x.dtype)
    tiles_in, tiles_out = jit.compiled(winograd_loops.input_tiles), jit.compiled(winograd_loops.output_tiles)

    def work(n0, n1):
        for a, e, buf in _chunks(xp, n0, n1, step, th * tw, x.dtype, V=C, M=F):
            V, M = buf["V"], buf["M"]
            tiles_in(x[a:e], V, top, left, th, tw)  # V = B^T d B
            xp.matmul(V, U, out=M)  # M[k] = V[k] @ U[k]
            tiles_out(M, b, y[a:e], th, tw, relu)  # y = A^T M A + bias (ReLU fused)
            if activation is not None and not relu:
                pointwise.activate(activation, y[a:e])

    ranges, step = _ranges(N, th * tw, C, F, x.itemsize)
    with _blas_scope(ranges):
        threads.run_ranges(work, ranges)
    return y, {"winograd": True, "x": x, "pads": pads, "activation": activation, "y": y}


def conv2d_backward(dy, cache, kernel, need_input_grad=True):
    """The readable conv2d_backward for a cache of ``conv2d_forward``: each thread rebuilds its
    chunks' V from x and sums V^T @ DY and dz into its own partial dL/dU, db; dx is added tile
    by tile (the tiles of one image stay on one thread). dW does not depend on need_input_grad."""
    xp = backend.get_array_module(dy)
    x, y, f = cache["x"], cache["y"], cache["activation"]
    (top, _), (left, _) = cache["pads"]
    N, H, W, C = x.shape
    _, H_out, W_out, F = y.shape
    th, tw = _tiles(H_out, W_out)
    relu = type(f) is ReLU
    UT = xp.ascontiguousarray(kernel_tiles(kernel).transpose(0, 2, 1)) if need_input_grad else None  # U[k]^T (F, C)
    dx = xp.empty(x.shape, dtype=dy.dtype) if need_input_grad else None
    tiles_in = jit.compiled(winograd_loops.input_tiles)
    tiles_out_T = jit.compiled(winograd_loops.output_tiles_adjoint)
    tiles_in_T = jit.compiled(winograd_loops.input_tiles_adjoint)

    def work(n0, n1):
        dU = xp.zeros((16, C, F), dtype=dy.dtype)
        db = xp.zeros(F, dtype="float64")  # the loop's running sum, in double precision
        tmp = scratch(xp, (16, C, F), dy.dtype, slot="wino-dU")
        for a, e, buf in _chunks(xp, n0, n1, step, th * tw, dy.dtype, V=C, DY=F):
            V, DY = buf["V"], buf["DY"]
            tiles_in(x[a:e], V, top, left, th, tw)
            if relu or f is None:
                dz, mask = dy[a:e], y[a:e]
            else:
                dz = pointwise.activation_grad(f, dy[a:e], y[a:e])  # dL/dz = f'(z) * dL/dy
                mask = dz
            tiles_out_T(dz, mask, DY, db, th, tw, relu)  # DY = A dz A^T (dz = dy * (y > 0) for ReLU)
            dU += xp.matmul(V.transpose(0, 2, 1), DY, out=tmp)  # dL/dU[k] += V[k]^T @ DY[k]
            if need_input_grad:
                dV = xp.matmul(DY, UT, out=V)  # dL/dV[k] = DY[k] @ U[k]^T, in V's memory (V is done)
                tiles_in_T(dV, dx[a:e], top, left, th, tw)  # dL/dx = the sum of the tiles' B dV B^T
        return dU, db

    ranges, step = _ranges(N, th * tw, C, F, dy.itemsize)
    with _blas_scope(ranges):
        parts = threads.run_ranges(work, ranges)
    dU, db = parts[0]
    for pdU, pdb in parts[1:]:
        dU += pdU
        db += pdb
    return dx, kernel_grad(dU), db.astype(dy.dtype)
