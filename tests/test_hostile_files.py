"""Hostile and malformed model/weights files (issue 16 items 1, 4, 5, 7; issue 15): every reader
checks declared sizes before it reads, refuses links and complex arrays, and turns every
malformed file into one ValueError naming the file, leaving the model unchanged."""
import io
import json
import os
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import cli

L = nn.layers
PEAK_LIMIT = 200 * 2**20  # bytes: a crafted small file may not make the reader allocate more


def small_model(compiled=True):
    nn.utils.set_random_seed(0)
    m = nn.Sequential([nn.Input((4,)), L.Dense(3, activation="relu"), L.Dense(2)])
    if compiled:
        m.compile(optimizer="adam", loss="mse")
        m.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0)
    return m


def snapshot(model):
    st = model.optimizer.get_state() if model.optimizer is not None else {"iterations": 0, "slots": {}}
    return [w.copy() for w in model.get_weights()], st["iterations"], {
        k: {s: a.copy() for s, a in v.items()} for k, v in st["slots"].items()}


def assert_unchanged(model, snap):
    weights, it, slots = snap
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b, err_msg="a failed load changed the weights")
    if model.optimizer is not None:
        st = model.optimizer.get_state()
        assert st["iterations"] == it
        assert sorted(st["slots"]) == sorted(slots)
        for k, v in slots.items():
            for s, a in v.items():
                np.testing.assert_array_equal(st["slots"][k][s], a)


def refused_within_memory(fn, path, pattern):
    """``fn()`` raises a ValueError naming ``path`` and matching ``pattern``, and its Python/NumPy
    allocations peak below PEAK_LIMIT (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=pattern) as info:
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert os.path.basename(str(path)) in str(info.value)
    assert peak < PEAK_LIMIT, f"the reader allocated {peak / 2**20:.0f} MB for a {os.path.getsize(path)} byte file"
    return info.value


# ----------------------------------------------------------------------------- item 1: sizes
def test_small_weights_h5_declaring_a_huge_dataset_is_refused_before_reading(tmp_path):
    model = small_model()
    path = tmp_path / "huge.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(12000, 12000), dtype="float32", chunks=(100, 100))
    assert os.path.getsize(path) < 100_000
    snap = snapshot(model)
    err = refused_within_memory(lambda: model.load_weights(path), path, None)
    assert "(12000, 12000)" in str(err)
    assert_unchanged(model, snap)


def _npz_with_header(arrays, lie_key, lie_shape):
    """An .npz whose member ``lie_key`` has an .npy header declaring ``lie_shape`` (float32)
    but holds only a few bytes of data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, a in arrays.items():
            b = io.BytesIO()
            if k == lie_key:
                header = {"descr": "<f4", "fortran_order": False, "shape": lie_shape}
                np.lib.format.write_array_header_1_0(b, header)
                b.write(b"\0" * 64)
            else:
                np.lib.format.write_array(b, a)
            zf.writestr(k + ".npy", b.getvalue())
    return buf.getvalue()


def test_npz_whose_header_declares_gigabytes_is_refused_before_allocating(tmp_path):
    model = small_model()
    path = tmp_path / "bomb.npz"
    model.save_weights(path)
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    path.write_bytes(_npz_with_header(arrays, "layers/0/Dense/0", (32768, 32768)))
    snap = snapshot(model)
    err = refused_within_memory(lambda: model.load_weights(path), path, None)
    assert "(32768, 32768)" in str(err)
    assert_unchanged(model, snap)


def test_keras_file_with_a_config_json_bomb_is_refused_by_its_declared_size(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", b" " * (160 * 2**20))  # deflates to ~160 KB
        zf.writestr("model.weights.h5", b"")
        zf.writestr("weights.npz", b"")  # also the members of nnscratch's older zip
    assert os.path.getsize(path) < 1_000_000
    refused_within_memory(lambda: nn.models.load_model(path), path, None)


def test_deeply_nested_config_json_is_a_value_error_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "[" * 200_000 + "]" * 200_000)
        zf.writestr("model.weights.h5", b"")
        zf.writestr("weights.npz", b"")
    with pytest.raises(ValueError, match="nests too deeply") as info:
        nn.models.load_model(path)
    assert "deep.keras" in str(info.value)


