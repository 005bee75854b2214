"""The ``nnscratch`` command: train, evaluate and predict from the shell.

    nnscratch train                                  # LeNet on Fashion-MNIST, one epoch
    nnscratch train --model mlp --epochs 5 --out runs/mlp
    nnscratch evaluate --weights runs/mlp/weights.npz --model mlp
    nnscratch predict shoe.png --weights runs/mlp/weights.npz --model mlp --invert

``train`` writes into its output directory: ``weights.npz``, ``history.json``,
``history.csv``, ``learning_curves.png``, ``samples.png``, ``confusion_matrix.png`` and
``config.json``. Everything here is glue around the public API (presets, ``fit``,
``evaluate``, ``nn.plot``); errors in the user's input end in a one-line message, not a
traceback (``--verbose`` shows the traceback).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import io
import json
import os
import sys

import numpy as np

import nnscratch as nn
from nnscratch import cli_exercise, presets

DATASETS = ("fashion_mnist", "mnist", "cifar10", "cifar100", "sample")
PROG = "nnscratch"


class CLIError(Exception):
    """A user-facing error: printed as ``nnscratch: error: <message>``."""


# ----------------------------------------------------------------------------- small helpers
def _atomic_write_text(path, text):
    """Write text to path atomically (nnscratch.saving.atomic_write_bytes)."""
    from nnscratch.saving import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))


def _history_csv(history):
    """Keras CSVLogger layout: an 'epoch' column (0-based) then one column per key."""
    keys = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch"] + keys)
    for epoch in range(rows):
        writer.writerow([epoch] + [history[k][epoch] if epoch < len(history[k]) else "" for k in keys])
    return out.getvalue()


class _StepRecorder(nn.callbacks.Callback):
    """Keeps the batch logs of ``fit`` (running means over the epoch so far), one per step,
    so that the learning curves of a one-epoch run are more than a single point."""

    wants_batch_logs = True

    def __init__(self):
        super().__init__()
        self.steps = {}

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            self.steps.setdefault(key, []).append(float(value))


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- data
def load_dataset(name):
    """((x_train, y_train), (x_test, y_test)), class names and a description of the data used.

    ``fashion_mnist`` uses the full set when it is found (or downloaded) and otherwise the
    sample shipped in the package, so ``nnscratch train`` works on a fresh machine; ``sample``
    asks for the shipped sample directly.
    """
    from nnscratch import datasets

    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "sample":
        train, test, info = datasets.fashion_mnist.load_data(source="sample", return_info=True)
    else:
        train, test, info = getattr(datasets, name).load_data(return_info=True)
    key = "fashion_mnist" if name == "sample" else name
    description = str(info) + (f" [{info.note}]" if getattr(info, "note", "") else "")
    return (train, test), list(datasets.CLASS_NAMES[key]), description


def _input_shape(x):
    """One image's (H, W, C) from a dataset array (N, H, W) or (N, H, W, C)."""
    return tuple(x.shape[1:]) + ((1,) if x.ndim == 3 else ())


