"""The backend contract (nnscratch/backend.py) and the lint that keeps numpy/cupy out of the engine.

Tests taking the ``backend`` fixture (tests/conftest.py) run once per backend: numpy,
emulated, and cupy when a GPU is present.
"""
import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend as nn_backend

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- choosing a backend
def test_set_backend_rejects_unknown_names_and_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        nn_backend.set_backend("tensorflow")
    for name in ("'tensorflow'", "numpy", "cupy", "emulated"):
        assert name in str(err.value), f"{name} missing from: {err.value}"
    assert nn_backend.current() != "tensorflow"


@pytest.mark.skipif(nn_backend.cupy_available(), reason="CuPy and a GPU are present on this machine")
def test_cupy_missing_raises_runtime_error_naming_the_wheels():
    before = nn_backend.current()
    with pytest.raises(RuntimeError, match="cupy-cuda12x") as err:
        nn_backend.set_backend("cupy")
    assert "cupy-cuda13x" in str(err.value) and "nnscratch[gpu]" in str(err.value)
    assert nn_backend.current() == before, "a failed set_backend must leave the backend unchanged"


def test_backend_names_are_case_insensitive_and_scoped():
    before = nn_backend.current()
    with nn_backend.backend_scope("EMULATED"):
        assert nn_backend.current() == "emulated"
        assert nn_backend.xp() is nn_backend.get_array_module(nn_backend.to_device(np.ones(2)))
    assert nn_backend.current() == before


