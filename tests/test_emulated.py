"""The emulated device backend: CuPy's rules on NumPy, and the engine's discipline under them.

The first half checks the emulation itself (it refuses what CuPy refuses and counts host
synchronisations). The second half runs the seed models: one training step must make NO host
synchronisation, and fit/evaluate/predict must give the numpy backend's numbers.
"""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend
from nnscratch.kernels import jit
from nnscratch.models.data_adapter import prepare_x, prepare_y


@pytest.fixture
def emulated():
    """Switch to the emulated backend for one test (restored afterwards)."""
    old = backend.current()
    backend.set_backend("emulated")
    backend.reset_sync_count()
    yield backend.get_array_module(backend.to_device(np.zeros(1)))
    backend.set_backend(old)


def _dev(values, dtype="float32"):
    return backend.to_device(np.asarray(values), dtype=dtype)


# ----------------------------------------------------------------------------- the emulation
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: np.asarray([a, a]), lambda a: a.__array__()],
                         ids=["asarray", "array", "list_of_device_arrays", "__array__"])
def test_implicit_conversion_to_numpy_raises_type_error(emulated, convert):
    with pytest.raises(TypeError, match="Implicit conversion"):
        convert(_dev([1.0, 2.0]))


@pytest.mark.parametrize("op", [
    lambda d, h: d + h, lambda d, h: h * d, lambda d, h: d @ h.reshape(2, 1),
    lambda d, h: backend.get_array_module(d).maximum(d, h),
    lambda d, h: backend.get_array_module(d).where(d > 0, d, h),
    lambda d, h: backend.get_array_module(d).concatenate([d, h]),
], ids=["add", "rmul", "matmul", "xp.maximum", "xp.where", "xp.concatenate"])
def test_mixing_device_and_host_arrays_raises_type_error(emulated, op):
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        op(_dev([1.0, 2.0]), np.array([3.0, 4.0], dtype="float32"))


def test_host_index_array_is_refused_but_device_index_works(emulated):
    d = _dev([10.0, 20.0, 30.0])
    with pytest.raises(TypeError, match="backend.to_device"):
        d[np.array([2, 0])]
    picked = d[backend.to_device(np.array([2, 0]))]
    np.testing.assert_array_equal(backend.to_host(picked), [30.0, 10.0])


def test_scalars_mix_freely_and_results_stay_device_arrays(emulated):
    xp = emulated
    d = _dev([1.0, -2.0])
    out = [d * 2.0, np.float32(3) * d, d + 1, xp.maximum(d, 0.0), d.sum(), xp.exp(d).max()]
    for o in out:
        assert backend.is_device_array(o), f"{type(o).__name__} is not a device array"
    assert d.sum().ndim == 0, "a reduction must return a 0-d device array, as CuPy does"
    assert backend.sync_count() == 0


@pytest.mark.parametrize("sync", [
    float, int, bool, lambda a: a.item(), lambda a: a.tolist(), repr, str, lambda a: f"{a:.3f}",
    backend.to_host, backend.to_float,
], ids=["float", "int", "bool", "item", "tolist", "repr", "str", "format", "to_host", "to_float"])
def test_each_host_synchronisation_is_counted_once(emulated, sync):
    d = _dev(2.0)
    before = backend.sync_count()
    sync(d)
    assert backend.sync_count() == before + 1
    with pytest.raises(backend.HostSyncError, match="expect_no_sync"):
        with backend.expect_no_sync():
            sync(d)


def test_device_math_makes_no_synchronisation(emulated):
    xp = emulated
    d = _dev(np.arange(12).reshape(3, 4))
    with backend.expect_no_sync():
        y = xp.matmul(d, xp.ones((4, 2), dtype="float32"))
        y -= y.max(axis=-1, keepdims=True)
        y = xp.where(y > -1, y, 0.0)[backend.to_device(np.array([0, 2]))]
        _ = [row for row in y]
    assert y.shape == (2, 2)
    assert backend.sync_count() == 0


def test_in_place_operators_keep_the_same_buffer(emulated):
    d = _dev([1.0, 2.0])
    alias = d[:]  # a view, as the optimizer's references to params are
    d -= 0.5
    np.testing.assert_array_equal(backend.to_host(alias), [0.5, 1.5])


def test_emulated_module_has_no_random_and_names_the_alternative(emulated):
    with pytest.raises(AttributeError, match="backend.rng"):
        emulated.random


