"""Metrics, function-form losses, sample weights and regularizers against Keras (TF computed
live in each test): values of every metric class, AUC's thresholds and summation methods, the
weighted loss with Keras's sum_over_batch_size, and a regularized model's loss and gradients."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0")

import nnscratch as nn  # noqa: E402
from tests.parity._tf import load_tf  # noqa: E402

pytestmark = pytest.mark.tf
tf, keras = load_tf()

RNG = np.random.default_rng(11)
N, C = 40, 4
Z = RNG.standard_normal((N, C)).astype("float32")
P = (np.exp(Z) / np.exp(Z).sum(1, keepdims=True)).astype("float32")
Y = RNG.integers(0, C, N)
ONEHOT = np.eye(C, dtype="float32")[Y]
YB = RNG.integers(0, 2, (N, 1)).astype("float32")
PB = RNG.random((N, 1)).astype("float32")
W = RNG.random(N).astype("float32")

CASES = [
    ("SparseCategoricalAccuracy", {}, Y, P),
    ("CategoricalAccuracy", {}, ONEHOT, P),
    ("BinaryAccuracy", {}, YB, PB),
    ("BinaryAccuracy", {"threshold": 0.3}, YB, PB),
    ("Accuracy", {}, Y, P.argmax(1)),
    ("TopKCategoricalAccuracy", {"k": 2}, ONEHOT, P),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, Y, P),
    ("MeanSquaredError", {}, ONEHOT, P),
    ("MeanAbsoluteError", {}, ONEHOT, P),
    ("Precision", {}, YB, PB),
    ("Recall", {}, YB, PB),
    ("Precision", {"thresholds": 0.3}, YB, PB),
    ("AUC", {}, YB, PB),
    ("AUC", {"num_thresholds": 17}, YB, PB),
    ("AUC", {"curve": "PR"}, YB, PB),
    ("AUC", {"summation_method": "minoring"}, YB, PB),
    ("AUC", {"summation_method": "majoring", "curve": "PR"}, YB, PB),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs,y,p", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_metric_matches_keras_over_two_batches(name, kwargs, y, p, weighted):
    ours, theirs = getattr(nn.metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for part in (slice(0, 25), slice(25, None)):
        sw = W[part] if weighted else None
        ours.update_state(y[part], p[part], sample_weight=sw)
        theirs.update_state(y[part], p[part], sample_weight=sw)
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), rtol=1e-5, atol=1e-6,
                               err_msg=f"{name}{kwargs}")


@pytest.mark.parametrize("fn,y,p,kw", [
    ("sparse_categorical_crossentropy", Y, P, {}), ("sparse_categorical_crossentropy", Y, Z, {"from_logits": True}),
    ("categorical_crossentropy", ONEHOT, P, {"label_smoothing": 0.1}), ("binary_crossentropy", YB, PB, {}),
    ("mean_squared_error", ONEHOT, P, {}), ("mean_absolute_error", ONEHOT, P, {})])
def test_function_losses_match_keras(fn, y, p, kw):
    ours = getattr(nn.losses, fn)(y, p, **kw)
    theirs = getattr(keras.losses, fn)(y, p, **kw).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", ["sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"])
def test_metric_functions_match_keras(fn):
    y, p = {"sparse_categorical_accuracy": (Y, P), "categorical_accuracy": (ONEHOT, P),
            "binary_accuracy": (YB, PB)}[fn]
    np.testing.assert_allclose(getattr(nn.metrics, fn)(y, p), getattr(keras.metrics, fn)(y, p).numpy(), rtol=1e-6)


def test_sample_weighted_loss_and_gradient_match_keras():
    ours = nn.losses.SparseCategoricalCrossentropy(from_logits=True)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    z = tf.Variable(Z)
    with tf.GradientTape() as tape:
        t = theirs(Y, z, sample_weight=W)
    with ours.weighted(W):
        o = ours.forward(Z, Y)
    np.testing.assert_allclose(float(o), float(t), rtol=1e-6)
    np.testing.assert_allclose(ours.backward(), tape.gradient(t, z).numpy(), rtol=1e-5, atol=1e-8)


def _pair(kreg, breg, areg=None):
    nn.utils.set_random_seed(0)
    ours = nn.Sequential([nn.Input((C,)), nn.layers.Dense(5, activation="relu", kernel_regularizer=kreg[0],
                                                          bias_regularizer=breg[0]),
                          nn.layers.Dense(3, activation="softmax")])
    theirs = keras.Sequential([keras.Input((C,)), keras.layers.Dense(5, activation="relu", kernel_regularizer=kreg[1],
                                                                     bias_regularizer=breg[1]),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=nn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return ours, theirs


@pytest.mark.parametrize("kind", ["l1", "l2", "l1l2"])
def test_regularized_training_matches_keras(kind):
    make = {"l1": lambda m: m.L1(0.02), "l2": lambda m: m.L2(0.03), "l1l2": lambda m: m.L1L2(l1=0.01, l2=0.02)}[kind]
    ours, theirs = _pair((make(nn.regularizers), make(keras.regularizers)),
                         (nn.regularizers.L2(0.05), keras.regularizers.L2(0.05)))
    y = Y % 3
    np.testing.assert_allclose(ours.evaluate(Z, y, verbose=0), theirs.evaluate(Z, y, verbose=0), rtol=1e-5)
    for _ in range(3):
        lo = ours.train_on_batch(Z, y)
        lt = theirs.train_on_batch(Z, y)
    np.testing.assert_allclose(lo, float(lt if np.isscalar(lt) else lt[0] if isinstance(lt, list) else lt), rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_sample_and_class_weight_fit_match_keras():
    ours, theirs = _pair((None, None), (None, None))
    y = Y % 3
    cw = {0: 1.0, 1: 2.5, 2: 0.5}
    h_o = ours.fit(Z, y, batch_size=16, epochs=2, shuffle=False, verbose=0, class_weight=cw).history["loss"]
    h_t = theirs.fit(Z, y, batch_size=16, epochs=2, shuffle=False, verbose=0, class_weight=cw).history["loss"]
    np.testing.assert_allclose(h_o, h_t, rtol=1e-4)
    h_o = ours.fit(Z, y, batch_size=16, epochs=1, shuffle=False, verbose=0, sample_weight=W).history["loss"]
    h_t = theirs.fit(Z, y, batch_size=16, epochs=1, shuffle=False, verbose=0, sample_weight=W).history["loss"]
    np.testing.assert_allclose(h_o, h_t, rtol=1e-4)


def test_activity_regularized_training_matches_keras():
    nn.utils.set_random_seed(0)
    ours = nn.Sequential([nn.Input((C,)), nn.layers.Dense(6, activation="tanh",
                                                          activity_regularizer=nn.regularizers.L1L2(0.02, 0.05)),
                          nn.layers.Dense(2, activity_regularizer=nn.regularizers.L2(0.1))])
    theirs = keras.Sequential([keras.Input((C,)), keras.layers.Dense(6, activation="tanh",
                                                                     activity_regularizer=keras.regularizers.L1L2(0.02, 0.05)),
                               keras.layers.Dense(2, activity_regularizer=keras.regularizers.L2(0.1))])
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=nn.optimizers.SGD(0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    t = RNG.standard_normal((N, 2)).astype("float32")
    np.testing.assert_allclose(ours.evaluate(Z, t, verbose=0), theirs.evaluate(Z, t, verbose=0), rtol=1e-5)
    for _ in range(3):
        lo, lt = ours.train_on_batch(Z, t), theirs.train_on_batch(Z, t)
    np.testing.assert_allclose(lo, float(lt), rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("specs", [
    {"metrics": ["acc", "sparse_categorical_accuracy"]},
    {"metrics": ["accuracy", "accuracy"]},
    {"metrics": ["accuracy"], "weighted_metrics": ["accuracy"]},
    {"metrics": ["function", "top2", "named"]},
], ids=["strings", "repeated", "weighted", "objects"])
def test_history_keys_match_keras(specs):
    def build(lib):
        table = {"function": lib.metrics.sparse_categorical_accuracy,
                 "top2": lib.metrics.SparseTopKCategoricalAccuracy(k=2), "named": lib.metrics.SparseCategoricalAccuracy(name="sca")}
        return {k: [table.get(m, m) for m in v] for k, v in specs.items()}

    ours, theirs = _pair((None, None), (None, None))
    ours.compile(optimizer=nn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", **build(nn))
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", **build(keras))
    y = Y % 3
    h_o = ours.fit(Z, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=W).history
    h_t = theirs.fit(Z, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=W).history
    assert sorted(h_o) == sorted(h_t)
