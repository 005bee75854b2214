"""The pieces of ``python -m benchmarks gpu`` that run in a fresh process (benchmarks/gpu.py
starts them with a timeout each). Each prints progress lines and ends with one ``RESULT {json}``
line. nnscratch's array backend comes from $NNSCRATCH_BACKEND ('cupy' on a GPU, 'emulated' for
the dry run).

    python -m benchmarks.gpu_child probe
    python -m benchmarks.gpu_child seed --n-train N [--compare-numpy]
    python -m benchmarks.gpu_child time ENGINE MODEL BATCH --images N [--device cuda|cpu]

ENGINE is 'nnscratch' (on $NNSCRATCH_BACKEND) or 'torch' (on --device). Timed: one epoch of
training on N images after an untimed warm-up (4.5 batches), between two synchronisations of
the device (``cupy.cuda.Device().synchronize()``, ``torch.cuda.synchronize()``; nothing to
wait for on the emulated backend or the CPU). Host arrays go in, as a user's ``fit`` gets them:
the copy to the device is inside the timed epoch for both engines.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import platform
import sys
import time


def _say(msg):
    print(msg, flush=True)


def _version(name):
    if importlib.util.find_spec(name) is None:
        return None
    try:
        return getattr(importlib.import_module(name), "__version__", "present")
    except Exception as exc:  # a broken install is reported, not raised
        return f"import failed: {type(exc).__name__}: {exc}"


def probe():
    """What this machine has: Python, packages, the CUDA device as CuPy and PyTorch see it."""
    out = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
           "packages": {n: _version(n) for n in ("numpy", "cupy", "torch", "h5py", "tqdm", "matplotlib", "pytest")}}
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        out["cupy_device"] = {"name": name.decode() if isinstance(name, bytes) else str(name),
                              "memory_gib": round(props["totalGlobalMem"] / 2 ** 30, 1),
                              "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
                              "driver": cupy.cuda.runtime.driverGetVersion()}
    except Exception as exc:
        out["cupy_device"] = f"unavailable: {type(exc).__name__}: {exc}"
    try:
        import torch

        out["torch_cuda"] = (torch.cuda.get_device_name(0) + f" (CUDA {torch.version.cuda})"
                             if torch.cuda.is_available() else "torch sees no CUDA device")
    except Exception as exc:
        out["torch_cuda"] = f"unavailable: {type(exc).__name__}: {exc}"
    return out


def _fashion():
    """((x_train, y_train), (x_test, y_test)) uint8, and where they came from: a full copy found
    on this machine (no download), else the sample shipped with nnscratch."""
    os.environ.setdefault("NNSCRATCH_OFFLINE", "1")  # a GPU machine may have no network
    from nnscratch.datasets import fashion_mnist

    train, test, info = fashion_mnist.load_data(source="auto", return_info=True)
    return (train, test), str(info)


def seed(n_train, compare_numpy, n_test=None):
    """The four seed programs (tests/helpers.py), one epoch each on the first n_train images,
    test accuracy on the (first n_test) test images; with compare_numpy, again on NumPy."""
    import nnscratch as nn
    from nnscratch import backend
    from tests import helpers

    data, source = _fashion()
    if n_test:
        (xtr, ytr), (xte, yte) = data
        data = (xtr, ytr), (xte[:n_test], yte[:n_test])
    _say(f"seed programs on {backend.current()}: data {source}")
    rows = []
    for name in helpers.SEED_PROGRAMS:
        row = {"program": name}
        for label in ([backend.current(), "numpy"] if compare_numpy and backend.current() != "numpy"
                      else [backend.current()]):
            with backend.backend_scope(label):
                nn.utils.set_random_seed(0)
                t0 = time.perf_counter()
                acc, history = helpers.run_seed_program(name, nn, data, n_train)
                loss = float(history.history["loss"][-1])
            row[label] = {"accuracy": acc, "loss": loss, "seconds": time.perf_counter() - t0,
                          "finite": math.isfinite(loss)}
            _say(f"  {name:20s} {label:9s} accuracy {acc:.4f} loss {loss:.4f} ({row[label]['seconds']:.1f} s)")
        rows.append(row)
    return {"backend": backend.current(), "data": source, "n_train": min(n_train, len(data[0][0])),
            "n_test": len(data[1][0]), "programs": rows}


def _sync_fn(engine, device):
    if engine == "torch":
        import torch

        return torch.cuda.synchronize if device == "cuda" else (lambda: None)
    from nnscratch import backend

    if backend.current() == "cupy":
        import cupy

        return lambda: cupy.cuda.Device().synchronize()
    return lambda: None


def time_one(engine, model_name, batch, images, device):
    from nnscratch.bench import data as data_mod
    from nnscratch.bench.engines import nnscratch_engine, torch_engine
    from nnscratch.bench.workloads import MODELS, ONE_HOT

    d, source = data_mod.load(fallback="sample")
    spec = MODELS[model_name]
    x = d["x_train"][:images].reshape((-1,) + tuple(spec["input"]))
    y = d["y_train"][:images]
    if spec["loss"] == ONE_HOT:
        y = data_mod.one_hot(y)
    if engine == "torch":
        model, eng = torch_engine.build(model_name, 0, device=device), torch_engine
        versions = torch_engine.versions()
    else:
        model, eng = nnscratch_engine.build(model_name, 0), nnscratch_engine
        versions = nnscratch_engine.versions()
        versions.pop("blas", None)
    sync = _sync_fn(engine, device)
    warm = 4 * batch + batch // 2
    t0 = time.perf_counter()
    eng.train_epoch(model, x[:warm], y[:warm], batch)
    sync()
    warm_s = time.perf_counter() - t0
    _say(f"  warm-up {warm} images: {warm_s:.2f} s (kernel compilation included)")
    sync()
    t0 = time.perf_counter()
    loss = float(eng.train_epoch(model, x, y, batch))
    sync()
    seconds = time.perf_counter() - t0
    if not math.isfinite(loss):
        raise SystemExit(f"{engine} {model_name}: the epoch's loss is {loss}")
    return {"engine": engine, "model": model_name, "batch": batch, "images": int(x.shape[0]), "seconds": seconds,
            "images_per_s": x.shape[0] / seconds, "warmup_s": warm_s, "loss": loss, "data": source,
            "versions": versions, "device": device if engine == "torch" else os.environ.get("NNSCRATCH_BACKEND", "numpy")}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_child")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("probe")
    s = sub.add_parser("seed")
    s.add_argument("--n-train", type=int, default=10000)
    s.add_argument("--n-test", type=int, default=None, help="test images to evaluate on (default all)")
    s.add_argument("--compare-numpy", action="store_true")
    t = sub.add_parser("time")
    t.add_argument("engine", choices=("nnscratch", "torch"))
    t.add_argument("model")
    t.add_argument("batch", type=int)
    t.add_argument("--images", type=int, default=60000)
    t.add_argument("--device", default="cuda")
    a = p.parse_args(argv)
    if a.cmd == "probe":
        res = probe()
    elif a.cmd == "seed":
        res = seed(a.n_train, a.compare_numpy, a.n_test)
    else:
        res = time_one(a.engine, a.model, a.batch, a.images, a.device)
    print("RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
