"""``python -m benchmarks run|micro`` (see benchmarks/README.md)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from nnscratch.bench.engines import ENGINES


def _csv(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="side-by-side timings of nnscratch, PyTorch and Keras (fresh process per run)")
    r.add_argument("--quick", action="store_true", help="fewer images per workload (a smoke run, minutes)")
    r.add_argument("--reps", type=int, default=3, help="repetitions per (engine, workload); default 3")
    r.add_argument("--engines", type=_csv, default=list(ENGINES), help="comma-separated, default nnscratch,torch,keras")
    r.add_argument("--workloads", type=_csv, default=None, help="comma-separated subset of the workloads")
    r.add_argument("--threads", type=int, default=2, help="threads for every engine; default 2")
    r.add_argument("--out", default="benchmarks/results", help="output directory for results.{json,md,png}")
    r.add_argument("--update-readme", action="store_true", help="put the table into benchmarks/README.md")
    m = sub.add_parser("micro", help="per-layer forward/backward times of nnscratch, with the GEMM share")
    m.add_argument("--models", type=_csv, default=["mlp", "lenet", "convnet"])
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--out", default="benchmarks/results", help="writes micro.md and micro.json there")
    a = p.parse_args(argv)
    if a.cmd == "run":
        from nnscratch.bench import runner

        try:
            runner.run(quick=a.quick, reps=a.reps, engines=a.engines, workloads=a.workloads, out_dir=a.out,
                       threads=a.threads, update_readme=a.update_readme)
        except ValueError as exc:
            p.error(str(exc))
        return 0
    from nnscratch.bench import env as env_mod

    env, _ = env_mod.child_env(a.threads)  # the same environment as the side-by-side children
    cmd = [sys.executable, "-m", "benchmarks.micro", "--models", ",".join(a.models), "--out", os.path.abspath(a.out)]
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
