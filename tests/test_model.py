"""Sequential: summary counts, fit/evaluate/predict semantics (Keras's), the fused softmax +
cross-entropy, reproducibility, float64, weights files, whole-model gradient checks."""
import math
import os

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend

GRAD_TOL = 1e-6  # float64 central differences with h=1e-6: a correct backward gives ~1e-8


@pytest.fixture(autouse=True)
def restore_globals():
    old = backend.floatx()
    yield
    backend.set_floatx(old)


def dense_params(d_in, units):
    return d_in * units + units  # kernel + bias


def conv_params(kh, kw, c_in, filters):
    return kh * kw * c_in * filters + filters


def mlp(seed=0, units=(8,), n_in=6, n_out=3, activation="tanh", out_activation=None, loss=None, optimizer="adam"):
    nn.utils.set_random_seed(seed)
    layers = [nn.Input(shape=(n_in,))] + [nn.layers.Dense(u, activation=activation) for u in units]
    layers.append(nn.layers.Dense(n_out, activation=out_activation))
    model = nn.Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss or nn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def toy_data(n=40, n_in=6, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)).astype("float32"), rng.integers(0, n_out, n)


# ----------------------------------------------------------------------------- summary
def test_summary_of_seed_mlp_reports_59850_params():
    model = nn.Sequential([nn.Input(shape=(28, 28)), nn.layers.Flatten(), nn.layers.Dense(64),
                           nn.layers.Dense(128), nn.layers.Dense(10)])
    expected = dense_params(28 * 28, 64) + dense_params(64, 128) + dense_params(128, 10)
    assert expected == 59_850
    lines = []
    model.summary(print_fn=lines.append)
    assert model.count_params() == expected
    total = [l for l in lines if "Total params" in l]
    assert total and f"{expected:,}" in total[0]
    assert any("(None, 784)" in l for l in lines) and any(f"{dense_params(784, 64):,}" in l for l in lines)


def test_summary_of_lenet_with_same_pools_reports_81194_params():
    model = nn.Sequential([
        nn.Input(shape=(28, 28, 1)),
        nn.layers.Conv2D(6, 3, activation="relu"), nn.layers.AveragePooling2D(2, padding="same"),
        nn.layers.Conv2D(16, 3, activation="relu"), nn.layers.AveragePooling2D(2, padding="same"),
        nn.layers.Flatten(), nn.layers.Dense(120, activation="relu"), nn.layers.Dense(84, activation="relu"),
        nn.layers.Dense(10, activation="softmax"),
    ])
    h = 28 - 3 + 1            # conv 'valid'
    h = math.ceil(h / 2)      # pool 'same'
    h = h - 3 + 1
    h = math.ceil(h / 2)
    flat = h * h * 16
    expected = (conv_params(3, 3, 1, 6) + conv_params(3, 3, 6, 16) + dense_params(flat, 120)
                + dense_params(120, 84) + dense_params(84, 10))
    assert (h, expected) == (6, 81_194)
    lines = []
    model.summary(print_fn=lines.append)
    assert model.count_params() == expected
    assert f"{expected:,}" in [l for l in lines if "Total params" in l][0]
    assert model.layers[3].output_shape == (None, h, h, 16) and model.layers[4].output_shape == (None, flat)


# ----------------------------------------------------------------------------- fit / evaluate / predict
def test_fit_returns_history_with_keras_keys(backend):
    model = mlp()
    x, y = toy_data()
    h = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}
    assert h.epoch == [0, 1, 2] and all(len(v) == 3 for v in h.history.values())
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x[:10], y[:10]))
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in h.history.values())


def test_epoch_loss_is_batch_size_weighted_mean_of_pre_update_batch_losses(backend):
    x, y = toy_data(n=10)
    model, replay = mlp(seed=3), mlp(seed=4)
    replay.set_weights(model.get_weights())
    h = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    batches = [(0, 4), (4, 8), (8, 10)]  # the last partial batch counts
    losses, accs = [], []
    for a, b in batches:
        loss, acc = replay.train_on_batch(x[a:b], y[a:b])
        losses.append(loss)
        accs.append(acc)
    sizes = np.array([b - a for a, b in batches])
    expected = float(np.sum(sizes * np.array(losses)) / sizes.sum())
    # float32 losses summed in a different order: 1e-6 relative
    assert h.history["loss"][0] == pytest.approx(expected, rel=1e-6)
    assert h.history["loss"][0] != pytest.approx(float(np.mean(losses)), rel=1e-6), "not the plain mean"
    assert h.history["accuracy"][0] == pytest.approx(float(np.sum(sizes * np.array(accs)) / 10), rel=1e-6)
    for a, b in zip(model.get_weights(), replay.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == replay.optimizer.iterations == 3


def test_evaluate_returns_loss_and_accuracy_from_their_definitions(backend):
    model = mlp(seed=1)
    x, y = toy_data(n=37, seed=5)
    loss, acc = model.evaluate(x, y, batch_size=8, verbose=0)
    z = model.predict(x).astype(np.float64)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_p[np.arange(37), y].mean(), rel=1e-5)  # float32 forward
    # metric state is float32, as Keras's: hits / count is the float32 quotient, exactly
    assert acc == float(np.float32((z.argmax(axis=1) == y).sum()) / np.float32(37))


