"""Real CuPy: every layer, loss and optimizer gives NumPy's numbers on the GPU.

Skipped (with the reason) unless CuPy imports and sees a CUDA device. Everything runs in
float64 so that the two backends agree to ~1e-10: a disagreement is a bug in the ``xp`` code
path (an op CuPy treats differently), not rounding. Weights and dropout masks come from the
same host RNG on both backends, so the two runs see identical numbers.

``DEVICE`` names the backend compared with NumPy; pointing it at 'emulated' (e.g.
``NNSCRATCH_TEST_DEVICE=emulated``) runs the comparison logic without a GPU, except the
memory-pool test, which needs CuPy itself.
"""
import os

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend
from nnscratch.models.data_adapter import prepare_x, prepare_y

DEVICE = os.environ.get("NNSCRATCH_TEST_DEVICE", "cupy")
REASON = "CuPy with a CUDA GPU is not available (pip install 'nnscratch[gpu]' on an NVIDIA machine)"
pytestmark = pytest.mark.skipif(DEVICE == "cupy" and not backend.cupy_available(), reason=REASON)
TOL = dict(rtol=1e-9, atol=1e-11)

L = nn.layers
LAYERS = {
    "dense": lambda: L.Dense(5, activation="relu"),
    "dense_linear_no_bias": lambda: L.Dense(3, use_bias=False),
    "conv2d_valid": lambda: L.Conv2D(4, 3, activation="relu"),
    "conv2d_same_stride2": lambda: L.Conv2D(3, (3, 2), strides=2, padding="same"),
    "maxpool_valid": lambda: L.MaxPooling2D(2),
    "maxpool_same_overlap": lambda: L.MaxPooling2D(3, strides=1, padding="same"),
    "avgpool_same": lambda: L.AveragePooling2D(2, padding="same"),
    "flatten": lambda: L.Flatten(),
    "dropout": lambda: L.Dropout(0.4, seed=3),
    "relu": lambda: L.ReLU(),
    "leaky_relu": lambda: L.LeakyReLU(),
    "softmax": lambda: L.Softmax(),
    "sigmoid": lambda: L.Activation("sigmoid"),
    "tanh": lambda: L.Activation("tanh"),
}
IMAGE_INPUT = {"conv2d_valid", "conv2d_same_stride2", "maxpool_valid", "maxpool_same_overlap", "avgpool_same",
               "flatten"}


def _on(name, fn):
    """Run ``fn`` with backend ``name`` in float64 and the same global seed."""
    with backend.backend_scope(name), backend.floatx_scope("float64"):
        nn.utils.set_random_seed(0)
        return fn()


def _layer_run(make, x, dy_seed):
    layer = make()
    y = layer(backend.to_device(x), training=True)
    dy = np.random.default_rng(dy_seed).normal(size=tuple(y.shape))
    dx = layer.backward(backend.to_device(dy))
    assert backend.is_device_array(y) == (backend.current() != "numpy")
    grads = {k: backend.to_host(g) for k, g in layer.grads.items()}
    return backend.to_host(y), backend.to_host(dx), grads


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_backward_match_numpy(name):
    shape = (2, 7, 6, 3) if name in IMAGE_INPUT else (4, 6)
    x = np.random.default_rng(1).normal(size=shape)
    ref = _on("numpy", lambda: _layer_run(LAYERS[name], x, 2))
    dev = _on(DEVICE, lambda: _layer_run(LAYERS[name], x, 2))
    np.testing.assert_allclose(dev[0], ref[0], **TOL, err_msg=f"{name}: forward")
    np.testing.assert_allclose(dev[1], ref[1], **TOL, err_msg=f"{name}: dx")
    assert dev[2].keys() == ref[2].keys()
    for k in ref[2]:
        np.testing.assert_allclose(dev[2][k], ref[2][k], **TOL, err_msg=f"{name}: d{k}")


