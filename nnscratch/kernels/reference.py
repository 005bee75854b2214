"""Plain-loop reference kernels: convolution and pooling written the slow, obvious way.

The third kernel tier (see ``nnscratch/kernels/__init__.py``). The readable kernels use
im2col and strided slices (``nnscratch/layers/im2col.py``), the fast tier adds speed tricks;
here every output value is computed by looping over its window, exactly as the math in the
layer docstrings says. Tests compare the other two tiers against these (forward and backward),
and ``nn.kernels.use_tier('reference')`` or ``nn.debug.use_reference_kernels(model)`` makes
layers run them, so a student can step through a convolution with pdb or check that the fast
path is not the problem.

All functions work on host NumPy arrays in NHWC layout, compute in float64 and return arrays
of the input's dtype. Padding follows TensorFlow's 'same' rule (``same_padding``): the total
is ``max((out-1)*s + (k-1)*d + 1 - n, 0)``, the odd extra cell goes to the bottom/right;
max pooling ignores padded cells (they are -inf) and average pooling divides by the number
of real cells in the window.
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend


def output_size(n, k, stride, padding, dilation=1):
    """Output length along one axis: 'valid' floor((n - ((k-1)d + 1)) / s) + 1, 'same' ceil(n / s)."""
    if padding == "same":
        return -(-n // stride)
    return (n - ((k - 1) * dilation + 1)) // stride + 1


def same_padding(n, k, stride, dilation=1):
    """(before, after) padding for TF 'same' along one axis; zero for any other padding."""
    out = -(-n // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def _pads(H, W, KH, KW, SH, SW, padding, DH=1, DW=1):
    if padding == "valid":
        return 0, 0
    return same_padding(H, KH, SH, DH)[0], same_padding(W, KW, SW, DW)[0]


def _check(x, name):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an NHWC array of rank 4, received shape {x.shape}")
    return x


# ---------------------------------------------------------------------- convolution
def conv2d_naive(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """y[n, h, w, f] = b[f] + sum_{i, j, c} x[n, h*SH + i*DH - top, w*SW + j*DW - left, c] * K[i, j, c, f]

    x (N, H, W, C), kernel (KH, KW, C, F), bias (F,) -> y (N, H_out, W_out, F).
    Input cells outside the image (padding) count as zero."""
    x = _check(x, "conv2d_naive")
    N, H, W, C = x.shape
    KH, KW, _, F = kernel.shape
    (SH, SW), (DH, DW) = strides, dilation_rate
    H_out, W_out = output_size(H, KH, SH, padding, DH), output_size(W, KW, SW, padding, DW)
    top, left = _pads(H, W, KH, KW, SH, SW, padding, DH, DW)
    xd, kd = x.astype(np.float64), np.asarray(kernel, dtype=np.float64)
    y = np.zeros((N, H_out, W_out, F))
    for n in range(N):
        for h in range(H_out):
            for w in range(W_out):
                for f in range(F):
                    total = 0.0 if bias is None else float(bias[f])
                    for i in range(KH):
                        for j in range(KW):
                            r, c = h * SH + i * DH - top, w * SW + j * DW - left
                            if 0 <= r < H and 0 <= c < W:
                                total += np.dot(xd[n, r, c, :], kd[i, j, :, f])
                    y[n, h, w, f] = total
    return y.astype(x.dtype)


def conv2d_naive_backward(dy, x, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """Gradients of ``conv2d_naive``: every term x[r, c, :] * K[i, j, :, f] of y[n, h, w, f]
    sends dy[n, h, w, f] * K[i, j, :, f] to dx[n, r, c, :] and dy * x[n, r, c, :] to dK[i, j, :, f].

    Returns (dx (N, H, W, C), dkernel (KH, KW, C, F), dbias (F,))."""
    x = _check(x, "conv2d_naive_backward")
    N, H, W, C = x.shape
    KH, KW, _, F = kernel.shape
    (SH, SW), (DH, DW) = strides, dilation_rate
    _, H_out, W_out, _ = dy.shape
    top, left = _pads(H, W, KH, KW, SH, SW, padding, DH, DW)
    xd, kd, g = x.astype(np.float64), np.asarray(kernel, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    dx, dk = np.zeros_like(xd), np.zeros_like(kd)
    for n in range(N):
        for h in range(H_out):
            for w in range(W_out):
                for f in range(F):
                    for i in range(KH):
                        for j in range(KW):
                            r, c = h * SH + i * DH - top, w * SW + j * DW - left
                            if 0 <= r < H and 0 <= c < W:
                                dx[n, r, c, :] += g[n, h, w, f] * kd[i, j, :, f]
                                dk[i, j, :, f] += g[n, h, w, f] * xd[n, r, c, :]
    db = g.sum(axis=(0, 1, 2))
    return dx.astype(x.dtype), dk.astype(x.dtype), db.astype(x.dtype)


# ---------------------------------------------------------------------- pooling
def _windows(H, W, KH, KW, SH, SW, padding):
    """Yield (h, w, [(r, c), ...]): each output position and the REAL input cells of its window."""
    H_out, W_out = output_size(H, KH, SH, padding), output_size(W, KW, SW, padding)
    top, left = _pads(H, W, KH, KW, SH, SW, padding)
    for h in range(H_out):
        for w in range(W_out):
            cells = [(h * SH + i - top, w * SW + j - left) for i in range(KH) for j in range(KW)]
            yield h, w, [(r, c) for r, c in cells if 0 <= r < H and 0 <= c < W]


def maxpool_naive(x, pool_size=(2, 2), strides=None, padding="valid"):
    """y[n, h, w, c] = max over the real cells of window (h, w). Returns (N, H_out, W_out, C)."""
    x = _check(x, "maxpool_naive")
    (KH, KW), (SH, SW) = pool_size, strides or pool_size
    N, H, W, C = x.shape
    y = np.zeros((N, output_size(H, KH, SH, padding), output_size(W, KW, SW, padding), C), dtype=x.dtype)
    for h, w, cells in _windows(H, W, KH, KW, SH, SW, padding):
        for n in range(N):
            for ch in range(C):
                y[n, h, w, ch] = max(x[n, r, c, ch] for r, c in cells)
    return y


def maxpool_naive_backward(dy, x, pool_size=(2, 2), strides=None, padding="valid"):
    """dx[first argmax of window (h, w)] += dy[n, h, w, c]; ties go to the first cell in
    row-major order (TensorFlow's rule); overlapping windows accumulate."""
    x = _check(x, "maxpool_naive_backward")
    (KH, KW), (SH, SW) = pool_size, strides or pool_size
    N, H, W, C = x.shape
    dx = np.zeros(x.shape, dtype=np.float64)
    for h, w, cells in _windows(H, W, KH, KW, SH, SW, padding):
        for n in range(N):
            for ch in range(C):
                values = [x[n, r, c, ch] for r, c in cells]
                r, c = cells[int(np.argmax(values))]  # np.argmax returns the first maximum
                dx[n, r, c, ch] += dy[n, h, w, ch]
    return dx.astype(x.dtype)


def avgpool_naive(x, pool_size, strides=None, padding="valid"):
    """y[n, h, w, c] = mean over the real cells of window (h, w) (padding is not counted)."""
    x = _check(x, "avgpool_naive")
    (KH, KW), (SH, SW) = pool_size, strides or pool_size
    N, H, W, C = x.shape
    y = np.zeros((N, output_size(H, KH, SH, padding), output_size(W, KW, SW, padding), C))
    for h, w, cells in _windows(H, W, KH, KW, SH, SW, padding):
        for r, c in cells:
            y[:, h, w, :] += x[:, r, c, :]
        y[:, h, w, :] /= len(cells)
    return y.astype(x.dtype)


def avgpool_naive_backward(dy, x, pool_size, strides=None, padding="valid"):
    """dx[n, r, c, :] += dy[n, h, w, :] / count(h, w) for every real cell (r, c) of window (h, w)."""
    x = _check(x, "avgpool_naive_backward")
    (KH, KW), (SH, SW) = pool_size, strides or pool_size
    N, H, W, C = x.shape
    dx = np.zeros(x.shape, dtype=np.float64)
    for h, w, cells in _windows(H, W, KH, KW, SH, SW, padding):
        for r, c in cells:
            dx[:, r, c, :] += dy[:, h, w, :] / len(cells)
    return dx.astype(x.dtype)


# ---------------------------------------------------------------------- the tier's kernels
# The same signatures as the readable kernels in layers/conv.py and layers/pooling.py (NHWC in
# and out, arrays on the current device): the loops above run on a host copy.
def conv2d_forward(x, kernel, bias, strides, padding, dilation_rate, activation=None):
    """y = f(conv2d_naive(x)) on the host (f: the activation, None the identity); the cache
    keeps the host input, f and the host y."""
    xh = backend.to_host(x)
    bh = None if bias is None else backend.to_host(bias)
    y = conv2d_naive(xh, backend.to_host(kernel), bh, strides, padding, dilation_rate)
    if activation is not None:
        y = activation(y)
    cache = {"x": xh, "strides": strides, "padding": padding, "dilation_rate": dilation_rate,
             "activation": activation, "y": y}
    return backend.to_device(y), cache


def conv2d_backward(dy, cache, kernel, need_input_grad=True):
    """(dx or None, dkernel, dbias) from ``conv2d_naive_backward``, after dz = f'(z) * dy."""
    f = cache["activation"]
    dz = backend.to_host(dy) if f is None else f.backward(backend.to_host(dy), cache["y"])
    dx, dk, db = conv2d_naive_backward(dz, cache["x"], backend.to_host(kernel), cache["strides"],
                                       cache["padding"], cache["dilation_rate"])
    return (backend.to_device(dx) if need_input_grad else None), backend.to_device(dk), backend.to_device(db)


def max_pool_forward(x, pool_size, strides, padding):
    xh = backend.to_host(x)
    cache = {"x": xh, "pool_size": pool_size, "strides": strides, "padding": padding}
    return backend.to_device(maxpool_naive(xh, pool_size, strides, padding)), cache


def max_pool_backward(dy, cache):
    dx = maxpool_naive_backward(backend.to_host(dy), cache["x"], cache["pool_size"], cache["strides"], cache["padding"])
    return backend.to_device(dx)


def avg_pool_forward(x, pool_size, strides, padding):
    xh = backend.to_host(x)
    cache = {"x": xh, "pool_size": pool_size, "strides": strides, "padding": padding}
    return backend.to_device(avgpool_naive(xh, pool_size, strides, padding)), cache


def avg_pool_backward(dy, cache):
    dx = avgpool_naive_backward(backend.to_host(dy), cache["x"], cache["pool_size"], cache["strides"], cache["padding"])
    return backend.to_device(dx)


#: name -> kernel, looked up by nnscratch.kernels.get
KERNELS = {f.__name__: f for f in (conv2d_forward, conv2d_backward, max_pool_forward, max_pool_backward,
                                   avg_pool_forward, avg_pool_backward)}
