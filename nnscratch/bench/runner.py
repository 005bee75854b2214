"""``nnscratch bench`` / ``python -m benchmarks run``: every (rep, workload, engine) in its own fresh process, the
engines alternating (their order rotates with each rep, so slow drifts of a shared machine
fall on all of them), then the GEMM ceiling, then the JSON, markdown and PNG reports."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from nnscratch.bench import env as env_mod
from nnscratch.bench import report
from nnscratch.bench.engines import ENGINES
from nnscratch.bench.workloads import BY_NAME, WORKLOADS

CHILD_TIMEOUT_S = 900


def _run_child(module, args, env, timeout=CHILD_TIMEOUT_S):
    """Run ``python -m module args``; returns the parsed RESULT dict or {'error': ...}."""
    cmd = [sys.executable, "-m", module] + list(args)
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s: {' '.join(cmd)}"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def _engine_available(name, env):
    probe = {"nnscratch": "nnscratch", "torch": "torch", "keras": "tensorflow"}[name]
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({probe!r}) else 1)"
    return subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def summarise(samples):
    """{engine: {workload: {median, min, max, reps, images_per_s, peak_rss_mb}}} from raw samples."""
    out = {}
    for s in samples:
        if "seconds" not in s:
            continue
        out.setdefault(s["engine"], {}).setdefault(s["workload"], []).append(s)
    summary = {}
    for eng, per in out.items():
        for wl, runs in per.items():
            secs = [r["seconds"] for r in runs]
            med = statistics.median(secs)
            summary.setdefault(eng, {})[wl] = {
                "median_s": med, "min_s": min(secs), "max_s": max(secs), "reps": len(secs),
                "images_per_s": runs[0]["images"] / med, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "images": runs[0]["images"],
            }
    return summary


def _print(line):
    print(line, flush=True)


def run(quick=False, reps=3, engines=ENGINES, workloads=None, out_dir="benchmarks/results", threads=2,
        readme=None, log=_print, command="python -m benchmarks run"):
    """Run the suite; write results.{json,md,png} into ``out_dir`` (and the tables into
    ``readme``'s marked section if given); returns the result dict."""
    subset = [f"--workloads {','.join(workloads)}"] if workloads else []
    workloads = list(workloads or [w.name for w in WORKLOADS])
    for w in workloads:
        if w not in BY_NAME:
            raise ValueError(f"unknown workload {w!r}; choose from {', '.join(BY_NAME)}")
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    if reps < 1:
        raise ValueError(f"--reps must be at least 1, received {reps}")
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, received {threads}")
    env, removed = env_mod.child_env(threads)
    notes = []
    active = []
    for e in engines:
        if _engine_available(e, env):
            active.append(e)
        else:
            notes.append(f"{e}: not installed here, skipped")
            log(f"[skip] {e} is not installed")
    started = time.time()
    machine = env_mod.machine(threads, removed)
    samples = []
    flags = ["--quick"] if quick else []
    total, done = reps * len(workloads) * len(active), 0
    for rep in range(reps):
        for wl in workloads:
            order = active[rep % len(active):] + active[:rep % len(active)] if active else []
            for e in order:
                res = _run_child("nnscratch.bench.child", [e, wl, "--seed", str(rep), "--threads", str(threads)] + flags, env)
                res.update(engine=e, workload=wl, rep=rep)
                samples.append(res)
                done += 1
                head = f"[{done}/{total}] rep {rep + 1}/{reps} {wl:26s} {e:10s}"
                if "seconds" in res:
                    log(f"{head} {res['seconds']:8.3f} s  {res['peak_rss_mb']:7.1f} MB")
                else:
                    log(f"{head} FAILED: {res.get('error') or res.get('skipped')}")
    log("measuring the GEMM ceiling (NumPy float32 matmul at the workloads' shapes) ...")
    gemm = _run_child("nnscratch.bench.gemm", flags + ["--workloads", ",".join(workloads)], env)
    result = {
        "command": command + " " + " ".join(flags + [f"--reps {reps}", f"--engines {','.join(engines)}"] + subset
                                            + [f"--threads {threads}"]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "wall_s": time.time() - started, "quick": quick, "reps": reps, "engines": active, "workloads": workloads,
        "machine": machine, "load_average_at_end": os.getloadavg(), "notes": notes,
        "data": next((s["data"] for s in samples if "data" in s), "unknown"),
        "versions": {k: v for s in samples if "versions" in s for k, v in s["versions"].items()},
        "samples": samples, "summary": summarise(samples), "gemm": gemm,
    }
    paths = report.write_all(result, out_dir)
    if readme:
        report.update_readme(result, readme)
        paths.append(readme)
    log("")
    log(report.terminal_table(result))
    log("wrote " + ", ".join(paths))
    return result
