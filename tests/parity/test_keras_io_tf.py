"""Weights across the border: Keras -> nnscratch (model object and .weights.h5 file) and
nnscratch -> Keras (.weights.h5 written with h5py, read by keras_model.load_weights), each
checked by exact weights and equal predictions."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

import nnscratch as nn
from nnscratch.saving import keras_h5 as keras_io
from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._models import build_pair, load_data
from tests.parity._tf import load_tf

pytestmark = pytest.mark.tf
MODELS = ["mlp", "lenet", "dropout_mlp", "softmax_regression"]


def _x(shape, n=16):
    x8, _, _ = load_data(n)
    return (x8.astype("float32") / 255.0).reshape((-1,) + shape)


def _fresh_nn(name, keras):
    """An nnscratch model with its OWN random initial weights (not Keras's)."""
    _, nm, shape, _ = build_pair(name, keras)
    for layer in nm.layers:
        for w in layer.weights:
            w[...] = np.random.default_rng(len(w.shape)).standard_normal(w.shape).astype(w.dtype) * 0.05
    return nm, shape


def _assert_same(name, what, nm, km, x):
    for i, (a, b) in enumerate(zip(nm.get_weights(), km.get_weights())):
        assert_close(name, f"{what} weight[{i}]", a, b, tolerances.EXACT)
    assert len(nm.get_weights()) == len(km.get_weights())
    assert_close(name, f"{what} predictions", nm.predict(x), km.predict(x, verbose=0), tolerances.PREDICT)


@pytest.mark.parametrize("name", MODELS)
def test_keras_model_object_weights_load_into_nnscratch(name):
    tf, keras = load_tf()
    km, _, shape, _ = build_pair(name, keras)
    nm, _ = _fresh_nn(name, keras)
    keras_io.copy_weights_from_keras(nm, km)
    _assert_same(name, "from Keras object", nm, km, _x(shape))


@pytest.mark.parametrize("name", MODELS)
def test_keras_weights_file_loads_into_nnscratch(name, tmp_path):
    tf, keras = load_tf()
    km, _, shape, _ = build_pair(name, keras)
    x = _x(shape)
    y = np.arange(len(x)) % 10
    km.train_on_batch(x, y if name not in ("dropout_mlp",) else np.eye(10)[y])  # the file then has an optimizer group
    path = tmp_path / "keras_model.weights.h5"
    km.save_weights(path)
    nm, _ = _fresh_nn(name, keras)
    nm.load_weights(str(path))  # saving.load_weights dispatches .h5 to keras_io
    _assert_same(name, "from Keras .weights.h5", nm, km, x)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # our file holds no optimizer
@pytest.mark.parametrize("name", MODELS)
def test_nnscratch_weights_load_into_keras(name, tmp_path):
    tf, keras = load_tf()
    km, _, shape, _ = build_pair(name, keras)
    nm, _ = _fresh_nn(name, keras)
    path = tmp_path / "nn_model.weights.h5"
    nm.save_weights(str(path))
    km.load_weights(path)
    _assert_same(name, "into Keras via .weights.h5", nm, km, _x(shape))
    km2, _, _, _ = build_pair(name, keras)
    keras_io.copy_weights_to_keras(nm, km2)
    _assert_same(name, "into Keras model object", nm, km2, _x(shape))


def test_channels_first_lenet_runs_keras_weights(tmp_path):
    """An NCHW nnscratch LeNet loads an NHWC Keras LeNet's file unchanged (kernels are
    (KH, KW, C_in, C_out) either way, Flatten orders (h, w, c)) and predicts the same."""
    tf, keras = load_tf()
    km, _, shape, _ = build_pair("lenet", keras)
    path = tmp_path / "lenet.weights.h5"
    km.save_weights(path)
    L = nn.layers
    nm = nn.Sequential([nn.Input((1, 28, 28)), L.Conv2D(6, 3, activation="relu", data_format="channels_first"),
                        L.AveragePooling2D(2, 2, padding="same", data_format="channels_first"),
                        L.Conv2D(16, 3, activation="relu", data_format="channels_first"),
                        L.AveragePooling2D(2, 2, padding="same", data_format="channels_first"),
                        L.Flatten(data_format="channels_first"), L.Dense(120, activation="relu"),
                        L.Dense(84, activation="relu"), L.Dense(10, activation="softmax")])
    nm.load_weights(str(path))
    x = _x(shape)
    assert_close("lenet channels_first", "predictions", nm.predict(x.transpose(0, 3, 1, 2)),
                 km.predict(x, verbose=0), tolerances.PREDICT)


def test_mismatched_or_foreign_files_raise_clear_errors(tmp_path):
    tf, keras = load_tf()
    km, _, _, _ = build_pair("mlp", keras)
    path = tmp_path / "mlp.weights.h5"
    km.save_weights(path)
    _, other, _, _ = build_pair("softmax_regression", keras)
    before = other.get_weights()
    with pytest.raises(ValueError, match="dense"):
        other.load_weights(str(path))
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg="a failed load must change nothing")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="not a Keras 3 weights file"):
        other.load_weights(str(foreign))
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        keras_io.save_keras_weights(other, str(tmp_path / "model.h5"))
