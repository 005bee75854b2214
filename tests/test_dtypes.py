"""float32 stays float32: forward, backward, parameter gradients, losses and optimizer steps.

A single float64 operand (a Python-float array, ``np.ones`` without a dtype, a float64 scratch
buffer) silently turns a whole training step into float64, twice the memory traffic and a
different numeric behaviour from Keras. These tests pin the dtype of everything a training
step produces, for each layer the benchmarks use, on every available backend. They also check
the performance paths (reused im2col and scratch buffers, predict's sub-batches) against the
plain computation, so a reused buffer can never leak values between calls.
"""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.models import cpu_threads

L = nn.layers

LAYERS = {
    "dense_relu": (lambda: L.Dense(5, activation="relu"), (4, 7)),
    "dense_softmax": (lambda: L.Dense(5, activation="softmax"), (4, 7)),
    "conv_1ch_valid": (lambda: L.Conv2D(3, 3, activation="relu"), (2, 7, 6, 1)),
    "conv_3ch_same": (lambda: L.Conv2D(4, 3, padding="same"), (2, 6, 7, 3)),
    "conv_strided": (lambda: L.Conv2D(4, 3, strides=2, padding="same", activation="relu"), (2, 7, 7, 2)),
    "conv_40ch": (lambda: L.Conv2D(2, 2), (2, 4, 4, 40)),
    "conv_channels_first": (lambda: L.Conv2D(3, 3, data_format="channels_first"), (2, 1, 6, 6)),
    "maxpool_tiles": (lambda: L.MaxPooling2D(2), (2, 6, 6, 3)),
    "maxpool_overlap_same": (lambda: L.MaxPooling2D(3, strides=2, padding="same"), (2, 7, 7, 3)),
    "avgpool_tiles_same": (lambda: L.AveragePooling2D(2, strides=2, padding="same"), (2, 7, 5, 3)),
    "avgpool_tiles_valid": (lambda: L.AveragePooling2D(2), (2, 7, 5, 3)),
    "avgpool_overlap": (lambda: L.AveragePooling2D(3, strides=1, padding="same"), (2, 5, 5, 2)),
    "flatten": (lambda: L.Flatten(), (2, 3, 4, 2)),
    "relu": (lambda: L.ReLU(), (3, 5)),
    "activation_tanh": (lambda: L.Activation("tanh"), (3, 5)),
    "dropout": (lambda: L.Dropout(0.5), (3, 5)),
}


