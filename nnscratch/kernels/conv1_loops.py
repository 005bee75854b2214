"""Fast tier: the loops Numba compiles (``jit.compiled``) for a convolution with one input
channel (a grayscale first layer), dispatched and measured in ``fast_conv1``.

Two layouts: the pixel loop (``conv_weight_grad``, any strides and dilations) and, for stride
1 and no dilation, the flattened padded image: with p = i*Wp + j each image is one long row,
and a tap (a, q) of the kernel is the slice of that row that starts at a*Wp + q, so each
(filter, tap) is one vectorised multiply-add over slices. The grid's columns j >= W_out are
computed and dropped. Every index in an inner loop is a plain loop counter (an index such as
``p + off`` made Numba check for negative indices and stopped the vectorisation: 2x slower).

The forward keeps one filter's values over the grid in a row and writes them into column f of
the NHWC output, one strided store per element, where the earlier loop wrote each pixel's F
values from F rows: LeNet's first conv (64 images, 28x28, 6 filters, 1 thread) 674 -> 249 us,
with 2x3 kernels 489 -> 223 us (the 3x3 one also sums its taps in registers). At 16 filters
1157 -> 790 us, at 32 level (2096 vs 2111: a 100 KB image of 32 channels leaves L1 between
columns). The same column order for the weight gradient's dz was 674 -> 593 us at 6 filters
but 1562 -> 1932 at 16 and 3657 -> 6058 at 32, so it keeps the pixel order; its nine 3x3 taps
summed in one pass over the grid (as the forward's) were 2.5x slower, not vectorised; dz
formed one NHWC row at a time and then moved column by column was 10-20% faster at 6 filters
(the kernel alone) but no faster in LeNet's step (4.45 vs 4.35 ms, in-process A/B).
"""
from __future__ import annotations

import numpy as np  # the loops allocate their row buffers (Numba compiles np.empty/np.zeros)


def conv_weight_grad(x_pad, dy, y, dW, db, SH, SW, DH, DW, relu):
    """dW[a, q, c, f] += sum over (b, i, j) of x_pad[b, SH*i + DH*a, SW*j + DW*q, c] * dz[b, i, j, f]
    and db[f] += sum of dz, with dz = dy * (y > 0) when ``relu`` (else dz = dy). Each image is
    summed into its own partial first (float32 sums of one image, then of images)."""
    n, H_out, W_out, F = dy.shape
    KH, KW, C = dW.shape[0], dW.shape[1], dW.shape[2]
    dz = dy[0, 0, 0].copy()
    part_W = dW.copy()
    part_b = db.copy()
    zero = dy.dtype.type(0)
    for b in range(n):
        part_W[...] = zero
        part_b[...] = zero
        for i in range(H_out):
            for j in range(W_out):
                g = dy[b, i, j]
                yr = y[b, i, j]
                if relu:
                    for f in range(F):
                        dz[f] = g[f] * (yr[f] > zero)  # relu'(z) * dy, as the readable dy * (y > 0)
                else:
                    for f in range(F):
                        dz[f] = g[f]
                for f in range(F):
                    part_b[f] += dz[f]
                for a in range(KH):
                    for q in range(KW):
                        xr = x_pad[b, SH * i + DH * a, SW * j + DW * q]
                        for c in range(C):
                            v = xr[c]
                            w = part_W[a, q, c]
                            for f in range(F):
                                w[f] += v * dz[f]
        dW += part_W
        db += part_b


