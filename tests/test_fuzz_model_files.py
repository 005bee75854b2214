"""Seeded mutation fuzzing of every model-file reader (issue 16 item 4): truncations, byte flips
and JSON type swaps of valid files give only ValueError/OSError naming the file (never a
KeyError, AttributeError, TypeError, RecursionError...), and a failed load_weights leaves the
model unchanged."""
import io
import json
import random
import warnings
import zipfile

import pytest

import nnscratch as nn
from tests.test_hostile_files import assert_unchanged, small_model, snapshot

L = nn.layers
N_CASES = int(__import__("os").environ.get("NNSCRATCH_FUZZ_CASES", 30))  # mutations per file kind and mutation kind (seeded: the same files every run)


def _valid_files(tmp_path):
    model = small_model()
    files = {}
    for name in ("w.npz", "w.weights.h5"):
        model.save_weights(tmp_path / name)
        files[name] = (tmp_path / name).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("m.keras", "m.h5", "m.nnscratch"):
            model.save(tmp_path / name)
            files[name] = (tmp_path / name).read_bytes()
    files["old.keras"] = files["m.nnscratch"]  # what earlier nnscratch versions wrote as .keras
    files["lw.keras"] = files["m.keras"]  # read with load_weights
    return model, files


def _truncate(data, rng):
    return data[:rng.randrange(0, len(data))]


def _flip(data, rng):
    b = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


_SWAPS = [[], {}, "x", 3, -1, 1e308, None, True, [[[]]], {"class_name": 1}]


def _swap_json_value(obj, rng):
    """``obj`` with one randomly chosen value replaced by a value of another type."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])
    walk(obj, [])
    path = rng.choice(paths[1:])
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = rng.choice([s for s in _SWAPS if type(s) is not type(node[path[-1]])])
    return obj


def _json_swap(data, rng, member):
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == member:
                content = json.dumps(_swap_json_value(json.loads(content), rng)).encode()
            zf.writestr(info.filename, content)
    return out.getvalue()


def _load(kind, model, path):
    if kind in ("w.npz", "w.weights.h5", "lw.keras"):
        model.load_weights(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nn.models.load_model(path)


def _check(kind, model, path):
    snap = snapshot(model)
    try:
        _load(kind, model, path)
    except (ValueError, OSError) as exc:
        assert path.name in str(exc), f"{type(exc).__name__} does not name the file: {exc}"
        assert_unchanged(model, snap)
    # any other exception type fails the test with its traceback


KINDS = ["w.npz", "w.weights.h5", "lw.keras", "m.keras", "m.h5", "m.nnscratch", "old.keras"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mutation", ["truncate", "flip"])
def test_mutated_files_give_only_value_or_os_errors_naming_the_file(tmp_path, kind, mutation):
    model, files = _valid_files(tmp_path)
    rng = random.Random(f"{kind}-{mutation}")
    for i in range(N_CASES):
        data = (_truncate if mutation == "truncate" else _flip)(files[kind], rng)
        path = tmp_path / f"case{i}-{kind}"
        path.write_bytes(data)
        _check(kind, model, path)


@pytest.mark.parametrize("kind", ["m.keras", "m.nnscratch", "old.keras"])
def test_json_type_swaps_in_config_json_give_only_value_errors(tmp_path, kind):
    model, files = _valid_files(tmp_path)
    rng = random.Random(kind)
    for i in range(N_CASES * 2):
        path = tmp_path / f"swap{i}-{kind}"
        path.write_bytes(_json_swap(files[kind], rng, "config.json"))
        _check(kind, model, path)


def test_json_type_swaps_in_legacy_h5_model_config(tmp_path):
    import h5py
    model, files = _valid_files(tmp_path)
    rng = random.Random("h5")
    for i in range(N_CASES * 2):
        path = tmp_path / f"swap{i}-m.h5"
        path.write_bytes(files["m.h5"])
        with h5py.File(path, "r+") as f:
            attr = rng.choice(["model_config", "training_config"])
            f.attrs[attr] = json.dumps(_swap_json_value(json.loads(f.attrs[attr]), rng))
        _check("m.h5", model, path)
