"""Whole-model save/load (architecture, weights, optimizer state, compile settings) and the
config round trip of every layer class."""
import json
import os
import zipfile

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import layers as L


def _data(n=24, seed=0):
    gen = np.random.default_rng(seed)
    return gen.standard_normal((n, 6, 6, 1)).astype("float32"), gen.integers(0, 3, n)


def _cnn():
    return nn.Sequential([
        nn.Input((6, 6, 1)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ])


def _functional():
    x = nn.Input((6, 6, 1))
    h = L.Conv2D(4, 3, activation="relu")(x)
    g = L.GlobalAveragePooling2D()(h)
    m = L.GlobalMaxPooling2D()(h)
    y = L.Dense(3, activation="softmax")(L.Concatenate()([g, m]))
    return nn.Model(x, y)


@pytest.mark.parametrize("build", [_cnn, _functional], ids=["sequential", "functional"])
def test_save_load_then_continue_training_is_identical(tmp_path, build):
    x, y = _data()
    nn.utils.set_random_seed(0)
    ref = build()
    init = ref.get_weights()
    ref.compile(optimizer=nn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ref.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)

    model = build()
    model.set_weights(init)
    model.compile(optimizer=nn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = nn.models.load_model(path)
    assert type(loaded) is type(model) and loaded.compiled
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    history = loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ref.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg="resumed training diverged from uninterrupted training")
    assert list(history.history) == ["loss", "accuracy"]


def test_saved_file_holds_config_compile_settings_and_weights(tmp_path):
    model = _cnn()
    model.compile(optimizer=nn.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    path = tmp_path / "m.nnscratch"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        cfg = json.loads(zf.read("config.json"))
    assert cfg["model"]["class_name"] == "Sequential"
    assert [l["class_name"] for l in cfg["model"]["config"]["layers"]] == [
        "Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense"]
    assert cfg["compile"]["optimizer"]["class_name"] == "SGD"
    assert cfg["compile"]["optimizer"]["config"]["momentum"] == 0.9
    assert cfg["compile"]["metrics"] == ["accuracy"]
    loaded = nn.models.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.optimizer.learning_rate == 0.05 and loaded.optimizer.momentum == 0.9


def test_uncompiled_model_saves_and_loads_uncompiled(tmp_path):
    model = _functional()
    model.save(tmp_path / "f.keras")
    loaded = nn.models.load_model(tmp_path / "f.keras")
    assert not loaded.compiled
    x, _ = _data(4)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="must end in '.keras', '.h5' or '.nnscratch'"):
        _cnn().save(tmp_path / "m.txt")
    with pytest.raises(FileNotFoundError):
        nn.models.load_model(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="truncated or not a zip"):
        nn.models.load_model(bad)
    good = tmp_path / "good.keras"
    _cnn().save(good)
    good.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError):
        nn.models.load_model(good)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    model = _cnn()
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == ["m.keras"]


# one constructor call (with non-default arguments where there are some) for every layer class
def _functional_example():
    x = nn.Input((3,), name="fx_in")
    d = L.Dense(3, name="fx_shared")
    y = L.add([d(x), d(d(x))])  # a shared layer, three nodes
    return nn.Model(x, L.Dense(2, name="fx_out")(y), name="fx_example")


LAYER_EXAMPLES = {
    "Activation": lambda: L.Activation("tanh"),
    "LeakyReLU": lambda: L.LeakyReLU(negative_slope=0.2),
    "ReLU": lambda: L.ReLU(max_value=6.0),
    "Softmax": lambda: L.Softmax(axis=-1),
    "Conv2D": lambda: L.Conv2D(3, (2, 3), strides=1, padding="same", dilation_rate=2, activation="relu"),
    "Dense": lambda: L.Dense(7, activation="sigmoid", use_bias=False),
    "Dropout": lambda: L.Dropout(0.3),
    "InputLayer": lambda: L.InputLayer(shape=(4, 5)),
    "AveragePooling2D": lambda: L.AveragePooling2D(3, strides=2, padding="same"),
    "MaxPooling2D": lambda: L.MaxPooling2D(2, data_format="channels_first"),
    "Flatten": lambda: L.Flatten(),
    "Add": lambda: L.Add(),
    "Subtract": lambda: L.Subtract(),
    "Multiply": lambda: L.Multiply(),
    "Average": lambda: L.Average(),
    "Concatenate": lambda: L.Concatenate(axis=1),
    "Maximum": lambda: L.Maximum(),
    "Minimum": lambda: L.Minimum(),
    "Sequential": lambda: nn.Sequential([nn.Input((3,)), L.Dense(2, activation="tanh")], name="seq_example"),
    "Model": lambda: _functional_example(),
    "BatchNormalization": lambda: L.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False),
    "GlobalAveragePooling2D": lambda: L.GlobalAveragePooling2D(keepdims=True),
    "GlobalMaxPooling2D": lambda: L.GlobalMaxPooling2D(data_format="channels_first"),
    "Reshape": lambda: L.Reshape((2, -1)),
    "ZeroPadding2D": lambda: L.ZeroPadding2D(((1, 0), (2, 3))),
}


