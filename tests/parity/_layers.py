"""Layer parity cases: the same layer in nnscratch and Keras, the same weights, input and dy.

``run_layer_case(case, dtype)`` returns ``[(quantity, ours, theirs, reference), ...]`` for the
forward output ``y``, the input gradient ``dx`` and every parameter gradient, in that order (the
first that diverges is the one to look at). ``reference`` computes the same quantity with the loop
kernels of ``nnscratch.debug.reference`` (Conv2D with a linear activation, MaxPooling2D,
AveragePooling2D), or is None; ``assert_close`` calls it only to break a disagreement. Keras is always channels_last on the CPU (its Conv2D
refuses NCHW there), so a channels_first nnscratch layer is compared through transposes.

A case is a ``Case(component, config)`` where ``config`` is a plain dict; ``FAST`` holds the
representative subset that runs by default and ``FULL`` the whole grid (``--full``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

import nnscratch as nn
from nnscratch.debug import reference as loops
from tests.parity._tf import load_tf

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "softplus"]


@dataclass
class Case:
    component: str
    config: dict = field(default_factory=dict)

    @property
    def id(self):
        return f"{self.component}[" + ",".join(f"{k}={_short(v)}" for k, v in self.config.items()) + "]"

    def __str__(self):
        return self.id


def _short(v):
    if isinstance(v, tuple):
        return "x".join(str(i) for i in v)
    return str(v)


# --------------------------------------------------------------------------- grids
def _conv_grid():
    kernels = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (2, 3), (3, 1), (1, 4), (5, 2)]
    strides = [(1, 1), (2, 2), (3, 3), (1, 2), (3, 2)]
    inputs = [(7, 7), (8, 8), (7, 10), (9, 6)]
    for k, s, pad, hw, df in itertools.product(kernels, strides, ["valid", "same"], inputs,
                                               ["channels_last", "channels_first"]):
        if pad == "valid" and (k[0] > hw[0] or k[1] > hw[1]):
            continue
        batch = 32 if (k[0] + s[0] + hw[0]) % 3 == 0 else 1
        yield Case("Conv2D", dict(kernel=k, strides=s, padding=pad, input=hw, data_format=df, batch=batch,
                                  activation="linear", dilation=(1, 1)))
    for act in ACTIVATIONS:
        yield Case("Conv2D", dict(kernel=(3, 3), strides=(1, 1), padding="same", input=(6, 6),
                                  data_format="channels_last", batch=4, activation=act, dilation=(1, 1)))
    for d in [(2, 2), (2, 1), (1, 3)]:
        for pad in ["valid", "same"]:
            yield Case("Conv2D", dict(kernel=(3, 2), strides=(1, 1), padding=pad, input=(9, 8),
                                      data_format="channels_last", batch=2, activation="linear", dilation=d))


CONV_FAST = [
    # 16 and 20 input channels, 3x3, stride 1: the fast tier's Winograd path (kernels/fast_winograd.py)
    dict(kernel=(3, 3), strides=(1, 1), padding="same", input=(7, 10), data_format="channels_last", batch=4, channels=16),
    dict(kernel=(3, 3), strides=(1, 1), padding="valid", input=(9, 6), data_format="channels_first", batch=3, channels=20),
    dict(kernel=(3, 3), strides=(1, 1), padding="valid", input=(8, 8), data_format="channels_last", batch=32),
    dict(kernel=(2, 2), strides=(1, 1), padding="same", input=(6, 6), data_format="channels_last", batch=1),
    dict(kernel=(4, 4), strides=(2, 2), padding="same", input=(7, 7), data_format="channels_last", batch=1),
    dict(kernel=(3, 3), strides=(2, 2), padding="same", input=(6, 6), data_format="channels_first", batch=32),
    dict(kernel=(5, 2), strides=(3, 2), padding="same", input=(7, 10), data_format="channels_last", batch=1),
    dict(kernel=(2, 3), strides=(1, 2), padding="valid", input=(9, 6), data_format="channels_first", batch=1),
    dict(kernel=(1, 4), strides=(3, 3), padding="same", input=(8, 8), data_format="channels_last", batch=1),
    dict(kernel=(5, 5), strides=(1, 1), padding="same", input=(7, 10), data_format="channels_first", batch=1),
    dict(kernel=(3, 3), strides=(3, 3), padding="same", input=(8, 8), data_format="channels_last", batch=32,
         activation="relu"),
    dict(kernel=(3, 2), strides=(1, 1), padding="same", input=(9, 8), data_format="channels_last", batch=2,
         dilation=(2, 2)),
]


def _pool_grid():
    pools = [(2, 2), (3, 3), (2, 3), (3, 1)]
    strides = [None, (1, 1), (2, 2), (3, 2)]
    inputs = [(6, 6), (7, 7), (5, 8)]
    for kind, p, s, pad, hw, df in itertools.product(["MaxPooling2D", "AveragePooling2D"], pools, strides,
                                                     ["valid", "same"], inputs, ["channels_last", "channels_first"]):
        batch = 32 if (p[0] + hw[1]) % 4 == 0 else 1
        yield Case(kind, dict(pool=p, strides=s, padding=pad, input=hw, data_format=df, batch=batch, ties=False))
    for kind, pad in itertools.product(["MaxPooling2D"], ["valid", "same"]):
        for p, s in [((2, 2), None), ((3, 3), (1, 1)), ((2, 3), (1, 2))]:
            yield Case(kind, dict(pool=p, strides=s, padding=pad, input=(7, 7), data_format="channels_last",
                                  batch=4, ties=True))


POOL_FAST = [
    ("MaxPooling2D", dict(pool=(2, 2), strides=None, padding="valid", input=(6, 6), data_format="channels_last", batch=32)),
    ("MaxPooling2D", dict(pool=(3, 3), strides=(2, 2), padding="same", input=(7, 7), data_format="channels_first", batch=1)),
    ("MaxPooling2D", dict(pool=(2, 3), strides=None, padding="same", input=(5, 8), data_format="channels_last", batch=1)),
    ("MaxPooling2D", dict(pool=(3, 3), strides=(1, 1), padding="same", input=(7, 7), data_format="channels_last", batch=4,
                          ties=True)),
    ("MaxPooling2D", dict(pool=(2, 2), strides=None, padding="same", input=(7, 7), data_format="channels_last", batch=4,
                          ties=True)),
    ("AveragePooling2D", dict(pool=(2, 2), strides=None, padding="valid", input=(6, 6), data_format="channels_last", batch=32)),
    ("AveragePooling2D", dict(pool=(2, 2), strides=None, padding="same", input=(7, 7), data_format="channels_last", batch=1)),
    ("AveragePooling2D", dict(pool=(3, 3), strides=(2, 2), padding="same", input=(6, 6), data_format="channels_first", batch=1)),
    ("AveragePooling2D", dict(pool=(2, 3), strides=(3, 2), padding="valid", input=(5, 8), data_format="channels_last", batch=1)),
]


def _dense_grid():
    for act, batch, rank3 in itertools.product(ACTIVATIONS, [1, 32], [False, True]):
        yield Case("Dense", dict(activation=act, batch=batch, rank3=rank3))


def _activation_grid():
    for name in ACTIVATIONS:
        yield Case("Activation", dict(activation=name))
    yield Case("ReLU", dict())
    yield Case("ReLU", dict(max_value=6.0, negative_slope=0.1, threshold=0.5))
    yield Case("LeakyReLU", dict())
    yield Case("LeakyReLU", dict(negative_slope=0.25))
    yield Case("Softmax", dict())
    yield Case("Softmax", dict(axis=1))
    for df, rank in [("channels_last", 4), ("channels_first", 4), ("channels_last", 3)]:
        yield Case("Flatten", dict(data_format=df, rank=rank))
    for rate, batch in [(0.25, 32), (0.5, 1), (0.0, 4)]:
        yield Case("Dropout", dict(rate=rate, batch=batch))
    for kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        for df, keepdims in [("channels_last", False), ("channels_first", True)]:
            yield Case(kind, dict(data_format=df, keepdims=keepdims, ties=False))
    yield Case("GlobalMaxPooling2D", dict(data_format="channels_last", keepdims=False, ties=True))
    yield Case("Reshape", dict(target_shape=(5, -1)))
    yield Case("Reshape", dict(target_shape=(2, 3, 5)))
    for pad, df in [(1, "channels_last"), ((2, 1), "channels_first"), (((1, 2), (0, 3)), "channels_last")]:
        yield Case("ZeroPadding2D", dict(padding=pad, data_format=df))


# Seen wrong in TensorFlow 2.21's oneDNN kernels (input gradient; heap corruption): 1x1 kernel,
# strides (1, 3), 'same', input (3, 13, 12, 4). Runs by default, with its loop reference.
ONEDNN_CASE = dict(kernel=(1, 1), strides=(1, 3), padding="same", input=(13, 12), data_format="channels_last",
                   batch=3, channels=4)


def _fill(kind, cfg):
    defaults = {"Conv2D": dict(activation="linear", dilation=(1, 1))}.get(kind, {})
    if kind.endswith("Pooling2D"):
        defaults = dict(ties=False)
    return {**defaults, **cfg}


def full_cases():
    cases = list(_conv_grid()) + [Case("Conv2D", _fill("Conv2D", ONEDNN_CASE))]
    cases += list(_pool_grid()) + list(_dense_grid()) + list(_activation_grid())
    return cases


def fast_cases():
    cases = [Case("Conv2D", _fill("Conv2D", c)) for c in CONV_FAST + [ONEDNN_CASE]]
    cases += [Case(k, _fill(k, c)) for k, c in POOL_FAST]
    cases += [Case("Dense", dict(activation=a, batch=32 if i % 2 else 1, rank3=(a == "relu")))
              for i, a in enumerate(ACTIVATIONS)]
    cases += list(_activation_grid())
    return cases


# --------------------------------------------------------------------------- building
def _inputs(case, rng, dtype):
    c = case.config
    if case.component.startswith("Global") or case.component in ("ZeroPadding2D", "Reshape"):
        if c.get("ties"):
            return rng.integers(-1, 2, size=(4, 3, 5, 2)).astype(dtype)  # several positions share the max
        return rng.standard_normal((4, 3, 5, 2)).astype(dtype)
    if case.component in ("Conv2D",) or case.component.endswith("Pooling2D"):
        H, W = c["input"]
        C = c.get("channels", 3 if case.component == "Conv2D" else 2)
        shape = (c["batch"], H, W, C) if c["data_format"] == "channels_last" else (c["batch"], C, H, W)
        if c.get("ties"):
            return rng.integers(-2, 3, size=shape).astype(dtype)  # many equal values per window
        return rng.standard_normal(shape).astype(dtype)
    if case.component == "Dense":
        shape = (c["batch"], 3, 5) if c["rank3"] else (c["batch"], 5)
        return rng.standard_normal(shape).astype(dtype)
    if case.component == "Flatten":
        return rng.standard_normal((4, 3, 5, 2)[: c["rank"]]).astype(dtype)
    if case.component == "Dropout":
        return rng.standard_normal((c["batch"], 40)).astype(dtype)
    return (2.0 * rng.standard_normal((6, 4, 7))).astype(dtype)  # activations: rank 3, values spread


def _make(case, keras, dtype):
    """(nnscratch layer, Keras layer) for the case, both in ``dtype``."""
    c, kind = case.config, case.component
    if kind.startswith("Global") or kind == "ZeroPadding2D":
        kw = {k: v for k, v in c.items() if k != "ties"}
        return getattr(nn.layers, kind)(dtype=dtype, **kw), getattr(keras.layers, kind)(dtype=dtype, **kw)
    if kind == "Conv2D":
        kw = dict(filters=4, kernel_size=c["kernel"], strides=c["strides"], padding=c["padding"],
                  dilation_rate=c["dilation"], activation=c["activation"], bias_initializer="glorot_uniform")
        return (nn.layers.Conv2D(data_format=c["data_format"], dtype=dtype, **kw),
                keras.layers.Conv2D(dtype=dtype, **kw))
    if kind.endswith("Pooling2D"):
        kw = dict(pool_size=c["pool"], strides=c["strides"], padding=c["padding"])
        return (getattr(nn.layers, kind)(data_format=c["data_format"], dtype=dtype, **kw),
                getattr(keras.layers, kind)(dtype=dtype, **kw))
    if kind == "Dense":
        kw = dict(units=6, activation=c["activation"], bias_initializer="glorot_uniform")
        return nn.layers.Dense(dtype=dtype, **kw), keras.layers.Dense(dtype=dtype, **kw)
    if kind == "Activation":
        return nn.layers.Activation(c["activation"], dtype=dtype), keras.layers.Activation(c["activation"], dtype=dtype)
    if kind in ("ReLU", "LeakyReLU", "Softmax"):
        return getattr(nn.layers, kind)(dtype=dtype, **c), getattr(keras.layers, kind)(dtype=dtype, **c)
    if kind == "Flatten":
        return nn.layers.Flatten(data_format=c["data_format"], dtype=dtype), keras.layers.Flatten(dtype=dtype)
    if kind == "Reshape":
        return nn.layers.Reshape(c["target_shape"], dtype=dtype), keras.layers.Reshape(c["target_shape"], dtype=dtype)
    if kind == "Dropout":
        # Keras's mask cannot be reproduced: its side is x * mask, written by hand (mask injected in ours)
        return nn.layers.Dropout(c["rate"], dtype=dtype), None
    raise ValueError(f"no parity case builder for {kind!r}")


def float64_skip_reason(case):
    """Why a case is not compared in float64, or None. Keras stores a LeakyReLU slope (and the
    leaky_relu activation's 0.2) as a float32 constant even in a float64 layer, so a slope not
    representable in float32 (0.3, 0.2) differs from ours by ~1e-8 relative: a Keras rounding
    choice, not a formula. Representable slopes (0.25) are compared in float64."""
    c = case.config
    if case.component == "LeakyReLU" and c.get("negative_slope", 0.3) != 0.25:
        return "Keras rounds the LeakyReLU slope to float32 even in float64"
    if c.get("activation") == "leaky_relu":
        return "Keras rounds the leaky_relu slope 0.2 to float32 even in float64"
    return None


def _loop_references(case, x, dy, weights):
    """{quantity: function computing it with the loop kernels, in float64} for the quantities
    of ``case`` that ``nnscratch.debug.reference`` covers (NHWC inside, the case's layout outside)."""
    c, kind = case.config, case.component
    if kind not in ("Conv2D", "MaxPooling2D", "AveragePooling2D") or c.get("activation", "linear") != "linear":
        return {}
    cf = c["data_format"] == "channels_first"
    nhwc = (lambda a: np.ascontiguousarray(np.asarray(a, np.float64).transpose(0, 2, 3, 1))) if cf else \
        (lambda a: np.asarray(a, np.float64))  # noqa: E731
    back = (lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2))) if cf else (lambda a: a)  # noqa: E731
    xh, dyh = nhwc(x), nhwc(dy)
    if kind == "Conv2D":
        kernel, bias = (np.asarray(w, np.float64) for w in weights)
        kw = dict(strides=c["strides"], padding=c["padding"], dilation_rate=c["dilation"])
        grads = {}

        def grad(i):
            if not grads:
                grads["all"] = loops.conv2d_naive_backward(dyh, xh, kernel, **kw)
            return grads["all"][i]

        return {"y": lambda: back(loops.conv2d_naive(xh, kernel, bias, **kw)), "dx": lambda: back(grad(0)),
                "dkernel": lambda: grad(1), "dbias": lambda: grad(2)}
    kw = dict(pool_size=c["pool"], strides=c["strides"], padding=c["padding"])
    forward, backward = ((loops.maxpool_naive, loops.maxpool_naive_backward) if kind == "MaxPooling2D"
                         else (loops.avgpool_naive, loops.avgpool_naive_backward))
    return {"y": lambda: back(forward(xh, **kw)), "dx": lambda: back(backward(dyh, xh, **kw))}


