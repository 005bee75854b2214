"""Traced custom layers, shared layers, nested models and traced losses against Keras on TensorFlow:
the same call() written once with nnscratch (nn.ops) and once with keras.ops, the same weights,
then y, dL/dx and every weight's gradient from tf.GradientTape (float32 and float64)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

import nnscratch as nn
from nnscratch import backend
from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._tf import load_tf

pytestmark = pytest.mark.tf


def make_block(lib, ops):
    """The same custom layer for nnscratch and for Keras: add_weight, a Dense sublayer used
    twice, operators, indexing and ops (matmul, sigmoid, exp, concatenate)."""

    class Block(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(3, activation="tanh")

        def build(self, input_shape):
            self.w = self.add_weight(shape=(3, 3), initializer="glorot_uniform", name="w")
            self.b = self.add_weight(shape=(3,), initializer="zeros", name="b")

        def call(self, x):
            h = self.dense(x)
            g = self.dense(h)
            s = ops.sigmoid(ops.matmul(h, self.w) + self.b) * g - h / 2.0
            return ops.concatenate([s, -s[:, :1] ** 2, ops.exp(h[:, 1:2])], axis=-1)

    return Block


class keras_floatx:
    """Keras's floatx and global dtype policy for the block (its sublayers take their dtype from it;
    Keras caches the default policy at its first use, so floatx alone would not do)."""

    def __init__(self, keras, dtype):
        self.keras, self.dtype = keras, dtype

    def __enter__(self):
        self.old = self.keras.config.floatx(), self.keras.config.dtype_policy()
        self.keras.config.set_floatx(self.dtype)
        self.keras.config.set_dtype_policy(self.dtype)

    def __exit__(self, *exc):
        self.keras.config.set_floatx(self.old[0])
        self.keras.config.set_dtype_policy(self.old[1])


def keras_grads(tf, layer, x, dy):
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = layer(xv)
    grads = tape.gradient(y, [xv] + layer.trainable_weights, output_gradients=tf.constant(dy))
    return y.numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_traced_custom_layer_matches_keras(dtype):
    tf, keras = load_tf()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3)).astype(dtype)
    with backend.floatx_scope(dtype), keras_floatx(keras, dtype):
        ours = make_block(nn, nn.ops)()
        y = ours(x)
        theirs = make_block(keras, keras.ops)()
        theirs(x)
        # same weights: ours lists w, b, dense/kernel, dense/bias; Keras lists its own order by path
        ours_by_name = {"w": ours.params["w"], "b": ours.params["b"],
                        "kernel": ours.dense.params["kernel"], "bias": ours.dense.params["bias"]}
        for v in theirs.trainable_weights:
            v.assign(backend.to_host(ours_by_name[v.path.split("/")[-1]]))
        dy = rng.standard_normal(y.shape).astype(dtype)
        ours(x)
        dx = ours.call_backward(dy)
        y_tf, grads = keras_grads(tf, theirs, x, dy)
    tol = tolerances.LAYER[dtype]
    assert_close("traced Block", f"y {dtype}", y, y_tf, tol)
    assert_close("traced Block", f"dx {dtype}", dx, grads[0], tol)
    ours_grads = {"w": ours.grads["w"], "b": ours.grads["b"],
                  "kernel": ours.dense.grads["kernel"], "bias": ours.dense.grads["bias"]}
    for v, g in zip(theirs.trainable_weights, grads[1:]):
        name = v.path.split("/")[-1]
        assert_close("traced Block", f"d{name} {dtype}", ours_grads[name], g, tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shared_layer_and_nested_model_gradients_match_keras(dtype):
    tf, keras = load_tf()
    rng = np.random.default_rng(1)
    xa, xb = (rng.standard_normal((4, 3)).astype(dtype) for _ in range(2))

    def build(lib):
        a, b = lib.Input((3,)), lib.Input((3,))
        shared = lib.layers.Dense(4, activation="tanh")
        i = lib.Input((4,))
        inner = lib.Model(i, lib.layers.Dense(2)(i))
        out = lib.layers.concatenate([inner(shared(a)), inner(shared(b))])
        return lib.Model([a, b], out), shared, inner

    with backend.floatx_scope(dtype), keras_floatx(keras, dtype):
        ours, o_shared, o_inner = build(nn)
        theirs, t_shared, t_inner = build(keras)
        t_shared.set_weights(o_shared.get_weights())
        t_inner.set_weights(o_inner.get_weights())
        y = ours([xa, xb])
        dy = rng.standard_normal(y.shape).astype(dtype)
        dxa, dxb = ours.backward(dy)
        va, vb = tf.Variable(xa), tf.Variable(xb)
        weights = t_shared.trainable_weights + t_inner.trainable_weights
        with tf.GradientTape() as tape:
            yt = theirs([va, vb])
        g = tape.gradient(yt, [va, vb] + weights, output_gradients=tf.constant(dy))
    tol = tolerances.LAYER[dtype]
    assert_close("shared+nested", "y", y, yt.numpy(), tol)
    assert_close("shared+nested", "dx_a", dxa, g[0].numpy(), tol)
    assert_close("shared+nested", "dx_b", dxb, g[1].numpy(), tol)
    ours_g = [o_shared.grads["kernel"], o_shared.grads["bias"]] + [
        layer.grads[k] for layer in o_inner.layers for k in ("kernel", "bias") if k in layer.grads]
    for i, (mine, theirs_g) in enumerate(zip(ours_g, g[2:])):
        assert_close("shared+nested", f"weight gradient {i}", mine, theirs_g.numpy(), tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_traced_loss_matches_keras_custom_loss(dtype):
    tf, keras = load_tf()
    rng = np.random.default_rng(2)
    yp, yt = (rng.standard_normal((6, 3)).astype(dtype) for _ in range(2))

    def huber_like(ops):
        def loss(y_true, y_pred):
            d = y_pred - y_true
            return ops.mean(ops.sqrt(1.0 + d * d) - 1.0, axis=-1)
        return loss

    with backend.floatx_scope(dtype):
        ours = nn.losses.TracedLoss(huber_like(nn.ops))
        value = ours.forward(yp, yt)
        grad = ours.backward()
    pv = tf.Variable(yp)
    with tf.GradientTape() as tape:
        per = huber_like(keras.ops)(tf.constant(yt), pv)
        total = tf.reduce_sum(per) / tf.cast(tf.size(per), per.dtype)  # Keras's sum_over_batch_size
    g = tape.gradient(total, pv)
    tol = tolerances.LAYER[dtype]
    assert_close("TracedLoss", f"value {dtype}", value, total.numpy(), tol)
    assert_close("TracedLoss", f"dy_pred {dtype}", grad, g.numpy(), tol)