# ----------------------------------------------------------------------------- models
def _load_user_model(path):
    """A model from a Python file defining ``build_model()`` or a module-level ``model``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model file {path!r} not found")
    spec = importlib.util.spec_from_file_location("nnscratch_user_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "build_model"):
        return module.build_model()
    if hasattr(module, "model"):
        return module.model
    raise CLIError(f"{path} defines neither build_model() nor a module-level 'model'")


class Setup:
    """What a command needs to know about the model: the model itself and how to feed it."""

    def __init__(self, args, input_shape, num_classes):
        self.name = args.model
        if args.model.endswith(".py"):
            self.model = _load_user_model(args.model)
            self.compile_kwargs, self.batch_size = None, 32
            self.layout, self.one_hot, self.logits = "auto", False, not self._ends_in_softmax()
        else:
            build = presets.get(args.model)
            self.model, self.compile_kwargs, self.batch_size = build(input_shape, num_classes)
            self.layout = presets.LAYOUTS[args.model]
            self.one_hot = args.model in presets.ONE_HOT
            self.logits = args.model in presets.LOGITS
        self.num_classes = num_classes
        if getattr(args, "batch_size", None):
            self.batch_size = args.batch_size

    def _ends_in_softmax(self):
        last = self.model.layers[-1]
        return (type(last).__name__ == "Softmax"
                or getattr(last, "get_config", dict)().get("activation") == "softmax")

    def compile(self, args):
        """Compile with the preset's arguments, ``--optimizer`` / ``--learning-rate`` applied.
        A user model keeps its own compile (optimizer, loss) unless those flags are given; an
        uncompiled one gets Adam and sparse categorical cross-entropy."""
        kwargs = self.compile_kwargs
        if kwargs is None:
            user_compiled = getattr(self.model, "compiled", False)
            if user_compiled and not (args.optimizer or args.learning_rate):
                return
            loss = (self.model.loss if user_compiled else
                    nn.losses.SparseCategoricalCrossentropy(from_logits=self.logits))
            kwargs = dict(optimizer=getattr(self.model, "optimizer", None) or nn.optimizers.Adam(),
                          loss=loss, metrics=["accuracy"])
        optimizer = kwargs["optimizer"]
        if args.optimizer:
            optimizer = nn.optimizers.get(args.optimizer)
        if args.learning_rate is not None:
            optimizer = type(optimizer)(learning_rate=args.learning_rate)
        self.model.compile(**dict(kwargs, optimizer=optimizer))

    def inputs(self, x):
        if self.layout != "auto":
            return presets.prepare_images(x, self.layout)
        # a user model: reshape the (N, H, W, C) images to its declared input shape if it has one
        x = presets.prepare_images(x, "image")
        first = self.model.layers[0]
        shape = getattr(first, "_declared_input_shape", None) or (getattr(first, "input_shape", None) or (None,))[1:]
        if shape and None not in shape and np.prod(shape) == np.prod(x.shape[1:]):
            x = x.reshape((len(x),) + tuple(shape))
        return x

    def labels(self, y):
        return presets.prepare_labels(y, self.one_hot, self.num_classes)

    def probabilities(self, x):
        scores = np.asarray(nn.backend.to_host(self.model.predict(x, batch_size=self.batch_size)))
        return _softmax(scores) if self.logits else scores


def _common(args):
    """Backend and seed: the first thing every command does."""
    if args.backend:
        nn.backend.set_backend(args.backend)
    nn.utils.set_random_seed(args.seed)


def _limit(arrays, n):
    return arrays if n is None else tuple(a[:n] for a in arrays)


# ----------------------------------------------------------------------------- commands
def cmd_train(args):
    _common(args)
    data, class_names, source = load_dataset(args.dataset)
    (x_train, y_train), (x_test, y_test) = _limit(data[0], args.limit), _limit(data[1], args.test_limit)
    num_classes = len(class_names)
    setup = Setup(args, _input_shape(x_train), num_classes)
    setup.compile(args)
    out = args.out or os.path.join("runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    print(f"data: {source}")
    print(f"using {len(x_train)} training images and {len(x_test)} test images, {num_classes} classes")
    print(f"model: {setup.name}, batch size {setup.batch_size}, {args.epochs} epoch(s) -> {out}")
    if args.verbose:
        setup.model.summary()

    xtr, ytr = setup.inputs(x_train), setup.labels(y_train)
    xte, yte = setup.inputs(x_test), setup.labels(y_test)
    fit_kwargs = dict(batch_size=setup.batch_size, epochs=args.epochs, verbose=0 if args.quiet else 1)
    if args.model == "dropout-mlp":
        fit_kwargs["validation_data"] = (xte, yte)
    recorder = _StepRecorder()
    history = setup.model.fit(xtr, ytr, callbacks=[recorder], **fit_kwargs)
    test_loss, test_acc = setup.model.evaluate(xte, yte, batch_size=setup.batch_size, verbose=0)
    print(f"test loss {float(test_loss):.4f} - test accuracy {float(test_acc):.4f}")

    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    setup.model.save_weights(os.path.join(out, "weights.npz"))
    _atomic_write_text(os.path.join(out, "history.json"), json.dumps(hist, indent=2) + "\n")
    _atomic_write_text(os.path.join(out, "history.csv"), _history_csv(hist))
    y_pred = setup.probabilities(xte).argmax(axis=1)
    y_true = np.asarray(y_test).reshape(-1)
    nn.plot.plot_history(hist, path=os.path.join(out, "learning_curves.png"), batch_history=recorder.steps)
    nn.plot.plot_samples(x_test, y_true, y_pred, class_names=class_names,
                         path=os.path.join(out, "samples.png"))
    nn.plot.plot_confusion_matrix(y_true, y_pred, class_names=class_names, num_classes=num_classes,
                                  path=os.path.join(out, "confusion_matrix.png"))
    config = dict(vars(args), command="train", out=out, data_source=source,
                  train_images=len(x_train), test_images=len(x_test), num_classes=num_classes,
                  batch_size=setup.batch_size, backend=nn.backend.current(),
                  test_loss=float(test_loss), test_accuracy=float(test_acc))
    config.pop("func", None)
    _atomic_write_text(os.path.join(out, "config.json"), json.dumps(config, indent=2) + "\n")
    print(f"wrote weights, history, plots and config to {out}")
    return 0


def _load_weights(setup, args, example):
    """Build the model, load the weights, then compile (for the loss and metrics).

    Loading before ``compile`` skips the optimizer state stored in the file, which evaluating
    and predicting do not need."""
    if not os.path.isfile(args.weights):
        raise FileNotFoundError(f"weights file {args.weights!r} not found")
    if not setup.model.built:
        setup.model.predict(example[:1])  # a model without a declared input shape builds on data
    try:
        setup.model.load_weights(args.weights)
    except (KeyError, AttributeError, IndexError, RecursionError, UnicodeDecodeError) as exc:  # a reader's slip
        raise ValueError(f"{args.weights}: not a valid weights file ({type(exc).__name__}: {exc})") from None
    setup.compile(args)


def cmd_evaluate(args):
    _common(args)
    data, class_names, source = load_dataset(args.dataset)
    x_test, y_test = _limit(data[1], args.limit)
    setup = Setup(args, _input_shape(x_test), len(class_names))
    xte, yte = setup.inputs(x_test), setup.labels(y_test)
    _load_weights(setup, args, xte)
    print(f"data: {source}")
    print(f"using {len(x_test)} test images")
    loss, acc = setup.model.evaluate(xte, yte, batch_size=setup.batch_size, verbose=0)
    print(f"test loss {float(loss):.4f} - test accuracy {float(acc):.4f}")
    return 0


def _read_image(path, color_mode, size):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image {path!r} not found")
    img = nn.utils.load_img(path, color_mode=color_mode, target_size=size)
    return np.asarray(nn.utils.img_to_array(img), dtype=np.float32)


def cmd_predict(args):
    _common(args)
    shape, names = {"cifar10": ((32, 32, 3), 10), "cifar100": ((32, 32, 3), 100)}.get(
        args.dataset, ((28, 28, 1), 10))
    class_names = _class_names(args.dataset) if not args.class_names else args.class_names.split(",")
    setup = Setup(args, shape, names)
    color = "rgb" if shape[2] == 3 else "grayscale"
    pixels = np.stack([_read_image(p, color, shape[:2]) for p in args.images])  # (N, H, W, C) 0..255
    if args.invert:
        pixels = 255.0 - pixels
    x = setup.inputs(pixels / 255.0)
    _load_weights(setup, args, x)
    probs = setup.probabilities(x)
    for path, p in zip(args.images, probs):
        k = int(p.argmax())
        label = class_names[k] if class_names and k < len(class_names) else str(k)
        print(f"{path}: {label} ({p[k]:.4f})")
    return 0


def _class_names(dataset):
    from nnscratch import datasets

    return list(datasets.CLASS_NAMES["fashion_mnist" if dataset == "sample" else dataset])


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

    def common(p, batch=True):
        p.add_argument("--model", default="lenet",
                       help=f"a preset ({models}; default lenet) or a Python file defining build_model()")
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
    common(evaluate)
    evaluate.add_argument("--weights", required=True, help="weights.npz written by train")
    evaluate.add_argument("--limit", type=_positive_int, default=None,
                          help="evaluate on the first N test images only")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify image files with saved weights")
    common(predict, batch=False)
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--weights", required=True, help="weights.npz written by train")
    predict.add_argument("--invert", action="store_true",
                         help="invert the pixels (for dark objects on a light background)")
    predict.add_argument("--class-names", default=None, help="comma-separated class names")
    predict.set_defaults(func=cmd_predict, batch_size=None)
    cli_exercise.add_parsers(sub)  # exercise list/start/check, explain
    return parser


def main(argv=None):
    """Entry point of the ``nnscratch`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError, RuntimeError, OSError) as exc:
        if args.verbose:
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
