"""Shared pieces of the command line: its errors, the data it loads, the model it sets up."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

import nnscratch as nn
from nnscratch import datasets, presets
from nnscratch.saving.atomic import atomic_write_bytes


DATASETS = ("fashion_mnist", "mnist", "cifar10", "cifar100", "sample")
PROG = "nnscratch"


class CLIError(Exception):
    """A user-facing error: printed as ``nnscratch: error: <message>``."""


# ----------------------------------------------------------------------------- small helpers
def _atomic_write_text(path, text):
    """Write text to path atomically (the library's atomic writer)."""
    atomic_write_bytes(path, text.encode("utf-8"))


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


# ----------------------------------------------------------------------------- data
def load_dataset(name):
    """((x_train, y_train), (x_test, y_test)), class names and a description of the data used.

    ``fashion_mnist`` uses the full set when it is found (or downloaded) and otherwise the
    sample shipped in the package, so ``nnscratch train`` works on a fresh machine; ``sample``
    asks for the shipped sample directly.
    """
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
        scores = np.asarray(nn.backend.to_host(self.model.predict(x, batch_size=self.batch_size, verbose=0)))
        return nn.activations.softmax(scores) if self.logits else scores  # the library's softmax


def _common(args):
    """Backend and seed: the first thing every command does."""
    if args.backend:
        nn.backend.set_backend(args.backend)
    nn.utils.set_random_seed(args.seed)


def _limit(arrays, n):
    return arrays if n is None else tuple(a[:n] for a in arrays)
