"""Fast tier: the tile transforms of the Winograd convolution F(2x2, 3x3) (``fast_winograd``),
as plain loops that ``jit.compiled`` hands to Numba.

A tile t = (image b, tile row ty, tile column tx) covers the 2x2 outputs (2ty..2ty+1,
2tx..2tx+1) and reads the 4x4 inputs from row 2ty - top and column 2tx - left on (zero where
that is padding or past the edge). The 16 transformed values of a tile are stored at
[4*i + j, t, :] of a (16, tiles, channels) array, so that the products are 16 matrix products.

With d a tile's 4x4 input and m its 4x4 product (per channel):

    input_tiles           V = B^T d B         B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    output_tiles          y = A^T m A (+ b)   A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
    output_tiles_adjoint  DY = A g A^T        (g: the tile's 2x2 of dL/dz, 0 past the edge)
    input_tiles_adjoint   dd = B dV B^T, added into dL/dx (tiles overlap by two rows and columns)

The adjoints are the transposes of the forward maps, so backward is the exact gradient of the
forward computation; ``tests/kernels/test_winograd.py`` checks each pair with <Tx, v> = <x, T^T v>.
"""
from __future__ import annotations

import numpy as np  # the loops allocate their tile buffers (Numba compiles np.empty)


def input_tiles(x, V, top, left, th, tw):
    """V[4i+j, t, c] = (B^T d B)[i, j] for every tile t of x (n, H, W, C), d read from x
    zero-padded by (top, left)."""
    n, H, W, C = x.shape
    d = np.empty((4, 4, C), dtype=V.dtype)  # one tile's values
    zero = x.dtype.type(0)
    for b in range(n):
        for ty in range(th):
            for tx in range(tw):
                t = (b * th + ty) * tw + tx
                for i in range(4):
                    r = 2 * ty + i - top
                    for j in range(4):
                        s = 2 * tx + j - left
                        row = d[i, j]
                        if 0 <= r < H and 0 <= s < W:
                            src = x[b, r, s]
                            for c in range(C):
                                row[c] = src[c]
                        else:
                            for c in range(C):
                                row[c] = zero
                for j in range(4):  # B^T d: along the tile's rows
                    for c in range(C):
                        a0, a1, a2, a3 = d[0, j, c], d[1, j, c], d[2, j, c], d[3, j, c]
                        d[0, j, c] = a0 - a2
                        d[1, j, c] = a1 + a2
                        d[2, j, c] = a2 - a1
                        d[3, j, c] = a1 - a3
                for i in range(4):  # (B^T d) B: along its columns
                    for c in range(C):
                        a0, a1, a2, a3 = d[i, 0, c], d[i, 1, c], d[i, 2, c], d[i, 3, c]
                        V[4 * i, t, c] = a0 - a2
                        V[4 * i + 1, t, c] = a1 + a2
                        V[4 * i + 2, t, c] = a2 - a1
                        V[4 * i + 3, t, c] = a1 - a3


def output_tiles(M, bias, y, th, tw, relu):
    """y[b, 2ty+a, 2tx+q, f] = (A^T m A)[a, q] + bias[f] for the outputs inside y (n, H_out,
    W_out, F), m = M[:, t, f] as 4x4; then max(., 0) when ``relu``."""
    n, H_out, W_out, F = y.shape
    m = np.empty((4, 2, F), dtype=M.dtype)  # one tile's m A
    zero = y.dtype.type(0)
    for b in range(n):
        for ty in range(th):
            for tx in range(tw):
                t = (b * th + ty) * tw + tx
                for i in range(4):  # m A: along the columns
                    for f in range(F):
                        a0, a1, a2, a3 = M[4 * i, t, f], M[4 * i + 1, t, f], M[4 * i + 2, t, f], M[4 * i + 3, t, f]
                        m[i, 0, f] = a0 + a1 + a2
                        m[i, 1, f] = a1 - a2 - a3
                for a in range(2):  # A^T (m A): along the rows, (m0 + m1 + m2, m1 - m2 - m3)
                    r = 2 * ty + a
                    if r >= H_out:
                        continue
                    for q in range(2):
                        s = 2 * tx + q
                        if s >= W_out:
                            continue
                        dst = y[b, r, s]
                        if a == 0:
                            for f in range(F):
                                dst[f] = m[0, q, f] + m[1, q, f] + m[2, q, f] + bias[f]
                        else:
                            for f in range(F):
                                dst[f] = m[1, q, f] - m[2, q, f] - m[3, q, f] + bias[f]
                        if relu:
                            for f in range(F):
                                v = dst[f]
                                dst[f] = v if (v > zero or v != v) else zero  # np.maximum(v, 0)


