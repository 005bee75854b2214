"""Run a ported program as written, on a small slice of Fashion-MNIST, with nnscratch or Keras.

Each program in this folder is a published Keras example or TensorFlow tutorial with only its
imports changed (``tf.keras``/``keras`` -> ``nnscratch``; each header lists any other edit).
The harness changes what the program cannot see: ``datasets.mnist.load_data`` and
``datasets.fashion_mnist.load_data`` return the first ``n_train``/``n_test`` Fashion-MNIST
images (Fashion-MNIST stands in for MNIST offline; ``datasets.cifar10`` gets the same images in
CIFAR's shapes, ``cifar_stand_in``), ``fit`` runs at most ``max_epochs``
epochs, matplotlib draws to nothing (Agg), and the program runs in a temporary directory.
``to_keras(source)`` turns the imports back, so the parity suite runs the same text on Keras.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from tests import helpers

HERE = Path(__file__).resolve().parent
_DATA = {}


def fashion_slice(n_train, n_test):
    if "full" not in _DATA:
        _DATA["full"] = helpers.load_fashion_mnist()
    (x, y), (xt, yt) = _DATA["full"]
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])


def cifar_stand_in(n_train, n_test):
    """CIFAR-10's shapes from Fashion-MNIST: 28x28 padded to 32x32, three equal channels,
    labels of shape (N, 1) (CIFAR's), uint8 as load_data returns."""
    import numpy as np

    (x, y), (xt, yt) = fashion_slice(n_train, n_test)
    rgb = lambda a: np.repeat(np.pad(a, ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=-1)  # noqa: E731
    return (rgb(x), y.reshape(-1, 1)), (rgb(xt), yt.reshape(-1, 1))


def source_of(name):
    return (HERE / f"{name}.py").read_text()


def to_keras(source):
    """The program's text with the nnscratch imports turned back into Keras's."""
    out = []
    for line in source.splitlines():
        line = re.sub(r"^import nnscratch as (\w+)$", r"import keras as \1", line)
        line = re.sub(r"^import nnscratch$", "import keras as nnscratch", line)
        line = re.sub(r"^from nnscratch import (.*)$", r"from keras import \1", line)
        out.append(line)
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def _patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def run(name, framework, tmp_path, n_train=3000, n_test=1000, max_epochs=1):
    """Execute program ``name`` with ``framework`` ('nnscratch' or 'keras'); returns its globals."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    if framework == "keras":
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        from tests.parity._tf import load_tf

        _, lib = load_tf()
        model_cls, src = lib.Model, to_keras(source_of(name))
        lib.utils.set_random_seed(0)
    else:
        import nnscratch as lib

        from nnscratch.models.model import Model as model_cls
        src = source_of(name)
        lib.utils.set_random_seed(0)
    data = fashion_slice(n_train, n_test)
    load = lambda *a, **k: data  # noqa: E731
    original_fit = model_cls.fit

    def capped_fit(self, *args, **kwargs):
        kwargs["epochs"] = min(kwargs.get("epochs", 1), max_epochs)
        return original_fit(self, *args, **kwargs)

    namespace = {"__name__": "__main__", "__file__": str(HERE / f"{name}.py")}
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(lib.datasets.mnist, "load_data", load))
        stack.enter_context(_patched(lib.datasets.fashion_mnist, "load_data", load))
        cifar = cifar_stand_in(n_train, n_test)
        stack.enter_context(_patched(lib.datasets.cifar10, "load_data", lambda *a, **k: cifar))
        stack.enter_context(_patched(model_cls, "fit", capped_fit))
        os.chdir(tmp_path)
        try:
            exec(compile(src, str(HERE / f"{name}.py"), "exec"), namespace)
        finally:
            os.chdir(cwd)
    return namespace