def _inputs(backend, shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return backend.to_device(x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_backward_and_grads_stay_float32(backend, name):
    make, shape = LAYERS[name]
    layer = make()
    x = _inputs(backend, shape)
    y = layer(x, training=True)
    assert y.dtype == np.float32, f"{name}: forward returned {y.dtype}"
    dy = backend.to_device(np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32))
    dx = layer.backward(dy)
    assert dx.dtype == np.float32, f"{name}: backward returned {dx.dtype}"
    assert tuple(dx.shape) == shape
    for key, g in layer.grads.items():
        assert g.dtype == np.float32, f"{name}: grads[{key!r}] is {g.dtype}"
        assert layer.params[key].dtype == np.float32, f"{name}: params[{key!r}] is {layer.params[key].dtype}"


@pytest.mark.parametrize("opt", ["adam", "adamax", "sgd", "rmsprop", "adagrad", "amsgrad", "nesterov"])
def test_optimizer_steps_keep_params_and_state_float32(backend, opt):
    if opt == "amsgrad":
        optimizer = nn.optimizers.Adam(amsgrad=True)
    elif opt == "nesterov":
        optimizer = nn.optimizers.SGD(0.1, momentum=0.9, nesterov=True)
    else:
        optimizer = nn.optimizers.get(opt)
    rng = np.random.default_rng(0)
    params = [backend.to_device(rng.standard_normal(s).astype(np.float32)) for s in [(4, 3), (3,), (4, 3)]]
    for _ in range(3):
        grads = [backend.to_device(rng.standard_normal(p.shape).astype(np.float32)) for p in params]
        optimizer.apply(grads, params)
    for p in params:
        assert p.dtype == np.float32
    for slots in optimizer.state.values():
        for slot, a in slots.items():
            assert a.dtype == np.float32, f"{opt}: state slot {slot!r} is {a.dtype}"


def test_adam_scratch_buffers_do_not_leak_between_parameters_of_one_shape(backend):
    """Two parameters share Adam's scratch arrays (same shape); each must get exactly the
    update it would get alone."""
    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    ga, gb = rng.standard_normal((2, 5, 4)).astype(np.float32)
    shared = nn.optimizers.Adam(0.01)
    a, b = backend.to_device(a0.copy()), backend.to_device(b0.copy())
    for _ in range(2):
        shared.apply([backend.to_device(ga), backend.to_device(gb)], [a, b])
    alone_a, alone_b = nn.optimizers.Adam(0.01), nn.optimizers.Adam(0.01)
    a2, b2 = backend.to_device(a0.copy()), backend.to_device(b0.copy())
    for _ in range(2):
        alone_a.apply([backend.to_device(ga)], [a2])
        alone_b.apply([backend.to_device(gb)], [b2])
    np.testing.assert_array_equal(backend.to_host(a), backend.to_host(a2))
    np.testing.assert_array_equal(backend.to_host(b), backend.to_host(b2))


@pytest.mark.parametrize("loss_name,labels", [
    ("sparse_categorical_crossentropy", np.array([0, 2, 1])),
    ("categorical_crossentropy", np.eye(3, dtype=np.float32)[[0, 2, 1]]),
    ("mse", np.ones((3, 3), dtype=np.float32)),
])
def test_losses_forward_backward_float32(backend, loss_name, labels):
    loss = nn.losses.get(loss_name)
    p = np.random.default_rng(0).random((3, 3)).astype(np.float32) + 0.1
    p /= p.sum(axis=1, keepdims=True)
    y_pred = backend.to_device(p)
    value = loss(backend.to_device(labels), y_pred)
    assert value.dtype == np.float32, f"{loss_name}: value is {value.dtype}"
    assert loss.backward().dtype == np.float32


def _small_lenet():
    return nn.Sequential([L.Input((12, 12, 1)), L.Conv2D(4, 3, activation="relu"),
                          L.AveragePooling2D(2, strides=2, padding="same"), L.Conv2D(6, 3, activation="relu"),
                          L.MaxPooling2D(2), L.Flatten(), L.Dense(10, activation="softmax")])


def test_training_step_keeps_every_array_float32(backend):
    nn.utils.set_random_seed(0)
    model = _small_lenet()
    model.compile(nn.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((20, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 10, size=20)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for key, p, g in model.parameters():
        assert p.dtype == np.float32 and g.dtype == np.float32, key
    for slots in model.optimizer.state.values():
        assert all(a.dtype == np.float32 for a in slots.values())
    assert model.predict(x, batch_size=7).dtype == np.float32


def test_predict_sub_batches_equal_one_forward_pass(backend, monkeypatch):
    """predict() runs big batches in cache-sized sub-batches; the rows must come out complete,
    in order, and equal to a single forward pass, whatever the batch and sub-batch sizes."""
    nn.utils.set_random_seed(1)
    model = _small_lenet()
    x = np.random.default_rng(2).random((53, 12, 12, 1)).astype(np.float32)
    whole = backend.to_host(model(backend.to_device(x)))
    monkeypatch.setattr(cpu_threads, "INFERENCE_BUDGET", 1)  # forces the 32-row minimum
    monkeypatch.setattr(cpu_threads.kernels, "num_threads", lambda: 1)  # 32 rows, not 32 per thread
    for batch in (53, 40, 7, 100):
        np.testing.assert_allclose(model.predict(x, batch_size=batch), whole, rtol=1e-5, atol=1e-7)


def test_reused_im2col_buffer_gives_fresh_results_for_new_inputs(backend):
    """Conv2D keeps its im2col memory between forwards: a second forward on new data must
    match a fresh layer's, and the backward must use the latest input."""
    nn.utils.set_random_seed(4)
    layer = L.Conv2D(3, 3, activation="relu")
    x1, x2 = _inputs(backend, (2, 6, 6, 1), 1), _inputs(backend, (2, 6, 6, 1), 2)
    layer(x1)
    y2 = layer(x2)
    fresh = L.Conv2D(3, 3, activation="relu")
    fresh(x2)
    fresh.set_weights(layer.get_weights())
    np.testing.assert_array_equal(backend.to_host(y2), backend.to_host(fresh(x2)))
    dy = backend.to_device(np.ones(tuple(y2.shape), dtype=np.float32))
    layer.backward(dy)
    fresh.backward(dy)
    np.testing.assert_array_equal(backend.to_host(layer.grads["kernel"]), backend.to_host(fresh.grads["kernel"]))