# ----------------------------------------------------------------------------- item 7: complex, links
def test_complex_arrays_are_refused_not_cast(tmp_path):
    model = small_model()
    h5 = tmp_path / "c.weights.h5"
    model.save_weights(h5)
    with h5py.File(h5, "r+") as f:
        a = f["layers/dense/vars/0"][()]
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = a.astype("complex64") + 1j
    npz = tmp_path / "c.npz"
    model.save_weights(npz)
    with np.load(npz) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["layers/0/Dense/0"] = arrays["layers/0/Dense/0"].astype("complex64")
    np.savez(npz, **arrays)
    snap = snapshot(model)
    for path in (h5, npz):
        with pytest.raises(ValueError, match="complex") as info:
            model.load_weights(path)
        assert path.name in str(info.value)
    assert_unchanged(model, snap)


@pytest.mark.parametrize("kind", ["external", "soft"])
def test_hdf5_links_in_weights_files_are_refused(tmp_path, kind):
    model = small_model()
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["k"] = np.full((4, 3), 7.0, "float32")
        f["b"] = np.full((3,), 7.0, "float32")
    path = tmp_path / "link.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars/0"]
        if kind == "external":
            f["layers/dense/vars/0"] = h5py.ExternalLink(str(other), "/k")
        else:
            f["elsewhere"] = np.full((4, 3), 7.0, "float32")
            f["layers/dense/vars/0"] = h5py.SoftLink("/elsewhere")
    snap = snapshot(model)
    with pytest.raises(ValueError, match=f"{kind} link") as info:
        model.load_weights(path)
    assert path.name in str(info.value)
    assert_unchanged(model, snap)


# ----------------------------------------------------------------------------- item 4: malformed
def _keras_zip(path, config, weights=b""):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", config if isinstance(config, bytes) else json.dumps(config))
        zf.writestr("model.weights.h5", weights)


MALFORMED_CONFIGS = {
    "a list where a dict is expected": [],
    "layers not a list": {"module": "keras", "class_name": "Sequential", "config": {"layers": {"a": 1}}},
    "a layer that is a string": {"module": "keras", "class_name": "Sequential", "config": {"layers": ["Dense"]}},
    "missing config": {"module": "keras", "class_name": "Sequential"},
    "wrong type for units": {"module": "keras", "class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "i"}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"units": "three", "name": "d"}}]}},
    "bad batch_shape": {"module": "keras", "class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": "x", "name": "i"}}]}},
    "bad UTF-8": b'{"class_name": "\xff\xfe"}',
    "bad JSON": b'{"class_name": ',
}


@pytest.mark.parametrize("case", list(MALFORMED_CONFIGS))
def test_malformed_keras_config_is_one_value_error_naming_the_file(tmp_path, case):
    path = tmp_path / "bad.keras"
    _keras_zip(path, MALFORMED_CONFIGS[case])
    with pytest.raises(ValueError) as info:
        nn.models.load_model(path)
    assert "bad.keras" in str(info.value)


def test_unknown_layer_class_and_custom_objects_are_refused_by_name_before_building(tmp_path):
    path = tmp_path / "custom.keras"
    base = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "i"}},
        {"module": "keras.layers", "class_name": "LSTM", "config": {"units": 3, "name": "lstm"}}]}}
    _keras_zip(path, base)
    with pytest.raises(ValueError, match="no layer 'LSTM'"):
        nn.models.load_model(path)
    base["config"]["layers"][1] = {"module": "my_package.layers", "class_name": "MyDense",
                                   "registered_name": "my_package>MyDense", "config": {"name": "x"}}
    _keras_zip(path, base)
    with pytest.raises(ValueError, match="custom object 'my_package>MyDense'"):
        nn.models.load_model(path)