# ----------------------------------------------------------------------------- the seed models
def _mlp():
    model = nn.Sequential([nn.layers.Input((8, 8)), nn.layers.Flatten(), nn.layers.Dense(128, activation="relu"),
                           nn.layers.Dense(10)])
    model.compile(nn.optimizers.Adam(), nn.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    return model, "sparse"


def _lenet():
    L = nn.layers
    model = nn.Sequential([L.Input((12, 12, 1)), L.Conv2D(6, 3, activation="relu"), L.AveragePooling2D(2, 2, "same"),
                           L.Conv2D(16, 3, activation="relu"), L.AveragePooling2D(2, 2, "same"), L.Flatten(),
                           L.Dense(120, activation="relu"), L.Dense(84, activation="relu"),
                           L.Dense(10, activation="softmax")])
    model.compile(nn.optimizers.Adam(), "sparse_categorical_crossentropy", ["accuracy"])
    return model, "sparse"


def _dropout_mlp():
    L = nn.layers
    model = nn.Sequential([L.Input((8, 8)), L.Flatten(), L.Dense(64, activation="relu"), L.Dropout(0.3),
                           L.Dense(10)])
    lr = nn.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.9)
    model.compile(nn.optimizers.Adamax(learning_rate=lr), nn.losses.CategoricalCrossentropy(from_logits=True),
                  ["accuracy"])
    return model, "onehot"


def _softmax_regression():
    model = nn.Sequential([nn.layers.Input((64,)), nn.layers.Dense(10, activation="softmax")])
    model.compile(nn.optimizers.SGD(), "sparse_categorical_crossentropy", ["accuracy"])
    return model, "sparse"


SEED_MODELS = {"mlp": _mlp, "lenet": _lenet, "dropout_mlp": _dropout_mlp, "softmax_regression": _softmax_regression}


def _data(model, labels, n=40, seed=0):
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(n,) + tuple(model.input_shape[1:])).astype("float32")
    y = gen.integers(0, 10, size=n)
    return x, (nn.utils.to_categorical(y, 10) if labels == "onehot" else y)


@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_a_training_step_makes_no_host_synchronisation(emulated, name):
    nn.utils.set_random_seed(1)
    model, labels = SEED_MODELS[name]()
    x, y = _data(model, labels)
    xb, yb = prepare_x(model, x[:16])[0], prepare_y(model, y[:16], 16)
    metric_fns = model._metric_fns(yb.shape)
    backend.reset_sync_count()
    for _ in range(2):  # the second step runs with the optimizer state already built
        with backend.expect_no_sync():
            loss, sums = model.train_step(xb, yb, metric_fns)
    assert backend.sync_count() == 0
    assert backend.is_device_array(loss) and all(backend.is_device_array(s) for s in sums)
    assert np.isfinite(backend.to_float(loss)), f"{name}: loss is not finite"


def _run(name, backend_name):
    """fit (2 epochs, shuffled, with validation) + evaluate + predict on one backend. The NumPy
    run is the fast tier's NumPy code, the one the device path mirrors: its compiled host loops
    sum in other orders (rounding apart; tests/kernels/test_jit.py checks them)."""
    with backend.backend_scope(backend_name), jit.use_jit(False):
        nn.utils.set_random_seed(7)
        model, labels = SEED_MODELS[name]()
        x, y = _data(model, labels, n=50)
        hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.2)
        scores = model.evaluate(x, y, batch_size=16, verbose=0)
        pred = model.predict(x[:7], batch_size=4)
        weights = model.get_weights()
    return hist.history, scores, pred, weights