def conv1_flat_forward(x, w, bias, y, relu):
    """z[f, p] = bias[f] + sum over taps (a, q), in row-major tap order, of w[a, q, f] * x[b, p + a*Wp + q],
    then y[b, i, j, f] = f(z[f, i*Wp + j]) (ReLU, or none). x (n, Hp*Wp) padded and flattened,
    w (KH, KW, F), y (n, H_out, W_out, F). A 3x3 kernel sums its nine taps in registers, in one
    pass over the grid per filter (the same sum in the same order as the tap-by-tap passes of
    other kernels, which load and store z once per tap)."""
    n, H_out, W_out, F = y.shape
    KH, KW = w.shape[0], w.shape[1]
    Wp = W_out + KW - 1
    L = (H_out - 1) * Wp + W_out  # one past the last grid position needed
    zf = np.empty(L, y.dtype)  # one filter's z over the grid
    zero = y.dtype.type(0)
    for b in range(n):
        xb = x[b]
        for f in range(F):
            bf = bias[f]
            if KH == 3 and KW == 3:
                x0, x1, x2 = xb[0:L], xb[1:L + 1], xb[2:L + 2]
                x3, x4, x5 = xb[Wp:Wp + L], xb[Wp + 1:Wp + 1 + L], xb[Wp + 2:Wp + 2 + L]
                x6, x7, x8 = xb[2 * Wp:2 * Wp + L], xb[2 * Wp + 1:2 * Wp + 1 + L], xb[2 * Wp + 2:2 * Wp + 2 + L]
                w0, w1, w2, w3, w4 = w[0, 0, f], w[0, 1, f], w[0, 2, f], w[1, 0, f], w[1, 1, f]
                w5, w6, w7, w8 = w[1, 2, f], w[2, 0, f], w[2, 1, f], w[2, 2, f]
                for p in range(L):
                    zf[p] = (bf + x0[p] * w0 + x1[p] * w1 + x2[p] * w2 + x3[p] * w3 + x4[p] * w4
                             + x5[p] * w5 + x6[p] * w6 + x7[p] * w7 + x8[p] * w8)
            else:
                for p in range(L):
                    zf[p] = bf
                for a in range(KH):
                    for q in range(KW):
                        wv = w[a, q, f]
                        xs = xb[a * Wp + q:a * Wp + q + L]
                        for p in range(L):
                            zf[p] += xs[p] * wv
            if relu:
                for p in range(L):
                    v = zf[p]
                    zf[p] = v if (v > zero or v != v) else zero  # np.maximum(v, 0): NaN stays
            yb = y[b]
            for i in range(H_out):
                yc = yb[i, :, f]  # column f of output row i (stride F)
                zr = zf[i * Wp:i * Wp + W_out]
                for j in range(W_out):
                    yc[j] = zr[j]


def conv1_flat_weight_grad(x, dy, y, dW, db, relu):
    """dW[a, q, f] += sum of x[b, i + a, j + q] * dz[b, i, j, f] and db[f] += sum of dz for a
    one-channel, stride-1 conv (dz = dy * (y > 0) when ``relu``), over the flattened grid of
    ``conv1_flat_forward``: dz is written transposed to (F, L) at p = i*Wp + j (the grid's
    columns j >= W_out stay 0), then for each (tap, filter) the products x[p + a*Wp + q] * dz[f, p]
    are summed lane by lane (one vectorised multiply-add per image over slices) and the lanes
    once per call. x (n, Hp*Wp) padded and flattened, dW (KH, KW, F)."""
    n, H_out, W_out, F = dy.shape
    KH, KW = dW.shape[0], dW.shape[1]
    Wp = W_out + KW - 1
    L = (H_out - 1) * Wp + W_out
    zero = dy.dtype.type(0)
    dzT = np.zeros((F, L), dy.dtype)
    acc = np.zeros((KH, KW, F, L), dy.dtype)
    acc_b = np.zeros((F, L), dy.dtype)
    for b in range(n):
        for i in range(H_out):
            g = dy[b, i]
            yr = y[b, i]
            dz = dzT[:, i * Wp:i * Wp + W_out]
            if relu:
                for j in range(W_out):
                    for f in range(F):
                        dz[f, j] = g[j, f] * (yr[j, f] > zero)  # relu'(z) * dy, as the readable dy * (y > 0)
            else:
                for j in range(W_out):
                    for f in range(F):
                        dz[f, j] = g[j, f]
        xb = x[b]
        for f in range(F):
            d = dzT[f]
            ab = acc_b[f]
            for p in range(L):
                ab[p] += d[p]
            for a in range(KH):
                for q in range(KW):
                    ac = acc[a, q, f]
                    xs = xb[a * Wp + q:a * Wp + q + L]
                    for p in range(L):
                        ac[p] += xs[p] * d[p]
    for a in range(KH):
        for q in range(KW):
            for f in range(F):
                dW[a, q, f] += acc[a, q, f].sum()
    for f in range(F):
        db[f] += acc_b[f].sum()
