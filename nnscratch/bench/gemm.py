"""The machine's GEMM ceiling: NumPy float32 matmul GFLOP/s at the shapes the models use, and
at a large square product (the best BLAS does here). Run in a child process with the same
environment as the engines: ``python -m nnscratch.bench.gemm [--quick]`` prints one RESULT line.

For each workload the "GEMM floor" is the time its matrix products alone would take at these
measured speeds: sum over one run's steps (validation included) of time(M, K, N). An engine's
time divided by the floor says how far it is from a pure-GEMM implementation on this BLAS
(1.0 = nothing but GEMM). Each shape is timed three ways and the fastest counts: with the
run's thread count; with one BLAS thread (small products are faster so: nnscratch and PyTorch
run them so, and on a busy machine a second thread that is descheduled makes a small product
wait for it); and, where threadpoolctl can limit BLAS, with its rows split over the run's
threads, one BLAS thread in each (how nnscratch's kernel pool runs a convolution's products).
The third is the machine's real ceiling for the conv nets' shapes: on this 2-core VM two
threads with one BLAS thread each ran (784, 288) @ (288, 32) at 147 GFLOP/s and a 2048-square
product at 196, where OpenBLAS on two threads reached 130 on the square product.
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # then every shape is timed with the environment's thread count only
    threadpool_limits = None

from nnscratch.bench.workloads import WORKLOADS, epoch_plan, gemms
from nnscratch.kernels import threads as kernel_threads


def time_gemm(M, K, N, budget=0.05, reps=5):
    """Best seconds per (M, K) @ (K, N) float32 product, out= a preallocated array."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c = np.empty((M, N), dtype=np.float32)
    np.matmul(a, b, out=c)
    t0 = time.perf_counter()
    np.matmul(a, b, out=c)
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, min(1000, int(budget / once)))
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def time_gemm_rows(M, K, N, threads, budget=0.05, reps=5):
    """Best seconds per (M, K) @ (K, N) float32 product with its rows split into ``threads``
    blocks, each multiplied on its own Python thread with BLAS on one thread (NumPy releases
    the GIL in matmul), or None where that does not apply (one thread, fewer than two rows per
    thread, or no threadpoolctl to limit BLAS)."""
    if threadpool_limits is None or threads < 2 or M < 2 * threads:
        return None
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c = np.empty((M, N), dtype=np.float32)
    bounds = [M * k // threads for k in range(threads + 1)]
    blocks = [(a[lo:hi], c[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]  # row blocks of c: contiguous

    def loop(a_block, c_block, inner):
        for _ in range(inner):
            np.matmul(a_block, b, out=c_block)

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads - 1) as pool:
        def run(inner):
            t0 = time.perf_counter()
            futures = [pool.submit(loop, *block, inner) for block in blocks[1:]]
            loop(*blocks[0], inner)
            for f in futures:
                f.result()
            return time.perf_counter() - t0

        run(1)
        inner = max(1, min(1000, int(budget / max(run(1), 1e-7))))
        return min(run(inner) / inner for _ in range(reps))


def best_gemm(M, K, N, quick=False, threads=1):
    """(seconds, how): the fastest of the environment's BLAS thread count ("env"), one BLAS
    thread (1), and row blocks on ``threads`` threads with one BLAS thread each."""
    kw = {"budget": 0.02, "reps": 3} if quick else {}  # --quick: shorter loops, rougher floors
    best = (time_gemm(M, K, N, **kw), "env")
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            one = time_gemm(M, K, N, **kw)
        if one < best[0]:
            best = (one, 1)
    rows = time_gemm_rows(M, K, N, threads, **kw)
    if rows is not None and rows < best[0]:
        best = (rows, f"1 each, {threads} threads")
    return best


def measure(quick=False, names=None):
    """GEMM speeds and floors for the workloads ``names`` (default: all)."""
    shapes = {}
    floors = {}
    for wl in WORKLOADS:
        if names and wl.name not in names:
            continue
        total = 0.0
        for steps, batch, train in epoch_plan(wl, quick):
            for (M, K, N) in gemms(wl.model, batch, train):
                key = (M, K, N)
                if key not in shapes:
                    shapes[key] = best_gemm(M, K, N, quick, kernel_threads.num_threads())
                total += steps * shapes[key][0]
        floors[wl.name] = total
    peak_n = 1024 if quick else 2048
    peak = time_gemm(peak_n, peak_n, peak_n, budget=0.2, reps=3)
    rows = time_gemm_rows(peak_n, peak_n, peak_n, kernel_threads.num_threads(), budget=0.2, reps=3)
    peak = peak if rows is None else min(peak, rows)
    return {
        "peak_gflops": 2 * peak_n ** 3 / peak / 1e9,
        "peak_shape": [peak_n, peak_n, peak_n],
        "shapes": [{"M": M, "K": K, "N": N, "seconds": s, "gflops": 2 * M * K * N / s / 1e9, "blas_threads": t}
                   for (M, K, N), (s, t) in sorted(shapes.items())],
        "floor_seconds": floors,
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m nnscratch.bench.gemm")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workloads", default="", help="comma-separated subset (default: all)")
    a = p.parse_args(argv)
    names = [w for w in a.workloads.split(",") if w]
    print("RESULT " + json.dumps(measure(a.quick, names)))


if __name__ == "__main__":
    main()