LOSSES = {
    "mse": (lambda: nn.losses.MeanSquaredError(), "regression"),
    "mae": (lambda: nn.losses.MeanAbsoluteError(), "regression"),
    "bce_probs": (lambda: nn.losses.BinaryCrossentropy(), "binary"),
    "bce_logits": (lambda: nn.losses.BinaryCrossentropy(from_logits=True), "binary_logits"),
    "cce_probs": (lambda: nn.losses.CategoricalCrossentropy(label_smoothing=0.1), "onehot"),
    "cce_logits": (lambda: nn.losses.CategoricalCrossentropy(from_logits=True), "onehot_logits"),
    "scce_probs": (lambda: nn.losses.SparseCategoricalCrossentropy(), "sparse"),
    "scce_logits": (lambda: nn.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse_logits"),
}


def _loss_inputs(kind, gen):
    z = gen.normal(size=(6, 4))
    if kind == "regression":
        return z, gen.normal(size=(6, 4))
    if kind.startswith("binary"):
        y = gen.integers(0, 2, size=(6, 1)).astype("float64")
        z = z[:, :1]
        return (z if kind.endswith("logits") else 1 / (1 + np.exp(-z))), y
    probs = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    labels = gen.integers(0, 4, size=6)
    y = labels if kind.startswith("sparse") else np.eye(4)[labels]
    return (z if kind.endswith("logits") else probs), y


def _loss_run(make, y_pred, y_true):
    loss = make()
    y_pred_dev = backend.to_device(y_pred)
    value = loss.forward(y_pred_dev, loss.check_labels(y_true, y_pred_dev))
    return backend.to_host(value), backend.to_host(loss.backward())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_forward_backward_match_numpy(name):
    make, kind = LOSSES[name]
    y_pred, y_true = _loss_inputs(kind, np.random.default_rng(4))
    ref = _on("numpy", lambda: _loss_run(make, y_pred, y_true))
    dev = _on(DEVICE, lambda: _loss_run(make, y_pred, y_true))
    np.testing.assert_allclose(dev[0], ref[0], **TOL, err_msg=f"{name}: loss")
    np.testing.assert_allclose(dev[1], ref[1], **TOL, err_msg=f"{name}: dL/dy_pred")


OPTIMIZERS = {
    "sgd": lambda: nn.optimizers.SGD(0.1),
    "sgd_nesterov": lambda: nn.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda: nn.optimizers.RMSprop(centered=True, momentum=0.5),
    "adam": lambda: nn.optimizers.Adam(0.01),
    "adam_amsgrad_clipnorm": lambda: nn.optimizers.Adam(0.01, amsgrad=True, clipnorm=0.5),
    "adamax_schedule": lambda: nn.optimizers.Adamax(nn.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5)),
    "adagrad": lambda: nn.optimizers.Adagrad(0.1),
}


def _optimizer_run(make, w0, grads):
    opt = make()
    w = [backend.to_device(a.copy()) for a in w0]  # numpy's to_device aliases; apply() updates in place
    for step in grads:
        opt.apply([backend.to_device(g) for g in step], w)
    return [backend.to_host(a) for a in w]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_numpy(name):
    gen = np.random.default_rng(5)
    w0 = [gen.normal(size=(3, 4)), gen.normal(size=(4,))]
    grads = [[gen.normal(size=a.shape) for a in w0] for _ in range(4)]
    ref = _on("numpy", lambda: _optimizer_run(OPTIMIZERS[name], w0, grads))
    dev = _on(DEVICE, lambda: _optimizer_run(OPTIMIZERS[name], w0, grads))
    for i, (a, b) in enumerate(zip(dev, ref)):
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"{name}: variable {i} after 4 steps")


def _lenet():
    model = nn.Sequential([L.Input((12, 12, 1)), L.Conv2D(6, 3, activation="relu"), L.AveragePooling2D(2, 2, "same"),
                           L.Flatten(), L.Dense(32, activation="relu"), L.Dropout(0.2), L.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def test_training_step_makes_no_to_host_and_fit_matches_numpy():
    gen = np.random.default_rng(6)
    x, y = gen.normal(size=(48, 12, 12, 1)), gen.integers(0, 10, size=48)

    def run():
        model = _lenet()
        xb, yb = prepare_x(model, x[:16])[0], prepare_y(model, y[:16], 16)
        with backend.expect_no_sync():
            model.train_step(xb, yb, model._metric_fns(yb.shape))
        hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return hist.history, model.get_weights()

    ref, dev = _on("numpy", run), _on(DEVICE, run)
    for key in ref[0]:
        np.testing.assert_allclose(dev[0][key], ref[0][key], **TOL, err_msg=f"history[{key!r}]")
    for i, (a, b) in enumerate(zip(dev[1], ref[1])):
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"weight {i}")


@pytest.mark.skipif(DEVICE != "cupy", reason="needs CuPy's memory pool itself")
def test_memory_pool_is_reused_across_training_steps():
    import cupy

    pool = cupy.get_default_memory_pool()
    with backend.backend_scope("cupy"):
        nn.utils.set_random_seed(0)
        model = _lenet()
        gen = np.random.default_rng(7)
        xb = prepare_x(model, gen.normal(size=(32, 12, 12, 1)))[0]
        yb = model._prepare_y(gen.integers(0, 10, size=32), 32)
        metric_fns = model._metric_fns(yb.shape)
        for _ in range(3):  # warm-up: optimizer state and the pool's blocks get allocated
            model.train_step(xb, yb, metric_fns)
        cupy.cuda.Device().synchronize()
        warm = pool.total_bytes()
        for _ in range(20):
            model.train_step(xb, yb, metric_fns)
        cupy.cuda.Device().synchronize()
        after = pool.total_bytes()
    assert warm > 0, "the training step did not allocate from CuPy's default pool"
    assert after <= warm, f"the pool grew from {warm} to {after} bytes over 20 identical steps (a leak)"