def test_every_registered_layer_class_has_a_config_example():
    missing = sorted(set(L._LAYER_CLASSES) - set(LAYER_EXAMPLES))
    assert not missing, f"add config round-trip examples for {missing}"


@pytest.mark.parametrize("name", sorted(LAYER_EXAMPLES))
def test_layer_config_round_trip(name):
    layer = LAYER_EXAMPLES[name]()
    cfg = layer.get_config()
    json.dumps(cfg)  # JSON-safe
    clone = L.deserialize(L.serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == cfg


# ----------------------------------------------------------------------------- Keras 3 formats (issue 15)
def _compiled_cnn():
    model = _cnn()
    model.compile(optimizer=nn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return model


def test_keras_file_is_keras_3s_archive_layout(tmp_path):
    import h5py
    import io
    model = _compiled_cnn()
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        cfg = json.loads(zf.read("config.json"))
        meta = json.loads(zf.read("metadata.json"))
        h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    assert set(meta) == {"keras_version", "date_saved"}
    assert {"module", "class_name", "config", "registered_name", "build_config", "compile_config"} <= set(cfg)
    assert cfg["class_name"] == "Sequential" and cfg["module"] == "keras"
    layers = cfg["config"]["layers"]
    assert [l["class_name"] for l in layers] == ["InputLayer", "Conv2D", "BatchNormalization", "MaxPooling2D",
                                                "Flatten", "Dense"]
    conv = layers[1]
    assert conv["module"] == "keras.layers" and conv["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert conv["config"]["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert conv["build_config"] == {"input_shape": [None, 6, 6, 1]}
    assert cfg["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert cfg["compile_config"]["loss"] == "sparse_categorical_crossentropy"
    with h5:
        assert sorted(h5["layers"]) == ["batch_normalization", "conv2d", "dense", "flatten", "max_pooling2d"]
        assert h5["layers/conv2d/vars/0"].shape == (3, 3, 1, 4)
        opt = h5["optimizer/vars"]
        # iteration, learning_rate, then (momentum, velocity) per trainable variable: 6 of them
        assert len(opt) == 2 + 2 * 6 and int(opt["0"][()]) == 3
        assert opt["2"].shape == opt["3"].shape == (3, 3, 1, 4)


def test_h5_model_file_has_keras_legacy_layout_and_warns_like_keras(tmp_path):
    import h5py
    model = _compiled_cnn()
    path = tmp_path / "m.h5"
    with pytest.warns(UserWarning, match="This file format is considered legacy"):
        model.save(path)
    with h5py.File(path, "r") as f:
        assert {"model_config", "training_config", "keras_version", "backend"} <= set(f.attrs)
        assert json.loads(f.attrs["model_config"])["class_name"] == "Sequential"
        assert "optimizer_config" in json.loads(f.attrs["training_config"])
        assert [n.decode() for n in f["model_weights"].attrs["layer_names"]] == [l.name for l in model.layers]
    loaded = nn.models.load_model(path)
    x, y = _data(8)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations


def test_old_own_zip_keras_files_still_load_with_a_note_to_resave(tmp_path):
    model = _compiled_cnn()
    model.save(tmp_path / "m.nnscratch")  # the layout earlier versions wrote under '.keras'
    old = tmp_path / "old.keras"
    old.write_bytes((tmp_path / "m.nnscratch").read_bytes())
    with pytest.warns(UserWarning, match="re-save it with model.save"):
        loaded = nn.models.load_model(old)
    x, y = _data(8)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations


def _edit_config(path, edit):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cfg = json.loads(members["config.json"])
    edit(cfg)
    members["config.json"] = json.dumps(cfg).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)


@pytest.mark.parametrize("edit, pattern", [
    (lambda c: c["config"]["layers"][1]["config"].update(kernel_constraint={"class_name": "NonNeg", "config": {}}),
     r"layer 'conv2d\w*' \(Conv2D\): kernel_constraint=.* not supported"),
    (lambda c: c["config"]["layers"][1]["config"].update(groups=2), r"groups=2 is not supported"),
    (lambda c: c["config"]["layers"][5]["config"].update(
        dtype={"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}),
     r"dtype 'mixed_float16' is not supported"),
    (lambda c: c["config"]["layers"][5]["config"].update(activation="gelu"), r"unknown activation 'gelu'"),
    (lambda c: c["compile_config"]["optimizer"].update(class_name="Lion"), r"optimizer 'Lion' is not available"),
    (lambda c: c["compile_config"]["optimizer"]["config"].update(use_ema=True), r"use_ema=True is not supported"),
    (lambda c: c["compile_config"].update(loss="huber"), r"unknown loss 'huber'"),
])
def test_keras_values_nnscratch_cannot_honour_are_refused_by_name(tmp_path, edit, pattern):
    path = tmp_path / "m.keras"
    _compiled_cnn().save(path)
    _edit_config(path, edit)
    with pytest.raises(ValueError, match=pattern) as info:
        nn.models.load_model(path)
    assert "m.keras" in str(info.value)


def test_functional_keras_file_round_trip_keeps_the_graph(tmp_path):
    model = _functional()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "f.keras")
    with zipfile.ZipFile(tmp_path / "f.keras") as zf:
        cfg = json.loads(zf.read("config.json"))
    assert cfg["class_name"] == "Functional"
    concat = next(l for l in cfg["config"]["layers"] if l["class_name"] == "Concatenate")
    history = [t["config"]["keras_history"][0] for t in concat["inbound_nodes"][0]["args"][0]]
    assert sorted(history) == sorted(l.name for l in model.layers if "global" in l.name)
    loaded = nn.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    a = loaded.optimizer.get_state()["slots"]
    b = model.optimizer.get_state()["slots"]
    assert sorted(a) == sorted(b)
    for k in a:
        for s in a[k]:
            np.testing.assert_array_equal(a[k][s], b[k][s])


def test_a_float32_keras_file_in_a_float64_session_says_how_to_load_it(tmp_path):
    path = tmp_path / "m.keras"
    _compiled_cnn().save(path)
    nn.backend.set_floatx("float64")
    try:
        with pytest.raises(ValueError, match=r"compute in float32, nnscratch in float64; call nn.backend.set_floatx"):
            nn.models.load_model(path)
    finally:
        nn.backend.set_floatx("float32")
    assert nn.models.load_model(path).get_weights()[0].dtype == np.float32


def test_load_weights_reads_the_weights_of_a_keras_file_as_keras_does(tmp_path):
    model = _compiled_cnn()
    model.save(tmp_path / "m.keras")
    other = _cnn()
    other.load_weights(tmp_path / "m.keras")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = nn.Sequential([nn.Input((6, 6, 1)), L.Flatten(), L.Dense(3)])
    before = [w.copy() for w in wrong.get_weights()]
    with pytest.raises(ValueError, match="m.keras"):
        wrong.load_weights(tmp_path / "m.keras")
    for a, b in zip(wrong.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_regularizers_cross_keras_files_both_ways(tmp_path):
    """L1/L2 kernel/bias regularizers on Dense and Conv2D are written in Keras's form and read back."""
    model = nn.Sequential([nn.Input((6, 6, 1)),
                           nn.layers.Conv2D(2, 3, kernel_regularizer=nn.regularizers.L2(0.03)),
                           nn.layers.Flatten(),
                           nn.layers.Dense(3, bias_regularizer=nn.regularizers.L1(0.02))])
    path = tmp_path / "reg.keras"
    model.save(path)
    import json
    import zipfile
    with zipfile.ZipFile(path) as zf:
        cfg = json.loads(zf.read("config.json"))
    conv_cfg = next(lc["config"] for lc in cfg["config"]["layers"] if lc["class_name"] == "Conv2D")
    assert conv_cfg["kernel_regularizer"]["module"] == "keras.regularizers"
    assert conv_cfg["kernel_regularizer"]["class_name"] == "L2"
    back = nn.models.load_model(path)
    assert isinstance(back.layers[0].kernel_regularizer, nn.regularizers.L2)
    assert back.layers[0].kernel_regularizer.get_config() == model.layers[0].kernel_regularizer.get_config()
    assert isinstance(back.layers[2].bias_regularizer, nn.regularizers.L1)
