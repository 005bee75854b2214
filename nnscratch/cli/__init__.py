"""The ``nnscratch`` command: train, evaluate and predict from the shell.

    nnscratch train                                  # LeNet on Fashion-MNIST, one epoch
    nnscratch train --model mlp --epochs 5 --out runs/mlp
    nnscratch evaluate --weights runs/mlp/weights.npz --model mlp
    nnscratch predict shoe.png --weights runs/mlp/weights.npz --model mlp --invert
    nnscratch bench --quick                          # time it against PyTorch/Keras (nnscratch/bench)

``train`` writes into its output directory: ``weights.npz``, ``history.json``,
``history.csv``, ``learning_curves.png``, ``samples.png``, ``confusion_matrix.png`` and
``config.json``. Everything here is glue around the public API (presets, ``fit``,
``evaluate``, ``nn.plot``); errors in the user's input end in a one-line message, not a
traceback (``--verbose`` shows the traceback).
"""
from __future__ import annotations

import argparse
import sys

from nnscratch import presets
from nnscratch.bench import command as bench_command
from nnscratch.cli import exercise as cli_exercise
from nnscratch.cli.commands import _class_names, cmd_evaluate, cmd_predict, cmd_train  # noqa: F401 (_class_names: tests)
from nnscratch.cli.setup import CLIError, DATASETS, PROG, load_dataset  # noqa: F401 (load_dataset: public)
from nnscratch.datasets import DatasetNotFoundError


# ----------------------------------------------------------------------------- argparse
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``nnscratch: error: ...`` on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    parser = _Parser(prog=PROG, description="Train and use nnscratch models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    models = ", ".join(presets.PRESETS)

    def common(p, batch=True, model_default="lenet"):
        default = ("default lenet" if model_default else
                   "default: the model in the config.json that train wrote beside --weights, else lenet")
        p.add_argument("--model", default=model_default,
                       help=f"a preset ({models}; {default}) or a Python file defining build_model(); "
                            "the file is executed as Python code, so use only files you trust")
        p.add_argument("--dataset", default="fashion_mnist", choices=DATASETS,
                       help="default fashion_mnist (the shipped sample if the full set is missing)")
        if batch:
            p.add_argument("--batch-size", type=_positive_int, default=None,
                           help="default: the preset's own batch size")
        p.add_argument("--optimizer", default=None, help="optimizer name, e.g. adam, sgd, rmsprop")
        p.add_argument("--learning-rate", type=_positive_float, default=None)
        p.add_argument("--backend", choices=("numpy", "cupy", "emulated"), default=None,
                       help="array backend (default: numpy, or $NNSCRATCH_BACKEND)")
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--verbose", action="store_true", help="print the model summary and tracebacks")

    train = sub.add_parser("train", help="train a model and write weights, history and plots")
    common(train)
    train.add_argument("--epochs", type=_positive_int, default=1, help="default 1")
    train.add_argument("--out", default=None, help="output directory (default runs/<timestamp>)")
    train.add_argument("--limit", type=_positive_int, default=None,
                       help="train on the first N training images only")
    train.add_argument("--test-limit", type=_positive_int, default=None,
                       help="evaluate on the first N test images only")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="test loss and accuracy of saved weights")
    common(evaluate, model_default=None)
    evaluate.add_argument("--weights", required=True, help="weights.npz written by train")
    evaluate.add_argument("--limit", type=_positive_int, default=None,
                          help="evaluate on the first N test images only")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify image files with saved weights")
    common(predict, batch=False, model_default=None)
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--weights", required=True, help="weights.npz written by train")
    predict.add_argument("--invert", action="store_true",
                         help="invert the pixels (for dark objects on a light background)")
    predict.add_argument("--class-names", default=None, help="comma-separated class names")
    predict.set_defaults(func=cmd_predict, batch_size=None)
    cli_exercise.add_parsers(sub)  # exercise list/start/check, explain
    bench = sub.add_parser("bench", help="time nnscratch against PyTorch and Keras here (nnscratch/bench)")
    bench_command.add_arguments(bench)
    bench.set_defaults(func=bench_command.run_args, verbose=False)
    return parser


def main(argv=None):
    """Entry point of the ``nnscratch`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError, RuntimeError, OSError) as exc:
        if args.verbose:
            raise
        # one line, except a missing dataset's list of places looked in and its "To get it" hint
        whole = isinstance(exc, DatasetNotFoundError)
        message = (str(exc) if whole else str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser", "load_dataset", "CLIError", "DATASETS"]
