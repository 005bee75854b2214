"""Fast tier: im2col/col2im loop orders and per-chunk helpers (used by ``fast_conv``).

Also the whole-batch convolution (``conv2d_forward_whole``) that device arrays (CuPy) take:
on a GPU one big im2col and one big matrix product are what wins, not CPU threads.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.kernels import fast_loops, jit
from nnscratch.kernels.fast_pointwise import activation_grad, bias_activate, column_sum
from nnscratch.kernels.geometry import conv_output_length, crop_nhwc, pad_nhwc, padding_amounts, tap_slice
from nnscratch.kernels.scratch import scratch

# ---------------------------------------------------------------------- im2col loop orders
#: Up to this many channels, im2col/col2im copy whole (KW, C) window rows per call instead of
#: one (n, H_out, W_out, C) slice per tap: a tap slice moves C floats per NumPy inner loop (24
#: bytes at C=6), a window-row slice KW*C, but there are KH*W_out row copies against KH*KW tap
#: copies, so for the fast tier's small chunks the tap loop wins from about 32 channels on.
#: Measured on one chunk, 1 thread, wall, median of 20 (3x3, stride 1, 'same'):
#: C=6 13x13, 16 images: im2col 0.25 -> 0.18 ms, col2im 0.63 -> 0.44 ms with window rows;
#: C=32 28x28, 1 image: im2col 0.12 ms (taps) vs 0.23 ms (rows), col2im 0.28 vs 0.52 ms.
ROWS_MAX_C = 8


def _window_rows(C, KW):
    """True when copying window rows (the loop over (i, w)) beats the loop over taps (i, j)."""
    return 1 < C <= ROWS_MAX_C and KW > 1


def _row_slice(w, KW, SW, DW):
    """The columns of window column w: w*SW + j*DW for j < KW, as one slice."""
    c0 = w * SW
    return slice(c0, c0 + (KW - 1) * DW + 1, DW)


def window_view(x_pad, KH, KW, SH, SW, DH, DW, H_out, W_out):
    """The windows of x_pad (N, Hp, Wp, C) as a read-only strided view (N, H_out, W_out, KH, KW, C)
    of its memory: view[n, h, w, i, j, c] = x_pad[n, h*SH + i*DH, w*SW + j*DW, c]. Host arrays."""
    s0, s1, s2, s3 = x_pad.strides
    N, _, _, C = x_pad.shape
    return backend.as_strided(x_pad, (N, H_out, W_out, KH, KW, C), (s0, s1 * SH, s2 * SW, s1 * DH, s2 * DW, s3))


def im2col_into(col, x_pad, SH, SW, DH, DW):
    """Fill col (N, H_out, W_out, KH, KW, C) with x_pad's windows.

    Host arrays: one copy of the strided ``window_view`` (NumPy walks it with contiguous
    (KW*C) inner runs when SW = DW = 1) instead of a Python loop of slice copies. Measured, 1
    thread, best of 50, 3x3 'valid': LeNet's C=6 13x13, 20 images 0.135 ms (window rows) ->
    0.074 ms; C=32 13x13, 16 images 0.210 ms (taps) -> 0.096 ms. Device arrays: the tap loop
    (KH*KW kernel launches) below."""
    _, H_out, W_out, KH, KW, C = col.shape
    if not backend.is_device_array(x_pad):
        col[...] = window_view(x_pad, KH, KW, SH, SW, DH, DW, H_out, W_out)
        return col
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
    """dx_pad += col2im(dcol): host arrays by the compiled loop ``fast_loops.col2im_add`` (2-5x
    faster) when Numba is there, else with the same loop order choice as ``im2col_into``."""
    _, H_out, W_out, KH, KW, C = dcol.shape
    host = not backend.is_device_array(dx_pad) and dx_pad.dtype == dcol.dtype
    contiguous = host and dx_pad.flags.c_contiguous and dcol.flags.c_contiguous  # the loop reshapes both
    loop = jit.compiled(fast_loops.col2im_add) if contiguous else None
    if loop is not None:
        loop(dx_pad, dcol, SH, SW, DH, DW)
        return dx_pad
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


# ---------------------------------------------------------------------- whole-batch convolution (device arrays)
def conv2d_forward_whole(x, kernel, bias, strides, padding, dilation_rate, activation=None):
    """The readable conv2d_forward with the im2col matrix built by ``_im2col_matrix`` and the
    bias and activation applied in place (``fast_pointwise.bias_activate``).
    Cache: col2d (N*H_out*W_out, KH*KW*C_in) (a fresh array, possibly a transposed view),
    out_shape, x_pad_shape, pads, hw, strides, dilation_rate, activation, y."""
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
    y = bias_activate(activation, z, bias).reshape(N, H_out, W_out, F)  # in place: z is this call's own array
    cache = {"col2d": col2d, "out_shape": (N, H_out, W_out, F), "x_pad_shape": x_pad.shape, "pads": pads,
             "hw": (H, W), "strides": strides, "dilation_rate": dilation_rate, "activation": activation, "y": y}
    return y, cache


def conv2d_backward_whole(dy, cache, kernel, need_input_grad=True):
    """The readable conv2d_backward; dcol lives in scratch memory (trick: the conv net's 58 MB
    dcol was a fresh mmap, page-faulted in on every step), consumed before this call returns."""
    xp = backend.get_array_module(dy)
    col2d = cache["col2d"]
    N, H_out, W_out, F = cache["out_shape"]
    KH, KW, C_in, _ = kernel.shape
    dz2 = activation_grad(cache["activation"], dy, cache["y"]).reshape(N * H_out * W_out, F)  # f'(z) * dy
    dkernel = xp.matmul(col2d.T, dz2).reshape(KH, KW, C_in, F)
    dbias = column_sum(xp, dz2)
    if not need_input_grad:
        return None, dkernel, dbias
    buf = scratch(xp, (N * H_out * W_out, KH * KW * C_in), dz2.dtype)
    dcol = xp.matmul(dz2, kernel.reshape(KH * KW * C_in, F).T, out=buf).reshape(N, H_out, W_out, KH, KW, C_in)
    dx_pad = col2im_add(xp.zeros(cache["x_pad_shape"], dtype=dy.dtype), dcol, *cache["strides"],
                        *cache["dilation_rate"])
    H, W = cache["hw"]
    return crop_nhwc(dx_pad, cache["pads"], H, W), dkernel, dbias


# ---------------------------------------------------------------------- per-chunk helpers
def pad_chunk(xc, pads, slot):
    """xc (n, H, W, C) padded with zeros into scratch memory (xc itself without padding)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return xc
    xp = backend.get_array_module(xc)
    n, H, W, C = xc.shape
    out = scratch(xp, (n, H + top + bottom, W + left + right, C), xc.dtype, slot=slot)
    out[:, :top] = 0
    out[:, top + H:] = 0
    out[:, top:top + H, :left] = 0
    out[:, top:top + H, left + W:] = 0
    out[:, top:top + H, left:left + W] = xc
    return out


