"""Keras-tolerant integral arguments (issue 16, item 3): any integral number is accepted where an
integer is expected: Python ints and NumPy integers everywhere; integral floats (8.0) where Keras
3.15.1 accepts them (the callbacks' patience/cooldown, Reshape, BatchNormalization's axis, the
decay schedules' steps), and in fit/evaluate/predict's batch_size and epochs (Keras's TF backend
crashes on those with a TypeError; nnscratch has accepted them since the helpers landed). Bools,
negatives and non-integral values are refused with the messages of before. Stored values are
Python ints, so get_config stays JSON-safe."""
import json

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import callbacks as C
from nnscratch.optimizers import schedules
from tests.test_reliability import data, small_mlp

L = nn.layers
i64, i32 = np.int64, np.int32

ACCEPTED = [
    # (what, make, read, expected)
    ("Dense units int64", lambda: L.Dense(i64(3)), lambda l: l.units, 3),
    ("Dense units int32", lambda: L.Dense(i32(3)), lambda l: l.units, 3),
    ("Conv2D filters int32", lambda: L.Conv2D(filters=i32(8), kernel_size=3), lambda l: l.filters, 8),
    ("Conv2D kernel_size int64", lambda: L.Conv2D(8, i64(3)), lambda l: l.kernel_size, (3, 3)),
    ("Conv2D strides tuple of int64", lambda: L.Conv2D(8, 3, strides=(i64(2), 1)), lambda l: l.strides, (2, 1)),
    ("MaxPooling2D pool_size int64", lambda: L.MaxPooling2D(i64(2)), lambda l: l.pool_size, (2, 2)),
    ("AveragePooling2D strides int64", lambda: L.AveragePooling2D(2, strides=i64(1)), lambda l: l.strides, (1, 1)),
    ("Dropout seed int64", lambda: L.Dropout(0.5, seed=i64(3)), lambda l: l.seed, 3),
    ("Dropout rate float32", lambda: L.Dropout(np.float32(0.5)), lambda l: l.rate, 0.5),
    ("Reshape int64", lambda: L.Reshape((i64(2), 3)), lambda l: l.target_shape, (2, 3)),
    ("Reshape integral float (Keras accepts)", lambda: L.Reshape((2.0, -1)), lambda l: l.target_shape, (2, -1)),
    ("ZeroPadding2D int64", lambda: L.ZeroPadding2D(i64(1)), lambda l: l.padding, ((1, 1), (1, 1))),
    ("ZeroPadding2D pairs of int64", lambda: L.ZeroPadding2D(((i64(1), 2), (0, i64(1)))), lambda l: l.padding, ((1, 2), (0, 1))),
    ("Concatenate axis int64", lambda: L.Concatenate(axis=i64(-1)), lambda l: l.axis, -1),
    ("BatchNormalization axis int64", lambda: L.BatchNormalization(axis=i64(-1)), lambda l: l.axis, -1),
    ("BatchNormalization axis -1.0 (Keras accepts)", lambda: L.BatchNormalization(axis=-1.0), lambda l: l.axis, -1),
    ("Softmax axis int64", lambda: L.Softmax(axis=i64(-1)), lambda l: l.axis, -1),
    ("Input shape int64", lambda: L.InputLayer(shape=(i64(3),)), lambda l: l.output_shape, (None, 3)),
    ("Input shape scalar int64", lambda: L.InputLayer(shape=i64(3)), lambda l: l.output_shape, (None, 3)),
    ("input_shape int64", lambda: L.Dense(2, input_shape=(i64(4),)), lambda l: tuple(l.get_config()["input_shape"]), (4,)),
    ("EarlyStopping patience int64", lambda: C.EarlyStopping(patience=i64(2)), lambda c: c.patience, 2),
    ("EarlyStopping patience 2.0 (Keras accepts)", lambda: C.EarlyStopping(patience=2.0), lambda c: c.patience, 2),
    ("EarlyStopping start_from_epoch int64", lambda: C.EarlyStopping(start_from_epoch=i64(1)), lambda c: c.start_from_epoch, 1),
    ("ReduceLROnPlateau patience/cooldown int64",
     lambda: C.ReduceLROnPlateau(patience=i64(2), cooldown=i64(1)), lambda c: (c.patience, c.cooldown), (2, 1)),
    ("ReduceLROnPlateau patience/cooldown 2.0/1.0 (Keras accepts)",
     lambda: C.ReduceLROnPlateau(patience=2.0, cooldown=1.0), lambda c: (c.patience, c.cooldown), (2, 1)),
    ("BackupAndRestore save_freq int64", lambda: C.BackupAndRestore("/tmp/unused", save_freq=i64(5)), lambda c: c.save_freq, 5),
    ("TensorBoard histogram_freq/update_freq int64",
     lambda: C.TensorBoard("/tmp/unused", histogram_freq=i64(1), update_freq=i64(2)),
     lambda c: (c.histogram_freq, c.update_freq), (1, 2)),
    ("ExponentialDecay decay_steps int64", lambda: schedules.ExponentialDecay(0.1, i64(10), 0.9), lambda s: s.decay_steps, 10),
    ("ExponentialDecay decay_steps 10.0 (Keras accepts)", lambda: schedules.ExponentialDecay(0.1, 10.0, 0.9),
     lambda s: s.decay_steps, 10),
    ("SGD learning_rate float32", lambda: nn.optimizers.SGD(learning_rate=np.float32(0.5)), lambda o: o.learning_rate, 0.5),
    ("to_categorical num_classes int64", lambda: nn.utils.to_categorical([0, 1], i64(3)), lambda a: a.shape, (2, 3)),
]


