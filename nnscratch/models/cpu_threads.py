"""CPU threading for small models (performance only: results are identical either way).

Two choices depend on the model's size, not on its math: how many BLAS threads a step's matrix
products get (``blas_scope``), and how many samples ``predict`` pushes through the layers at
once (``inference_rows``). Both are measured choices, explained in their docstrings.
"""
from __future__ import annotations

import contextlib

from nnscratch import backend, kernels

_BLAS = {}


def blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries, made once (None without
    threadpoolctl)."""
    if "controller" not in _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS["controller"] = ThreadpoolController()
        except Exception:  # not installed, or no introspectable BLAS: leave threading alone
            _BLAS["controller"] = None
    return _BLAS["controller"]


def shape_list(shape):
    """A layer's input/output shape as a list of shape tuples (several for merge layers)."""
    if not shape:
        return []
    if isinstance(shape, (list, tuple)) and all(isinstance(d, int) or d is None for d in shape):
        return [tuple(shape)]
    return [tuple(s) for s in shape if isinstance(s, (list, tuple))]




#: A step whose largest matrix product is below this many FLOPs runs BLAS on one thread.
BLAS_THREADING_MIN_FLOPS = 1e8

def largest_gemm_flops(model, rows):
    """FLOPs of the largest matrix product one step makes at ``rows`` samples: for a layer
    with a kernel, 2 * rows * (outputs per sample) * (kernel fan-in), e.g. Dense
    2*N*units*D_in, Conv2D 2*N*H_out*W_out*F*KH*KW*C_in."""
    biggest = 0
    for layer in model.layers:
        kernel = getattr(layer, "params", {}).get("kernel")
        if kernel is None or kernel.ndim < 2:
            continue
        fan_in = kernel.size // kernel.shape[-1]
        for shape in shape_list(getattr(layer, "output_shape", None)):
            size = 1
            for d in shape[1:]:
                size *= d or 1
            biggest = max(biggest, 2 * rows * size * fan_in)
    return biggest

def pooled_convolutions(model):
    """True when the model's convolutions run on the fast kernel tier's thread pool (host
    arrays, ``kernels.num_threads() > 1``): their matrix products then run inside the pool's
    threads, one BLAS thread each, and BLAS's own threads are only in the way. OpenBLAS's idle
    threads spin between the products and took the cores from the pool: the Keras "Simple
    MNIST convnet" at batch 128 (6,400 random images, 2 cores) ran 76.9 ms per step with 2
    BLAS threads and 61.5 ms with one, the pool having 2 threads in both."""
    return kernels.num_threads() > 1 and kernels.get_tier() == "fast" and any(
        getattr(layer, "kernel_size", None) is not None and getattr(layer, "params", {}).get("kernel") is not None
        and layer.params["kernel"].ndim == 4 for layer in model.layers)


def blas_scope(model, rows):
    """The BLAS threading the model's steps run under (performance only; the results are
    the same): one thread when every matrix product of a step is smaller than
    BLAS_THREADING_MIN_FLOPS, else BLAS's own setting.

    Splitting a small product across threads (the MLP's 32x784 @ 784x128 is 6 MFLOP, about
    0.1 ms on one core) costs a hand-off to the other thread for every product, and when the
    machine is busy that thread may not be scheduled for milliseconds: a 10,000-image MLP
    epoch at batch 32 took 14.3 s with 2 OpenBLAS threads on a loaded 2-core machine and
    0.3 s with one. Large products (the conv net's 925 MFLOP im2col GEMM) keep every thread,
    except in models whose convolutions run on the fast tier's own threads (``pooled_convolutions``).
    PyTorch and TensorFlow make the same kind of choice per operation. Applies to the NumPy
    backend with threadpoolctl installed; otherwise nothing changes. Returns a context
    manager; the limit is in force from this call until its ``__exit__``."""
    if backend.current() != "numpy":
        return contextlib.nullcontext()
    if largest_gemm_flops(model, rows) >= BLAS_THREADING_MIN_FLOPS and not pooled_convolutions(model):
        return contextlib.nullcontext()
    controller = blas_controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")

#: Inference works on at most this many floats of per-layer data per kernel thread at a time
#: (2 MiB of float32).
INFERENCE_BUDGET = 2 ** 19

def inference_rows(model):
    """How many samples predict() pushes through the layers at once (performance only).

    In inference mode every sample is computed independently, so a batch of 1000 can run as
    sub-batches with the same results; sub-batches whose intermediate arrays (im2col matrix,
    activations) fit in the CPU caches run ~35% faster on LeNet (batch 1000 vs 32: 444 -> 300
    ms per 10,000 images, 1 thread) and use less memory. Rule: the largest per-sample array
    of any layer, times the rows, stays under INFERENCE_BUDGET floats, at least 32 rows, times
    the fast tier's threads (``kernels.num_threads()``), which split each sub-batch among them.
    With 1 MiB per sub-batch and 2 threads, each layer call handed ~20 images to each thread
    and the hand-offs dominated (10,000 images, batch 1000, 2 threads, min of 6 in one process:
    LeNet 0.530 s at 1 MiB per sub-batch, 0.449 at 2 MiB, 0.422 at 4 MiB (this rule), 0.456 at
    8 MiB; the Simple MNIST convnet 1.83 / 1.49 / 1.29 s at 1 / 2 / 4 MiB).
    Models without convolutions run their batches whole: their largest arrays are the
    activations, and splitting a 1000-row MLP batch into 334-row pieces made predict 1.7x
    slower (25.9 -> 14.8 ms per 10,000 images when whole, quiet 2-core machine)."""
    if not any(getattr(l, "params", {}).get("kernel") is not None and l.params["kernel"].ndim == 4
               for l in model.layers):
        return 2 ** 31
    per_sample = 1
    for layer in model.layers:
        for shape in shape_list(getattr(layer, "input_shape", None)) + shape_list(getattr(layer, "output_shape", None)):
            size = 1
            for d in shape[1:]:
                size *= d or 1
            per_sample = max(per_sample, size)
        kernel = getattr(layer, "params", {}).get("kernel")
        if getattr(layer, "kernel_size", None) is not None and kernel is not None and kernel.ndim == 4:
            KH, KW, C_in, F = kernel.shape
            for shape in shape_list(getattr(layer, "output_shape", None)):
                size = 1
                for d in shape[1:]:
                    size *= d or 1
                per_sample = max(per_sample, size * KH * KW * C_in // F)  # the im2col matrix
    return max(32, INFERENCE_BUDGET // per_sample) * kernels.num_threads()
