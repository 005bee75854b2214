"""Sliding-window helpers shared by Conv2D and the pooling layers (NHWC, pure ``xp`` slicing).

The trick that makes convolution a matrix product: for each of the KH*KW taps (i, j) of the
kernel, the input pixels that tap touches, over all output positions, are one strided slice
of the padded input::

    x_pad[:, i*DH : i*DH + SH*(H_out-1) + 1 : SH, j*DW : j*DW + SW*(W_out-1) + 1 : SW, :]
        -> shape (N, H_out, W_out, C)

``im2col`` stacks those KH*KW slices into ``col`` of shape (N, H_out, W_out, KH, KW, C); a
convolution is then ``col.reshape(N*H_out*W_out, KH*KW*C) @ kernel.reshape(KH*KW*C, F)``.
``col2im`` is its adjoint: it adds each tap's slice of ``dcol`` back into a zero image. No
Python loop runs over pixels, only over the KH*KW taps, and every operation is valid on both
NumPy and CuPy.

'same' padding follows TensorFlow: the total padding is
``max((out - 1)*s + (k - 1)*d + 1 - n, 0)``, split as ``before = total // 2`` and
``after = total - before``, so an odd extra row/column goes to the bottom/right.
"""
from __future__ import annotations

import threading

from nnscratch import backend


def conv_output_length(n, k, stride, padding, dilation=1):
    """Output size along one axis. 'valid': floor((n - ((k-1)*d + 1)) / s) + 1;
    'same': ceil(n / s)."""
    if n is None:
        return None
    if padding == "same":
        return (n + stride - 1) // stride
    k_eff = (k - 1) * dilation + 1
    return (n - k_eff) // stride + 1


def same_padding(n, k, stride, dilation=1):
    """(pad_before, pad_after) for TF 'same' padding; the odd cell goes after."""
    out = (n + stride - 1) // stride
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def padding_amounts(H, W, KH, KW, SH, SW, padding, DH=1, DW=1):
    """((top, bottom), (left, right)) for 'valid' (zeros) or 'same'."""
    if padding == "valid":
        return (0, 0), (0, 0)
    return same_padding(H, KH, SH, DH), same_padding(W, KW, SW, DW)


def pad_nhwc(x, pads, value=0.0):
    """Pad the two spatial axes of an NHWC array; returns x itself when no padding is needed."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    xp = backend.get_array_module(x)
    N, H, W, C = x.shape
    out = xp.full((N, H + top + bottom, W + left + right, C), value, dtype=x.dtype)
    out[:, top:top + H, left:left + W, :] = x
    return out


def tap_slice(i, j, H_out, W_out, SH, SW, DH=1, DW=1):
    """The (row, col) slices of the padded input that kernel tap (i, j) reads."""
    r0, c0 = i * DH, j * DW
    return slice(r0, r0 + SH * (H_out - 1) + 1, SH), slice(c0, c0 + SW * (W_out - 1) + 1, SW)


#: Up to this many channels, im2col/col2im copy whole (KW, C) window rows per call instead of
#: one (N, H_out, W_out, C) slice per tap: a tap slice moves C floats per NumPy inner loop (24
#: bytes at C=6), a window-row slice KW*C. With C == 1 the tap slice is already long (NumPy runs
#: its inner loop along W), and above 32 channels the tap loop is as fast. Measured (batch 64,
#: 3x3, CPU time): C=6 13x13: im2col 0.42 -> 0.32 ms, col2im 1.32 -> 0.75 ms; C=3 32x32: 2.7 ->
#: 1.2 ms and 7.0 -> 3.6 ms; C=32 30x30: 22.3 -> 17.1 ms and 23.4 -> 19.3 ms.
ROWS_MAX_C = 32


def _window_rows(C, KW):
    """True when copying window rows (the loop over (i, w)) beats the loop over taps (i, j)."""
    return 1 < C <= ROWS_MAX_C and KW > 1


def _row_slice(w, KW, SW, DW):
    """The columns of window column w: w*SW + j*DW for j < KW, as one slice."""
    c0 = w * SW
    return slice(c0, c0 + (KW - 1) * DW + 1, DW)


def im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH=1, DW=1, out=None):
    """Gather sliding windows: (N, Hp, Wp, C) -> col (N, H_out, W_out, KH, KW, C).

    col[n, h, w, i, j, c] = x_pad[n, h*SH + i*DH, w*SW + j*DW, c].

    Two loop orders fill the same array: over the KH*KW taps (i, j), each copying the slice
    x_pad[:, rows_i, cols_j, :], or, for few channels, over (i, w), each copying the window
    rows x_pad[:, rows_i, w*SW + j*DW for all j, :] (longer contiguous runs).
    ``out``: an array of the right shape and dtype to fill (reused between steps), or None."""
    xp = backend.get_array_module(x_pad)
    N, _, _, C = x_pad.shape
    col = _buffer(xp, out, (N, H_out, W_out, KH, KW, C), x_pad.dtype)
    if _window_rows(C, KW):
        for i in range(KH):
            rows, _ = tap_slice(i, 0, H_out, W_out, SH, SW, DH, DW)
            for w in range(W_out):
                col[:, :, w, i, :, :] = x_pad[:, rows, _row_slice(w, KW, SW, DW), :]  # (N, H_out, KW, C)
        return col
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            col[:, :, :, i, j, :] = x_pad[:, rows, cols, :]  # (N, H_out, W_out, C)
    return col


def _buffer(xp, out, shape, dtype):
    """``out`` when it fits (shape, dtype, device), else a new empty array."""
    if out is not None and out.shape == shape and out.dtype == dtype and backend.get_array_module(out) is xp:
        return out
    return xp.empty(shape, dtype=dtype)


_SCRATCH = threading.local()  # per thread: {(array module, dtype): flat scratch array}


def scratch(xp, shape, dtype):
    """An uninitialised array of ``shape`` for values that live only inside one call (Conv2D's
    dcol in backward). All layers share one flat buffer per thread, array module and dtype,
    grown to the largest size asked, so a step neither page-faults a fresh multi-MB array in
    nor keeps one per layer (performance). The caller must be done with it before any other
    layer's call on the same thread asks for scratch."""
    n = 1
    for d in shape:
        n *= d
    pool = getattr(_SCRATCH, "pool", None)
    if pool is None:
        pool = _SCRATCH.pool = {}
    key = (id(xp), str(dtype))
    flat = pool.get(key)
    if flat is None or flat.size < n or backend.get_array_module(flat) is not xp:
        flat = pool[key] = xp.empty(max(n, 1), dtype=dtype)
    return flat[:n].reshape(shape)


