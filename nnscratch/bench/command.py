"""``nnscratch bench``: the side-by-side CPU suite from an installed package.

    nnscratch bench --quick --reps 1               # a smoke run, a few minutes
    nnscratch bench                                # the full suite (15-30 min on 2 cores)
    nnscratch bench --workloads mnist_convnet_train_b128 --threads 4 --reps 5 --out bench-results

It runs nnscratch against the peers installed here (PyTorch, Keras on TensorFlow:
``pip install "nnscratch[bench]"``; a missing one is skipped with a note), one fresh process
per (engine, workload, rep), prints a progress line per run and the table of ratios, and writes
results.json, results.md and results.png into ``--out``. ``python -m benchmarks run`` in a
source checkout is the same command with the checkout's defaults.
"""
from __future__ import annotations

import argparse

from nnscratch.bench.engines import ENGINES

DEFAULT_OUT = "nnscratch-bench"


def _csv(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def add_arguments(p, default_out=DEFAULT_OUT):
    """The flags of ``nnscratch bench`` and ``python -m benchmarks run``."""
    from nnscratch.bench.workloads import BY_NAME

    if not p.description:
        p.description, p.formatter_class = __doc__, argparse.RawDescriptionHelpFormatter
    p.add_argument("--quick", action="store_true", help="fewer images per workload (a smoke run, minutes)")
    p.add_argument("--reps", type=_positive, default=3, help="repetitions per (engine, workload); default 3")
    p.add_argument("--engines", type=_csv, default=list(ENGINES),
                   help=f"comma-separated, default {','.join(ENGINES)}")
    p.add_argument("--workloads", type=_csv, default=None,
                   help="comma-separated subset of: " + ", ".join(BY_NAME))
    p.add_argument("--threads", type=_positive, default=2, help="threads for every engine; default 2")
    p.add_argument("--out", default=default_out, help=f"output directory for results.{{json,md,png}}; default {default_out}")
    return p


def run_args(args, readme=None, command="nnscratch bench"):
    """Run the suite from parsed arguments; returns the exit status (0)."""
    from nnscratch.bench import runner

    runner.run(quick=args.quick, reps=args.reps, engines=args.engines, workloads=args.workloads,
               out_dir=args.out, threads=args.threads, readme=readme, command=command)
    return 0


def build_parser(prog="nnscratch bench"):
    return add_arguments(argparse.ArgumentParser(prog=prog))


def main(argv=None):
    """``python -m nnscratch.bench``; the ``nnscratch bench`` subcommand uses add_arguments/run_args."""
    p = build_parser()
    args = p.parse_args(argv)
    try:
        return run_args(args)
    except ValueError as exc:
        p.error(str(exc))
