"""One measurement in a fresh process: ``python -m nnscratch.bench.child ENGINE WORKLOAD [--quick]
[--seed S] [--threads T]``. Prints one JSON line (prefixed ``RESULT ``) with the timed seconds
and the process's peak resident memory.

Untimed: importing the framework, loading the data, building the model, and a warm-up (for
training: one short fit of 4.5 batches, so that Keras traces its step for the full and the
partial batch shape and PyTorch allocates, with the workload's validation split if it has one;
for inference: one predict of one batch).
Timed (time.perf_counter): one epoch of fit on the workload's images (with its validation
split: training on the first part, then evaluating the rest, as ``fit(validation_split=)``
does), or predict over the test images. Peak memory: resource.getrusage(RUSAGE_SELF).ru_maxrss at the end (framework, data and
all), the same quantity for every engine.
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m nnscratch.bench.child")
    p.add_argument("engine")
    p.add_argument("workload")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)

    from nnscratch.bench import data as data_mod
    from nnscratch.bench import engines
    from nnscratch.bench.workloads import BY_NAME, MODELS, ONE_HOT

    if a.workload not in BY_NAME:
        raise SystemExit(f"unknown workload {a.workload!r}; choose from {', '.join(BY_NAME)}")
    wl = BY_NAME[a.workload]
    eng = engines.get(a.engine)
    ok, why = eng.available()
    if not ok:
        print("RESULT " + json.dumps({"skipped": why}))
        return 0
    eng.setup(a.threads)
    d, source = data_mod.load(seed=a.seed)
    n = wl.n_images(a.quick)
    in_shape = MODELS[wl.model]["input"]
    if wl.kind == "train":
        x, y = d["x_train"][:n], d["y_train"][:n]
    else:
        x, y = d["x_test"][:n], d["y_test"][:n]
    x = x.reshape((x.shape[0],) + tuple(in_shape))  # a view: (N, 784) or (N, 28, 28, 1)
    if MODELS[wl.model]["loss"] == ONE_HOT:
        y = data_mod.one_hot(y)  # keras.utils.to_categorical, as the Keras example does before fit
    model = eng.build(wl.model, a.seed)
    if wl.kind == "train":
        warm = wl.warmup_images()
        eng.train_epoch(model, x[:warm], y[:warm], wl.batch, wl.validation_split)
        t0 = time.perf_counter()
        loss = eng.train_epoch(model, x, y, wl.batch, wl.validation_split)
        seconds = time.perf_counter() - t0
        check = {"loss": float(loss)}
        if not math.isfinite(loss):
            raise SystemExit(f"{a.engine} {a.workload}: the epoch's loss is {loss}")
    else:
        eng.predict(model, x[:wl.batch], wl.batch)
        t0 = time.perf_counter()
        probs = eng.predict(model, x, wl.batch)
        seconds = time.perf_counter() - t0
        if tuple(probs.shape) != (n, 10):
            raise SystemExit(f"{a.engine} {a.workload}: predict returned shape {tuple(probs.shape)}, expected ({n}, 10)")
        check = {"prob_sum_mean": float(probs.sum(axis=1).mean())}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    out = {"engine": a.engine, "workload": a.workload, "seconds": seconds, "images": n,
           "peak_rss_mb": rss_mb, "data": source, "versions": eng.versions(), **check}
    print("RESULT " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