def im2col_matrix(x_pad, KH, KW, SH, SW, H_out, W_out, DH=1, DW=1, out=None):
    """im2col as the matrix the kernel multiplies: (N*H_out*W_out, KH*KW*C), row (n, h, w),
    column (i, j, c). Returns (col2d, buffer); pass the buffer back as ``out`` next time.

    C > 1: ``im2col(...).reshape(N*H_out*W_out, KH*KW*C)`` (a view, row-major).
    C == 1 (a grayscale first layer): the same matrix filled as its transpose, a contiguous
    (KH*KW, N*H_out*W_out) array whose rows are whole tap slices, colT[(i, j), (n, h, w)] =
    x_pad[n, h*SH + i*DH, w*SW + j*DW, 0]; it is returned as the transposed view. Each tap is then
    one long contiguous copy instead of a stride-KH*KW scatter, and BLAS reads the transposed
    operand without a copy (in the backward pass colT @ dz is a plain product). Measured at
    LeNet's first conv (28x28x1, 3x3, batch 1000, 1 thread): im2col + GEMM 10.7 -> 5.3 ms."""
    xp = backend.get_array_module(x_pad)
    N, _, _, C = x_pad.shape
    M, K = N * H_out * W_out, KH * KW * C
    if C != 1:
        col = im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH, DW, out=out)
        return col.reshape(M, K), col
    colT = _buffer(xp, out, (KH, KW, N, H_out, W_out), x_pad.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            colT[i, j] = x_pad[:, rows, cols, 0]  # (N, H_out, W_out)
    return colT.reshape(K, M).T, colT


def col2im(dcol, padded_shape, SH, SW, DH=1, DW=1):
    """Adjoint of ``im2col``: scatter-add (N, H_out, W_out, KH, KW, C) windows back into a zero
    image of ``padded_shape`` (N, Hp, Wp, C). Overlapping windows accumulate; a strided slice
    ``+=`` has no duplicate indices, so plain ``+=`` is exact here. Same two loop orders as
    ``im2col``."""
    xp = backend.get_array_module(dcol)
    N, H_out, W_out, KH, KW, C = dcol.shape
    dx_pad = xp.zeros(padded_shape, dtype=dcol.dtype)
    if _window_rows(C, KW):
        for i in range(KH):
            rows, _ = tap_slice(i, 0, H_out, W_out, SH, SW, DH, DW)
            for w in range(W_out):
                dx_pad[:, rows, _row_slice(w, KW, SW, DW), :] += dcol[:, :, w, i, :, :]
        return dx_pad
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            dx_pad[:, rows, cols, :] += dcol[:, :, :, i, j, :]
    return dx_pad


def crop_nhwc(x_pad, pads, H, W):
    """Remove padding added by ``pad_nhwc``."""
    (top, _), (left, _) = pads
    if x_pad.shape[1] == H and x_pad.shape[2] == W:
        return x_pad
    return x_pad[:, top:top + H, left:left + W, :]
