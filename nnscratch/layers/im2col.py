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


def im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH=1, DW=1):
    """Gather sliding windows: (N, Hp, Wp, C) -> col (N, H_out, W_out, KH, KW, C).

    col[n, h, w, i, j, c] = x_pad[n, h*SH + i*DH, w*SW + j*DW, c]."""
    xp = backend.get_array_module(x_pad)
    N, _, _, C = x_pad.shape
    col = xp.empty((N, H_out, W_out, KH, KW, C), dtype=x_pad.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            col[:, :, :, i, j, :] = x_pad[:, rows, cols, :]  # (N, H_out, W_out, C)
    return col


def col2im(dcol, padded_shape, SH, SW, DH=1, DW=1):
    """Adjoint of ``im2col``: scatter-add (N, H_out, W_out, KH, KW, C) windows back into a zero
    image of ``padded_shape`` (N, Hp, Wp, C). Overlapping windows accumulate; a strided slice
    ``+=`` has no duplicate indices, so plain ``+=`` is exact here."""
    xp = backend.get_array_module(dcol)
    N, H_out, W_out, KH, KW, C = dcol.shape
    dx_pad = xp.zeros(padded_shape, dtype=dcol.dtype)
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
