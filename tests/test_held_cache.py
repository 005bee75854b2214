"""Caches a student can keep: what a layer caches for backward in one step is never
overwritten by a later step. The test holds every layer's cache (the dict and the arrays in
it) after a step, takes host copies, runs the next step on other data, and checks that the held
arrays still hold the copied values; for every layer type, both data formats, both kernel
tiers, through ``model.backward_steps`` and through plain ``forward``/``backward``."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend

pytestmark = pytest.mark.usefixtures("kernel_tier")

L = nn.layers


def sequential_every_layer():
    nn.utils.set_random_seed(0)
    return nn.Sequential([
        L.Input((10, 10, 1)),
        L.Conv2D(4, 3, padding="same", activation="relu"),  # C_in == 1: the fast tier's transposed layout
        L.BatchNormalization(),
        L.MaxPooling2D(),  # non-overlapping windows
        L.Conv2D(5, 3, padding="same"),
        L.ReLU(),
        L.Conv2D(6, 2),
        L.LeakyReLU(0.1),
        L.MaxPooling2D(pool_size=3, strides=1, padding="same"),  # overlapping windows
        L.AveragePooling2D(2, padding="same"),
        L.ZeroPadding2D(1),
        L.Flatten(),
        L.Dropout(0.3),
        L.Dense(12, activation="tanh"),
        L.Reshape((3, 4)),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ])


def sequential_channels_first():
    nn.utils.set_random_seed(2)
    return nn.Sequential([
        L.Input((2, 7, 7)),
        L.Conv2D(3, 3, activation="relu", data_format="channels_first"),
        L.Conv2D(4, 3, padding="same", data_format="channels_first"),
        L.MaxPooling2D(data_format="channels_first"),
        L.AveragePooling2D(2, padding="same", data_format="channels_first"),
        L.Flatten(data_format="channels_first"),
        L.Dense(3, activation="softmax"),
    ])


def functional_merges():
    nn.utils.set_random_seed(1)
    inp = nn.Input((6, 6, 2))
    a = L.Conv2D(3, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(3, 1, activation="sigmoid")(inp)
    m = L.Concatenate()([L.Add()([a, b]), L.Multiply()([a, b]), L.Subtract()([a, b]), L.Average()([a, b])])
    m = L.GlobalAveragePooling2D()(m)
    g = L.GlobalMaxPooling2D()(L.AveragePooling2D(2)(a))
    out = L.Dense(3, activation="softmax")(L.Concatenate()([m, g]))
    return nn.Model(inp, out)


def arrays_of(cache):
    """(key, array) for every array in a cache, arrays inside lists included."""
    for k, v in cache.items():
        if backend.is_array(v):
            yield k, v
        elif isinstance(v, (list, tuple)):
            for i, a in enumerate(v):
                if backend.is_array(a):
                    yield f"{k}[{i}]", a


def hold(model):
    """[(layer name, key, the held array, a host copy of it)] for every cached array."""
    held = []
    for layer in model.layers:
        for k, a in arrays_of(layer.cache):
            held.append((layer.name, k, a, np.array(backend.to_host(a), copy=True)))
    return held


def assert_unchanged(held):
    assert held, "no cache was held"
    for name, k, a, copy in held:
        np.testing.assert_array_equal(backend.to_host(a), copy, err_msg=f"layer '{name}' cache['{k}'] was overwritten")


def data(seed, shape, n=4):
    g = np.random.default_rng(seed)
    return g.standard_normal((n,) + shape).astype("float32"), g.integers(0, 3, size=n)


def test_every_layer_type_is_in_the_models():
    names = {type(l).__name__ for m in (sequential_every_layer(), functional_merges()) for l in m.layers}
    assert {l.data_format for l in sequential_channels_first().layers if hasattr(l, "data_format")} == {"channels_first"}
    for cls in ("Conv2D", "BatchNormalization", "MaxPooling2D", "AveragePooling2D", "ReLU", "LeakyReLU",
                "ZeroPadding2D", "Flatten", "Dropout", "Dense", "Reshape", "Add", "Multiply", "Subtract",
                "Average", "Concatenate", "GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        assert cls in names, cls


@pytest.mark.parametrize("build", [sequential_every_layer, sequential_channels_first], ids=["channels_last", "channels_first"])
def test_backward_steps_caches_survive_the_next_step(build):
    model = build()
    model.compile(nn.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    shape = tuple(model.input_shape[1:])
    x0, y0 = data(0, shape)
    steps = list(model.backward_steps(x0, y0))
    held = [(s.layer.name, k, a, np.array(backend.to_host(a), copy=True))
            for s in steps if s.phase == "forward" for k, a in arrays_of(s.cache)]
    x1, y1 = data(1, shape)
    list(model.backward_steps(x1, y1))
    assert_unchanged(held)


@pytest.mark.parametrize("build", [sequential_every_layer, sequential_channels_first, functional_merges],
                         ids=["sequential", "channels_first", "functional"])
def test_forward_backward_caches_survive_the_next_step(build):
    model = build()
    model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else tuple(model.input_shape[0][1:])
    x0, y0 = data(2, shape)
    model.train_on_batch(x0, y0)  # a full step, optimizer included
    model.forward(backend.to_device(x0), training=True)
    held = hold(model)
    dy = backend.to_device(np.random.default_rng(3).standard_normal((4, 3)).astype("float32"))
    model.backward(dy)
    x1, y1 = data(4, shape)
    model.train_on_batch(x1, y1)  # the next step: forward, backward, update
    model.forward(backend.to_device(x1), training=True)
    model.backward(dy)
    assert_unchanged(held)
