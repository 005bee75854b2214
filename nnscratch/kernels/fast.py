"""The fast kernel tier: the readable kernels' results, computed with speed tricks.

Same functions and signatures as the readable kernels (``layers/conv.py``,
``layers/pooling.py``), NHWC, on any ``xp`` backend. Each trick says what it does and the
measurement that earned it; ``tests/kernels/`` checks every function against the readable and
the reference tier. Nothing returned or cached here is ever memory that a later call refills:
reused memory (``scratch``) only holds values that die inside one call.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.kernels.geometry import conv_output_length, crop_nhwc, pad_nhwc, padding_amounts, tap_slice
from nnscratch.kernels.scratch import scratch

# ---------------------------------------------------------------------- im2col loop orders
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


def im2col_into(col, x_pad, SH, SW, DH, DW):
    """Fill col (N, H_out, W_out, KH, KW, C) with x_pad's windows; loop order by channels."""
    _, H_out, W_out, KH, KW, C = col.shape
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


def col2im_add(dx_pad, dcol, SH, SW, DH, DW):
    """dx_pad += col2im(dcol), with the same loop order choice as ``im2col_into``."""
    _, H_out, W_out, KH, KW, C = dcol.shape
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


def _im2col_matrix(x_pad, KH, KW, SH, SW, H_out, W_out, DH, DW):
    """im2col as the matrix the kernel multiplies: (N*H_out*W_out, KH*KW*C), a fresh array.

    C == 1 (a grayscale first layer): the same matrix filled as its transpose, a contiguous
    (KH*KW, N*H_out*W_out) array whose rows are whole tap slices, returned as the transposed
    view. Each tap is then one long contiguous copy instead of a stride-KH*KW scatter, and BLAS
    reads the transposed operand without a copy (in backward colT @ dz is a plain product).
    Measured at LeNet's first conv (28x28x1, 3x3, batch 1000, 1 thread): im2col + GEMM 10.7 ->
    5.3 ms."""
    xp = backend.get_array_module(x_pad)
    N, _, _, C = x_pad.shape
    M, K = N * H_out * W_out, KH * KW * C
    if C != 1:
        col = im2col_into(xp.empty((N, H_out, W_out, KH, KW, C), dtype=x_pad.dtype), x_pad, SH, SW, DH, DW)
        return col.reshape(M, K)
    colT = xp.empty((KH, KW, N, H_out, W_out), dtype=x_pad.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            colT[i, j] = x_pad[:, rows, cols, 0]  # (N, H_out, W_out)
    return colT.reshape(K, M).T


_ONES = {}  # (array module id, n, dtype) -> a vector of ones; read only, never handed out


def _column_sum(xp, a):
    """sum over the rows of a tall (M, F) array as the matrix-vector product 1^T a: BLAS reads
    a once; NumPy's column sum over a tall array with small F is ~20x slower (measured on the
    conv net's (50176, 32) dz: see the table in benchmarks/README.md, per-kernel section)."""
    key = (id(xp), a.shape[0], str(a.dtype))
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:
            _ONES.clear()
        ones = _ONES[key] = xp.ones(a.shape[0], dtype=a.dtype)
    return ones @ a


# ---------------------------------------------------------------------- convolution
def conv2d_forward(x, kernel, bias, strides, padding, dilation_rate):
    """The readable conv2d_forward with the im2col matrix built by ``_im2col_matrix``.
    Cache: col2d (N*H_out*W_out, KH*KW*C_in) (a fresh array, possibly a transposed view),
    out_shape, x_pad_shape, pads, hw, strides, dilation_rate."""
    xp = backend.get_array_module(x)
    N, H, W, C_in = x.shape
    KH, KW, _, F = kernel.shape
    (SH, SW), (DH, DW) = strides, dilation_rate
    H_out = conv_output_length(H, KH, SH, padding, DH)
    W_out = conv_output_length(W, KW, SW, padding, DW)
    pads = padding_amounts(H, W, KH, KW, SH, SW, padding, DH, DW)
    x_pad = pad_nhwc(x, pads)
    col2d = _im2col_matrix(x_pad, KH, KW, SH, SW, H_out, W_out, DH, DW)
    z = xp.matmul(col2d, kernel.reshape(KH * KW * C_in, F))  # (N*H_out*W_out, F), fresh
    if bias is not None:
        z += bias  # in place: z is this call's own array
    cache = {"col2d": col2d, "out_shape": (N, H_out, W_out, F), "x_pad_shape": x_pad.shape, "pads": pads,
             "hw": (H, W), "strides": strides, "dilation_rate": dilation_rate}
    return z.reshape(N, H_out, W_out, F), cache


def conv2d_backward(dz, cache, kernel, need_input_grad=True):
    """The readable conv2d_backward; dcol lives in scratch memory (trick: the conv net's 58 MB
    dcol was a fresh mmap, page-faulted in on every step), consumed before this call returns."""
    xp = backend.get_array_module(dz)
    col2d = cache["col2d"]
    N, H_out, W_out, F = cache["out_shape"]
    KH, KW, C_in, _ = kernel.shape
    dz2 = xp.ascontiguousarray(dz).reshape(N * H_out * W_out, F)
    dkernel = xp.matmul(col2d.T, dz2).reshape(KH, KW, C_in, F)
    dbias = _column_sum(xp, dz2)
    if not need_input_grad:
        return None, dkernel, dbias
    buf = scratch(xp, (N * H_out * W_out, KH * KW * C_in), dz2.dtype)
    dcol = xp.matmul(dz2, kernel.reshape(KH * KW * C_in, F).T, out=buf).reshape(N, H_out, W_out, KH, KW, C_in)
    dx_pad = col2im_add(xp.zeros(cache["x_pad_shape"], dtype=dz.dtype), dcol, *cache["strides"],
                        *cache["dilation_rate"])
    H, W = cache["hw"]
    return crop_nhwc(dx_pad, cache["pads"], H, W), dkernel, dbias


# ---------------------------------------------------------------------- pooling
def _pool_geometry(x, pool_size, strides, padding):
    N, H, W, C = x.shape
    (KH, KW), (SH, SW) = pool_size, strides
    H_out = conv_output_length(H, KH, SH, padding)
    W_out = conv_output_length(W, KW, SW, padding)
    return N, H, W, C, KH, KW, SH, SW, H_out, W_out, padding_amounts(H, W, KH, KW, SH, SW, padding)


def _tiles(pool_size, strides):
    """Windows that do not overlap (pool_size == strides, the usual 2x2/2)."""
    return tuple(pool_size) == tuple(strides)


def max_pool_forward(x, pool_size, strides, padding):
    """The readable max_pool_forward, updating y and argmax in place (copyto) instead of two
    fresh arrays per tap."""
    xp = backend.get_array_module(x)
    N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads = _pool_geometry(x, pool_size, strides, padding)
    x_pad = pad_nhwc(x, pads, value=-float("inf"))
    rows, cols = tap_slice(0, 0, H_out, W_out, SH, SW)
    y = x_pad[:, rows, cols, :].copy()
    argmax = xp.zeros((N, H_out, W_out, C), dtype="int16")
    for t in range(1, KH * KW):
        i, j = divmod(t, KW)
        rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
        window = x_pad[:, rows, cols, :]
        better = window > y
        xp.copyto(y, window, where=better)
        xp.copyto(argmax, t, where=better)
    cache = {"argmax": argmax, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "pool_size": (KH, KW),
             "strides": (SH, SW)}
    return y, cache


def max_pool_backward(dy, cache):
    """Non-overlapping windows: each input cell belongs to at most one window, so each tap's
    slice is written once (dy where that tap won, 0 elsewhere) with no zero image and no
    read-modify-write; only a 'valid' remainder (read by no window) needs zeros."""
    xp = backend.get_array_module(dy)
    argmax = cache["argmax"]
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    _, H_out, W_out, _ = dy.shape
    if _tiles((KH, KW), (SH, SW)):
        Hp, Wp = cache["x_pad_shape"][1:3]
        covered = (H_out * KH, W_out * KW) == (Hp, Wp)
        dx_pad = (xp.empty if covered else xp.zeros)(cache["x_pad_shape"], dtype=dy.dtype)
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            xp.multiply(dy, argmax == t, out=dx_pad[:, rows, cols, :])
    else:
        dx_pad = xp.zeros(cache["x_pad_shape"], dtype=dy.dtype)
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            dx_pad[:, rows, cols, :] += dy * (argmax == t)
    H, W = cache["hw"]
    return crop_nhwc(dx_pad, cache["pads"], H, W)


_COUNTS = {}  # geometry -> window counts (read only; they depend on the geometry, not the data)


def _window_counts(xp, dtype, H, W, pads, KH, KW, SH, SW, H_out, W_out):
    key = (id(xp), str(dtype), H, W, pads, KH, KW, SH, SW)
    count = _COUNTS.get(key)
    if count is None:
        real = pad_nhwc(xp.ones((1, H, W, 1), dtype=dtype), pads, value=0.0)
        count = xp.zeros((1, H_out, W_out, 1), dtype=dtype)
        for i in range(KH):
            for j in range(KW):
                rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
                count += real[:, rows, cols, :]
        if len(_COUNTS) > 64:
            _COUNTS.clear()
        _COUNTS[key] = count
    return count


def avg_pool_forward(x, pool_size, strides, padding):
    """Non-overlapping windows: the sum over the window axes of the tiled view
    (N, H_out, KH, W_out, KW, C), added slice by slice (NumPy's multi-axis reduce is ~5x slower
    here); counts computed once per geometry."""
    xp = backend.get_array_module(x)
    N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads = _pool_geometry(x, pool_size, strides, padding)
    x_pad = pad_nhwc(x, pads, value=0.0)
    count = _window_counts(xp, x.dtype, H, W, pads, KH, KW, SH, SW, H_out, W_out)
    if _tiles((KH, KW), (SH, SW)):
        win = x_pad[:, :H_out * KH, :W_out * KW, :].reshape(N, H_out, KH, W_out, KW, C)
        row_sum = win[:, :, 0]
        for i in range(1, KH):
            row_sum = row_sum + win[:, :, i]  # (N, H_out, W_out, KW, C): whole rows at a time
        total = row_sum[:, :, :, 0] + row_sum[:, :, :, 1] if KW > 1 else row_sum[:, :, :, 0].copy()
        for j in range(2, KW):
            total += row_sum[:, :, :, j]
    else:
        total = xp.zeros((N, H_out, W_out, C), dtype=x.dtype)
        for i in range(KH):
            for j in range(KW):
                rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
                total += x_pad[:, rows, cols, :]
    if padding == "valid":
        total /= KH * KW  # every window is whole: one scalar divisor
    else:
        total /= count
    cache = {"count": count, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "pool_size": (KH, KW),
             "strides": (SH, SW)}
    return total, cache


def avg_pool_backward(dy, cache):
    """Non-overlapping windows: every cell of window (h, w) receives g[h, w]; one broadcast
    write into the tiled layout instead of a zero image plus KH*KW adds."""
    xp = backend.get_array_module(dy)
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    N, H_out, W_out, C = dy.shape
    g = dy / cache["count"]
    H, W = cache["hw"]
    Hp, Wp = cache["x_pad_shape"][1:3]
    if _tiles((KH, KW), (SH, SW)):
        win = xp.empty((N, H_out, KH, W_out, KW, C), dtype=dy.dtype)
        win[...] = g[:, :, None, :, None, :]
        tiled = win.reshape(N, H_out * KH, W_out * KW, C)
        if (H_out * KH, W_out * KW) == (Hp, Wp):
            dx_pad = tiled
        else:
            dx_pad = xp.zeros(cache["x_pad_shape"], dtype=dy.dtype)
            dx_pad[:, :H_out * KH, :W_out * KW, :] = tiled
        return crop_nhwc(dx_pad, cache["pads"], H, W)
    dx_pad = xp.zeros(cache["x_pad_shape"], dtype=dy.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            dx_pad[:, rows, cols, :] += g
    return crop_nhwc(dx_pad, cache["pads"], H, W)


#: name -> kernel, looked up by nnscratch.kernels.get
KERNELS = {f.__name__: f for f in (conv2d_forward, conv2d_backward, max_pool_forward, max_pool_backward,
                                   avg_pool_forward, avg_pool_backward)}
