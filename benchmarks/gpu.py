"""``python -m benchmarks gpu``: the GPU check, one command for a GPU machine that may have no
network. From a source checkout (``PYTHONPATH=.``), installing nothing, with what such a machine
usually has (CuPy for CUDA 12 or 13, a CUDA build of PyTorch, NumPy; pytest if present), under
Python 3.10+, within a global deadline (default 290 s):

1. probe      Python, packages, the CUDA device as CuPy and PyTorch see it;
2. tests      ``pytest tests/test_cupy.py`` under NNSCRATCH_BACKEND=cupy (skipped, saying so,
              without pytest or CuPy);
3. seed       the four seed programs of tests/helpers.py, one epoch each on CuPy and, for
              comparison, on NumPy (the full Fashion-MNIST if this machine has it, else the
              shipped sample);
4. timing     nnscratch-on-CuPy vs PyTorch CUDA, one epoch of 60,000 images each after a
              warm-up, synchronised timers: the Simple MNIST convnet b128, LeNet b256, the MLP
              b32; then, time permitting, the convnet on nnscratch's NumPy path (CPU) on 10,000
              images, scaled to 60,000, for the "GPU vs NumPy path" ratio.

Every piece runs in a fresh process with a timeout cut from what is left of the deadline;
progress lines are flushed as they come, and the JSON and markdown (``--out``, default
benchmarks/results-gpu/gpu.{json,md}) are rewritten after every step, so a cut-off run still
says what it reached. ``--emulated`` (alias ``--dry-run``) runs everything on nnscratch's
emulated device (NumPy dressed as CuPy) and PyTorch on the CPU with small sizes: it checks the
command, not the GPU; its times are not GPU figures.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from queue import Empty, Queue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: (model, batch): the runs of the timing part, most important first.
TIMED = (("mnist_convnet", 128), ("lenet", 256), ("mlp", 32))
#: Shares of the time left that the tests and seed parts may take at most (seconds, fraction).
SHARES = {"tests": (90, 0.3), "seed": (75, 0.3)}
RESERVE_S = 5  # kept back at the end for writing the reports
MIN_RUN_S = 20  # kept for each timing run still to come


def _say(t0, msg):
    print(f"[{time.time() - t0:6.1f} s] {msg}", flush=True)


class Deadline:
    def __init__(self, budget):
        self.start = time.time()
        self.end = self.start + budget

    def left(self):
        return self.end - RESERVE_S - time.time()


def _env(backend, emulated, threads):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NNSCRATCH_BACKEND"] = backend
    env["NNSCRATCH_OFFLINE"] = "1"
    if emulated:
        env["NNSCRATCH_TEST_DEVICE"] = "emulated"
    if threads:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    return env


def _pump(stream, queue):
    for line in stream:
        queue.put(line.rstrip("\n"))
    queue.put(None)


def _child(args, env, timeout, module="benchmarks.gpu_child"):
    """Run a child, echoing its lines; returns (RESULT dict or None, status text, output tail)."""
    if timeout < 3:
        return None, "not run: out of time", ""
    cmd = [sys.executable, "-m", module] + list(args)
    lines, result = [], None
    try:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        return None, f"could not start: {exc}", ""
    queue = Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, queue), daemon=True)
    reader.start()
    deadline = time.time() + timeout
    while True:  # a child that hangs without printing is still cut at its deadline
        try:
            line = queue.get(timeout=max(0.05, min(1.0, deadline - time.time())))
        except Empty:
            if time.time() > deadline:
                break
            continue
        if line is None:
            break
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
        else:
            lines.append(line)
            print("    " + line, flush=True)
    try:
        proc.wait(timeout=max(0.1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return result, f"cut off after {timeout:.0f} s", "\n".join(lines[-5:])
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    return result, status, "\n".join(lines[-5:])


def run(emulated=False, budget=290.0, out_dir=None, images=None, seed_images=None, models=None,
        numpy_ref=True, parts=("probe", "tests", "seed", "timing"), seed_test_images=None):
    dl = Deadline(budget)
    t0 = dl.start
    out_dir = out_dir or os.path.join(ROOT, "benchmarks", "results-gpu")
    images = images or (512 if emulated else 60000)
    seed_images = seed_images or (512 if emulated else 10000)
    seed_test_images = seed_test_images or (1000 if emulated else None)
    backend = "emulated" if emulated else "cupy"
    device = "cpu" if emulated else "cuda"
    threads = 1 if emulated else None
    env = _env(backend, emulated, threads)
    res = {"command": "python -m benchmarks gpu" + (" --emulated" if emulated else ""), "emulated": emulated,
           "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t0)), "budget_s": budget,
           "backend": backend, "torch_device": device, "parts": {}}

    def save():
        res["elapsed_s"] = time.time() - t0
        write(res, out_dir)

    _say(t0, f"GPU check on backend {backend!r}, torch on {device!r}, budget {budget:.0f} s; reports in {out_dir}")
    probe = {}
    if "probe" in parts:
        probe, status, tail = _child(["probe"], env, min(60, dl.left()))
        res["parts"]["probe"] = {"status": status, **({"result": probe} if probe else {"tail": tail})}
        probe = probe or {}
        _say(t0, f"probe: {status}; device: {probe.get('cupy_device')}; torch: {probe.get('torch_cuda')}")
        save()
    if probe:
        pk = probe.get("packages", {})
        has_cupy = emulated or isinstance(probe.get("cupy_device"), dict)
        has_torch = bool(pk.get("torch")) and (emulated or "no CUDA" not in str(probe.get("torch_cuda", "")))
    else:  # no probe (--parts without it, or it was cut off): what is importable, unchecked
        pk = {n: importlib.util.find_spec(n) is not None for n in ("cupy", "torch", "pytest")}
        has_cupy, has_torch = emulated or pk["cupy"], pk["torch"]

    if "tests" in parts:
        if not pk.get("pytest"):
            res["parts"]["tests"] = {"status": "skipped: pytest is not installed here"}
        elif not has_cupy:
            res["parts"]["tests"] = {"status": "skipped: CuPy sees no CUDA device"}
        else:
            share = min(SHARES["tests"][0], SHARES["tests"][1] * dl.left())
            _say(t0, f"tests: pytest tests/test_cupy.py (at most {share:.0f} s)")
            _, status, tail = _child(["tests/test_cupy.py", "-q", "-rs", "-p", "no:cacheprovider"], env, share,
                                     module="pytest")
            res["parts"]["tests"] = {"status": status, "summary": tail.splitlines()[-1] if tail else ""}
        _say(t0, f"tests: {res['parts']['tests']['status']} {res['parts']['tests'].get('summary', '')}")
        save()

    if "seed" in parts:
        if not has_cupy:
            res["parts"]["seed"] = {"status": "skipped: CuPy sees no CUDA device"}
        else:
            share = min(SHARES["seed"][0], SHARES["seed"][1] * dl.left())
            _say(t0, f"seed programs: {seed_images} images each, on {backend} and numpy (at most {share:.0f} s)")
            args = ["seed", "--n-train", str(seed_images), "--compare-numpy"]
            args += ["--n-test", str(seed_test_images)] if seed_test_images else []
            r, status, tail = _child(args, env, share)
            res["parts"]["seed"] = {"status": status, **({"result": r} if r else {"tail": tail})}
        _say(t0, f"seed programs: {res['parts']['seed']['status']}")
        save()

    if "timing" in parts:
        runs = []
        for model, batch in TIMED:
            if models and model not in models:
                continue
            runs.append(("nnscratch", model, batch, images, env, backend) if has_cupy else None)
            runs.append(("torch", model, batch, images, env, device) if has_torch else None)
            if not has_cupy:
                res["parts"].setdefault("timing_notes", []).append(f"nnscratch {model}: skipped (CuPy sees no CUDA device)")
            if not has_torch:
                res["parts"].setdefault("timing_notes", []).append(f"torch {model}: skipped (no torch with {device})")
        if numpy_ref and (not models or "mnist_convnet" in models):
            runs.append(("nnscratch", "mnist_convnet", 128, min(images, 10000), _env("numpy", emulated, threads),
                         "numpy"))
        runs = [r for r in runs if r]
        timing = res["parts"]["timing"] = {"status": "running", "runs": []}
        for i, (engine, model, batch, n, env_i, where) in enumerate(runs):
            # the earlier (more important) runs may use what the later ones do not need, but
            # each later run keeps MIN_RUN_S (an import, a warm-up and an epoch on a GPU)
            share = min(dl.left(), max(MIN_RUN_S, dl.left() - MIN_RUN_S * (len(runs) - i - 1)))
            _say(t0, f"timing [{i + 1}/{len(runs)}] {engine} on {where}: {model} b{batch}, {n} images "
                     f"(at most {share:.0f} s)")
            args = ["time", engine, model, str(batch), "--images", str(n), "--device", device]
            r, status, tail = _child(args, env_i, share)
            entry = {"engine": engine, "on": where, "model": model, "batch": batch, "images": n, "status": status}
            if r and "seconds" in r:
                entry.update(seconds=r["seconds"], images_per_s=r["images_per_s"], warmup_s=r["warmup_s"],
                             loss=r["loss"], versions=r["versions"], data=r["data"])
                entry["epoch_60000_s"] = r["seconds"] * 60000 / n
                _say(t0, f"  -> {r['seconds']:.3f} s ({r['images_per_s']:,.0f} img/s)")
            else:
                entry["tail"] = tail
                _say(t0, f"  -> {status}")
            timing["runs"].append(entry)
            save()
        timing["status"] = "done"
    res["finished"] = True
    save()
    _say(t0, f"done in {time.time() - t0:.1f} s: {', '.join(paths(out_dir))}")
    return res


def paths(out_dir):
    return [os.path.join(out_dir, "gpu.json"), os.path.join(out_dir, "gpu.md")]


def ratios(res):
    """{model: {'torch_over_nnscratch': x, 'numpy_over_cupy': y}} from the timing runs
    (per-60,000-image epoch times; None where a run is missing)."""
    by = {}
    for r in (res.get("parts", {}).get("timing") or {}).get("runs", []):
        if "epoch_60000_s" in r:
            by.setdefault(r["model"], {})[(r["engine"], r["on"])] = r["epoch_60000_s"]
    out = {}
    for model, t in by.items():
        gpu = t.get(("nnscratch", res["backend"]))
        peer = next((v for (e, _), v in t.items() if e == "torch"), None)
        cpu = t.get(("nnscratch", "numpy"))
        out[model] = {"nnscratch_over_torch": gpu / peer if gpu and peer else None,
                      "numpy_over_gpu": cpu / gpu if gpu and cpu else None}
    return out


def markdown(res):
    p = res["parts"]
    lines = [f"Measured {res['started']} with `{res['command']}` ({res.get('elapsed_s', 0):.0f} s of a "
             f"{res['budget_s']:.0f} s budget{'' if res.get('finished') else '; CUT OFF before the end'})."]
    if res["emulated"]:
        lines += ["", "**Emulated run** (nnscratch's emulated device on NumPy, PyTorch on the CPU, small sizes): "
                  "it checks the command; the times below are not GPU figures."]
    probe = (p.get("probe") or {}).get("result") or {}
    if probe:
        pk = ", ".join(f"{k} {v}" for k, v in probe.get("packages", {}).items() if v)
        lines += ["", f"- Python {probe.get('python')}, {probe.get('cpus')} CPUs; {pk}.",
                  f"- CuPy device: {probe.get('cupy_device')}; PyTorch: {probe.get('torch_cuda')}."]
    for part in ("tests", "seed"):
        if part in p:
            lines.append(f"- {part}: {p[part]['status']} {p[part].get('summary', '')}".rstrip())
    seed = (p.get("seed") or {}).get("result")
    if seed:
        b = seed["backend"]
        lines += ["", f"### Seed programs (one epoch on {seed['n_train']} images; {seed['data']})", "",
                  f"| program | accuracy on {b} | accuracy on numpy | seconds on {b} |", "|---|---|---|---|"]
        for r in seed["programs"]:
            g, c = r.get(b, {}), r.get("numpy", {})
            lines.append(f"| {r['program']} | {g.get('accuracy', float('nan')):.4f} | "
                         f"{c.get('accuracy', float('nan')):.4f} | {g.get('seconds', float('nan')):.1f} |")
    runs = (p.get("timing") or {}).get("runs", [])
    if runs:
        lines += ["", "### One epoch of training (seconds; synchronised timers, after a warm-up)", "",
                  "| model | batch | engine | on | images | seconds | per 60,000 images | img/s | status |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            sec = f"{r['seconds']:.3f}" if "seconds" in r else "-"
            ep = f"{r['epoch_60000_s']:.3f}" if "epoch_60000_s" in r else "-"
            ips = f"{r['images_per_s']:,.0f}" if "images_per_s" in r else "-"
            lines.append(f"| {r['model']} | {r['batch']} | {r['engine']} | {r['on']} | {r['images']} | {sec} | {ep} | "
                         f"{ips} | {r['status']} |")
        lines += ["", "| model | nnscratch / PyTorch (target <= 2) | NumPy path / nnscratch GPU (target >= 10) |",
                  "|---|---|---|"]
        for model, q in ratios(res).items():
            a, b = q["nnscratch_over_torch"], q["numpy_over_gpu"]
            lines.append(f"| {model} | {'n/a' if a is None else f'{a:.2f}'} | {'n/a' if b is None else f'{b:.1f}'} |")
    notes = p.get("timing_notes", [])
    lines += [""] + [f"- {n}" for n in notes] if notes else []
    return "\n".join(lines) + "\n"


def write(res, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for path, text in zip(paths(out_dir), (json.dumps(res, indent=1, sort_keys=True) + "\n",
                                           "# GPU check\n\n" + markdown(res))):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emulated", "--dry-run", action="store_true", dest="emulated",
                   help="no GPU: nnscratch's emulated device, PyTorch on the CPU, small sizes")
    p.add_argument("--budget", type=float, default=290.0, help="global deadline in seconds (default 290)")
    p.add_argument("--out", default=None, help="directory for gpu.json and gpu.md (default benchmarks/results-gpu)")
    p.add_argument("--images", type=int, default=None, help="images per timed epoch (default 60000; 512 emulated)")
    p.add_argument("--seed-images", type=int, default=None, help="training images per seed program (default 10000)")
    p.add_argument("--seed-test-images", type=int, default=None,
                   help="test images the seed programs are evaluated on (default all; 1000 emulated)")
    p.add_argument("--models", default="", help="subset of " + ",".join(m for m, _ in TIMED))
    p.add_argument("--parts", default="probe,tests,seed,timing", help="subset of probe,tests,seed,timing")
    p.add_argument("--no-numpy-ref", action="store_true", help="skip the NumPy-path convnet reference run")
    a = p.parse_args(argv)
    parts = tuple(x for x in a.parts.split(",") if x)
    bad = [x for x in parts if x not in ("probe", "tests", "seed", "timing")]
    models = [m for m in a.models.split(",") if m]
    bad += [m for m in models if m not in dict(TIMED)]
    if bad:
        p.error(f"unknown part or model: {', '.join(bad)}")
    run(emulated=a.emulated, budget=a.budget, out_dir=a.out, images=a.images, seed_images=a.seed_images,
        models=models, numpy_ref=not a.no_numpy_ref, parts=parts, seed_test_images=a.seed_test_images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
