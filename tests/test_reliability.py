"""Reliability: bad input gets a clear error before any state changes; files are never left
half-written; Ctrl-C stops cleanly; a resumed run equals an uninterrupted one."""
import os
import signal

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.saving import npz as saving
from nnscratch.callbacks import BackupAndRestore

L = nn.layers


def small_mlp(seed=0, dropout=0.0, optimizer="adam"):
    nn.utils.set_random_seed(seed)
    layers = [L.Dense(16, activation="relu", input_shape=(8,))]
    if dropout:
        layers.append(L.Dropout(dropout))
    layers.append(L.Dense(3))
    m = nn.Sequential(layers)
    m.compile(optimizer=optimizer, loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


def data(n=64, seed=1):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, 8)).astype("float32"), g.integers(0, 3, n)


def snapshot(model):
    weights = [w.copy() for w in model.get_weights()]
    st = model.optimizer.get_state()
    return weights, st["iterations"], {k: {s: a.copy() for s, a in v.items()} for k, v in st["slots"].items()}


def assert_unchanged(model, snap):
    weights, iterations, slots = snap
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b, err_msg="weights changed")
    st = model.optimizer.get_state()
    assert st["iterations"] == iterations, "optimizer iterations changed"
    for k, v in slots.items():
        for s, a in v.items():
            np.testing.assert_array_equal(st["slots"][k][s], a, err_msg=f"optimizer slot {k}/{s} changed")


# ----------------------------------------------------------------------------- bad input
BAD_FIT_INPUTS = [
    ("labels out of range", lambda x, y: (x, np.full(len(y), 3)), ValueError, r"\[0, 2\].*3 classes"),
    ("negative labels", lambda x, y: (x, -np.ones(len(y), int)), ValueError, r"\[0, 2\]"),
    ("float labels to a sparse loss", lambda x, y: (x, y + 0.5), ValueError, "integer class indices"),
    ("x and y of different lengths", lambda x, y: (x, y[:-3]), ValueError, "64 samples but y has 61"),
    ("empty data", lambda x, y: (x[:0], y[:0]), ValueError, "empty"),
    ("wrong feature count", lambda x, y: (x[:, :5], y), ValueError, r"expected inputs of shape \(N, 8\).*dense"),
    ("wrong rank", lambda x, y: (x[:, :, None], y), ValueError, r"\(N, 8\)"),
    ("strings", lambda x, y: (np.array([["a"] * 8] * len(y)), y), TypeError, "numeric"),
]


@pytest.mark.parametrize("case,make,exc,pattern", BAD_FIT_INPUTS, ids=[c[0] for c in BAD_FIT_INPUTS])
def test_fit_rejects_bad_input_before_changing_state(case, make, exc, pattern):
    m = small_mlp()
    x, y = data()
    m.fit(x, y, epochs=1, verbose=0)  # optimizer state exists
    snap = snapshot(m)
    bx, by = make(x, y)
    with pytest.raises(exc, match=pattern):
        m.fit(bx, by, epochs=1, verbose=0)
    assert_unchanged(m, snap)


def test_one_hot_labels_of_the_wrong_width():
    m = nn.Sequential([L.Dense(3, input_shape=(8,))])
    m.compile("sgd", "categorical_crossentropy")
    x, y = data()
    with pytest.raises(ValueError, match=r"one-hot labels of shape \(64, 4\).*\(64, 3\)"):
        m.fit(x, nn.utils.to_categorical(y, 4), verbose=0)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"epochs": "3"}, "epochs must be a positive integer"),
])
def test_fit_rejects_bad_batch_size_and_epochs(kwargs, pattern):
    m = small_mlp()
    x, y = data()
    with pytest.raises(ValueError, match=pattern):
        m.fit(x, y, verbose=0, **kwargs)


def test_fit_before_compile():
    m = nn.Sequential([L.Dense(3, input_shape=(8,))])
    x, y = data()
    for call in (lambda: m.fit(x, y, verbose=0), lambda: m.evaluate(x, y, verbose=0), lambda: m.train_on_batch(x, y)):
        with pytest.raises(ValueError, match="compile"):
            call()


