"""The last check: plug the student's class into a small model and train a few steps beside
the same model built with nnscratch's own class, from the same weights, on the same batch
(float64). The losses of every step and all the weights afterwards must agree."""
from __future__ import annotations

import numpy as np

from nnscratch import backend, layers, losses, optimizers
from nnscratch.exercises import runners
from nnscratch.exercises.report import mismatch
from nnscratch.models.sequential import Sequential

STEPS = 3
BATCH = 8
CLASSES = 3


def _model(ex, cls):
    """(model, compile kwargs, input shape) around ``cls`` for the exercise's kind."""
    config = dict(ex.cases[ex.extra.get("train_case", 0)].config)
    loss = losses.SparseCategoricalCrossentropy()
    opt = optimizers.SGD(0.1)
    if ex.kind == "optimizer":
        body = [layers.Dense(6, activation="tanh", input_shape=(5,)), layers.Dense(CLASSES, activation="softmax")]
        opt = cls(**ex.cases[1].config)
        shape = (5,)
    elif ex.kind == "loss":
        body = [layers.Dense(6, activation="tanh", input_shape=(5,)), layers.Dense(CLASSES)]
        loss = cls(**config)
        shape = (5,)
    elif ex.model == "image":
        shape = (8, 8, 2)
        body = [layers.Conv2D(3, 3, padding="same", activation="tanh", input_shape=shape),
                runners.make_layer(ex, cls, config), layers.Flatten(), layers.Dense(CLASSES, activation="softmax")]
    else:
        shape = (5,)
        body = [layers.Dense(6, activation="tanh", input_shape=shape), runners.make_layer(ex, cls, config),
                layers.Dense(CLASSES, activation="softmax")]
    return Sequential(body), dict(optimizer=opt, loss=loss), shape


def _wraps_student(a, b):
    """True for the Activation layer around the student's activation function."""
    return type(getattr(a, "activation", None)) is not type(getattr(b, "activation", None))


def run(ex, cls, check):
    rng = np.random.default_rng(5)
    try:
        with backend.floatx_scope("float64"):
            ref, ref_kw, shape = _model(ex, ex.target)
            stu, stu_kw, _ = _model(ex, cls)
            for m, kw in ((ref, ref_kw), (stu, stu_kw)):
                m.build((None,) + shape)
                m.compile(**kw)
            for a, b in zip(ref.layers, stu.layers):
                a.set_weights([rng.standard_normal(w.shape) * 0.5 if n != "moving_variance" else
                               rng.uniform(0.5, 1.5, w.shape) for n, w in zip(a.weight_names, a.get_weights())])
                b.set_weights(a.get_weights())
            x = rng.standard_normal((BATCH,) + shape)
            y = rng.integers(0, CLASSES, size=BATCH)
            for step in range(1, STEPS + 1):
                want = float(np.ravel(ref.train_on_batch(x, y))[0])
                try:
                    got = float(np.ravel(stu.train_on_batch(x, y))[0])
                except Exception as exc:
                    check.fail(f"step {step}: training raised {type(exc).__name__}: {exc}")
                    return
                bad = mismatch("loss", got, want)
                if bad:
                    check.fail(f"step {step}: the loss differs from the reference model's: {bad}")
                    return
                for i, (a, b) in enumerate(zip(ref.layers, stu.layers)):
                    mine = " (yours)" if type(a) is not type(b) or _wraps_student(a, b) else ""
                    for name, wa, wb in zip(a.weight_names, a.get_weights(), b.get_weights()):
                        bad = mismatch(f"layer {i} {type(a).__name__}{mine} {name}", wb, wa)
                        if bad:
                            check.fail(f"after step {step}: weights differ from the reference model's: {bad}",
                                       "(every layer but yours is nnscratch's: a wrong dx from your layer shows "
                                       "up in the layers before it)")
                            return
    except Exception as exc:
        check.fail(f"building the model raised {type(exc).__name__}: {exc}")
        return
    check.summary = f"{STEPS} steps of {' -> '.join(type(l).__name__ for l in ref.layers)}: same losses and weights"
