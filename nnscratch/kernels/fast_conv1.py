"""Fast tier: a convolution with one input channel (a grayscale first layer) by compiled loops.

Its im2col matrix has only KH*KW columns, and with few filters the matrix products are
(M, 9) @ (9, F) with F = 6 (LeNet), which BLAS runs at 8-17 GFLOP/s while im2col, the ReLU
mask and the column sums each make a pass over memory. ``conv1_loops`` has three loops for it:

* **Over the flattened image** (stride 1, no dilation): with p = i*Wp + j the padded image is
  one long row, and each (filter, tap) becomes one vectorised multiply-add over a shifted
  slice of it. ``conv1_flat_forward`` (up to 8 filters): LeNet's first conv in predict (28x28,
  6 filters, 160-image sub-batches, 2 threads) 145 ms per 10,000 images by im2col + BLAS, 130 ms
  by a loop over output rows whose index ``j + q`` kept Numba from vectorising, 60 ms with
  slices; with its output written filter by filter (``conv1_loops``), the forward of 64 images
  (28x28, 'valid', 2 threads) at 6 filters takes 223 us against 575 us by im2col + BLAS; at 16
  filters the two are level (511 vs 516 us), at 32 im2col + BLAS wins (845 vs 1295 us, 'same'),
  hence the limit of 8. ``conv1_flat_weight_grad`` (up to 32 filters), per-lane sums over
  the grid: 2 threads, 28x28, 3x3 'valid', dW and db at 6 filters (batch 64) 0.52 ms (a loop
  over output rows) -> 0.40 ms, at 16 filters 1.20 -> 0.93 ms, at 32 filters (batch 128)
  4.7 -> 3.7 ms against 5.1 ms for the pixel loop below.
* **Pixel loop** ``conv_weight_grad`` (any strides and dilations), F vectors per pixel: dW, db
  at 32 filters, batch 128, 5.2 -> 3.1 ms (im2col path -> loop); at 6 filters 1.1 -> 1.6 ms.

ReLU (or no activation) is fused into the loops; other activations take the im2col path. Each
function returns None where it does not apply (device arrays, Numba missing or off, more
channels, other strides, ...) and ``fast_conv`` then runs its im2col path.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.activations import ReLU
from nnscratch.kernels import fast_im2col as f2c
from nnscratch.kernels import conv1_loops, jit, threads

#: The flattened-image loops: the forward up to this many filters, the weight gradient up to
#: FLAT_MAX_FILTERS (the measured range).
FLAT_FORWARD_MAX_FILTERS = 8
FLAT_MAX_FILTERS = 32
#: The pixel loop's weight gradient (other strides or dilations) from this many filters on.
PIXEL_MIN_FILTERS = 17


def _applies(x, kernel, activation):
    KH, KW, C, F = kernel.shape
    return (C == 1 and not backend.is_device_array(x) and x.dtype.kind == "f" and x.dtype == kernel.dtype
            and (activation is None or type(activation) is ReLU))


def _padded(x, pads, a, b):
    """Images a..b of x padded (scratch memory of this thread) as a contiguous (n, Hp, Wp) array."""
    xp = backend.get_array_module(x)
    x_pad = xp.ascontiguousarray(f2c.pad_chunk(x[a:b], pads, "conv-pad"))
    return x_pad.reshape(x_pad.shape[:3])


def _flat(x_pad):
    """(n, Hp, Wp) -> (n, Hp*Wp), a view (the padded chunk is contiguous)."""
    return x_pad.reshape(x_pad.shape[0], -1)


def forward(x, kernel, bias, strides, dilation_rate, activation, pads, H_out, W_out):
    """y = f(conv(x) + bias) by ``conv1_loops.conv1_flat_forward``, or None where it does not apply."""
    F = kernel.shape[3]
    if not _applies(x, kernel, activation) or F > FLAT_FORWARD_MAX_FILTERS:
        return None
    if tuple(strides) != (1, 1) or tuple(dilation_rate) != (1, 1) or (bias is not None and bias.dtype != x.dtype):
        return None
    loop = jit.compiled(conv1_loops.conv1_flat_forward)
    if loop is None:
        return None
    xp = backend.get_array_module(x)
    w = xp.ascontiguousarray(kernel[:, :, 0, :])
    b = xp.zeros(F, dtype=x.dtype) if bias is None else xp.ascontiguousarray(bias)
    y = xp.empty((x.shape[0], H_out, W_out, F), dtype=x.dtype)
    relu = activation is not None
    threads.run_ranges(lambda a, e: loop(_flat(_padded(x, pads, a, e)), w, b, y[a:e], relu),
                       threads.split(x.shape[0], threads.num_threads()))
    return y


def weight_grad(dy, cache, kernel):
    """(None, dW, db) by a compiled loop with relu'(z) * dy formed inside it (no dx wanted),
    or None where neither loop applies (the im2col path runs)."""
    f, x = cache["activation"], cache["x"]
    KH, KW, C, F = kernel.shape
    if not _applies(x, kernel, f) or dy.dtype != x.dtype or backend.is_device_array(dy):
        return None
    (SH, SW), (DH, DW) = cache["strides"], cache["dilation_rate"]
    flat = (SH, SW, DH, DW) == (1, 1, 1, 1) and F <= FLAT_MAX_FILTERS
    if not flat and F < PIXEL_MIN_FILTERS:
        return None
    loop = jit.compiled(conv1_loops.conv1_flat_weight_grad if flat else conv1_loops.conv_weight_grad)
    if loop is None:
        return None
    xp = backend.get_array_module(dy)
    dy, y, relu = xp.ascontiguousarray(dy), cache["y"], f is not None

    def work(a, b):
        db = xp.zeros(F, dtype=dy.dtype)
        if flat:
            dW = xp.zeros((KH, KW, F), dtype=dy.dtype)
            loop(_flat(_padded(x, cache["pads"], a, b)), dy[a:b], y[a:b], dW, db, relu)
            return dW.reshape(KH, KW, 1, F), db
        dW = xp.zeros((KH, KW, C, F), dtype=dy.dtype)
        x_pad = xp.ascontiguousarray(f2c.pad_chunk(x[a:b], cache["pads"], "conv-pad"))
        loop(x_pad, dy[a:b], y[a:b], dW, db, SH, SW, DH, DW, relu)
        return dW, db

    parts = threads.run_ranges(work, threads.split(x.shape[0], threads.num_threads()))
    dW, db = parts[0]
    for pdW, pdb in parts[1:]:
        dW += pdW
        db += pdb
    return None, dW, db