def test_dataset_where_a_group_is_expected_is_a_value_error(tmp_path):
    model = small_model()
    path = tmp_path / "g.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars"]
        f["layers/dense/vars"] = np.zeros(3)
    snap = snapshot(model)
    with pytest.raises(ValueError, match="expected a Group") as info:
        model.load_weights(path)
    assert "g.weights.h5" in str(info.value)
    assert_unchanged(model, snap)


def test_npz_meta_of_the_wrong_type_is_a_value_error(tmp_path):
    model = small_model()
    path = tmp_path / "m.npz"
    model.save_weights(path)
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["__meta__"] = np.asarray(json.dumps(["not", "a", "dict"]))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="m.npz"):
        model.load_weights(path)


def test_cli_evaluate_with_a_bad_weights_file_prints_one_line(tmp_path, capsys):
    bad = tmp_path / "weights.npz"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        b = io.BytesIO()
        np.lib.format.write_array(b, np.asarray(json.dumps([1, 2])))
        zf.writestr("__meta__.npy", b.getvalue())
    bad.write_bytes(buf.getvalue())
    status = cli.main(["evaluate", "--weights", str(bad), "--model", "mlp", "--limit", "8"])
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "weights.npz" in err


def test_keras_file_whose_weights_member_inflates_past_the_model_is_refused(tmp_path):
    model = small_model()
    path = tmp_path / "w-bomb.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        config = zf.read("config.json")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", config)
        zf.writestr("model.weights.h5", b"\0" * (64 * 2**20))  # 64 MB for a model of 23 weights
    assert os.path.getsize(path) < 1_000_000
    err = refused_within_memory(lambda: nn.models.load_model(path), path, None)
    assert "model.weights.h5" in str(err)


@pytest.mark.parametrize("fmt", ["keras", "h5", "nnscratch"])
def test_tiny_config_describing_gigabytes_of_weights_is_refused_before_building(tmp_path, fmt):
    import warnings
    model = small_model()
    path = tmp_path / f"wide.{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)

    def widen(cfg):
        if fmt == "nnscratch":  # nnscratch's own zip
            cfg["model"]["config"]["input_shape"] = [100000]
            cfg["model"]["config"]["layers"][0]["config"]["units"] = 100000
            return
        cfg["config"]["layers"][0]["config"]["batch_shape"] = [None, 100000]
        cfg["config"]["layers"][1]["config"]["units"] = 100000  # a 40 GB kernel
    if fmt in ("keras", "nnscratch"):
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        cfg = json.loads(members["config.json"])
        widen(cfg)
        members["config.json"] = json.dumps(cfg).encode()
        with zipfile.ZipFile(path, "w") as zf:
            for n, b in members.items():
                zf.writestr(n, b)
    else:
        with h5py.File(path, "r+") as f:
            cfg = json.loads(f.attrs["model_config"])
            widen(cfg)
            f.attrs["model_config"] = json.dumps(cfg)
    err = refused_within_memory(lambda: nn.models.load_model(path), path, None)
    assert "weights" in str(err) and "more than" in str(err)


def test_own_file_with_a_nested_model_config_describing_huge_weights_is_refused_before_allocating(tmp_path):
    """The nested/shared (graph) layout has no static shape walk: the weight budget of the
    loader stops a parameter beyond what the file holds before it is allocated."""
    import json
    import tracemalloc
    import zipfile

    import nnscratch as nn

    base = nn.Sequential([nn.Input((4,)), nn.layers.Dense(3)], name="inner")
    x = nn.Input((4,))
    model = nn.Model(x, base(x))
    path = tmp_path / "m.nnscratch"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        config, weights = json.loads(zf.read("config.json")), zf.read("weights.npz")
    text = json.dumps(config).replace('"units": 3', '"units": 300000000')
    assert text != json.dumps(config)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", text)
        zf.writestr("weights.npz", weights)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="m.nnscratch"):
            nn.models.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MB"
