"""Sliding-window geometry shared by every kernel tier (NHWC, pure ``xp`` slicing).

Output sizes, TensorFlow's 'same' padding, padding and cropping an image, and the strided
slice that one kernel tap reads. ``nnscratch/layers/im2col.py`` re-exports these for the
readable kernels; the fast and reference tiers import them from here (kernels never import
layers).

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


def crop_nhwc(x_pad, pads, H, W):
    """Remove padding added by ``pad_nhwc``."""
    (top, _), (left, _) = pads
    if x_pad.shape[1] == H and x_pad.shape[2] == W:
        return x_pad
    return x_pad[:, top:top + H, left:left + W, :]


def tap_slice(i, j, H_out, W_out, SH, SW, DH=1, DW=1):
    """The (row, col) slices of the padded input that kernel tap (i, j) reads."""
    r0, c0 = i * DH, j * DW
    return slice(r0, r0 + SH * (H_out - 1) + 1, SH), slice(c0, c0 + SW * (W_out - 1) + 1, SW)
