"""Shared test helpers: a small Fashion-MNIST idx reader and the four seed programs of issue 2.

The seed programs are written once against a Keras-like module ``K`` so that the same text
runs with ``K = nnscratch`` and with ``K = tf.keras`` (nnscratch's API is Keras 3's). Each
builder returns ``(model, fit_kwargs)``; the caller passes the data.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

FASHION_DIR = os.environ.get("NNSCRATCH_FASHION_DIR", "/usr/share/datasets/fashion-mnist")
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx_gz(path):
    """Read a gzipped idx file (magic 0x0801 labels, 0x0803 images; big-endian sizes)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for an idx header ({len(data)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (header {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} ({int(np.prod(dims))} bytes) but {body.size} bytes follow")
    return body.reshape(dims)


def fashion_mnist_available(root=FASHION_DIR):
    return all(os.path.exists(os.path.join(root, f)) for f in FASHION_FILES.values())


def load_fashion_mnist(root=FASHION_DIR):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays, Keras's load_data() layout."""
    arrays = {k: read_idx_gz(os.path.join(root, f)) for k, f in FASHION_FILES.items()}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


# --------------------------------------------------------------------------- seed programs
def mlp(K):
    """Flatten(28,28) -> Dense(64, relu) -> Dense(128, relu) -> Dense(10) logits;
    Adam, SparseCategoricalCrossentropy(from_logits=True), batch 32."""
    model = K.Sequential([
        K.Input(shape=(28, 28)),
        K.layers.Flatten(),
        K.layers.Dense(64, activation="relu"),
        K.layers.Dense(128, activation="relu"),
        K.layers.Dense(10),
    ])
    model.compile(optimizer=K.optimizers.Adam(),
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model, {"batch_size": 32}


def lenet(K):
    """LeNet with 'same' average pools: Conv2D(6,3) -> AvgPool(2,'same') -> Conv2D(16,3) ->
    AvgPool(2,'same') -> Flatten -> Dense(120) -> Dense(84) -> Dense(10, softmax);
    Adam(1e-3), 'sparse_categorical_crossentropy', batch 64."""
    model = K.Sequential([
        K.Input(shape=(28, 28, 1)),
        K.layers.Conv2D(6, 3, activation="relu"),
        K.layers.AveragePooling2D(2, padding="same"),
        K.layers.Conv2D(16, 3, activation="relu"),
        K.layers.AveragePooling2D(2, padding="same"),
        K.layers.Flatten(),
        K.layers.Dense(120, activation="relu"),
        K.layers.Dense(84, activation="relu"),
        K.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=K.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, {"batch_size": 64}


def dropout_mlp(K):
    """Flatten -> Dense(256, relu) -> Dropout(0.2) -> Dense(128, relu) -> Dropout(0.2) ->
    Dense(10) logits; Adamax(ExponentialDecay(0.01, 2000, 0.9)),
    CategoricalCrossentropy(from_logits=True) on one-hot labels, batch 128, validation_data."""
    schedule = K.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2000, decay_rate=0.9)
    model = K.Sequential([
        K.Input(shape=(28, 28)),
        K.layers.Flatten(),
        K.layers.Dense(256, activation="relu"),
        K.layers.Dropout(0.2),
        K.layers.Dense(128, activation="relu"),
        K.layers.Dropout(0.2),
        K.layers.Dense(10),
    ])
    model.compile(optimizer=K.optimizers.Adamax(schedule),
                  loss=K.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model, {"batch_size": 128, "one_hot": True, "validation": True}


def softmax_regression(K):
    """Dense(10, softmax) on flattened pixels (784); SGD (lr 0.01), batch 32."""
    model = K.Sequential([K.Input(shape=(784,)), K.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=K.optimizers.SGD(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, {"batch_size": 32, "flat": True}


SEED_PROGRAMS = {"mlp": mlp, "lenet": lenet, "dropout_mlp": dropout_mlp, "softmax_regression": softmax_regression}


def prepare(name, x, y, K, num_classes=10):
    """Inputs scaled to [0, 1] float32 in the program's shape, labels (one-hot if needed)."""
    x = x.astype("float32") / 255.0
    if name == "lenet":
        x = x[..., None]
    elif name == "softmax_regression":
        x = x.reshape(len(x), -1)
    if name == "dropout_mlp":
        y = K.utils.to_categorical(y, num_classes)
    return x, y


def run_seed_program(name, K, data, n_train, epochs=1, verbose=0):
    """Train program ``name`` with module ``K`` on the first ``n_train`` images; return the
    test accuracy (model.evaluate on the 10,000 test images)."""
    (x_train, y_train), (x_test, y_test) = data
    model, opts = SEED_PROGRAMS[name](K)
    xtr, ytr = prepare(name, x_train[:n_train], y_train[:n_train], K)
    xte, yte = prepare(name, x_test, y_test, K)
    kwargs = {"batch_size": opts["batch_size"], "epochs": epochs, "verbose": verbose}
    if opts.get("validation"):
        kwargs["validation_data"] = (xte, yte)
    history = model.fit(xtr, ytr, **kwargs)
    loss, acc = model.evaluate(xte, yte, batch_size=256, verbose=0)
    return float(acc), history
