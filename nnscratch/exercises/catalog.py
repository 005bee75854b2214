"""The exercises: which real layer, activation, loss or optimizer each one is cut from, which
methods (and helper functions) the student writes, and the cases ``check`` grades them on.

Every exercise points at nnscratch's own class; the student file is generated from it
(``template.py``) and graded against it (``grader.py``), so the library's code is the model
solution and the math, the signatures and the shapes cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nnscratch import activations, losses, optimizers
from nnscratch.layers import im2col
from nnscratch.layers.conv import Conv2D
from nnscratch.layers.dense import Dense
from nnscratch.layers.dropout import Dropout
from nnscratch.layers.normalization import BatchNormalization
from nnscratch.layers.pooling import AveragePooling2D, MaxPooling2D


@dataclass(frozen=True)
class Case:
    """One graded configuration: constructor arguments, the input's shape, training mode, and
    how inputs are drawn ('normal'; 'away_from_zero' for ReLU kinks; 'distinct' for max
    pooling without ties; 'wide' (x8) for saturation; 'large' (x1000) for logits that overflow a naive exp)."""

    config: dict
    shape: tuple
    training: bool = False
    inputs: str = "normal"

    def describe(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        mode = ", training=True" if self.training else ""
        extra = "" if self.inputs == "normal" else f", inputs {self.inputs}"
        return f"({args}) on input {self.shape}{mode}{extra}"


@dataclass(frozen=True)
class Exercise:
    """kind: 'layer', 'activation' (an ActivationFunction: __call__ and backward), 'loss' or
    'optimizer' (update_step). ``model``: the small network the training check plugs it in
    ('image' or 'vector'), configured as case ``extra['train_case']`` (default 0).
    ``functions``: module-level helpers the student writes too."""

    name: str
    kind: str
    target: type
    title: str
    methods: tuple
    cases: tuple
    functions: tuple = ()
    model: str = "vector"
    notes: str = ""
    tf_name: str = ""
    extra: dict = field(default_factory=dict)


_IMG = "image"
_VEC = "vector"

EXERCISES = [
    Exercise(
        "dense", "layer", Dense, "Dense: y = f(x @ W + b) and its backward pass",
        ("forward", "backward"),
        (Case({"units": 4}, (3, 5)),
         Case({"units": 3, "activation": "tanh"}, (4, 6)),
         Case({"units": 3, "activation": "sigmoid", "use_bias": False}, (2, 5)),
         Case({"units": 2, "activation": "tanh"}, (2, 3, 4))),
        tf_name="Dense",
        notes="Use self.activation(z) for f and self.activation.backward(dy, y) for f'(z) * dy."),
    Exercise(
        "relu", "activation", activations.ReLU, "ReLU: y = max(x, 0) and dx = dy * relu'(x)",
        ("__call__", "backward"),
        (Case({}, (4, 5), inputs="away_from_zero"), Case({}, (2, 3, 4, 3), inputs="away_from_zero")),
        tf_name="relu"),
    Exercise(
        "sigmoid", "activation", activations.Sigmoid, "Sigmoid: y = 1 / (1 + exp(-x)) and its derivative",
        ("__call__", "backward"),
        (Case({}, (4, 5)), Case({}, (2, 3, 4, 3)), Case({}, (3, 4), inputs="wide")),
        tf_name="sigmoid",
        notes="backward(dy, y) receives the OUTPUT y: write the derivative in terms of y."),
    Exercise(
        "tanh", "activation", activations.Tanh, "Tanh: y = tanh(x) and its derivative",
        ("__call__", "backward"),
        (Case({}, (4, 5)), Case({}, (2, 3, 4, 3))),
        tf_name="tanh",
        notes="backward(dy, y) receives the OUTPUT y: write the derivative in terms of y."),
    Exercise(
        "softmax_cross_entropy", "loss", losses.SparseCategoricalCrossentropy,
        "Softmax + cross-entropy, fused: L = mean(logsumexp(z) - z[y]), dL/dz = (softmax(z) - onehot(y)) / N",
        ("forward_logits", "backward"),
        (Case({"from_logits": True}, (4, 3)), Case({"from_logits": True}, (7, 10)),
         Case({"from_logits": True}, (5, 4), inputs="large")),
        tf_name="SparseCategoricalCrossentropy",
        notes="Only the from_logits=True path is graded: forward(z, y) calls your forward_logits(z, y).\n"
              "backward() takes no argument: it reads self.cache and returns dL/dz (z's shape)."),
    Exercise(
        "dropout", "layer", Dropout, "Dropout (inverted): y = x * mask / (1 - rate) when training",
        ("forward", "backward"),
        (Case({"rate": 0.5, "seed": 3}, (4, 6), training=True),
         Case({"rate": 0.25, "seed": 1}, (2, 4, 4, 3), training=True),
         Case({"rate": 0.5, "seed": 3}, (4, 6), training=False)),
        tf_name="Dropout",
        notes="Draw the mask with self.make_mask(x.shape, x.dtype): it returns mask / (1 - rate)\n"
              "(kept cells 1/(1-rate), dropped 0) from the layer's seeded generator, so the grader\n"
              "can give your layer and the reference the same mask. With training=False the layer is the\n"
              "identity, but forward must still leave a non-empty cache (e.g. {'scaled_mask': None}):\n"
              "backward() refuses to run on an empty one."),
    Exercise(
        "conv2d", "layer", Conv2D, "Conv2D via im2col and col2im (TF's 'same' padding, strides, dilation)",
        ("forward", "backward"),
        (Case({"filters": 3, "kernel_size": 3}, (2, 6, 6, 2)),
         Case({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 6, 6, 3)),
         Case({"filters": 3, "kernel_size": (2, 3), "padding": "same"}, (1, 5, 5, 2)),
         Case({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "data_format": "channels_first"},
              (2, 2, 6, 6)),
         Case({"filters": 2, "kernel_size": 3, "strides": (2, 1), "activation": "tanh"}, (2, 7, 7, 1)),
         Case({"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "activation": "sigmoid"},
              (1, 7, 7, 2))),
        functions=(im2col.same_padding, im2col.im2col, im2col.col2im),
        model=_IMG, tf_name="Conv2D", extra={"train_case": 1},
        notes="Write same_padding, im2col and col2im first (they are graded on their own), then use\n"
              "them in forward and backward. Apply the activation as in Dense: self.activation(z),\n"
              "self.activation.backward(dy, y)."),
    Exercise(
        "max_pooling2d", "layer", MaxPooling2D, "MaxPooling2D: route dy to the first maximum of each window",
        ("forward", "backward"),
        (Case({"pool_size": 2}, (2, 6, 6, 2), inputs="distinct"),
         Case({"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 7, 2), inputs="distinct"),
         Case({"pool_size": 2, "strides": 1, "padding": "same", "data_format": "channels_first"}, (2, 3, 5, 5),
              inputs="distinct"),
         Case({"pool_size": (3, 2), "strides": (1, 2)}, (1, 6, 6, 1), inputs="distinct")),
        functions=(im2col.same_padding,), model=_IMG, tf_name="MaxPooling2D", extra={"train_case": 1}),
    Exercise(
        "average_pooling2d", "layer", AveragePooling2D,
        "AveragePooling2D with TF's 'same' rule (padded cells are not counted)",
        ("forward", "backward"),
        (Case({"pool_size": 2, "strides": 2, "padding": "same"}, (2, 5, 5, 2)),
         Case({"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 6, 2)),
         Case({"pool_size": 2, "strides": 1, "padding": "same", "data_format": "channels_first"}, (1, 2, 4, 4)),
         Case({"pool_size": 2}, (2, 5, 5, 1))),
        functions=(im2col.same_padding,), model=_IMG, tf_name="AveragePooling2D",
        extra={"train_case": 1}),
    Exercise(
        "batch_normalization", "layer", BatchNormalization,
        "BatchNormalization: batch statistics in training, moving statistics in inference",
        ("forward", "backward"),
        (Case({}, (8, 4), training=True),
         Case({"axis": -1}, (4, 3, 3, 2), training=True),
         Case({"axis": 1}, (4, 3, 5), training=True),
         Case({"momentum": 0.9}, (6, 3), training=False)),
        tf_name="BatchNormalization",
        notes="Update self.state['moving_mean'] and self.state['moving_variance'] IN PLACE in training\n"
              "(mm[...] = ...): the grader compares them too."),
    # every float hyperparameter is a short binary fraction: Keras casts them (and keeps the
    # learning rate) through float32, where these are exact, so the TensorFlow parity check
    # can compare float64 updates tightly
    Exercise(
        "sgd", "optimizer", optimizers.SGD, "SGD with (Nesterov) momentum, Keras's form",
        ("update_step",),
        (Case({"learning_rate": 0.125}, ()), Case({"learning_rate": 0.125, "momentum": 0.875}, ()),
         Case({"learning_rate": 0.0625, "momentum": 0.75, "nesterov": True}, ())),
        tf_name="SGD"),
    Exercise(
        "rmsprop", "optimizer", optimizers.RMSprop, "RMSprop, Keras's form (epsilon inside the square root)",
        ("update_step",),
        (Case({"learning_rate": 0.015625, "rho": 0.875}, ()),
         Case({"learning_rate": 0.015625, "rho": 0.875, "epsilon": 0.125}, ()),
         Case({"learning_rate": 0.015625, "rho": 0.75, "momentum": 0.5}, ()),
         Case({"learning_rate": 0.015625, "rho": 0.875, "centered": True}, ())),
        tf_name="RMSprop"),
    Exercise(
        "adam", "optimizer", optimizers.Adam, "Adam, Keras's form (bias correction folded into the step size)",
        ("update_step",),
        (Case({"learning_rate": 0.015625, "beta_1": 0.875, "beta_2": 0.9921875}, ()),
         Case({"learning_rate": 0.015625, "beta_1": 0.875, "beta_2": 0.9921875, "epsilon": 0.125}, ()),
         Case({"learning_rate": 0.015625, "beta_1": 0.75, "beta_2": 0.875, "amsgrad": True}, ())),
        tf_name="Adam",
        notes="The base class increments self.iterations AFTER every update_step of a step:\n"
              "the step number for bias correction is t = self.iterations + 1."),
]

CATALOG = {e.name: e for e in EXERCISES}
ALIASES = {"maxpool": "max_pooling2d", "max_pool2d": "max_pooling2d", "maxpooling2d": "max_pooling2d",
           "avgpool": "average_pooling2d", "avg_pool2d": "average_pooling2d",
           "averagepooling2d": "average_pooling2d", "batchnorm": "batch_normalization",
           "batchnormalization": "batch_normalization", "softmax": "softmax_cross_entropy",
           "cross_entropy": "softmax_cross_entropy", "softmax_crossentropy": "softmax_cross_entropy"}


def get(name) -> Exercise:
    """The Exercise called ``name`` (case-insensitive; 'maxpool', 'batchnorm'... accepted)."""
    key = str(name).lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in CATALOG:
        raise ValueError(f"exercises: unknown exercise {name!r}; choose one of {', '.join(CATALOG)}")
    return CATALOG[key]


def for_class(cls):
    """The Exercise whose target ``cls`` is or subclasses (most specific first), or None."""
    for ex in EXERCISES:
        if isinstance(cls, type) and cls is ex.target:
            return ex
    for ex in EXERCISES:
        if isinstance(cls, type) and issubclass(cls, ex.target):
            return ex
    return None
