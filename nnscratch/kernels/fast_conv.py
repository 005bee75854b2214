"""Fast tier: Conv2D forward and backward, batch-parallel, on cache-sized chunks.

The readable kernel builds the whole im2col matrix (the conv net's second layer: 58 MB at
batch 64), keeps it for backward, and runs im2col, col2im and the bias on one core. Here:

1. **Chunks.** The batch is cut into chunks of a few images whose im2col matrix fits in the
   CPU cache (``CHUNK_BYTES``); each chunk is padded, unfolded, multiplied and, in backward,
   folded back while its data is still in cache. The im2col matrix is not kept: backward
   rebuilds it from the cached input, which costs less than writing 58 MB to memory and
   reading it back, and takes that much less memory.
2. **Threads.** The chunks are shared among ``threads.num_threads()`` threads (NumPy releases
   the GIL in copies and BLAS), each with its own scratch memory, and BLAS runs on one thread
   inside them.
3. **Loop orders.** Per chunk, im2col is one strided copy of the windows' view (``fast_im2col``);
   one grayscale channel uses the transposed layout.
4. **Fused activation.** Bias and activation are applied to each chunk's product while it is
   still in cache, ReLU in place (``maximum(z, 0, out=z)``), and backward multiplies each
   chunk's dy by f'(z) just before its products: one pass over the output fewer each way and
   no activation-sized temporaries. With the strided im2col, LeNet predict (10,000 images,
   batch 1000, 2 threads) went from 0.56-0.98 s to 0.32-0.44 s.

The cache holds the layer's input x (a reference) and the geometry, never scratch memory.

Measured (one training step of ``fit``'s models, 1 thread for BLAS and for this tier, CPU time,
median of 10 steps, readable / whole-batch fast tier of before / this file, same process):
the suite's conv net at batch 64 319 / 286 / 229 ms; the Keras "Simple MNIST convnet" at batch
128 107 / 107 / 70 ms. Peak RSS of a 640-image conv-net fit: 284 MB before, 116 MB with this
file (the 58 MB im2col matrix is no longer kept), PyTorch 392 MB. On a loaded machine the
same comparison gave 571 / 477 ms (oldfast / this file) for the conv net.
"""
from __future__ import annotations

import contextlib

from nnscratch import backend
from nnscratch.kernels import fast_im2col as f2c
from nnscratch.kernels import fast_conv1, fast_winograd, threads
from nnscratch.kernels import fast_pointwise as pointwise
from nnscratch.kernels.geometry import conv_output_length, padding_amounts
from nnscratch.kernels.scratch import scratch

#: Target size of one chunk's im2col matrix (bytes).
CHUNK_BYTES = 1 << 20
#: Up to this size (bytes) the whole batch's im2col matrix is kept for backward (a fresh array
#: each call) instead of being rebuilt there: for LeNet's small layers rebuilding cost more
#: than keeping (LeNet b64 step, 1 thread, CPU: 8.7 ms rebuilding, see the README table).
KEEP_COL_BYTES = 1 << 23


def rotated_kernel(kernel):
    """W_rot[i, j, f, c] = W[KH-1-i, KW-1-j, c, f] as a (KH*KW*F, C) matrix (a fresh array)."""
    KH, KW, C, F = kernel.shape
    xp = backend.get_array_module(kernel)
    return xp.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(KH * KW * F, C)


def dz_columns(dzc, H, W, pads, KH, KW, dilation_rate):
    """The im2col matrix (n*H*W, KH*KW*F) of dz zero-padded for the 'full' correlation of a
    stride-1 convolution over x's H x W grid (scratch memory): row p holds dz at the positions
    p - tap + pad.

    It serves both gradients (stride 1, F <= C; Keras's layout W[i, j, c, f]):

    * **dx** = cols @ W_rot (``rotated_kernel``): dx[p, c] = sum over i, j, f of
      dz[p + (top, left) - (i*DH, j*DW), f] W[i, j, c, f], the 'full' correlation of dz with the
      kernel rotated by 180 degrees, written straight into dx, where the readable kernel
      multiplies into dcol and adds KH*KW strided slices of it back into the image (col2im).
      Measured, one training step, 2 threads, medians of 8 alternating rounds in one process:
      the suite's conv net (32 and 64 channels, b64) 110 ms (col2im everywhere) -> 95 ms; also
      where F > C (dz's im2col then larger than dcol), LeNet (6 -> 16 channels) 6.2 -> 6.8 ms
      and the Simple MNIST convnet (32 -> 64) 35.1 -> 37.6 ms.
    * **dW** = x^T @ cols, a (C, KH*KW*F) matrix: its column (KH-1-i, KW-1-j, f) is
      sum over p of x[p, c] dz[p + (top, left) - (i*DH, j*DW), f] = dL/dW[i, j, c, f]
      (``weights_from_columns``), so backward needs no im2col of x. Measured per chunk, one
      thread: the conv net's second layer (one image, 28x28, 32 -> 32) 496 -> 425 us, its
      fourth (two images, 14x14, 64 -> 64) 772 -> 701 us (the same FLOPs, one copy less); its
      training step (2 threads, medians of 8 alternating rounds in one process, on a loaded
      machine) 88.3 -> 84.2 ms and 95.0 -> 89.8 ms in two runs. Both gradients from dz's
      columns also where F > C lost: the Simple MNIST convnet's step 27.4 -> 30.6 ms, LeNet's
      4.9 -> 6.0 ms."""
    xp = backend.get_array_module(dzc)
    n, _, _, F = dzc.shape
    (top, bottom), (left, right) = pads
    DH, DW = dilation_rate
    full = (((KH - 1) * DH - top, (KH - 1) * DH - bottom), ((KW - 1) * DW - left, (KW - 1) * DW - right))
    col = scratch(xp, (n, H, W, KH, KW, F), dzc.dtype, slot="conv-dzcol")
    f2c.im2col_padded_into(col, dzc, full, 1, 1, DH, DW, "conv-dzpad")
    return col.reshape(n * H * W, KH * KW * F)