def im2col_padded_into(col, xc, pads, SH, SW, DH, DW, slot):
    """``im2col_into(col, pad_chunk(xc, pads))``. With padding, on the host, by the compiled
    loop ``fast_loops.im2col_padded``, which writes the zeros of the padding itself instead of
    first copying xc into a padded array (the conv net's step, thread-summed: the pad copies
    took 12.5 ms of 167 ms CPU)."""
    (top, bottom), (left, right) = pads
    if top or bottom or left or right:
        loop = None if backend.is_device_array(xc) or xc.dtype != col.dtype else jit.compiled(fast_loops.im2col_padded)
        if loop is not None:
            loop(xc, col, top, left, SH, SW, DH, DW)
            return col
    return im2col_into(col, pad_chunk(xc, pads, slot), SH, SW, DH, DW)


def empty_col(xp, N, H_out, W_out, KH, KW, C, dtype):
    """A fresh array (N, H_out, W_out, KH, KW, C) for the whole batch's im2col matrix (C > 1)."""
    return xp.empty((N, H_out, W_out, KH, KW, C), dtype=dtype)


def col_rows(col, a, b):
    """Images a..b of an ``empty_col`` array (contiguous), in the layout ``im2col_chunk`` fills."""
    return col[a:b]


def as_matrix(col):
    """The (M, K) im2col matrix view of a chunk's array (a transposed view for one channel)."""
    if col.ndim == 5:  # (KH, KW, n, H_out, W_out): rows of the transposed matrix
        KH, KW, n, H_out, W_out = col.shape
        return col.reshape(KH * KW, n * H_out * W_out).T
    n, H_out, W_out, KH, KW, C = col.shape
    return col.reshape(n * H_out * W_out, KH * KW * C)


def im2col_chunk(xc, pads, KH, KW, strides, dilation_rate, H_out, W_out, out=None):
    """The im2col matrix (n*H_out*W_out, KH*KW*C) of the chunk xc (n, H, W, C), written into
    ``out`` (from ``col_rows``, C > 1) or into scratch memory (valid until the next call on
    this thread)."""
    xp = backend.get_array_module(xc)
    (SH, SW), (DH, DW) = strides, dilation_rate
    n, _, _, C = xc.shape
    if C != 1:
        col = out if out is not None else scratch(xp, (n, H_out, W_out, KH, KW, C), xc.dtype, slot="conv-col")
        return as_matrix(im2col_padded_into(col, xc, pads, SH, SW, DH, DW, "conv-pad"))
    x_pad = pad_chunk(xc, pads, "conv-pad")
    colT = scratch(xp, (KH, KW, n, H_out, W_out), xc.dtype, slot="conv-col")
    for i in range(KH):
        for j in range(KW):
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW, DH, DW)
            colT[i, j] = x_pad[:, rows, cols, 0]  # (n, H_out, W_out)
    return as_matrix(colT)


def col2im_chunk(dxc, dcol, pads, KH, KW, strides, dilation_rate, H_out, W_out):
    """dxc (n, H, W, C) = crop(col2im(dcol)) for the chunk's dcol (n*H_out*W_out, KH*KW*C)."""
    xp = backend.get_array_module(dxc)
    (SH, SW), (DH, DW) = strides, dilation_rate
    n, H, W, C = dxc.shape
    (top, bottom), (left, right) = pads
    dcol6 = dcol.reshape(n, H_out, W_out, KH, KW, C)
    if top == bottom == left == right == 0:
        dxc[...] = 0
        col2im_add(dxc, dcol6, SH, SW, DH, DW)
        return dxc
    dx_pad = scratch(xp, (n, H + top + bottom, W + left + right, C), dxc.dtype, slot="conv-dpad")
    dx_pad[...] = 0
    col2im_add(dx_pad, dcol6, SH, SW, DH, DW)
    dxc[...] = dx_pad[:, top:top + H, left:left + W]
    return dxc
