"""Fast tier: loop kernels that Numba compiles (``jit.compiled``), for the passes where NumPy's
one-operation-per-pass costs most: 2x2 pooling, im2col of padded input, col2im, the bias and
ReLU passes (the convolution with one input channel has its own, ``conv1_loops``).

Each is the plain loop of the readable kernel's formula over one range of the batch, written
so that LLVM vectorises the innermost loop over channels (contiguous in NHWC). The callers in
``fast_pool``, ``fast_im2col`` and ``fast_pointwise`` split the batch over the kernel pool's threads and fall back
to their NumPy code when Numba is absent; ``tests/kernels/`` runs both against the readable
tier. Measured, 2 threads, medians of 15 calls, the Keras "Simple MNIST convnet" at batch 128:

* 2x2 max pooling forward, 128x26x26x32: 2.5 ms (NumPy: a running max and argmax, one pass
  per tap) -> 0.43 ms. All four taps are read once and the window's max and argmax written
  once. (A loop over any KH x KW stored the running max every tap and was 2x slower than NumPy.)
* non-overlapping pooling backward: 1.8 -> 0.85 ms; dx written once, row by row.
* col2im, window by window (``col2im_add``), 1 thread, one chunk: LeNet's second conv (32
  images, 6 channels, 13x13) 0.51 -> 0.25 ms; 32 channels 13x13 (16 images) 0.63 -> 0.13 ms,
  28x28 (8 images) 1.85 -> 0.36 ms. (im2col as a loop was no faster than the strided copy.)
  Adding each window's row of taps as one run (stride 1 along the width): LeNet's second conv
  (64 images) 389 -> 174 us, 32 channels 13x13 (16 images) 136 -> 76 us, 28x28 (8) 432 -> 325 us.
* im2col of a padded chunk (``im2col_padded``) writing the padding's zeros itself: the conv
  net's step 106.6 -> 98.7 ms (the padded copies were 12.5 of its 167 ms of CPU time).
* bias + ReLU in one pass (``bias_relu``) and relu'(z) * dy in one pass (``relu_grad``, where
  NumPy made a mask and then the product): steps of the conv net 85.5 -> 81.2 ms, the Simple
  MNIST convnet 29.0 -> 26.3 ms, LeNet 4.68 -> 4.52 ms. Both give the readable kernel's bits.
(Steps: medians of 8 alternating rounds of 10 steps in one process, 2 threads.)
"""
from __future__ import annotations

import numpy as np  # the loops allocate their row buffers (Numba compiles np.empty/np.zeros)


def max_pool2x2_forward(x_pad, y, argmax, SH, SW):
    """y[b, i, j, c] = max of x_pad[b, SH*i + (0|1), SW*j + (0|1), c]; argmax = its tap
    t = 2*di + dj, the first on ties (strict >, as the readable kernel)."""
    n, H_out, W_out, C = y.shape
    for b in range(n):
        for i in range(H_out):
            for j in range(W_out):
                x0 = x_pad[b, SH * i, SW * j]
                x1 = x_pad[b, SH * i, SW * j + 1]
                x2 = x_pad[b, SH * i + 1, SW * j]
                x3 = x_pad[b, SH * i + 1, SW * j + 1]
                yr = y[b, i, j]
                ar = argmax[b, i, j]
                for c in range(C):
                    m = x0[c]
                    t = 0
                    if x1[c] > m:
                        m = x1[c]
                        t = 1
                    if x2[c] > m:
                        m = x2[c]
                        t = 2
                    if x3[c] > m:
                        m = x3[c]
                        t = 3
                    yr[c] = m
                    ar[c] = t


def avg_pool2x2_forward(x_pad, y, count, SH, SW):
    """y[b, i, j, c] = (sum of the window's four cells of x_pad) / count[i, j] (padding is 0)."""
    n, H_out, W_out, C = y.shape
    for b in range(n):
        for i in range(H_out):
            for j in range(W_out):
                x0 = x_pad[b, SH * i, SW * j]
                x1 = x_pad[b, SH * i, SW * j + 1]
                x2 = x_pad[b, SH * i + 1, SW * j]
                x3 = x_pad[b, SH * i + 1, SW * j + 1]
                yr = y[b, i, j]
                k = count[i, j]
                for c in range(C):
                    yr[c] = (((x0[c] + x1[c]) + x2[c]) + x3[c]) / k


