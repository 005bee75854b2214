"""Callbacks: each one's rule on a scripted sequence of epoch logs, and its effect inside fit."""
import csv
import math
import os

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import callbacks as C


class StubModel:
    """What callbacks touch: stop_training, optimizer.learning_rate, get/set_weights."""

    def __init__(self, lr=0.1):
        self.stop_training = False
        self.optimizer = nn.optimizers.SGD(lr)
        self.weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, ws):
        self.weights = [w.copy() for w in ws]


def run_epochs(cb, values, key="val_loss", model=None):
    """Feed {key: value} epoch logs to ``cb``; returns (model, epochs run before it stopped)."""
    model = model or StubModel()
    cb.set_model(model)
    cb.on_train_begin()
    epochs = 0
    for epoch, v in enumerate(values):
        cb.on_epoch_begin(epoch)
        model.weights = [np.full(2, float(epoch))]
        cb.on_epoch_end(epoch, {key: v})
        epochs += 1
        if model.stop_training:
            break
    cb.on_train_end()
    return model, epochs


def _tiny_model(lr=0.05):
    model = nn.Sequential([nn.Input((3,)), nn.layers.Dense(4, activation="tanh"), nn.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=nn.optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=16):
    gen = np.random.default_rng(0)
    return gen.standard_normal((n, 3)).astype("float32"), gen.integers(0, 2, n)


# ---------------------------------------------------------------- EarlyStopping
@pytest.mark.parametrize("patience, values, expected_epochs", [
    (0, [1.0, 0.9, 0.95, 0.8], 3),          # stops at the first epoch without improvement (epoch > 0)
    (2, [1.0, 0.9, 0.95, 0.96, 0.5], 4),    # two epochs without improvement
    (1, [1.0, 1.0, 1.0], 2),                # equal is not an improvement
    (0, [1.0, 2.0], 2),                     # epoch 0 never stops
])
def test_early_stopping_patience(patience, values, expected_epochs):
    _, epochs = run_epochs(C.EarlyStopping(patience=patience), values)
    assert epochs == expected_epochs


def test_early_stopping_min_delta_mode_and_baseline():
    # an improvement smaller than min_delta does not count
    _, epochs = run_epochs(C.EarlyStopping(min_delta=0.1, patience=1), [1.0, 0.85, 0.8, 0.5])
    assert epochs == 3  # 0.85 beats 1.0 by more than 0.1; 0.8 does not beat 0.85 by 0.1
    _, epochs = run_epochs(C.EarlyStopping(patience=1), [1.0, 0.85, 0.8, 0.5])
    assert epochs == 4
    # 'max' for accuracy in auto mode
    _, epochs = run_epochs(C.EarlyStopping(monitor="val_accuracy", patience=0), [0.5, 0.6, 0.55], key="val_accuracy")
    assert epochs == 3
    # baseline not beaten: improvements do not reset wait, so the first flat epoch stops training
    _, epochs = run_epochs(C.EarlyStopping(baseline=0.5, patience=2), [1.0, 0.9, 0.8, 0.8, 0.8])
    assert epochs == 4
    _, epochs = run_epochs(C.EarlyStopping(patience=2), [1.0, 0.9, 0.8, 0.8, 0.8])
    assert epochs == 5
    with pytest.raises(ValueError, match="mode='max'"):
        run_epochs(C.EarlyStopping(monitor="val_thing"), [1.0], key="val_thing")


def test_early_stopping_start_from_epoch_and_restore_best_weights():
    _, epochs = run_epochs(C.EarlyStopping(start_from_epoch=2, patience=0), [1.0, 2.0, 3.0, 4.0])
    assert epochs == 4  # epochs 0-1 ignored; 2 sets best; 3 is worse and stops
    model, _ = run_epochs(C.EarlyStopping(patience=5, restore_best_weights=True), [1.0, 0.5, 0.7, 0.9])
    np.testing.assert_array_equal(model.weights[0], np.full(2, 1.0), err_msg="best epoch was 1")


def test_early_stopping_in_fit_stops_training():
    x, y = _data()
    model = _tiny_model(lr=0.0)  # the loss cannot improve
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[C.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)])
    assert len(history.history["loss"]) == 3


# ---------------------------------------------------------------- ReduceLROnPlateau / LearningRateScheduler
def test_reduce_lr_on_plateau_sequence_with_cooldown_and_min_lr():
    # Keras's order: the cooldown counter is decremented before the test, so cooldown=2 skips one epoch
    cb = C.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.02)
    model = StubModel(lr=0.1)
    lrs = []
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": v}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert "learning_rate" in logs
    np.testing.assert_allclose(lrs, [0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    with pytest.raises(ValueError, match="factor"):
        C.ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = _data()
    model = _tiny_model(lr=0.1)
    seen = []
    cb = C.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    spy = C.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(model.optimizer.learning_rate))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[cb, spy])
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.025])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.025])
    one_arg = C.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[one_arg])
    assert model.optimizer.learning_rate == pytest.approx(0.02)