@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_fit_evaluate_predict_match_numpy_under_emulated(name):
    ref = _run(name, "numpy")
    emu = _run(name, "emulated")
    assert set(emu[0]) == set(ref[0]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in ref[0]:
        np.testing.assert_allclose(emu[0][key], ref[0][key], rtol=1e-6, err_msg=f"{name}: history[{key!r}]")
    np.testing.assert_allclose(emu[1], ref[1], rtol=1e-6, err_msg=f"{name}: evaluate")
    assert type(emu[2]) is np.ndarray, "predict must return a host numpy array"
    np.testing.assert_allclose(emu[2], ref[2], rtol=1e-6, atol=1e-7, err_msg=f"{name}: predict")
    for i, (we, wr) in enumerate(zip(emu[3], ref[3])):
        np.testing.assert_allclose(we, wr, rtol=1e-6, atol=1e-7, err_msg=f"{name}: weight {i}")


def test_fit_synchronises_per_epoch_not_per_step(emulated):
    """Running loss and accuracy stay on the device: the sync count of fit must not grow with
    the number of steps (only the epoch-end logs read them; verbose=1's progress bar adds a
    read at most every 0.5 s, which is time-based and so not asserted here)."""
    counts = []
    for n in (32, 160):  # 2 and 10 steps per epoch
        nn.utils.set_random_seed(0)
        model, labels = _softmax_regression()
        x, y = _data(model, labels, n=n)
        backend.reset_sync_count()
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        counts.append(backend.sync_count())
    assert counts[0] == counts[1], f"syncs grew with the number of steps: {counts} for 2 and 10 steps per epoch"
    # per epoch: the loss sum, the accuracy sum, and fit's finite-loss check on the loss sum
    assert counts[0] <= 2 * 3, f"too many syncs for 2 epochs with loss+accuracy: {counts[0]}"


# ----------------------------------------------------------------------------- every building block
L = nn.layers
BLOCKS = {
    "dense_relu": (lambda: L.Dense(5, activation="relu"), (4, 6)),
    "conv2d_same_stride2": (lambda: L.Conv2D(3, 3, strides=2, padding="same", activation="sigmoid"), (2, 7, 6, 3)),
    "conv2d_channels_first": (lambda: L.Conv2D(2, 2, data_format="channels_first"), (2, 3, 5, 5)),
    "maxpool_same_overlap": (lambda: L.MaxPooling2D(3, strides=1, padding="same"), (2, 5, 5, 2)),
    "avgpool_same": (lambda: L.AveragePooling2D(2, padding="same"), (2, 5, 5, 2)),
    "flatten": (lambda: L.Flatten(), (2, 3, 4)),
    "dropout": (lambda: L.Dropout(0.5, seed=1), (4, 6)),
    "relu_capped": (lambda: L.ReLU(max_value=0.5, negative_slope=0.1), (4, 6)),
    "leaky_relu": (lambda: L.LeakyReLU(), (4, 6)),
    "softmax": (lambda: L.Softmax(), (4, 6)),
    "elu": (lambda: L.Activation("elu"), (4, 6)),
    "softplus": (lambda: L.Activation("softplus"), (4, 6)),
    "tanh": (lambda: L.Activation("tanh"), (4, 6)),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_layer_forward_backward_make_no_synchronisation(emulated, name):
    make, shape = BLOCKS[name]
    layer = make()
    x = _dev(np.random.default_rng(0).normal(size=shape))
    layer(x, training=True)  # build outside the check (initializers draw on the host)
    with backend.expect_no_sync():
        y = layer.forward(x, training=True)
        dx = layer.backward(emulated.ones_like(y))
    assert backend.is_device_array(y) and backend.is_device_array(dx) and dx.shape == x.shape
    assert all(backend.is_device_array(g) for g in layer.grads.values())


LOSSES = {
    "mse": (nn.losses.MeanSquaredError, "regression"), "mae": (nn.losses.MeanAbsoluteError, "regression"),
    "bce": (nn.losses.BinaryCrossentropy, "binary"),
    "bce_logits": (lambda: nn.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), "binary"),
    "cce": (nn.losses.CategoricalCrossentropy, "onehot"),
    "cce_logits": (lambda: nn.losses.CategoricalCrossentropy(from_logits=True), "onehot"),
    "scce": (nn.losses.SparseCategoricalCrossentropy, "sparse"),
    "scce_logits": (lambda: nn.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_forward_backward_make_no_synchronisation(emulated, name):
    make, kind = LOSSES[name]
    gen = np.random.default_rng(2)
    labels = gen.integers(0, 3, size=5)
    y_true = {"regression": gen.normal(size=(5, 3)), "binary": (labels[:, None] > 0).astype("float32"),
              "onehot": np.eye(3)[labels], "sparse": labels}[kind]
    width = 1 if kind == "binary" else 3
    y_pred = _dev(gen.uniform(0.1, 0.9, size=(5, width)))
    loss = make()
    t = loss.check_labels(y_true, y_pred)  # host-side validation, before the step
    with backend.expect_no_sync():
        value = loss.forward(y_pred, t)
        grad = loss.backward()
    assert backend.is_device_array(value) and value.ndim == 0
    assert backend.is_device_array(grad) and grad.shape == y_pred.shape


@pytest.mark.parametrize("make", [
    lambda: nn.optimizers.SGD(0.1, momentum=0.9, nesterov=True), lambda: nn.optimizers.RMSprop(centered=True),
    lambda: nn.optimizers.Adam(amsgrad=True, clipnorm=1.0), lambda: nn.optimizers.Adam(global_clipnorm=1.0),
    lambda: nn.optimizers.Adamax(weight_decay=0.01, clipvalue=0.5), lambda: nn.optimizers.Adagrad(),
    lambda: nn.optimizers.SGD(nn.optimizers.schedules.InverseTimeDecay(0.1, 2, 0.5)),
], ids=["sgd_nesterov", "rmsprop_centered", "adam_amsgrad_clipnorm", "adam_global_clipnorm",
        "adamax_decay_clipvalue", "adagrad", "sgd_inverse_time"])
def test_optimizer_steps_make_no_synchronisation(emulated, make):
    opt = make()
    w = [_dev(np.ones((3, 2))), _dev(np.zeros(2))]
    g = [_dev(np.full((3, 2), 0.5)), _dev(np.full(2, -2.0))]
    with backend.expect_no_sync():
        for _ in range(3):
            opt.apply(g, w)
    assert all(backend.is_device_array(a) for a in w)
    assert not np.array_equal(backend.to_host(w[0]), np.ones((3, 2))), "the weights did not move"