@pytest.mark.parametrize("make,pattern", [
    (lambda: L.Dense(3, activation="relux"), r"Dense .*unknown activation 'relux'; valid activations: .*relu"),
    (lambda: L.Activation("swishy"), r"unknown activation 'swishy'; valid activations: .*sigmoid"),
    (lambda: L.Dense(3, kernel_initializer="glorot"), r"unknown initializer 'glorot'; valid initializers: .*glorot_uniform"),
    (lambda: nn.losses.get("xent"), r"unknown loss 'xent'; valid losses: .*sparse_categorical_crossentropy"),
    (lambda: nn.optimizers.get("adamw2"), r"unknown optimizer 'adamw2'; valid optimizers: .*adam"),
    (lambda: L.Conv2D(4, 3, padding="full"), r"Conv2D .*padding must be one of 'valid', 'same', received 'full'"),
    (lambda: L.MaxPooling2D(padding="full"), r"MaxPooling2D .*padding must be one of 'valid', 'same'"),
    (lambda: L.Conv2D(4, 3, data_format="nchw"), r"data_format must be one of 'channels_last', 'channels_first'"),
])
def test_unknown_names_list_the_valid_ones(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


@pytest.mark.parametrize("make,pattern", [
    (lambda: L.Dense(0), "units must be a positive integer, received 0"),
    (lambda: L.Dense(-4), "units must be a positive integer"),
    (lambda: L.Conv2D(0, 3), "filters must be a positive integer"),
    (lambda: L.Conv2D(4, 0), "kernel_size must be positive"),
    (lambda: L.Conv2D(4, 3, strides=0), "strides must be positive"),
    (lambda: L.MaxPooling2D(2, strides=(1, 0)), "strides must be positive"),
    (lambda: L.Dropout(1.0), r"rate must be a float in \[0, 1\)"),
    (lambda: L.Dropout(-0.1), r"rate must be a float in \[0, 1\)"),
])
def test_invalid_layer_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


@pytest.mark.parametrize("layers,pattern", [
    (lambda: [L.Conv2D(4, 30, input_shape=(28, 28, 1))], r"Conv2D .*kernel \(30, 30\).*larger than the input"),
    (lambda: [L.MaxPooling2D(3, input_shape=(2, 2, 1))], r"MaxPooling2D .*pool_size \(3, 3\) is larger than the input"),
    (lambda: [L.AveragePooling2D(5, input_shape=(4, 9, 1))], r"AveragePooling2D .*larger than the input"),
    (lambda: [L.Dense(10, input_shape=(5,)), L.Conv2D(3, 3)], r"Conv2D .*expected input of rank 4.*received shape \(None, 10\).*output of 'dense"),
    (lambda: [L.Conv2D(3, 3, input_shape=(28, 28))], r"Conv2D .*rank 4.*\(None, 28, 28\)"),
])
def test_shape_errors_are_found_when_the_model_is_built(layers, pattern):
    with pytest.raises(ValueError, match=pattern):
        nn.Sequential(layers())


def test_channel_count_mismatch_names_the_layer_and_shapes():
    m = nn.Sequential([L.Conv2D(3, 3, input_shape=(28, 28, 1))])
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\).*conv2d.*\(2, 28, 28, 3\)"):
        m.predict(np.zeros((2, 28, 28, 3), "float32"), verbose=0)


def test_nan_inputs_rejected_when_checking_is_on():
    m = small_mlp()
    x, y = data()
    x[5, 2] = np.nan
    nn.config.set_check_numerics(True)
    try:
        with pytest.raises(ValueError, match="NaN or Inf.*sample 5"):
            m.fit(x, y, verbose=0)
        with pytest.raises(ValueError, match="NaN or Inf"):
            m.predict(x, verbose=0)
    finally:
        nn.config.set_check_numerics(False)
    m.predict(x, verbose=0)  # off by default: no check