# ---------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_templates_and_best_only(tmp_path):
    x, y = _data()
    model = _tiny_model()
    pattern = str(tmp_path / "ckpt_{epoch:02d}-{val_accuracy:.2f}.npz")
    cb = C.ModelCheckpoint(pattern, save_weights_only=True)
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[cb])
    expected = sorted(f"ckpt_{e + 1:02d}-{a:.2f}.npz" for e, a in enumerate(history.history["val_accuracy"]))
    assert sorted(os.listdir(tmp_path)) == expected
    restored = _tiny_model()
    restored.load_weights(tmp_path / expected[-1])
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_save_best_only_writes_on_improvement(tmp_path):
    cb = C.ModelCheckpoint(str(tmp_path / "m_{epoch}.keras"), save_best_only=True)
    saved = []
    model = StubModel()
    model.save = lambda path, overwrite=True: saved.append(os.path.basename(path))
    run_epochs(cb, [1.0, 0.8, 0.9, 0.7], model=model)
    assert saved == ["m_1.keras", "m_2.keras", "m_4.keras"]
    with pytest.raises(ValueError, match="'.npz'.*'.weights.h5'"):
        C.ModelCheckpoint("w.h5", save_weights_only=True)
    C.ModelCheckpoint("w.weights.h5", save_weights_only=True)  # Keras's weights file is accepted
    with pytest.raises(ValueError, match="'.keras'"):
        C.ModelCheckpoint("m.npz")


def test_model_checkpoint_whole_model_loads(tmp_path):
    x, y = _data()
    model = _tiny_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[C.ModelCheckpoint(str(tmp_path / "m.keras"), monitor="loss")])
    loaded = nn.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))


# ---------------------------------------------------------------- CSVLogger, TerminateOnNaN, LambdaCallback
def test_csv_logger_rows_match_history_and_append(tmp_path):
    x, y = _data()
    model = _tiny_model()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[C.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history.history["loss"])
    model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), callbacks=[C.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        assert len(list(csv.DictReader(f))) == 3


def test_csv_logger_adds_na_validation_columns_like_keras(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    _tiny_model().fit(x, y, epochs=1, verbose=0, callbacks=[C.CSVLogger(path)])
    with open(path, newline="") as f:
        row = next(csv.DictReader(f))
    assert row["val_loss"] == "NA" and row["val_accuracy"] == "NA"


def test_terminate_on_nan():
    cb = C.TerminateOnNaN()
    model = StubModel()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": math.nan})
    assert model.stop_training
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        C.TerminateOnNaN(raise_error=True).on_train_batch_end(0, {"loss": math.inf})


def test_lambda_callback_hooks_run_in_fit():
    x, y = _data(16)
    calls = {"epoch_end": 0, "batch_end": 0, "train_end": 0}
    cb = C.LambdaCallback(on_epoch_end=lambda e, logs: calls.__setitem__("epoch_end", calls["epoch_end"] + 1),
                          on_train_batch_end=lambda b, logs: calls.__setitem__("batch_end", calls["batch_end"] + 1),
                          on_train_end=lambda logs: calls.__setitem__("train_end", calls["train_end"] + 1))
    _tiny_model().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    assert calls == {"epoch_end": 2, "batch_end": 4, "train_end": 1}
    with pytest.raises(TypeError, match="unknown hook"):
        C.LambdaCallback(on_epoch_ending=print)


# ---------------------------------------------------------------- TensorBoard
def test_tensorboard_writes_scalars_and_histograms_that_tensorboard_reads(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    x, y = _data()
    model = _tiny_model()
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=[C.TensorBoard(log_dir=str(tmp_path), histogram_freq=1)])
    train = event_accumulator.EventAccumulator(str(tmp_path / "train"), size_guidance={"histograms": 0})
    train.Reload()
    val = event_accumulator.EventAccumulator(str(tmp_path / "validation"))
    val.Reload()
    loss = [e.value for e in train.Scalars("epoch_loss")]
    np.testing.assert_allclose(loss, history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], history.history["val_loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("epoch_accuracy")] == [0, 1, 2]
    dense = model.layers[0]
    tag = f"{dense.name}/kernel"
    assert tag in train.Tags()["histograms"]
    hist = train.Histograms(tag)
    assert len(hist) == 3 and hist[-1].histogram_value.num == dense.params["kernel"].size
