"""The parity oracle is checked too: TensorFlow runs without its oneDNN kernels, a disagreement
is judged by the loop reference kernels (``nnscratch.debug.reference``), and the default run
says how much of the grid it skipped. None of these tests needs TensorFlow itself."""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.debug import reference
from tests.parity import _layers, _tf, conftest, tolerances
from tests.parity._compare import assert_close

# the configuration TensorFlow 2.21's oneDNN kernels got wrong (issue 16): 1x1, strides (1, 3), 'same'
X_SHAPE, STRIDES = (3, 13, 12, 4), (1, 3)


def test_tensorflow_is_configured_without_onednn_before_it_is_imported():
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0"
    assert not _tf.IMPORTED_BEFORE_CONFIGURED, (
        "tensorflow was imported before tests/parity set TF_ENABLE_ONEDNN_OPTS=0: its oneDNN kernels are on")


def test_onednn_is_off_in_a_subprocess_too():
    """A subprocess (``python -m tests.parity.report``) gets the setting from ``_tf`` itself."""
    code = ("import os; os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None); import tests.parity._tf as t; "
            "t.configure_environment(); print(os.environ['TF_ENABLE_ONEDNN_OPTS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "0", out.stderr


def _conv_case(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(X_SHAPE)
    k = rng.standard_normal((1, 1, 4, 4))
    y = reference.conv2d_naive(x, k, strides=STRIDES, padding="same")
    dy = rng.standard_normal(y.shape)
    dx = reference.conv2d_naive_backward(dy, x, k, strides=STRIDES, padding="same")[0]
    return dx


@pytest.mark.parametrize("wrong,verdict", [
    ("tf", "TensorFlow is wrong"),
    ("ours", "nnscratch is wrong"),
    ("both", "both nnscratch and TensorFlow differ from the loop reference"),
])
def test_a_disagreement_names_the_side_that_is_wrong(wrong, verdict):
    right = _conv_case()
    bad = right.copy()
    bad[1, 4, 3, 2] += 0.5  # one wrong element, as a broken kernel gives
    ours = bad if wrong in ("ours", "both") else right
    theirs = bad + (0.25 if wrong == "both" else 0.0) if wrong in ("tf", "both") else right
    with pytest.raises(AssertionError) as err:
        assert_close("Conv2D", "dx", ours, theirs, tolerances.LAYER["float64"], reference=lambda: right)
    assert verdict in str(err.value), str(err.value)
    assert "differs from TensorFlow" in str(err.value)


def test_without_a_reference_the_message_says_so_and_agreement_never_computes_it():
    right = _conv_case()
    with pytest.raises(AssertionError, match="no loop reference"):
        assert_close("Dense", "dx", right + 1.0, right, tolerances.LAYER["float64"])

    def never():
        raise AssertionError("the reference must only be computed on a disagreement")

    assert_close("Conv2D", "dx", right, right, tolerances.LAYER["float64"], reference=never)


def test_default_run_reports_how_many_grid_points_it_skipped():
    class Item:
        def __init__(self, slow):
            self.keywords = {"slow": True} if slow else {}
            self.path = SimpleNamespace(parts=("tests", "parity", "test_layers_tf.py"))
            self.markers = []

        def add_marker(self, marker):
            self.markers.append(marker)

    config = SimpleNamespace(getoption=lambda name, default=None: False)
    items = [Item(True), Item(False), Item(True), Item(True)]
    conftest.pytest_collection_modifyitems(config, items)
    assert [len(i.markers) for i in items] == [1, 0, 1, 1]
    assert all(m.kwargs["reason"] == conftest.SKIP_REASON for i in items for m in i.markers)
    lines = []
    skipped = [SimpleNamespace(longrepr=("test_layers_tf.py", 1, f"Skipped: {conftest.SKIP_REASON}"))] * 3
    skipped.append(SimpleNamespace(longrepr=("test_layers_tf.py", 2, "Skipped: Keras rounds the slope")))
    reporter = SimpleNamespace(write_line=lines.append, write_sep=lambda sep, title: lines.append(title),
                               stats={"skipped": skipped, "passed": [object()]})
    conftest.pytest_terminal_summary(reporter, 0, config)
    text = "\n".join(lines)
    assert "3 TF-parity grid points skipped" in text and "--full" in text and "NNSCRATCH_PARITY_FULL=1" in text


_REFERENCED = [c for c in _layers.fast_cases() if c.component in ("Conv2D", "MaxPooling2D", "AveragePooling2D")
               and c.config.get("activation", "linear") == "linear"]


@pytest.mark.parametrize("case", _REFERENCED, ids=str)
def test_the_loop_references_of_the_layer_cases_agree_with_nnscratch(case):
    """The tie-breaker is wired to the right quantities and layouts: on nnscratch's own float64
    answers (no TensorFlow needed) every reference agrees."""
    rng = np.random.default_rng(1)
    x = _layers._inputs(case, rng, "float64")
    c = case.config
    if case.component == "Conv2D":
        layer = nn.layers.Conv2D(4, c["kernel"], strides=c["strides"], padding=c["padding"], dilation_rate=c["dilation"],
                                 data_format=c["data_format"], bias_initializer="glorot_uniform", dtype="float64")
    else:
        layer = getattr(nn.layers, case.component)(c["pool"], strides=c["strides"], padding=c["padding"],
                                                   data_format=c["data_format"], dtype="float64")
    y = np.asarray(layer(x))
    dy = rng.standard_normal(y.shape)
    ours = {"y": y, "dx": np.asarray(layer.call_backward(dy)), **{f"d{k}": np.asarray(v) for k, v in layer.grads.items()}}
    refs = _layers._loop_references(case, x, dy, layer.get_weights() if layer.params else [])
    assert set(refs) == set(ours)
    for quantity, ref in refs.items():
        assert_close(case.component, f"{case.id} {quantity}", ours[quantity], ref(), tolerances.LAYER["float64"])
