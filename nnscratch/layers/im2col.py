"""im2col and col2im: sliding windows as one matrix (the readable kernels, NHWC, pure ``xp``).

The trick that makes convolution a matrix product: for each of the KH*KW taps (i, j) of the
kernel, the input pixels that tap touches, over all output positions, are one strided slice
of the padded input::

    x_pad[:, i*DH : i*DH + SH*(H_out-1) + 1 : SH, j*DW : j*DW + SW*(W_out-1) + 1 : SW, :]
        -> shape (N, H_out, W_out, C)

``im2col`` stacks those KH*KW slices into ``col`` of shape (N, H_out, W_out, KH, KW, C); a
convolution is then ``col.reshape(N*H_out*W_out, KH*KW*C) @ kernel.reshape(KH*KW*C, F)``.
``col2im`` is its adjoint: it adds each tap's slice of ``dcol`` back into a zero image. No
Python loop runs over pixels, only over the KH*KW taps (Chainer's ``im2col_cpu``, Deep
Learning from Scratch's ``im2col``), and every operation is valid on both NumPy and CuPy.

The geometry helpers (output sizes, 'same' padding, pad/crop, ``tap_slice``) live in
``nnscratch/kernels/geometry.py`` and are re-exported here.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.kernels.geometry import (conv_output_length, crop_nhwc, pad_nhwc, padding_amounts,  # noqa: F401
                                        same_padding, tap_slice)


def im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH=1, DW=1):
    """Gather sliding windows: (N, Hp, Wp, C) -> col (N, H_out, W_out, KH, KW, C).

    col[n, h, w, i, j, c] = x_pad[n, h*SH + i*DH, w*SW + j*DW, c]"""
    xp = backend.get_array_module(x_pad)
    N, _, _, C = x_pad.shape
    col = xp.empty((N, H_out, W_out, KH, KW, C), dtype=x_pad.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            col[:, :, :, i, j, :] = x_pad[:, rows, cols, :]  # (N, H_out, W_out, C): tap (i, j)
    return col


def col2im(dcol, padded_shape, SH, SW, DH=1, DW=1):
    """Adjoint of ``im2col``: add the (N, H_out, W_out, KH, KW, C) windows back into a zero
    image of ``padded_shape`` (N, Hp, Wp, C).

    dx_pad[n, h*SH + i*DH, w*SW + j*DW, c] += dcol[n, h, w, i, j, c]
    Overlapping windows accumulate; a strided slice has no repeated index, so ``+=`` is exact."""
    xp = backend.get_array_module(dcol)
    N, H_out, W_out, KH, KW, C = dcol.shape
    dx_pad = xp.zeros(padded_shape, dtype=dcol.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            dx_pad[:, rows, cols, :] += dcol[:, :, :, i, j, :]
    return dx_pad