def weights_from_columns(dW_cols, KH, KW):
    """dL/dW (KH, KW, C, F) from the (C, KH*KW*F) matrix x^T @ ``dz_columns``: entry
    (c, (KH-1-i, KW-1-j, f)) is dL/dW[i, j, c, f] (a fresh array)."""
    xp = backend.get_array_module(dW_cols)
    C = dW_cols.shape[0]
    F = dW_cols.shape[1] // (KH * KW)
    return xp.ascontiguousarray(dW_cols.reshape(C, KH, KW, F)[:, ::-1, ::-1, :].transpose(1, 2, 0, 3))


def _geometry(x, kernel, strides, padding, dilation_rate):
    N, H, W, C = x.shape
    KH, KW, _, F = kernel.shape
    (SH, SW), (DH, DW) = strides, dilation_rate
    H_out = conv_output_length(H, KH, SH, padding, DH)
    W_out = conv_output_length(W, KW, SW, padding, DW)
    pads = padding_amounts(H, W, KH, KW, SH, SW, padding, DH, DW)
    return N, H, W, C, KH, KW, F, H_out, W_out, pads


def _ranges(N, per_image_bytes):
    """The batch in [(start, stop), ...] per thread, and the images per chunk."""
    step = max(1, CHUNK_BYTES // max(per_image_bytes, 1))
    return threads.split(N, threads.num_threads()), step


def conv2d_forward(x, kernel, bias, strides, padding, dilation_rate, activation=None):
    """The readable conv2d_forward, chunked and threaded. Cache: x, out_shape, pads,
    strides, dilation_rate, activation, y, and col: the im2col matrix when it is small
    (``KEEP_COL_BYTES``, a fresh array), else None (backward rebuilds it chunk by chunk)."""
    if backend.is_device_array(x):
        return f2c.conv2d_forward_whole(x, kernel, bias, strides, padding, dilation_rate, activation)
    xp = backend.get_array_module(x)
    N, H, W, C, KH, KW, F, H_out, W_out, pads = _geometry(x, kernel, strides, padding, dilation_rate)
    if fast_winograd.applies(x, kernel, strides, dilation_rate):  # 3x3, stride 1: Winograd F(2x2, 3x3)
        return fast_winograd.conv2d_forward(x, kernel, bias, pads, activation)
    K = KH * KW * C
    ranges, step = _ranges(N, H_out * W_out * K * x.itemsize)
    y = fast_conv1.forward(x, kernel, bias, strides, dilation_rate, activation, pads, H_out, W_out)
    if y is not None:  # one channel, few filters: the compiled row loop (``fast_conv1``)
        return y, _cache(x, (N, H_out, W_out, F), pads, strides, dilation_rate, None, activation, y)
    if len(ranges) == 1 and N * H_out * W_out * K * x.itemsize <= KEEP_COL_BYTES:
        # one thread and a small layer: the whole batch at once has the least Python per call
        # (LeNet b64 step, 1 thread, CPU: chunked 12.2 ms vs whole 10.4 ms)
        return f2c.conv2d_forward_whole(x, kernel, bias, strides, padding, dilation_rate, activation)
    W2 = kernel.reshape(K, F)
    z = xp.empty((N, H_out, W_out, F), dtype=x.dtype)

    keep = C > 1 and N * H_out * W_out * K * x.itemsize <= KEEP_COL_BYTES  # one channel: rebuilding is 9 copies
    keep = keep and not _by_correlation(strides, C, F)  # backward's dW then needs no im2col of x
    kept = f2c.empty_col(xp, N, H_out, W_out, KH, KW, C, x.dtype) if keep else None

    def work(n0, n1):
        for a in range(n0, n1, step):
            b = min(a + step, n1)
            out = None if kept is None else f2c.col_rows(kept, a, b)
            col = f2c.im2col_chunk(x[a:b], pads, KH, KW, strides, dilation_rate, H_out, W_out, out=out)  # (M_c, K)
            zc = z[a:b].reshape((b - a) * H_out * W_out, F)
            xp.matmul(col, W2, out=zc)
            pointwise.bias_activate(activation, zc, bias)  # in place, while the chunk is in cache

    with threads.single_threaded_blas() if len(ranges) > 1 else contextlib.nullcontext():
        threads.run_ranges(work, ranges)
    return z, _cache(x, (N, H_out, W_out, F), pads, strides, dilation_rate, kept, activation, z)


def _by_correlation(strides, C, F):
    """Whether backward forms dW (and dx, when wanted) from dz's im2col (``dz_columns``)."""
    return tuple(strides) == (1, 1) and F <= C


def _cache(x, out_shape, pads, strides, dilation_rate, col, activation, y):
    return {"x": x, "out_shape": out_shape, "pads": pads, "strides": strides, "dilation_rate": dilation_rate,
            "col": col, "activation": activation, "y": y}


def conv2d_backward(dy, cache, kernel, need_input_grad=True):
    """The readable conv2d_backward, chunked and threaded: each thread forms its chunks'
    dz = f'(z) * dy and sums col^T @ dz and dz into its own partial dW, db; dx is written
    chunk by chunk. One input channel: dW, db by ``fast_conv1``'s loops where they apply
    (whether or not dx is wanted, so that dW does not depend on it)."""
    if "winograd" in cache:
        return fast_winograd.conv2d_backward(dy, cache, kernel, need_input_grad)
    loop = fast_conv1.weight_grad(dy, cache, kernel) if "x" in cache else None
    if loop is None:
        return _backward(dy, cache, kernel, need_input_grad)
    dx = _backward(dy, cache, kernel, True)[0] if need_input_grad else None
    return dx, loop[1], loop[2]


def _backward(dy, cache, kernel, need_input_grad):
    if "col2d" in cache:  # made by conv2d_forward_whole (device arrays, small layers)
        return f2c.conv2d_backward_whole(dy, cache, kernel, need_input_grad)
    xp = backend.get_array_module(dy)
    f, y = cache["activation"], cache["y"]
    x = cache["x"]
    N, H, W, C = x.shape
    KH, KW, _, F = kernel.shape
    _, H_out, W_out, _ = cache["out_shape"]
    strides, dilation_rate, pads = cache["strides"], cache["dilation_rate"], cache["pads"]
    K = KH * KW * C
    W2 = kernel.reshape(K, F)
    dx = xp.empty(x.shape, dtype=dy.dtype) if need_input_grad else None
    kept = cache["col"]
    # stride 1, F <= C: dW (with or without dx, so that it does not depend on need_input_grad)
    # and dx from dz's im2col (``dz_columns``): no im2col of x, no col2im
    by_columns = _by_correlation(strides, C, F)
    W_rot = rotated_kernel(kernel) if need_input_grad and by_columns else None

    def work(n0, n1):
        dW = xp.zeros((C, KH * KW * F) if by_columns else (K, F), dtype=dy.dtype)
        db = xp.zeros(F, dtype=dy.dtype)
        tmp = scratch(xp, dW.shape, dy.dtype, slot="conv-dW")
        for a in range(n0, n1, step):
            b = min(a + step, n1)
            M = (b - a) * H_out * W_out
            dzc = pointwise.activation_grad(f, dy[a:b], y[a:b]).reshape(M, F)  # dL/dz = f'(z) * dL/dy
            db += pointwise.column_sum(xp, dzc)  # dL/db = sum of dz
            if by_columns:
                cols = dz_columns(dzc.reshape(b - a, H_out, W_out, F), H, W, pads, KH, KW, dilation_rate)
                dW += xp.matmul(x[a:b].reshape(-1, C).T, cols, out=tmp)  # x^T @ cols: dW rotated (C, KH*KW*F)
                if W_rot is not None:
                    xp.matmul(cols, W_rot, out=dx[a:b].reshape(-1, C))  # dx = cols @ W_rot
                continue
            if kept is None:
                col = f2c.im2col_chunk(x[a:b], pads, KH, KW, strides, dilation_rate, H_out, W_out)
            else:
                col = f2c.as_matrix(f2c.col_rows(kept, a, b))
            dW += xp.matmul(col.T, dzc, out=tmp)  # dL/dW = sum over chunks of col^T @ dz
            if need_input_grad:
                dcol = xp.matmul(dzc, W2.T, out=scratch(xp, (M, K), dy.dtype, slot="conv-dcol"))
                f2c.col2im_chunk(dx[a:b], dcol, pads, KH, KW, strides, dilation_rate, H_out, W_out)
        return dW, db

    ranges, step = _ranges(N, H_out * W_out * K * dy.itemsize)
    with threads.single_threaded_blas() if len(ranges) > 1 else contextlib.nullcontext():
        parts = threads.run_ranges(work, ranges)
    dW, db = parts[0]
    for pdW, pdb in parts[1:]:
        dW += pdW
        db += pdb
    if by_columns:
        return dx, weights_from_columns(dW, KH, KW), db
    return dx, dW.reshape(KH, KW, C, F), db