@pytest.mark.parametrize("what,make,read,expected", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_integral_numbers_are_accepted(what, make, read, expected):
    obj = make()
    value = read(obj)
    assert value == expected
    flat = value if isinstance(value, tuple) else (value,)
    for v in np.ravel(np.array(flat, dtype=object)):
        assert v is None or type(v) in (int, float), f"{what}: stored {v!r} ({type(v).__name__}), not a Python number"
    if hasattr(obj, "get_config"):
        json.dumps(obj.get_config())  # JSON-safe


REFUSED = [
    # (what, make, exception, pattern): the messages of before
    ("Dense units bool", lambda: L.Dense(True), ValueError, "units must be a positive integer, received True"),
    ("Dense units 3.0 (Keras refuses)", lambda: L.Dense(3.0), ValueError, "units must be a positive integer, received 3.0"),
    ("Dense units 3.5", lambda: L.Dense(3.5), ValueError, "units must be a positive integer"),
    ("Dense units negative int64", lambda: L.Dense(i64(-2)), ValueError, "units must be a positive integer"),
    ("Conv2D filters 8.0 (Keras fails at build)", lambda: L.Conv2D(8.0, 3), ValueError, "filters must be a positive integer"),
    ("Conv2D filters bool", lambda: L.Conv2D(np.bool_(True), 3), ValueError, "filters must be a positive integer"),
    ("Conv2D kernel_size 3.0 (Keras refuses)", lambda: L.Conv2D(8, 3.0), TypeError, "kernel_size must be an int or a tuple"),
    ("MaxPooling2D pool_size 2.0 (Keras refuses)", lambda: L.MaxPooling2D(2.0), TypeError, "pool_size must be an int or a tuple"),
    ("Dropout seed 3.0 (Keras refuses)", lambda: L.Dropout(0.5, seed=3.0), ValueError, "Dropout .*seed must be a non-negative integer"),
    ("Dropout seed bool", lambda: L.Dropout(0.5, seed=True), ValueError, "Dropout .*seed must be a non-negative integer"),
    ("Dropout rate bool", lambda: L.Dropout(True), ValueError, r"rate must be a float in \[0, 1\)"),
    ("Reshape 2.5", lambda: L.Reshape((2.5, 3)), ValueError, "target_shape must hold positive ints"),
    ("Reshape bool", lambda: L.Reshape((True, 3)), ValueError, "target_shape must hold positive ints"),
    ("ZeroPadding2D negative", lambda: L.ZeroPadding2D(i64(-1)), ValueError, "padding"),
    ("ZeroPadding2D 1.0 (Keras refuses)", lambda: L.ZeroPadding2D(1.0), ValueError, "padding"),
    ("Concatenate axis -1.0 (Keras fails at call)", lambda: L.Concatenate(axis=-1.0), TypeError, "axis must be an int"),
    ("Concatenate axis bool", lambda: L.Concatenate(axis=True), TypeError, "axis must be an int"),
    ("BatchNormalization axis bool", lambda: L.BatchNormalization(axis=False), TypeError, "axis must be an int"),
    ("Input shape 3.0 (Keras refuses)", lambda: L.InputLayer(shape=(3.0,)), ValueError, "shape must contain positive integers"),
    ("EarlyStopping patience 2.5", lambda: C.EarlyStopping(patience=2.5), ValueError,
     "EarlyStopping: patience must be a non-negative integer, received 2.5"),
    ("EarlyStopping patience negative", lambda: C.EarlyStopping(patience=-1), ValueError, "patience must be a non-negative integer"),
    ("EarlyStopping patience bool", lambda: C.EarlyStopping(patience=True), ValueError, "patience must be a non-negative integer"),
    ("ReduceLROnPlateau cooldown 0.5", lambda: C.ReduceLROnPlateau(cooldown=0.5), ValueError,
     "ReduceLROnPlateau: cooldown must be a non-negative integer"),
    ("BackupAndRestore save_freq 5.0 (Keras refuses)", lambda: C.BackupAndRestore("/tmp/unused", save_freq=5.0), ValueError,
     "save_freq must be 'epoch' or a positive int"),
    ("BackupAndRestore save_freq bool", lambda: C.BackupAndRestore("/tmp/unused", save_freq=True), ValueError,
     "save_freq must be 'epoch' or a positive int"),
    ("TensorBoard histogram_freq bool", lambda: C.TensorBoard("/tmp/unused", histogram_freq=True), ValueError,
     "histogram_freq must be a non-negative int"),
    ("ExponentialDecay decay_steps bool", lambda: schedules.ExponentialDecay(0.1, True, 0.9), ValueError,
     "decay_steps must be a positive number"),
    ("to_categorical num_classes 3.0 (Keras refuses)", lambda: nn.utils.to_categorical([0, 1], 3.0), ValueError,
     "num_classes must be a positive integer"),
    ("set_random_seed 3.0 (Keras refuses)", lambda: nn.utils.set_random_seed(3.0), TypeError, "seed must be an int"),
    ("set_random_seed bool", lambda: nn.utils.set_random_seed(True), TypeError, "seed must be an int"),
]


@pytest.mark.parametrize("what,make,exc,pattern", REFUSED, ids=[c[0] for c in REFUSED])
def test_bools_negatives_and_non_integral_values_are_refused(what, make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_set_random_seed_accepts_numpy_integers():
    nn.utils.set_random_seed(np.int64(7))
    a = nn.backend.global_rng().random()
    nn.utils.set_random_seed(7)
    assert nn.backend.global_rng().random() == a


@pytest.mark.parametrize("kwargs", [
    {"batch_size": i64(8)}, {"batch_size": i32(8)}, {"batch_size": 8.0}, {"epochs": i64(2)}, {"epochs": 2.0},
    {"verbose": i64(0)}, {"verbose": 0.0}, {"validation_split": 0.25, "validation_batch_size": i64(4)},
    {"validation_split": 0.25, "validation_freq": i64(1)}, {"initial_epoch": i64(1), "epochs": 2},
], ids=lambda kw: ",".join(f"{k}={v!r}" for k, v in kw.items()))
def test_fit_evaluate_predict_accept_integral_numbers(kwargs):
    """Each call trains and gives the same numbers as with Python ints."""
    x, y = data(32)
    plain = {k: (int(v) if k != "validation_split" else v) for k, v in kwargs.items()}
    got = small_mlp(seed=2).fit(x, y, **dict({"verbose": 0}, **kwargs)).history
    want = small_mlp(seed=2).fit(x, y, **dict({"verbose": 0}, **plain)).history
    assert got == want and got["loss"]
    m = small_mlp(seed=2)
    np.testing.assert_array_equal(m.evaluate(x, y, batch_size=i64(8), verbose=i64(0)),
                                  m.evaluate(x, y, batch_size=8, verbose=0))
    np.testing.assert_array_equal(m.predict(x, batch_size=i64(8), verbose=i64(0)), m.predict(x, batch_size=8, verbose=0))


@pytest.mark.parametrize("kwargs,pattern", [
    ({"batch_size": True}, "batch_size must be a positive integer, received True"),
    ({"batch_size": i64(-8)}, "batch_size must be a positive integer"),
    ({"batch_size": 8.5}, "batch_size must be a positive integer"),
    ({"epochs": np.bool_(True)}, "epochs must be a positive integer"),
    ({"epochs": 2.5}, "epochs must be a positive integer"),
])
def test_fit_refuses_bools_negatives_and_fractions(kwargs, pattern):
    x, y = data(16)
    with pytest.raises(ValueError, match=pattern):
        small_mlp().fit(x, y, verbose=0, **kwargs)


def test_a_layer_built_from_numpy_integers_saves_and_reloads(tmp_path):
    model = nn.Sequential([L.Conv2D(i32(4), i64(3), input_shape=(i64(6), 6, 1)), L.MaxPooling2D(i64(2)),
                           L.Flatten(), L.Dense(i64(3))])
    model.compile("sgd", "mse")
    model.save(tmp_path / "m.keras")
    again = nn.models.load_model(tmp_path / "m.keras")
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