def test_non_finite_loss_stops_fit_naming_step_and_layer(capsys):
    nn.utils.set_random_seed(0)
    m = nn.Sequential([L.Dense(4, input_shape=(8,)), L.Dense(1)])
    m.compile(optimizer=nn.optimizers.SGD(learning_rate=1e6), loss="mse")
    x, _ = data()
    y = np.full((64, 1), 1e3, "float32")
    h = m.fit(x * 100, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
    assert m.stop_reason is not None
    assert "non-finite loss" in m.stop_reason and "step" in m.stop_reason
    # the outputs were finite with the weights before the failing step: MSE overflowed
    assert "first non-finite value: the loss itself" in m.stop_reason, m.stop_reason
    assert len(h.history["loss"]) == 1 and not np.isfinite(h.history["loss"][0]), "Keras records the partial epoch"
    assert "Stopping" in capsys.readouterr().out


# ----------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_with_huge_logits_is_finite_with_correct_gradient(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=dtype)
    y = np.array([1, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = nn.losses.SparseCategoricalCrossentropy(from_logits=True)
        value = float(loss(y, z))
        grad = loss.backward()
    assert np.isfinite(value) and abs(value - 1e4) < 1e-2  # sample 0 pays 2e4, sample 1 pays 0 -> mean 1e4
    expected = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]) / 2  # (softmax - onehot) / N
    np.testing.assert_allclose(grad, expected, atol=1e-6)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        bce = nn.losses.BinaryCrossentropy(from_logits=True)
        v = float(bce(np.array([[1.0], [0.0]]), np.array([[-1e4], [1e4]], dtype=dtype)))
    assert np.isfinite(v) and abs(v - 1e4) < 1e-2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["softmax", "sigmoid", "tanh", "softplus", "elu"])
def test_activations_raise_no_overflow_warning(name, dtype):
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = nn.activations.get(name)(x)
    assert np.isfinite(y).all() and y.dtype == np.dtype(dtype)


# ----------------------------------------------------------------------------- files
def test_interrupted_save_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    m = small_mlp()
    x, y = data()
    m.fit(x, y, verbose=0)
    path = tmp_path / "w.npz"
    m.save_weights(path)
    before = path.read_bytes()
    m.fit(x, y, verbose=0)  # weights change

    def crash(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        m.save_weights(path)
    assert path.read_bytes() == before, "the old file must be whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"], "no temporary file may be left"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_architecture", "not_weights"])
def test_failed_load_leaves_weights_and_optimizer_untouched(tmp_path, damage):
    m = small_mlp()
    x, y = data()
    m.fit(x, y, verbose=0)
    path = tmp_path / "w.npz"
    if damage == "other_architecture":
        other = nn.Sequential([L.Dense(16, activation="relu", input_shape=(8,)), L.Dense(4)])
        other.compile("adam", "mse")
        other.save_weights(path)
    else:
        m.save_weights(path)
        raw = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(raw[: len(raw) // 2])
        elif damage == "garbage":
            path.write_bytes(b"\x00" * 100 + raw[100:])
        else:
            np.savez(path, a=np.zeros(3))
    m.fit(x, y, verbose=0)
    snap = snapshot(m)
    with pytest.raises(ValueError, match=str(path.name)):
        m.load_weights(path)
    assert_unchanged(m, snap)


# ----------------------------------------------------------------------------- Ctrl-C
class SigintAt(nn.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of this step


def test_ctrl_c_stops_after_the_current_step_with_consistent_state(capsys):
    x, y = data(64)
    m = small_mlp()
    replay = small_mlp()  # same seed: same initial weights
    h = m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[SigintAt(1, 3)])
    assert m.optimizer.iterations == 8 + 4, "the interrupted step must complete, and no further one start"
    assert len(h.history["loss"]) == 1, "History holds the completed epochs only"
    assert "interrupted" in capsys.readouterr().out.lower()
    for epoch_batches in (range(8), range(4)):
        for b in epoch_batches:
            replay.train_on_batch(x[8 * b:8 * b + 8], y[8 * b:8 * b + 8])
    for a, b in zip(m.get_weights(), replay.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "fit must restore the SIGINT handler"


# ----------------------------------------------------------------------------- resume
@pytest.mark.parametrize("save_freq", [5, "epoch"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, save_freq):
    x, y = data(64)
    full = small_mlp(seed=3, dropout=0.3)
    full.fit(x, y, batch_size=8, epochs=3, verbose=0)  # shuffled, with dropout: uses every RNG

    backup = tmp_path / "backup"
    first = small_mlp(seed=3, dropout=0.3)
    first.fit(x, y, batch_size=8, epochs=3, verbose=0,
              callbacks=[BackupAndRestore(backup, save_freq=save_freq), SigintAt(1, 6)])
    assert first._interrupted
    assert (backup / "checkpoint.npz").exists()

    resumed = small_mlp(seed=99, dropout=0.3)  # different init and RNG: the checkpoint must restore all
    h = resumed.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup, save_freq=save_freq)])
    for a, b in zip(resumed.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == full.optimizer.iterations
    np.testing.assert_array_equal(h.history["loss"], full.history.history["loss"])
    assert not (backup / "checkpoint.npz").exists(), "a finished run deletes its backup"
