"""Losses: values against formulas written here in float64 NumPy, gradient checks, the fused
logits path, label validation, numerical stability, aliases and config."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import losses

GRAD_TOL = 1e-6  # float64 central differences with h=1e-6: a correct backward gives ~1e-8
EPS = 1e-7  # keras.config.epsilon()
N, C = 6, 5


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def softmax(z):
    return np.exp(log_softmax(z))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((N, C)) * 2
    y = rng.integers(0, C, N)
    onehot = np.eye(C)[y]
    return z, y, onehot


# ----------------------------------------------------------------------------- reference formulas
def scce_ref(y_pred, y, from_logits):
    if from_logits:
        return -log_softmax(y_pred)[np.arange(len(y)), y].mean()
    q = np.clip(y_pred, EPS, 1 - EPS)  # Keras clips, then re-normalises: -log_softmax(log q)[y]
    return (-np.log(q[np.arange(len(y)), y]) + np.log(q.sum(axis=-1))).mean()


def cce_ref(y_pred, t, from_logits, ls=0.0):
    t = t * (1 - ls) + ls / t.shape[-1]
    if from_logits:
        return -(t * log_softmax(y_pred)).sum(axis=-1).mean()
    q = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), EPS, 1 - EPS)  # normalise, then clip
    return -(t * np.log(q)).sum(axis=-1).mean()


def bce_ref(y_pred, t, from_logits, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    if from_logits:
        p = 1 / (1 + np.exp(-y_pred))
    else:
        p = np.clip(y_pred, EPS, 1 - EPS)
    return (-(t * np.log(p) + (1 - t) * np.log(1 - p))).mean(axis=-1).mean()


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_categorical_crossentropy_value_and_gradient(backend, data, from_logits):
    z, y, _ = data
    y_pred = z if from_logits else softmax(z)
    dev = backend.to_device
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    np.testing.assert_allclose(float(loss(dev(y), dev(y_pred))), scce_ref(y_pred, y, from_logits), rtol=1e-12)
    result = nn.debug.gradient_check(loss, dev(y_pred), dev(y))
    assert result.max_error < GRAD_TOL, result


def test_sparse_labels_of_shape_n_by_1_are_accepted(backend, data):
    z, y, _ = data
    dev = backend.to_device
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(dev(y[:, None]), dev(z))) == float(loss(dev(y), dev(z)))


def test_sparse_categorical_crossentropy_renormalises_clipped_probabilities(backend):
    # Keras: unnormalised [.2, .2, .2] gives ln 3, not -ln 0.2
    p = backend.to_device(np.array([[0.2, 0.2, 0.2]]))
    value = float(losses.SparseCategoricalCrossentropy()(backend.to_device(np.array([1])), p))
    assert abs(value - np.log(3.0)) < 1e-12


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_categorical_crossentropy_value_and_gradient(backend, data, from_logits, label_smoothing):
    z, _, onehot = data
    y_pred = z if from_logits else softmax(z) * 1.7  # unnormalised: Keras divides by the sum first
    dev = backend.to_device
    loss = losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
    np.testing.assert_allclose(float(loss(dev(onehot), dev(y_pred))),
                               cce_ref(y_pred, onehot, from_logits, label_smoothing), rtol=1e-12)
    result = nn.debug.gradient_check(loss, dev(y_pred), dev(onehot))
    assert result.max_error < GRAD_TOL, result


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_binary_crossentropy_value_and_gradient(backend, from_logits, K, label_smoothing):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((N, K)) * 2
    t = rng.integers(0, 2, (N, K)).astype(np.float64)
    y_pred = z if from_logits else 1 / (1 + np.exp(-z))
    dev = backend.to_device
    loss = losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
    np.testing.assert_allclose(float(loss(dev(t), dev(y_pred))), bce_ref(y_pred, t, from_logits, label_smoothing),
                               rtol=1e-12)
    result = nn.debug.gradient_check(loss, dev(y_pred), dev(t))
    assert result.max_error < GRAD_TOL, result


def test_binary_crossentropy_gradient_is_zero_outside_the_clip(backend):
    p = backend.to_device(np.array([[1e-9], [0.5], [1 - 1e-9]]))
    loss = losses.BinaryCrossentropy()
    loss(backend.to_device(np.array([[1.0], [1.0], [0.0]])), p)
    g = backend.to_host(loss.backward())
    assert g[0, 0] == 0.0 and g[2, 0] == 0.0 and g[1, 0] != 0.0


@pytest.mark.parametrize("cls,ref", [(losses.MeanSquaredError, lambda d: (d ** 2).mean()),
                                     (losses.MeanAbsoluteError, lambda d: np.abs(d).mean())])
@pytest.mark.parametrize("shape", [(N, 1), (N, 4), (3, 4, 2)])
def test_regression_losses_value_and_gradient(backend, cls, ref, shape):
    rng = np.random.default_rng(2)
    y_true = rng.standard_normal(shape)
    y_pred = y_true + rng.choice([-1, 1], shape) * (0.01 + rng.random(shape))  # |diff| > 0.01: no kink
    dev = backend.to_device
    loss = cls()
    np.testing.assert_allclose(float(loss(dev(y_true), dev(y_pred))), ref(y_pred - y_true), rtol=1e-12)
    result = nn.debug.gradient_check(loss, dev(y_pred), dev(y_true))
    assert result.max_error < GRAD_TOL, result


def test_reduction_sum_is_n_times_the_mean(backend, data):
    z, y, _ = data
    z, y = backend.to_device(z), backend.to_device(y)
    mean = float(losses.SparseCategoricalCrossentropy(from_logits=True)(y, z))
    total = float(losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")(y, z))
    assert abs(total - N * mean) < 1e-12 * total


# ----------------------------------------------------------------------------- the fused path
@pytest.mark.parametrize("make", [
    lambda fl: losses.SparseCategoricalCrossentropy(from_logits=fl),
    lambda fl: losses.CategoricalCrossentropy(from_logits=fl),
    lambda fl: losses.CategoricalCrossentropy(from_logits=fl, label_smoothing=0.1),
    lambda fl: losses.BinaryCrossentropy(from_logits=fl),
], ids=["scce", "cce", "cce-smoothing", "bce"])
def test_fused_logits_path_equals_from_logits_true(backend, data, make):
    z, y, onehot = data
    probe = make(False)
    if isinstance(probe, losses.SparseCategoricalCrossentropy):
        labels = y
    elif isinstance(probe, losses.BinaryCrossentropy):
        labels = (onehot > 0).astype(np.float64)
    else:
        labels = onehot
    z, labels = backend.to_device(z), backend.to_device(labels)
    fused = make(False)
    direct = make(True)
    v_fused = float(fused.forward_logits(z, fused.check_labels(labels, z)))
    v_direct = float(direct.forward(z, direct.check_labels(labels, z)))
    assert v_fused == v_direct
    np.testing.assert_array_equal(backend.to_host(fused.backward()), backend.to_host(direct.backward()))
    result = nn.debug.gradient_check(make(False), z, labels, from_logits_path=True)
    assert result.max_error < GRAD_TOL, result


def test_fused_softmax_gradient_is_softmax_minus_onehot_over_n(backend, data):
    z, y, onehot = data
    z_dev = backend.to_device(z)
    loss = losses.SparseCategoricalCrossentropy()
    loss.forward_logits(z_dev, loss.check_labels(backend.to_device(y), z_dev))
    np.testing.assert_allclose(backend.to_host(loss.backward()), (softmax(z) - onehot) / N, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- stability
def test_large_logits_stay_finite(backend):
    dev, host = backend.to_device, backend.to_host
    z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    y = np.array([2, 1])
    for loss, labels in [(losses.SparseCategoricalCrossentropy(from_logits=True), y),
                         (losses.CategoricalCrossentropy(from_logits=True), np.eye(3)[y])]:
        value = float(loss(dev(labels), dev(z)))
        assert np.isfinite(value) and abs(value - 2e4 / 2) < 1e-6 * 1e4  # (2e4 + 0) / 2
        assert np.all(np.isfinite(host(loss.backward())))
    b = losses.BinaryCrossentropy(from_logits=True)
    value = float(b(dev(np.array([[0.0], [1.0]])), dev(np.array([[1e4], [-1e4]]))))
    assert np.isfinite(value) and abs(value - 1e4) < 1e-6 * 1e4
    assert np.all(np.isfinite(host(b.backward())))


def test_large_logits_stay_finite_in_float32(backend):
    z = backend.to_device(np.array([[1e4, 0.0, -1e4]], dtype=np.float32))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert np.isfinite(float(loss(backend.to_device(np.array([2])), z)))
    assert np.all(np.isfinite(backend.to_host(loss.backward())))


# ----------------------------------------------------------------------------- label validation
@pytest.mark.parametrize("labels", [np.array([0, 1, 5]), np.array([0, -1, 2])])
def test_sparse_labels_out_of_range_raise_with_the_range(backend, labels):
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        losses.SparseCategoricalCrossentropy()(backend.to_device(labels), backend.to_device(np.full((3, C), 1 / C)))


def test_sparse_loss_refuses_non_integer_float_labels():
    with pytest.raises(ValueError, match="integer"):
        losses.SparseCategoricalCrossentropy()(np.array([0.5, 1.0, 2.0]), np.full((3, C), 1 / C))


def test_sparse_loss_refuses_one_hot_labels_with_shape_message(data):
    z, _, onehot = data
    with pytest.raises(ValueError, match=r"\(6, 5\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(onehot[:, :3], z)


def test_categorical_loss_refuses_wrong_one_hot_width(data):
    z, y, _ = data
    with pytest.raises(ValueError) as info:
        losses.CategoricalCrossentropy(from_logits=True)(np.eye(4)[y % 4], z)
    assert "(6, 4)" in str(info.value) and "(6, 5)" in str(info.value)
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy|to_categorical"):
        losses.CategoricalCrossentropy(from_logits=True)(y, z)


# ----------------------------------------------------------------------------- aliases and config
@pytest.mark.parametrize("alias,cls", [
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
])
def test_string_aliases_resolve(alias, cls):
    loss = losses.get(alias)
    assert type(loss) is cls
    assert getattr(loss, "from_logits", False) is False  # Keras: the string form means probabilities


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError) as info:
        losses.get("hinge_loss_2")
    assert "hinge_loss_2" in str(info.value) and "sparse_categorical_crossentropy" in str(info.value)


@pytest.mark.parametrize("loss", [losses.SparseCategoricalCrossentropy(from_logits=True),
                                  losses.CategoricalCrossentropy(label_smoothing=0.2),
                                  losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                                  losses.MeanSquaredError(reduction="sum"), losses.MeanAbsoluteError()],
                         ids=lambda l: type(l).__name__)
def test_loss_config_round_trip(loss):
    cfg = loss.get_config()
    clone = type(loss).from_config(cfg)
    assert clone.get_config() == cfg
    assert type(losses.deserialize(losses.serialize(loss))) is type(loss)


def test_loss_gradient_check_accepts_non_contiguous_predictions(backend, data):
    # a transposed view must be checked like its contiguous copy (perturbations reach it)
    z, y, _ = data
    z_view = backend.to_device(np.ascontiguousarray(z.T)).T  # a transposed view of a device array
    assert not z_view.flags.c_contiguous
    result = nn.debug.gradient_check(losses.SparseCategoricalCrossentropy(from_logits=True), z_view,
                                     backend.to_device(y))
    assert result.max_error < GRAD_TOL, result