def max_pool_tiles_backward(dy, argmax, dx_pad, KH, KW):
    """Non-overlapping windows (strides == pool size): dx_pad[b, KH*i + di, KW*j + dj, c] =
    dy[b, i, j, c] where argmax == di*KW + dj, else 0; every covered cell written once."""
    n, H_out, W_out, C = dy.shape
    for b in range(n):
        for i in range(H_out):
            for di in range(KH):
                for j in range(W_out):
                    g = dy[b, i, j]
                    ar = argmax[b, i, j]
                    for dj in range(KW):
                        t = di * KW + dj
                        d = dx_pad[b, KH * i + di, KW * j + dj]
                        for c in range(C):
                            d[c] = g[c] * (ar[c] == t)


def avg_pool_tiles_backward(dy, dx_pad, count, KH, KW):
    """Non-overlapping windows: every cell of window (i, j) gets dy[b, i, j, c] / count[i, j],
    divided once per window and copied to its KH*KW cells (a division per cell made LeNet's
    first pooling backward, 64x26x26x6, 4x the divisions: 209 -> 121 us, 1 thread, same bits)."""
    n, H_out, W_out, C = dy.shape
    q = np.empty(C, dtype=dx_pad.dtype)  # one window's dy / count
    for b in range(n):
        for i in range(H_out):
            for j in range(W_out):
                g = dy[b, i, j]
                k = count[i, j]
                for c in range(C):
                    q[c] = g[c] / k
                for di in range(KH):
                    for dj in range(KW):
                        d = dx_pad[b, KH * i + di, KW * j + dj]
                        for c in range(C):
                            d[c] = q[c]


def col2im_add(dx_pad, dcol, SH, SW, DH, DW):
    """dx_pad[b, SH*i + DH*a, SW*j + DW*q, c] += dcol[b, i, j, a, q, c] for every window (i, j)
    and tap (a, q): the readable col2im, window by window. With SW = DW = 1 a window's row of
    taps, (KW, C) in dcol, lands on KW*C contiguous values of dx_pad's row, added as one run
    (each value of dx_pad gets its terms in the same order either way)."""
    n, H_out, W_out, KH, KW, C = dcol.shape
    if SW == 1 and DW == 1:
        dx_rows = dx_pad.reshape(n, dx_pad.shape[1], dx_pad.shape[2] * C)
        taps = dcol.reshape(n, H_out, W_out, KH, KW * C)
        KC = KW * C
        for b in range(n):
            for i in range(H_out):
                for a in range(KH):
                    row = dx_rows[b, SH * i + DH * a]
                    for j in range(W_out):
                        src = taps[b, i, j, a]
                        dst = row[j * C:j * C + KC]
                        for k in range(KC):
                            dst[k] += src[k]
        return
    for b in range(n):
        for i in range(H_out):
            for j in range(W_out):
                for a in range(KH):
                    for q in range(KW):
                        src = dcol[b, i, j, a, q]
                        dst = dx_pad[b, SH * i + DH * a, SW * j + DW * q]
                        for c in range(C):
                            dst[c] += src[c]


def im2col_padded(x, col, top, left, SH, SW, DH, DW):
    """col[b, i, j, a, q, :] = x[b, SH*i + DH*a - top, SW*j + DW*q - left, :], or 0 where that
    cell is padding: im2col of the zero-padded x without building the padded copy."""
    n, H, W, C = x.shape
    _, H_out, W_out, KH, KW, _ = col.shape
    zero = col.dtype.type(0)
    for b in range(n):
        for i in range(H_out):
            for j in range(W_out):
                for a in range(KH):
                    r = SH * i + DH * a - top
                    for q in range(KW):
                        s = SW * j + DW * q - left
                        dst = col[b, i, j, a, q]
                        if 0 <= r < H and 0 <= s < W:
                            src = x[b, r, s]
                            for c in range(C):
                                dst[c] = src[c]
                        else:
                            for c in range(C):
                                dst[c] = zero


def bias_relu(z, bias):
    """z[m, f] = max(z[m, f] + bias[f], 0) in place: the bias and ReLU in one pass over z (M, F)."""
    M, F = z.shape
    zero = z.dtype.type(0)
    for m in range(M):
        row = z[m]
        for f in range(F):
            v = row[f] + bias[f]
            row[f] = v if (v > zero or v != v) else zero  # np.maximum(v, 0): NaN stays NaN, -0.0 becomes 0.0


def relu_grad(dy, y, dz):
    """dz = dy * (y > 0) over flat arrays, in one pass (as the readable ``dy * (y > 0)``)."""
    zero = y.dtype.type(0)
    for k in range(dy.shape[0]):
        dz[k] = dy[k] * (y[k] > zero)
