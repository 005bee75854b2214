"""Plain-loop reference kernels: convolution and pooling written the slow, obvious way.

The layers use im2col and strided slices (``nnscratch/layers/im2col.py``); those are fast but
take a moment to read. Here every output value is computed by looping over its window, exactly
as the math in the layer docstrings says. Tests compare the fast kernels against these (forward
and backward), and ``use_reference_kernels(model)`` swaps them into a model so a student can
step through a convolution with pdb or check that the fast path is not the problem.

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


# ---------------------------------------------------------------------- swapping into a model
def _nhwc_in(layer, a):
    return a.transpose(0, 2, 3, 1) if getattr(layer, "data_format", "channels_last") == "channels_first" else a


def _nhwc_out(layer, a):
    return a.transpose(0, 3, 1, 2) if getattr(layer, "data_format", "channels_last") == "channels_first" else a


def _conv_forward(layer, x, training=False):
    xh = _nhwc_in(layer, backend.to_host(x))
    kernel = backend.to_host(layer.params["kernel"])
    bias = backend.to_host(layer.params["bias"]) if layer.use_bias else None
    z = backend.to_device(conv2d_naive(xh, kernel, bias, layer.strides, layer.padding, layer.dilation_rate))
    y = layer.activation(z)
    layer.cache = {"x": xh, "y": y, "z": z}
    return _nhwc_out(layer, y)


def _conv_backward_logits(layer, dz):
    dzh = backend.to_host(_nhwc_in(layer, dz))
    dx, dk, db = conv2d_naive_backward(dzh, layer.cache["x"], backend.to_host(layer.params["kernel"]),
                                       layer.strides, layer.padding, layer.dilation_rate)
    layer.grads["kernel"][...] = backend.to_device(dk)
    if layer.use_bias:
        layer.grads["bias"][...] = backend.to_device(db)
    if not layer.need_input_grad:
        return None
    return _nhwc_out(layer, backend.to_device(dx))


def _conv_backward(layer, dy):
    dz = layer.activation.backward(_nhwc_in(layer, dy), layer.cache["y"])  # dL/dz = f'(z) * dL/dy
    return _conv_backward_logits(layer, _nhwc_out(layer, dz))


def _pool_forward(naive):
    def forward(layer, x, training=False):
        xh = _nhwc_in(layer, backend.to_host(x))
        layer.cache = {"x": xh}
        return _nhwc_out(layer, backend.to_device(naive(xh, layer.pool_size, layer.strides, layer.padding)))
    return forward


def _pool_backward(naive_backward):
    def backward(layer, dy):
        dyh = backend.to_host(_nhwc_in(layer, dy))
        dx = naive_backward(dyh, layer.cache["x"], layer.pool_size, layer.strides, layer.padding)
        return _nhwc_out(layer, backend.to_device(dx))
    return backward


class ReferenceKernels:
    """Returned by ``use_reference_kernels``; ``restore()`` (or leaving the ``with`` block)
    puts the fast kernels back."""

    def __init__(self, model):
        from nnscratch.layers import AveragePooling2D, Conv2D, MaxPooling2D

        table = {
            Conv2D: {"forward": _conv_forward, "backward": _conv_backward, "backward_logits": _conv_backward_logits},
            MaxPooling2D: {"forward": _pool_forward(maxpool_naive), "backward": _pool_backward(maxpool_naive_backward)},
            AveragePooling2D: {"forward": _pool_forward(avgpool_naive), "backward": _pool_backward(avgpool_naive_backward)},
        }
        self.layers = []
        for layer in getattr(model, "layers", [model]):
            methods = next((m for cls, m in table.items() if isinstance(layer, cls)), None)
            if methods is None:
                continue
            for name, fn in methods.items():
                # an instance attribute shadows the class's method for this layer only
                setattr(layer, name, fn.__get__(layer, type(layer)))
            self.layers.append((layer, list(methods)))

    def restore(self):
        for layer, names in self.layers:
            for name in names:
                layer.__dict__.pop(name, None)
        self.layers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False


def use_reference_kernels(model):
    """Make every Conv2D / MaxPooling2D / AveragePooling2D of ``model`` (or a single layer) run
    the loop kernels above. Slow: for small inputs and for reading. Use as a context manager,
    or call ``.restore()`` on the result."""
    return ReferenceKernels(model)
