"""The environment every benchmark child runs in, and a description of the machine."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

#: Variables set to the thread count for every engine.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Set on some machines for old OpenBLAS builds; they slow a current NumPy's OpenBLAS (see the
#: workplace notes), so the benchmark children run without them, for every engine alike.
#: Tests and CI keep them.
UNSET_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def child_env(threads):
    env = dict(os.environ)
    removed = {k: env.pop(k) for k in UNSET_VARS if k in env}
    for k in THREAD_VARS:
        env[k] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["KERAS_BACKEND"] = "tensorflow"
    env["TF_NUM_INTRAOP_THREADS"] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = str(threads)
    # the children import the same nnscratch as this process: the checkout's root, or site-packages
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env, removed


def machine(threads, removed):
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    blas = subprocess.run(
        [sys.executable, "-c", "import numpy, threadpoolctl, json; print(json.dumps(["
         "{k: i.get(k) for k in ('internal_api', 'version', 'architecture', 'num_threads')} "
         "for i in threadpoolctl.threadpool_info() if i.get('user_api') == 'blas']))"],
        env=child_env(threads)[0], capture_output=True, text=True)
    return {
        "cpu": cpu, "logical_cores": os.cpu_count(), "memory_gib": mem, "python": platform.python_version(),
        "platform": platform.platform(), "threads_per_engine": threads,
        "numpy_blas": blas.stdout.strip() or blas.stderr.strip()[-300:],
        "unset_for_children": sorted(removed) or "none were set",
        "load_average_at_start": os.getloadavg(),
    }