def test_predict_returns_a_numpy_array_of_output_shape(backend):
    model = mlp()
    out = model.predict(np.zeros((13, 6), dtype="float32"), batch_size=4)
    assert isinstance(out, np.ndarray) and out.shape == (13, 3) and out.dtype == np.float32


def test_train_on_batch_returns_pre_update_loss_and_updates_weights(backend):
    model = mlp(seed=2)
    x, y = toy_data(n=16)
    before = model.test_on_batch(x, y)
    assert before == pytest.approx(model.evaluate(x, y, batch_size=16, verbose=0), rel=1e-6)
    w0 = model.get_weights()
    result = model.train_on_batch(x, y)
    assert result[0] == pytest.approx(before[0], rel=1e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))
    assert model.test_on_batch(x, y)[0] < before[0], "one Adam step on the same batch lowers its loss"


def test_validation_split_takes_the_last_fraction(backend):
    model = mlp(seed=6)
    x, y = toy_data(n=50, seed=7)
    h = model.fit(x, y, batch_size=8, epochs=1, validation_split=0.2, shuffle=True, verbose=0)
    last = model.evaluate(x[40:], y[40:], verbose=0)
    first = model.evaluate(x[:10], y[:10], verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(last[0], rel=1e-6)
    assert h.history["val_loss"][0] != pytest.approx(first[0], rel=1e-6)
    assert model.optimizer.iterations == math.ceil(40 / 8), "trained on the first 40 samples only"


# ----------------------------------------------------------------------------- accuracy resolution
def test_accuracy_is_binary_for_one_unit_output(backend):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((30, 4)).astype("float32")
    y = rng.integers(0, 2, 30).astype("float32")
    model = mlp(n_in=4, n_out=1, out_activation="sigmoid", loss="binary_crossentropy")
    _, acc = model.evaluate(x, y, verbose=0)
    p = model.predict(x)[:, 0]
    assert acc == float(np.float32(((p > 0.5) == (y > 0.5)).sum()) / np.float32(p.size))


def test_accuracy_is_sparse_for_integer_labels_and_categorical_for_one_hot(backend):
    x, y = toy_data(n=30, seed=9)
    sparse = mlp(seed=9, out_activation="softmax", loss="sparse_categorical_crossentropy")
    _, acc_s = sparse.evaluate(x, y, verbose=0)
    p = sparse.predict(x)
    assert acc_s == float(np.float32((p.argmax(1) == y).sum()) / np.float32(len(y)))
    onehot = nn.utils.to_categorical(y, 3)
    cat = mlp(seed=9, out_activation="softmax", loss="categorical_crossentropy")
    _, acc_c = cat.evaluate(x, onehot, verbose=0)
    assert acc_c == float(np.float32((cat.predict(x).argmax(1) == onehot.argmax(1)).sum()) / np.float32(len(y)))
    assert acc_c == pytest.approx(acc_s, abs=1e-12)  # same seed, same weights, same labels


# ----------------------------------------------------------------------------- fused softmax + CE
def test_softmax_output_with_probability_loss_uses_the_logits(backend):
    model = nn.Sequential([nn.Input(shape=(1,)), nn.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.set_weights([np.array([[60.0, 0.0, 0.0]], dtype="float32"), np.zeros(3, dtype="float32")])
    x, y = np.ones((2, 1), dtype="float32"), np.array([1, 2])
    z = np.array([60.0, 0.0, 0.0])
    expected = np.log(np.exp(z - 60).sum()) + 60 - 0.0  # logsumexp(z) - z_true = ~60
    loss, _ = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(expected, rel=1e-6)
    clipped = -np.log(1e-7) + np.log(1 - 1e-7 + 2e-7)  # what the clipped probabilities would give: ~16.1
    direct = float(nn.losses.SparseCategoricalCrossentropy()(y, model.predict(x)))
    assert direct == pytest.approx(clipped, rel=1e-5) and abs(loss - direct) > 40
    # the gradient at the logits is (softmax(z) - onehot) / N, so the kernel gradient is its sum
    model.train_on_batch(x, y)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    dz = (np.stack([p, p]) - np.eye(3)[y]) / 2
    dW = x.T.astype(np.float64) @ dz
    np.testing.assert_allclose(backend.to_host(model.layers[0].grads["kernel"]), dW, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- reproducibility, float64
def _seeded_run(seed):
    nn.utils.set_random_seed(seed)
    model = nn.Sequential([nn.Input(shape=(6,)), nn.layers.Dense(16, activation="relu"), nn.layers.Dropout(0.3),
                           nn.layers.Dense(3)])
    model.compile(optimizer="adam", loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x, y = toy_data(n=64)
    h = model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    return model.get_weights(), h.history


def test_set_random_seed_makes_runs_bit_for_bit_identical(backend):
    w1, h1 = _seeded_run(123)
    w2, h2 = _seeded_run(123)
    w3, _ = _seeded_run(124)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))


def test_float64_trains_in_float64(backend):
    backend.set_floatx("float64")
    model = mlp(seed=0)
    x, y = toy_data()
    h = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert all(backend.to_host(g).dtype == np.float64 for _, _, g in model.parameters())
    assert model.predict(x).dtype == np.float64
    assert all(backend.to_host(st).dtype == np.float64 for s in model.optimizer.state.values() for st in s.values())
    assert np.isfinite(h.history["loss"][0])


# ----------------------------------------------------------------------------- weights files
def test_save_and_load_weights_round_trip(backend, tmp_path):
    model, other = mlp(seed=0), mlp(seed=1)
    x, y = toy_data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    assert sorted(os.listdir(tmp_path)) == ["w.npz"], "no temporary files left behind"
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), other.predict(x))


def test_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    model = mlp(seed=0)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    old = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def broken_fsync(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        model.save_weights(path)
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]


def test_loading_a_truncated_file_raises_and_changes_nothing(tmp_path):
    model, target = mlp(seed=0), mlp(seed=1)
    good = tmp_path / "w.npz"
    model.save_weights(good)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    before = target.get_weights()
    with pytest.raises(ValueError, match="bad.npz"):
        target.load_weights(bad)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_loading_a_different_architecture_raises_and_changes_nothing(tmp_path):
    path = tmp_path / "w.npz"
    mlp(seed=0, units=(8,)).save_weights(path)
    target = mlp(seed=1, units=(5,))
    before = target.get_weights()
    with pytest.raises(ValueError) as info:
        target.load_weights(path)
    assert "(6, 5)" in str(info.value) and "(6, 8)" in str(info.value)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)
    deeper = mlp(seed=1, units=(8, 8))
    with pytest.raises(ValueError):
        deeper.load_weights(path)