def output_tiles_adjoint(dy, y, DY, db, th, tw, relu):
    """DY[4i+j, t, f] = (A g A^T)[i, j] with g[a, q] = dL/dz at output (2ty+a, 2tx+q) (0 past
    the edge), dL/dz = dy * (y > 0) when ``relu`` else dy; db[f] += the sum of dL/dz."""
    n, H_out, W_out, F = dy.shape
    g = np.empty((2, 2, F), dtype=DY.dtype)  # one tile's dL/dz
    zero = dy.dtype.type(0)
    for b in range(n):
        for ty in range(th):
            for tx in range(tw):
                t = (b * th + ty) * tw + tx
                for a in range(2):
                    r = 2 * ty + a
                    for q in range(2):
                        s = 2 * tx + q
                        dst = g[a, q]
                        if r < H_out and s < W_out:
                            src, out = dy[b, r, s], y[b, r, s]
                            for f in range(F):
                                v = src[f] * (out[f] > zero) if relu else src[f]
                                dst[f] = v
                                db[f] += v
                        else:
                            for f in range(F):
                                dst[f] = zero
                for i in range(4):  # A g: rows g0, g0 + g1, g0 - g1, -g1; then (A g) A^T alike
                    for f in range(F):
                        if i == 0:
                            u0, u1 = g[0, 0, f], g[0, 1, f]
                        elif i == 1:
                            u0, u1 = g[0, 0, f] + g[1, 0, f], g[0, 1, f] + g[1, 1, f]
                        elif i == 2:
                            u0, u1 = g[0, 0, f] - g[1, 0, f], g[0, 1, f] - g[1, 1, f]
                        else:
                            u0, u1 = -g[1, 0, f], -g[1, 1, f]
                        DY[4 * i, t, f] = u0
                        DY[4 * i + 1, t, f] = u0 + u1
                        DY[4 * i + 2, t, f] = u0 - u1
                        DY[4 * i + 3, t, f] = -u1


def input_tiles_adjoint(dV, dx, top, left, th, tw):
    """dx[b, r, s, c] = the sum of (B dV_t B^T)[i, j] over the tiles t and positions (i, j)
    with 2ty+i-top = r, 2tx+j-left = s: the transpose of ``input_tiles`` (dx (n, H, W, C) is
    overwritten)."""
    n, H, W, C = dx.shape
    d = np.empty((4, 4, C), dtype=dV.dtype)  # one tile's values
    zero = dx.dtype.type(0)
    for b in range(n):
        for r in range(H):
            for s in range(W):
                for c in range(C):
                    dx[b, r, s, c] = zero
        for ty in range(th):
            for tx in range(tw):
                t = (b * th + ty) * tw + tx
                for i in range(4):  # dV B^T: along the columns, (v0, v1 - v2 + v3, v1 + v2 - v0, -v3)
                    for c in range(C):
                        a0, a1, a2, a3 = dV[4 * i, t, c], dV[4 * i + 1, t, c], dV[4 * i + 2, t, c], dV[4 * i + 3, t, c]
                        d[i, 0, c] = a0
                        d[i, 1, c] = a1 - a2 + a3
                        d[i, 2, c] = a1 + a2 - a0
                        d[i, 3, c] = -a3
                for j in range(4):  # B (dV B^T): along the rows
                    for c in range(C):
                        a0, a1, a2, a3 = d[0, j, c], d[1, j, c], d[2, j, c], d[3, j, c]
                        d[0, j, c] = a0
                        d[1, j, c] = a1 - a2 + a3
                        d[2, j, c] = a1 + a2 - a0
                        d[3, j, c] = -a3
                for i in range(4):
                    r = 2 * ty + i - top
                    if r < 0 or r >= H:
                        continue
                    for j in range(4):
                        s = 2 * tx + j - left
                        if s < 0 or s >= W:
                            continue
                        dst = dx[b, r, s]
                        src = d[i, j]
                        for c in range(C):
                            dst[c] += src[c]