@pytest.mark.parametrize("name", ["numpy", "emulated"])
def test_environment_variable_chooses_the_backend_at_import(name):
    env = dict(os.environ, NNSCRATCH_BACKEND=name, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", "import nnscratch as nn; print(nn.backend.current())"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == name


# ----------------------------------------------------------------------------- crossings
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_to_device_to_host_round_trip(backend, dtype):
    host = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    dev = backend.to_device(host)
    assert backend.is_array(dev)
    assert backend.is_device_array(dev) == (backend.current() != "numpy")
    back = backend.to_host(dev)
    assert type(back) is np.ndarray, f"to_host returned {type(back).__name__}"
    assert back.dtype == host.dtype and back.shape == host.shape
    np.testing.assert_array_equal(back, host)


def test_to_device_casts_and_to_host_accepts_scalars_and_lists(backend):
    dev = backend.to_device([[1, 2], [3, 4]], dtype="float32")
    assert dev.dtype == np.float32
    np.testing.assert_array_equal(backend.to_host(dev), [[1.0, 2.0], [3.0, 4.0]])
    assert backend.to_host(2.5).shape == ()
    assert backend.to_float(dev.sum()) == 10.0


def test_get_array_module_follows_the_data(backend):
    dev = backend.to_device(np.ones(3))
    assert backend.get_array_module(dev) is backend.xp()
    assert backend.get_array_module(np.ones(3)) is np


# ----------------------------------------------------------------------------- float type
def test_floatx_defaults_to_float32_and_validates():
    assert nn_backend.floatx() == "float32"
    with nn_backend.floatx_scope("float64"):
        assert nn_backend.floatx() == "float64"
    assert nn_backend.floatx() == "float32"
    with pytest.raises(ValueError, match="float16"):
        nn_backend.set_floatx("float16")


def test_new_weights_take_floatx(backend):
    with backend.floatx_scope("float64"):
        layer = nn.layers.Dense(3)
        layer(backend.to_device(np.ones((2, 4)), dtype="float64"))
    assert layer.params["kernel"].dtype == np.float64
    assert backend.is_device_array(layer.params["kernel"]) == (backend.current() != "numpy")


# ----------------------------------------------------------------------------- randomness
def _seeded_weights(name, seed):
    with nn_backend.backend_scope(name):
        nn.utils.set_random_seed(seed)
        model = nn.Sequential([nn.layers.Input((6, 6, 1)), nn.layers.Conv2D(2, 3), nn.layers.Flatten(),
                               nn.layers.Dense(4)])
        model.build((None, 6, 6, 1))
        return model.get_weights()


def test_same_seed_gives_identical_weights_on_numpy_and_emulated():
    ref = _seeded_weights("numpy", 3)
    emu = _seeded_weights("emulated", 3)
    other = _seeded_weights("numpy", 4)
    assert len(ref) == len(emu) == 4
    for i, (a, b) in enumerate(zip(ref, emu)):
        np.testing.assert_array_equal(a, b, err_msg=f"weight {i}")
    assert not np.array_equal(ref[0], other[0]), "a different seed must give different kernels"


def test_rng_with_seed_is_reproducible_and_host_side():
    a = nn_backend.rng(5).random(4)
    b = nn_backend.rng(5).random(4)
    assert type(a) is np.ndarray
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- scatter_add
def test_scatter_add_accumulates_duplicate_indices(backend):
    xp = backend.xp()
    a = xp.zeros((4,), dtype="float32")
    idx = backend.to_device(np.array([0, 2, 2, 2, 3]))
    backend.scatter_add(a, idx, backend.to_device(np.array([1.0, 1.0, 2.0, 3.0, 0.5], dtype="float32")))
    np.testing.assert_array_equal(backend.to_host(a), [1.0, 0.0, 6.0, 0.5])


def test_scatter_add_with_tuple_index_on_2d(backend):
    a = backend.xp().zeros((2, 3), dtype="float32")
    rows = backend.to_device(np.array([0, 0, 1]))
    cols = backend.to_device(np.array([1, 1, 2]))
    backend.scatter_add(a, (rows, cols), 2.0)
    np.testing.assert_array_equal(backend.to_host(a), [[0.0, 4.0, 0.0], [0.0, 0.0, 2.0]])


# ----------------------------------------------------------------------------- the lint
ENGINE = ["nnscratch/layers", "nnscratch/losses", "nnscratch/regularizers.py", "nnscratch/activations.py", "nnscratch/optimizers",
          "nnscratch/initializers.py", "nnscratch/metrics", "nnscratch/models", "nnscratch/ops",
          # the kernel tiers, except reference.py (host-side loops, like debug/)
          "nnscratch/kernels/__init__.py", "nnscratch/kernels/fast.py", "nnscratch/kernels/fast_conv.py",
          "nnscratch/kernels/fast_im2col.py", "nnscratch/kernels/fast_pool.py", "nnscratch/kernels/geometry.py",
          "nnscratch/kernels/scratch.py", "nnscratch/kernels/threads.py"]
FORBIDDEN = ("numpy", "cupy", "cupyx")


def forbidden_imports(source, filename="<source>"):
    """[(line, text)] for every import of numpy/cupy/cupyx in ``source`` (any form, including
    ``__import__('numpy')`` and ``importlib.import_module('cupy')``)."""
    found = []

    def bad(module):
        return module is not None and module.split(".")[0] in FORBIDDEN

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if bad(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and bad(node.module):
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
            if name in ("__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and bad(node.args[0].value):
                found.append((node.lineno, f"{name}({node.args[0].value!r})"))
    return found


@pytest.mark.parametrize("source", [
    "import numpy", "import numpy as np", "import os, numpy.linalg", "from numpy import zeros",
    "from numpy.lib import stride_tricks", "import cupy", "from cupyx import scatter_add",
    "def f():\n    import numpy as np\n    return np", "np = __import__('numpy')",
    "import importlib\ncp = importlib.import_module('cupy')",
])
def test_lint_catches_every_form_of_numpy_or_cupy_import(source):
    assert forbidden_imports(source), f"not caught: {source!r}"


@pytest.mark.parametrize("source", ["from nnscratch import backend", "import numbers", "from . import numpy_helpers"])
def test_lint_allows_other_imports(source):
    assert forbidden_imports(source) == []


def _engine_files():
    files = []
    for entry in ENGINE:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_engine_modules_never_import_numpy_or_cupy():
    files = _engine_files()
    assert len(files) >= 10, f"the lint found only {len(files)} engine files; were modules moved?"
    offenders = [f"{f.relative_to(ROOT)}:{line}: {text}"
                 for f in files for line, text in forbidden_imports(f.read_text(), str(f))]
    assert not offenders, "engine modules must use `xp = backend.get_array_module(x)`:\n" + "\n".join(offenders)