def run_layer_case(case, dtype="float32", seed=0):
    """[(quantity, ours, theirs, reference)] for y, dx and each parameter gradient of ``case``."""
    tf, keras = load_tf()
    rng = np.random.default_rng(seed)
    x = _inputs(case, rng, dtype)
    ours, theirs = _make(case, keras, dtype)
    to_tf = from_tf = lambda a: a  # noqa: E731
    native = case.component.startswith("Global") or case.component == "ZeroPadding2D"  # Keras runs NCHW itself
    cf = case.config.get("data_format") == "channels_first" and x.ndim == 4 and not native
    if cf and case.component != "Flatten":
        to_tf = lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1))  # noqa: E731  NCHW -> NHWC
        from_tf = lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2))  # noqa: E731
    if case.component == "Flatten" and cf:
        to_tf = lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1))  # noqa: E731  Keras flattens (h, w, c)
        from_tf = lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2))  # noqa: E731

    if case.component == "Dropout":
        rate = case.config["rate"]
        keep = rng.random(x.shape) >= rate
        mask = (keep / (1.0 - rate)).astype(dtype)
        y = ours(x, training=True) if rate == 0 else None
        y = ours.forward(x, training=True, mask=mask) if rate > 0 else y
        ours._last_y_shape = y.shape
    else:
        y = ours(x)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = ours.call_backward(dy)
    our_grads = {k: np.array(v) for k, v in ours.grads.items()}

    xt = tf.Variable(to_tf(x))
    with tf.GradientTape() as tape:
        if theirs is None:
            yt = xt * tf.constant(to_tf(mask) if case.component == "Dropout" and rate > 0 else np.ones_like(x))
        else:
            theirs.build(tuple(xt.shape))
            if ours.params:
                theirs.set_weights(ours.get_weights())
            yt = theirs(xt)
    tvars = list(theirs.trainable_variables) if theirs is not None else []
    dyt = dy if case.component == "Flatten" else to_tf(dy)
    g = tape.gradient(yt, [xt, *tvars], output_gradients=tf.constant(dyt))
    refs = _loop_references(case, x, dy, ours.get_weights() if ours.params else [])
    out = [("y", y, yt.numpy() if case.component == "Flatten" else from_tf(yt.numpy()), refs.get("y")),
           ("dx", dx, from_tf(g[0].numpy()), refs.get("dx"))]
    names = [w.path.split("/")[-1] for w in tvars]
    for name, gt in zip(names, g[1:]):
        out.append((f"d{name}", our_grads[name], gt.numpy(), refs.get(f"d{name}")))
    if set(names) != set(our_grads):
        raise AssertionError(f"{case}: parameters differ: nnscratch {sorted(our_grads)}, Keras {sorted(names)}")
    return out


def dropout_mask_stats(rate, n=200_000, seed=0):
    """(our keep fraction, our kept scale, Keras keep fraction, Keras kept scale) on ones."""
    tf, keras = load_tf()
    x = np.ones((n,), dtype="float32")
    layer = nn.layers.Dropout(rate, seed=seed)
    y = np.asarray(layer(x[None, :], training=True))[0]
    yt = keras.layers.Dropout(rate, seed=seed)(tf.constant(x[None, :]), training=True).numpy()[0]
    return ((y != 0).mean(), y[y != 0], (yt != 0).mean(), yt[yt != 0])
