"""Loss parity cases: value and dL/dy_pred of every loss and every from_logits setting.

TensorFlow side: ``tape.gradient(keras_loss(y_true, y_pred), y_pred)`` on a plain tensor (so no
cached ``_keras_logits`` is involved: this is the loss called directly on arrays). nnscratch
side: ``loss(y_true, y_pred)`` then ``loss.backward()``.

Input regimes: 'normal' (probabilities from softmax/sigmoid of moderate logits), 'edge'
(probabilities exactly 0 and 1, which the 1e-7 clip must handle, gradient 0 outside it) and
'huge' (logits of magnitude 1e3, which only a max-shifted log-sum-exp survives).
"""
from __future__ import annotations

import itertools

import numpy as np

import nnscratch as nn
from tests.parity._layers import Case
from tests.parity._tf import load_tf

LOSSES = {
    "SparseCategoricalCrossentropy": [dict(from_logits=True), dict(from_logits=False)],
    "CategoricalCrossentropy": [dict(from_logits=True), dict(from_logits=False),
                                dict(from_logits=True, label_smoothing=0.1), dict(from_logits=False, label_smoothing=0.1)],
    "BinaryCrossentropy": [dict(from_logits=True), dict(from_logits=False),
                           dict(from_logits=True, label_smoothing=0.2), dict(from_logits=False, label_smoothing=0.2)],
    "MeanSquaredError": [dict()],
    "MeanAbsoluteError": [dict()],
}


def loss_cases():
    cases = []
    for name, configs in LOSSES.items():
        for cfg in configs:
            logits = cfg.get("from_logits")
            regimes = ["normal", "huge"] if logits else (["normal", "edge"] if logits is False else ["normal", "rank3"])
            for regime, K in itertools.product(regimes, [1, 3] if name == "BinaryCrossentropy" else [5]):
                cases.append(Case(name, {**cfg, "regime": regime, "classes": K, "batch": 32 if K != 1 else 8}))
    return cases


def _data(case, rng, dtype):
    c = case.config
    N, K, regime = c["batch"], c["classes"], c["regime"]
    kind = case.component
    z = rng.standard_normal((N, K)) * 2.0
    if regime == "huge":
        z = rng.choice([-1e3, -3e2, 0.0, 5e2, 1e3], size=(N, K)) + rng.standard_normal((N, K))
    if kind == "SparseCategoricalCrossentropy":
        y = rng.integers(0, K, size=(N,))
    elif kind == "CategoricalCrossentropy":
        y = np.eye(K)[rng.integers(0, K, size=(N,))]
    elif kind == "BinaryCrossentropy":
        y = rng.integers(0, 2, size=(N, K)).astype(float)
    else:
        shape = (N, 4, K) if regime == "rank3" else (N, K)
        return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    if c.get("from_logits"):
        return z.astype(dtype), y.astype(dtype) if y.dtype.kind == "f" else y
    if kind == "BinaryCrossentropy":
        p = 1.0 / (1.0 + np.exp(-z))
        if regime == "edge":  # exact 0 and 1, agreeing and disagreeing with the label
            p[: N // 2] = rng.integers(0, 2, size=(N // 2, K))
    else:
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        if regime == "edge":  # one-hot probability rows, right and wrong, plus a row with exact zeros
            hot = rng.integers(0, K, size=(N // 2,))
            p[: N // 2] = np.eye(K)[hot]
            p[N // 2, :2] = 0.0
            p[N // 2] /= p[N // 2].sum()
    return p.astype(dtype), y.astype(dtype) if y.dtype.kind == "f" else y


def run_loss_case(case, dtype="float32", seed=0):
    """[(quantity, ours, theirs)] for the loss value and its gradient."""
    tf, keras = load_tf()
    rng = np.random.default_rng(seed)
    y_pred, y_true = _data(case, rng, dtype)
    kwargs = {k: v for k, v in case.config.items() if k not in ("regime", "classes", "batch")}
    ours = getattr(nn.losses, case.component)(**kwargs)
    value = ours(y_true, y_pred)
    grad = ours.backward()
    theirs = getattr(keras.losses, case.component)(dtype=dtype, **kwargs)  # Keras losses cast to their dtype
    yp = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        vt = theirs(tf.constant(y_true), yp)
    gt = tape.gradient(vt, yp)
    return [("value", value, vt.numpy()), ("dy_pred", grad, gt.numpy())]


# --------------------------------------------------------------------------- the logits trap
TRAP_CASES = [
    Case("trap:Dense(softmax)+SCCE", dict(loss="sparse_categorical_crossentropy", act="softmax", units=3)),
    Case("trap:Dense(softmax)+CCE", dict(loss="categorical_crossentropy", act="softmax", units=3)),
    Case("trap:Dense(sigmoid)+BCE", dict(loss="binary_crossentropy", act="sigmoid", units=1)),
]


def run_trap_case(case, steps=3):
    """A model whose output is a softmax/sigmoid Dense, compiled with the from_logits=False loss:
    Keras computes its loss from the logits (no 1e-7 clip). Returns quantities for evaluate,
    each train_on_batch loss, the final weights, and the clipped value Keras would NOT give."""
    tf, keras = load_tf()
    c = case.config
    rng = np.random.default_rng(1)
    N, D, U = 8, 4, c["units"]
    x = rng.standard_normal((N, D)).astype("float32")
    W = (rng.standard_normal((D, U)) * 20.0).astype("float32")  # large logits: some true classes ~60 below
    b = np.zeros((U,), "float32")
    z = x @ W
    if U > 1:
        y_int = np.argmin(z, axis=1)  # the true class is the LEAST likely one: log p far below log 1e-7
        y = y_int if c["loss"].startswith("sparse") else np.eye(U, dtype="float32")[y_int]
    else:
        y = (z[:, 0] < 0).astype("float32")[:, None]  # the wrong side of the sigmoid
    km = keras.Sequential([keras.Input((D,)), keras.layers.Dense(U, activation=c["act"])])
    km.set_weights([W, b])
    km.compile(optimizer=keras.optimizers.SGD(0.001), loss=c["loss"])
    nm = nn.Sequential([nn.Input((D,)), nn.layers.Dense(U, activation=c["act"])])
    nm.set_weights([W, b])
    nm.compile(optimizer=nn.optimizers.SGD(0.001), loss=c["loss"])
    out = [("evaluate", nm.evaluate(x, y, batch_size=N, verbose=0), km.evaluate(x, y, batch_size=N, verbose=0))]
    for step in range(steps):
        out.append((f"train_on_batch[{step}]", nm.train_on_batch(x, y), km.train_on_batch(x, y)))
    for i, (a, t) in enumerate(zip(nm.get_weights(), km.get_weights())):
        out.append((f"weight[{i}] after {steps} steps", a, t))
    per_sample = keras.losses.get(c["loss"])(tf.constant(y), tf.constant(km.predict(x, verbose=0)))
    clipped = float(np.mean(per_sample.numpy()))  # the loss on the predicted probabilities: clipped
    return out, clipped
