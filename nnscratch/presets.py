"""The four seed programs as ready-made models, for ``nnscratch train --model NAME``.

Each preset is a function ``preset(input_shape=(28, 28, 1), num_classes=10)`` returning
``(model, compile_kwargs, batch_size)``: an uncompiled ``Sequential``, the keyword arguments of
its ``compile`` call and the batch size its original program used. They are written exactly as
the Keras programs they come from, so each one is also a small example::

    model, compile_kwargs, batch_size = presets.lenet()
    model.compile(**compile_kwargs)
    model.fit(x_train, y_train, batch_size=batch_size, epochs=1)

``input_shape`` is one image ``(H, W, C)``: ``(28, 28, 1)`` for (Fashion-)MNIST,
``(32, 32, 3)`` for CIFAR. Each preset also declares how images must be laid out for it
(:data:`LAYOUTS`) and whether it trains on one-hot labels (:data:`ONE_HOT`);
:func:`prepare_images` and :func:`prepare_labels` turn dataset arrays into model inputs.
"""
from __future__ import annotations

import math

import numpy as np

import nnscratch as nn


def _grid_shape(input_shape):
    """(H, W) for one-channel images, (H, W, C) otherwise: what ``Flatten`` sees in the MLPs."""
    h, w, c = input_shape
    return (h, w) if c == 1 else (h, w, c)


def mlp(input_shape=(28, 28, 1), num_classes=10):
    """Flatten -> Dense(128, relu) -> Dense(classes) logits; Adam; sparse CE from logits; batch 32."""
    model = nn.Sequential([
        nn.layers.Flatten(input_shape=_grid_shape(input_shape)),
        nn.layers.Dense(128, activation="relu"),
        nn.layers.Dense(num_classes),
    ])
    compile_kwargs = dict(
        optimizer=nn.optimizers.Adam(),
        loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model, compile_kwargs, 32


def lenet(input_shape=(28, 28, 1), num_classes=10):
    """LeNet-5 with ReLU and average pooling: conv 6@3x3 -> pool -> conv 16@3x3 -> pool -> 120 -> 84
    -> softmax; Adam(1e-3); 'sparse_categorical_crossentropy'; batch 64."""
    model = nn.Sequential([
        nn.layers.Conv2D(6, 3, padding="valid", activation="relu", input_shape=tuple(input_shape)),
        nn.layers.AveragePooling2D(2, strides=2, padding="same"),
        nn.layers.Conv2D(16, 3, activation="relu"),
        nn.layers.AveragePooling2D(2, strides=2, padding="same"),
        nn.layers.Flatten(),
        nn.layers.Dense(120, activation="relu"),
        nn.layers.Dense(84, activation="relu"),
        nn.layers.Dense(num_classes, activation="softmax"),
    ])
    compile_kwargs = dict(
        optimizer=nn.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model, compile_kwargs, 64


def dropout_mlp(input_shape=(28, 28, 1), num_classes=10):
    """Flatten -> 128 relu -> 128 relu -> Dropout(0.25) -> logits; Adamax with an exponentially
    decaying learning rate; categorical CE from logits on one-hot labels; batch 128."""
    model = nn.Sequential([
        nn.layers.Flatten(input_shape=_grid_shape(input_shape)),
        nn.layers.Dense(128, activation="relu"),
        nn.layers.Dense(128, activation="relu"),
        nn.layers.Dropout(0.25),
        nn.layers.Dense(num_classes),
    ])
    schedule = nn.optimizers.schedules.ExponentialDecay(0.01, 2000, 0.9)
    compile_kwargs = dict(
        optimizer=nn.optimizers.Adamax(learning_rate=schedule),
        loss=nn.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model, compile_kwargs, 128


def softmax_regression(input_shape=(28, 28, 1), num_classes=10):
    """Multinomial logistic regression: Dense(classes, softmax) on the flattened pixels; SGD;
    'sparse_categorical_crossentropy'; batch 32."""
    pixels = math.prod(input_shape)
    model = nn.Sequential([
        nn.layers.Dense(num_classes, activation="softmax", input_shape=(pixels,)),
    ])
    compile_kwargs = dict(
        optimizer=nn.optimizers.SGD(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model, compile_kwargs, 32


PRESETS = {
    "lenet": lenet,
    "mlp": mlp,
    "softmax-regression": softmax_regression,
    "dropout-mlp": dropout_mlp,
}

#: how each preset wants its images: 'image' (N, H, W, C), 'grid' (N, H, W) for one channel
#: or (N, H, W, C) for colour, 'flat' (N, H*W*C).
LAYOUTS = {"lenet": "image", "mlp": "grid", "dropout-mlp": "grid", "softmax-regression": "flat"}

#: presets trained on one-hot labels (CategoricalCrossentropy) instead of integer labels
ONE_HOT = {"dropout-mlp"}

#: presets whose last layer outputs logits (a softmax turns them into probabilities)
LOGITS = {"mlp", "dropout-mlp"}


def get(name):
    """The preset function called ``name`` or a ValueError listing the valid names."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)} "
                         "or give a Python file defining build_model()")
    return PRESETS[name]


def prepare_images(x, layout="image"):
    """uint8 images (N, H, W) or (N, H, W, C) -> float32 in [0, 1] in the preset's layout."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W) or (N, H, W, C), got {x.shape}")
    x = x.astype(np.float32)
    if x.size and x.max() > 1.0:
        x /= 255.0
    if layout == "image":
        return x
    if layout == "grid":
        return x[..., 0] if x.shape[-1] == 1 else x
    if layout == "flat":
        return x.reshape(len(x), -1)
    raise ValueError(f"unknown image layout {layout!r}; expected 'image', 'grid' or 'flat'")


def prepare_labels(y, one_hot=False, num_classes=10):
    """Integer labels (N,) or (N, 1) -> int64 (N,), or float32 one-hot (N, classes)."""
    y = np.asarray(y).reshape(-1).astype(np.int64)
    return nn.utils.to_categorical(y, num_classes).astype(np.float32) if one_hot else y
