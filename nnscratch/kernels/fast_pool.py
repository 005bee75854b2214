"""Fast tier: max and average pooling, batch-parallel, with a compact argmax.

Tricks, each measured against the readable kernel on the conv net's first pooling
(64x28x28x32 -> 14x14, float32, one thread, CPU time, same process):

* **Running max with arithmetic argmax.** Per tap t: ``better = v > y``, ``y = max(y, v)``,
  ``argmax = max(argmax, better * t)`` (taps are visited in increasing t, so the largest t
  that was strictly better is the first maximum), all into preallocated arrays. The
  readable kernel's ``where`` pair per tap allocates two arrays, and ``copyto(where=)`` is a
  slow masked loop: forward 10.5 ms (copyto) -> 3.3 ms.
* **Compact argmax.** uint8 (1 byte) when the window has at most 256 taps, else int16.
* **Non-overlapping windows** (pool_size == strides): backward writes each tap slice once,
  ``dx[tap t] = dy * (argmax == t)`` (no zero image, no read-modify-write): 2.0 ms.
* **Average pooling, non-overlapping windows**: the sum of whole (KW, C) window rows of the
  tiled view, and one broadcast write of dy / count into it in backward (few channels, as in
  LeNet, make the per-tap slices short: LeNet b64 step, 1 thread, per-tap 12.2 ms vs 10.4).
* **Threads.** The batch is split over ``threads.num_threads()`` threads, each with its own
  temporaries (host arrays only; on a GPU the whole batch is one launch per tap).
* **Chunks.** Each thread pools its images a few at a time (``CHUNK_BYTES`` of output), so
  that a chunk's taps, running max, masks and argmax stay in the core's cache across the
  KH*KW passes. Measured on the Keras "Simple MNIST convnet"'s first pooling (128x26x26x32,
  one thread, best of 20, loaded machine): forward 7.1 -> 3.8 ms, backward 4.6 -> 3.0 ms.
* **Compiled loops** (``fast_loops``, when Numba is installed): 2x2 windows forward, and the
  backward of non-overlapping windows, one pass each: the same pooling, 2 threads, forward
  2.5 -> 0.43 ms, backward 1.8 -> 0.85 ms. The NumPy code above runs for everything else.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.kernels import fast_loops, jit, threads
from nnscratch.kernels.geometry import conv_output_length, crop_nhwc, pad_nhwc, padding_amounts, tap_slice
from nnscratch.kernels.scratch import scratch

#: Below this many output values per thread, the pooling runs on the calling thread only.
MIN_PARALLEL = 1 << 15
#: Bytes of output per chunk that a thread pools at a time (cache-sized).
CHUNK_BYTES = 1 << 18


def _chunked(work, per_image_bytes):
    """work(a, b) run over [a, b) in chunks of CHUNK_BYTES of output."""
    step = max(1, CHUNK_BYTES // max(per_image_bytes, 1))

    def run(a, b):
        for c in range(a, b, step):
            work(c, min(c + step, b))

    return run


def _geometry(x, pool_size, strides, padding):
    N, H, W, C = x.shape
    (KH, KW), (SH, SW) = pool_size, strides
    H_out = conv_output_length(H, KH, SH, padding)
    W_out = conv_output_length(W, KW, SW, padding)
    return N, H, W, C, KH, KW, SH, SW, H_out, W_out, padding_amounts(H, W, KH, KW, SH, SW, padding)


def _ranges(x, N, per_image):
    if backend.is_device_array(x):
        return [(0, N)]
    parts = min(threads.num_threads(), max(1, N * per_image // MIN_PARALLEL))
    return threads.split(N, parts)


def _loop(fn, *arrays):
    """``fn`` compiled (``jit.compiled``) when every array is a host float array of one dtype,
    else None (the NumPy code runs)."""
    if backend.is_device_array(arrays[0]) or arrays[0].dtype.kind != "f":
        return None
    if any(a.dtype != arrays[0].dtype for a in arrays[1:]):
        return None
    return jit.compiled(fn)


def _run_loop(loop, per_batch, rest, N, per_image):
    """loop(*(each per-batch array's images lo:hi), *rest) over the thread ranges of the batch."""
    threads.run_ranges(lambda a, b: loop(*(t[a:b] for t in per_batch), *rest), _ranges(per_batch[0], N, per_image))


def max_pool_forward(x, pool_size, strides, padding):
    """The readable max_pool_forward with a running max and an arithmetic, compact argmax."""
    xp = backend.get_array_module(x)
    N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads = _geometry(x, pool_size, strides, padding)
    x_pad = pad_nhwc(x, pads, value=-float("inf"))
    y = xp.empty((N, H_out, W_out, C), dtype=x.dtype)
    argmax = xp.zeros((N, H_out, W_out, C), dtype="uint8" if KH * KW <= 256 else "int16")
    loop = _loop(fast_loops.max_pool2x2_forward, x) if (KH, KW) == (2, 2) else None
    if loop is not None:
        _run_loop(loop, (xp.ascontiguousarray(x_pad), y, argmax), (SH, SW), N, H_out * W_out * C)
        return y, _max_cache(argmax, x_pad, pads, H, W, KH, KW, SH, SW)

    def work(a, b):
        yc, ac = y[a:b], argmax[a:b]
        better = scratch(xp, yc.shape, "bool", slot="pool-better")
        t_better = scratch(xp, yc.shape, argmax.dtype, slot="pool-t")
        rows, cols = tap_slice(0, 0, H_out, W_out, SH, SW)
        yc[...] = x_pad[a:b, rows, cols, :]
        for t in range(1, KH * KW):
            i, j = divmod(t, KW)
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            v = x_pad[a:b, rows, cols, :]
            xp.greater(v, yc, out=better)  # strict: ties keep the earlier tap
            xp.maximum(yc, v, out=yc)
            xp.multiply(better, argmax.dtype.type(t), out=t_better)
            xp.maximum(ac, t_better, out=ac)

    threads.run_ranges(_chunked(work, H_out * W_out * C * x.itemsize), _ranges(x, N, H_out * W_out * C))
    return y, _max_cache(argmax, x_pad, pads, H, W, KH, KW, SH, SW)


def _max_cache(argmax, x_pad, pads, H, W, KH, KW, SH, SW):
    return {"argmax": argmax, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "pool_size": (KH, KW),
            "strides": (SH, SW)}


def max_pool_backward(dy, cache):
    """Non-overlapping windows: each tap slice written once; overlapping: the readable +=."""
    xp = backend.get_array_module(dy)
    argmax = cache["argmax"]
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    N, H_out, W_out, C = dy.shape
    Hp, Wp = cache["x_pad_shape"][1:3]
    tiles = (KH, KW) == (SH, SW)
    covered = tiles and (H_out * KH, W_out * KW) == (Hp, Wp)
    dx_pad = (xp.empty if covered else xp.zeros)(cache["x_pad_shape"], dtype=dy.dtype)
    loop = _loop(fast_loops.max_pool_tiles_backward, dy) if tiles else None
    if loop is not None:
        _run_loop(loop, (xp.ascontiguousarray(dy), argmax, dx_pad), (KH, KW), N, H_out * W_out * C)
        H, W = cache["hw"]
        return crop_nhwc(dx_pad, cache["pads"], H, W)

    def work(a, b):
        dyc, ac = dy[a:b], argmax[a:b]
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            if tiles:
                xp.multiply(dyc, ac == t, out=dx_pad[a:b, rows, cols, :])
            else:
                dx_pad[a:b, rows, cols, :] += dyc * (ac == t)

    threads.run_ranges(_chunked(work, H_out * W_out * C * dy.itemsize), _ranges(dy, N, H_out * W_out * C))
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
    """The readable avg_pool_forward summed into one preallocated array per thread, then
    multiplied by 1/count; the counts are computed once per geometry (read only)."""
    xp = backend.get_array_module(x)
    N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads = _geometry(x, pool_size, strides, padding)
    x_pad = pad_nhwc(x, pads, value=0.0)
    count = _window_counts(xp, x.dtype, H, W, pads, KH, KW, SH, SW, H_out, W_out)
    y = xp.empty((N, H_out, W_out, C), dtype=x.dtype)
    cache = {"count": count, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "pool_size": (KH, KW),
             "strides": (SH, SW)}
    loop = _loop(fast_loops.avg_pool2x2_forward, x, count) if (KH, KW) == (2, 2) else None
    if loop is not None:
        _run_loop(loop, (xp.ascontiguousarray(x_pad), y), (count[0, :, :, 0], SH, SW), N, H_out * W_out * C)
        return y, cache
    inv = 1.0 / count if padding == "same" else None

    def work(a, b):
        yc = y[a:b]
        if (KH, KW) == (SH, SW):  # non-overlapping: sum whole (KW, C) window rows of the tiled view
            win = x_pad[a:b, :H_out * KH, :W_out * KW, :].reshape(b - a, H_out, KH, W_out, KW, C)
            row_sum = win[:, :, 0]
            for i in range(1, KH):
                row_sum = row_sum + win[:, :, i]  # (n, H_out, W_out, KW, C)
            yc[...] = row_sum[:, :, :, 0]
            for j in range(1, KW):
                yc += row_sum[:, :, :, j]
            yc *= (1.0 / (KH * KW)) if inv is None else inv
            return
        rows, cols = tap_slice(0, 0, H_out, W_out, SH, SW)
        yc[...] = x_pad[a:b, rows, cols, :]
        for t in range(1, KH * KW):
            i, j = divmod(t, KW)
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            yc += x_pad[a:b, rows, cols, :]
        if inv is None:
            yc *= 1.0 / (KH * KW)  # 'valid': every window is whole
        else:
            yc *= inv

    threads.run_ranges(_chunked(work, H_out * W_out * C * x.itemsize), _ranges(x, N, H_out * W_out * C))
    return y, cache


def avg_pool_backward(dy, cache):
    """Non-overlapping windows: each tap slice of dx is assigned g = dy / count once."""
    xp = backend.get_array_module(dy)
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    N, H_out, W_out, C = dy.shape
    Hp, Wp = cache["x_pad_shape"][1:3]
    tiles = (KH, KW) == (SH, SW)
    covered = tiles and (H_out * KH, W_out * KW) == (Hp, Wp)
    dx_pad = (xp.empty if covered else xp.zeros)(cache["x_pad_shape"], dtype=dy.dtype)
    count = cache["count"]
    loop = _loop(fast_loops.avg_pool_tiles_backward, dy, count) if tiles else None
    if loop is not None:
        _run_loop(loop, (xp.ascontiguousarray(dy), dx_pad), (count[0, :, :, 0], KH, KW), N, H_out * W_out * C)
        H, W = cache["hw"]
        return crop_nhwc(dx_pad, cache["pads"], H, W)

    def work(a, b):
        g = xp.divide(dy[a:b], count, out=scratch(xp, dy[a:b].shape, dy.dtype, slot="avg-g"))
        if covered:  # one broadcast write of g into the tiled view of dx
            win = dx_pad[a:b].reshape(b - a, H_out, KH, W_out, KW, C)
            win[...] = g[:, :, None, :, None, :]
            return
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = tap_slice(i, j, H_out, W_out, SH, SW)
            if tiles:
                dx_pad[a:b, rows, cols, :] = g
            else:
                dx_pad[a:b, rows, cols, :] += g

    threads.run_ranges(_chunked(work, H_out * W_out * C * dy.itemsize), _ranges(dy, N, H_out * W_out * C))
    H, W = cache["hw"]
    return crop_nhwc(dx_pad, cache["pads"], H, W)