# ----------------------------------------------------------------------------- model gradient checks
def small_cnn():
    nn.utils.set_random_seed(0)
    model = nn.Sequential([
        nn.Input(shape=(7, 6, 2)),
        nn.layers.Conv2D(3, (3, 2), padding="same", activation="tanh"),
        nn.layers.MaxPooling2D(2, padding="same"),
        nn.layers.Conv2D(2, 2, strides=(1, 1), activation="tanh"),
        nn.layers.AveragePooling2D(2),
        nn.layers.Flatten(),
        nn.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")  # fused softmax + CE
    return model


def test_whole_model_gradient_check_mlp_float64(backend):
    backend.set_floatx("float64")
    model = mlp(seed=0, units=(7, 5), activation="tanh")
    x, y = toy_data(n=5)
    result = nn.debug.gradient_check(model, backend.to_device(x), backend.to_device(y))
    assert {"x"} | {k for k, _, _ in model.parameters()} == set(result)
    assert result.max_error < GRAD_TOL, result


def test_whole_model_gradient_check_cnn_float64(backend):
    backend.set_floatx("float64")
    model = small_cnn()
    x = backend.to_device(np.random.default_rng(1).standard_normal((3, 7, 6, 2)))
    result = nn.debug.gradient_check(model, x, backend.to_device(np.array([0, 2, 1])))
    assert len(result) == 1 + 6
    assert result.max_error < GRAD_TOL, result


def test_model_gradient_check_names_a_planted_wrong_backward(backend):
    backend.set_floatx("float64")
    model = mlp(seed=0, units=(7, 5), activation="tanh")
    x, y = toy_data(n=5)
    bad_layer = model.layers[1]
    correct_backward = bad_layer.backward

    def wrong_backward(dy):
        dx = correct_backward(dy)
        bad_layer.grads["kernel"] *= 1.5  # a planted bug: the kernel gradient is 50 % too large
        return dx

    bad_layer.backward = wrong_backward
    result = nn.debug.gradient_check(model, backend.to_device(x), backend.to_device(y))
    assert result.worst[0] == f"{bad_layer.name}/kernel"
    assert result.max_error > 0.1
    others = {k: v for k, v in result.items() if k != f"{bad_layer.name}/kernel"}
    assert max(others.values()) < GRAD_TOL, "only the planted parameter is wrong"
