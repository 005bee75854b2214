"""``python -m benchmarks run|micro|gpu`` (see benchmarks/README.md).

    run     the side-by-side CPU suite (= ``nnscratch bench``, whose code is nnscratch/bench/),
            writing benchmarks/results/ by default; --update-readme also puts the tables into
            benchmarks/README.md
    micro   per-layer forward/backward times of nnscratch, with the GEMM share
    gpu     the GPU check: tests/test_cupy.py and the seed programs on CuPy, then nnscratch-on-CuPy
            vs PyTorch CUDA timings, within 5 minutes (benchmarks/gpu.py; --emulated runs it without
            a GPU on small sizes)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from nnscratch.bench import command

HERE = os.path.dirname(os.path.abspath(__file__))


def _csv(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gpu"]:  # its own flags (benchmarks/gpu.py)
        from benchmarks import gpu

        return gpu.main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="side-by-side timings of nnscratch, PyTorch and Keras (fresh process per run)")
    command.add_arguments(r, default_out=os.path.join("benchmarks", "results"))
    r.add_argument("--update-readme", action="store_true", help="put the tables into benchmarks/README.md")
    m = sub.add_parser("micro", help="per-layer forward/backward times of nnscratch, with the GEMM share")
    m.add_argument("--models", type=_csv, default=["mlp", "lenet", "convnet", "mnist_convnet"])
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--out", default="benchmarks/results", help="writes micro.md and micro.json there")
    sub.add_parser("gpu", help="the GPU check (python -m benchmarks gpu --help)")
    a = p.parse_args(argv)
    if a.cmd == "run":
        readme = os.path.join(HERE, "README.md") if a.update_readme else None
        try:
            return command.run_args(a, readme=readme, command="python -m benchmarks run")
        except ValueError as exc:
            p.error(str(exc))
    from nnscratch.bench import env as env_mod

    env, _ = env_mod.child_env(a.threads)  # the same environment as the side-by-side children
    cmd = [sys.executable, "-m", "benchmarks.micro", "--models", ",".join(a.models), "--out", os.path.abspath(a.out)]
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
