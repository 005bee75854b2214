"""TensorFlow parity for ``check``: the student's class against real Keras (float64), case by
case. Imported only when TensorFlow is wanted; sets ``TF_ENABLE_ONEDNN_OPTS=0`` before the
first import (TensorFlow's oneDNN kernels are wrong in places).

Keras's CPU Conv2D refuses channels_first, so channels_first cases run Keras on the transposed
(NHWC) arrays and transpose back. Dropout draws its own masks in Keras, so only its
inference cases are compared.
"""
from __future__ import annotations

import os

import numpy as np

from nnscratch.exercises import runners
from nnscratch.exercises.report import mismatch

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _tf():
    import tensorflow as tf

    return tf


def _keras_layer(tf, ex, config):
    cfg = dict(config)
    cfg.pop("data_format", None)
    return getattr(tf.keras.layers, ex.tf_name)(dtype="float64", **cfg)


def _layer_case(tf, ex, data):
    """{quantity: array} from Keras for one layer/activation case."""
    cf = data.case.config.get("data_format") == "channels_first"
    to_last = (lambda a: np.transpose(a, (0, 2, 3, 1))) if cf else (lambda a: a)
    to_first = (lambda a: np.transpose(a, (0, 3, 1, 2))) if cf else (lambda a: a)
    x = tf.Variable(to_last(data.x))
    dy = tf.constant(to_last(data.dy))
    if ex.kind == "activation":
        fn = tf.keras.activations.get(ex.tf_name)
        with tf.GradientTape() as tape:
            y = fn(x)
        return {"y": y.numpy(), "dx": tape.gradient(y, x, output_gradients=dy).numpy()}
    layer = _keras_layer(tf, ex, data.case.config)
    layer.build(x.shape)
    if data.weights:
        layer.set_weights(data.weights)
    with tf.GradientTape() as tape:
        y = layer(x, training=data.case.training)
    grads = tape.gradient(y, [x] + list(layer.trainable_weights), output_gradients=dy)
    out = {"y": to_first(y.numpy()), "dx": to_first(grads[0].numpy())}
    for v, g in zip(layer.trainable_weights, grads[1:]):
        out["d" + v.name.split("/")[-1].split(":")[0]] = g.numpy()
    for v in layer.non_trainable_weights:
        out[v.name.split("/")[-1].split(":")[0]] = v.numpy()
    return out


def _loss_case(tf, ex, data):
    z = tf.Variable(data.x)
    loss_fn = getattr(tf.keras.losses, ex.tf_name)(dtype="float64", **data.case.config)
    with tf.GradientTape() as tape:
        loss = loss_fn(tf.constant(data.labels), z)
    return {"loss": loss.numpy(), "dz": tape.gradient(loss, z).numpy()}


def _optimizer_case(tf, ex, data):
    opt = getattr(tf.keras.optimizers, ex.tf_name)(**data.case.config)
    variables = {k: tf.Variable(v.copy(), name=k) for k, v in data.params.items()}
    out = {}
    for step, grads in enumerate(data.grads, start=1):
        opt.apply_gradients([(tf.constant(grads[k]), variables[k]) for k in variables])
        for k, v in variables.items():
            out[f"step{step}/{k}"] = v.numpy()
    return out


def run(ex, cls, check, required=False):
    """Fill ``check``; when TensorFlow does not import it is skipped, or failed if ``required``."""
    try:
        tf = _tf()
    except Exception as exc:  # missing, or installed but broken
        reason = f"TensorFlow did not import: {type(exc).__name__}: {exc}"
        check.fail(reason) if required else check.skip(reason)
        return
    compared = 0
    for i, case in enumerate(ex.cases):
        if ex.name == "dropout" and case.training:
            continue  # Keras draws its own mask: nothing to compare element by element
        data = runners.CaseData(ex, case, i)
        label = f"case {i + 1} of {len(ex.cases)}: {ex.target.__name__}{case.describe()} vs tf.keras.{ex.tf_name}:"
        try:
            if ex.kind == "optimizer":
                theirs = _optimizer_case(tf, ex, data)
            elif ex.kind == "loss":
                theirs = _loss_case(tf, ex, data)
            else:
                theirs = _layer_case(tf, ex, data)
        except Exception as exc:
            check.fail(label, f"running TensorFlow raised {type(exc).__name__}: {str(exc).splitlines()[0]}")
            return
        ours = runners.run(ex, cls, data)
        if "_error" in ours:
            phase, exc = ours["_error"]
            check.fail(label, f"{phase} raised {type(exc).__name__}: {exc}")
            return
        for name, want in theirs.items():
            if name not in ours:
                continue  # e.g. a slot Keras names differently
            bad = mismatch(name, ours[name], want)
            if bad:
                check.fail(label, bad + " (expected = TensorFlow)")
                return
        compared += 1
    check.summary = f"{compared} cases against tf.keras.{ex.tf_name} {getattr(_tf(), '__version__', '')}".rstrip()
