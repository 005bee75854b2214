"""Parity cases for the layers that do not fit the single-input, kernel/bias runner of
``_layers.py``: BatchNormalization (training and inference, moving statistics) and the merge
layers (Add, Subtract, Multiply, Average, Concatenate: a list of inputs, a list of dx)."""
from __future__ import annotations

import numpy as np

import nnscratch as nn
from tests.parity._layers import Case
from tests.parity._tf import load_tf


def batchnorm_cases():
    cases = []
    for training in (True, False):
        for shape, axis in [((32, 6), -1), ((4, 5, 3, 2), -1), ((4, 3, 5, 2), 1)]:
            cases.append(Case("BatchNormalization", dict(training=training, shape=shape, axis=axis,
                                                         momentum=0.99, epsilon=1e-3)))
    cases.append(Case("BatchNormalization", dict(training=True, shape=(8, 4), axis=-1, momentum=0.5, epsilon=0.25)))
    return cases


def run_batchnorm_case(case, dtype="float32", seed=0):
    """y, dx, dgamma, dbeta, then the moving statistics after that one forward pass."""
    tf, keras = load_tf()
    c = case.config
    rng = np.random.default_rng(seed)
    x = (3.0 * rng.standard_normal(c["shape"]) + 1.5).astype(dtype)
    kw = dict(axis=c["axis"], momentum=c["momentum"], epsilon=c["epsilon"])
    ours = nn.layers.BatchNormalization(dtype=dtype, **kw)
    theirs = keras.layers.BatchNormalization(dtype=dtype, **kw)
    ours.build((None,) + tuple(c["shape"][1:]))
    theirs.build((None,) + tuple(c["shape"][1:]))
    C = c["shape"][c["axis"]]
    weights = [rng.uniform(0.5, 2.0, C), rng.standard_normal(C), rng.standard_normal(C), rng.uniform(0.5, 2.0, C)]
    weights = [w.astype(dtype) for w in weights]  # gamma, beta, moving_mean, moving_variance (Keras order)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    y = ours(x, training=c["training"])
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = ours.call_backward(dy)
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        yt = theirs(xt, training=c["training"])
    g = tape.gradient(yt, [xt, theirs.gamma, theirs.beta], output_gradients=tf.constant(dy))
    return [("y", y, yt.numpy()), ("dx", dx, g[0].numpy()), ("dgamma", ours.grads["gamma"], g[1].numpy()),
            ("dbeta", ours.grads["beta"], g[2].numpy()),
            ("moving_mean", ours.state["moving_mean"], theirs.moving_mean.numpy()),
            ("moving_variance", ours.state["moving_variance"], theirs.moving_variance.numpy())]


def merge_cases():
    cases = [Case(kind, dict(n_inputs=n)) for kind in ("Add", "Multiply", "Average", "Maximum", "Minimum")
             for n in (2, 3)]
    cases.append(Case("Subtract", dict(n_inputs=2)))
    cases += [Case("Concatenate", dict(n_inputs=n, axis=axis)) for n, axis in [(2, -1), (3, 1)]]
    return cases


def run_merge_case(case, dtype="float32", seed=0):
    """y, then dL/d(input i) for every input."""
    tf, keras = load_tf()
    c = dict(case.config)
    n = c.pop("n_inputs")
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((4, 3, 5)).astype(dtype) for _ in range(n)]
    ours = getattr(nn.layers, case.component)(dtype=dtype, **c)
    theirs = getattr(keras.layers, case.component)(dtype=dtype, **c)
    y = ours(xs)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dxs = ours.backward(dy)
    vs = [tf.Variable(x) for x in xs]
    with tf.GradientTape() as tape:
        yt = theirs(vs)
    g = tape.gradient(yt, vs, output_gradients=tf.constant(dy))
    return [("y", y, yt.numpy())] + [(f"dx[{i}]", dxs[i], g[i].numpy()) for i in range(n)]
