"""A two-input, two-output model with one loss per output against Keras 3: one train_on_batch
step from identical weights (copied from Keras), comparing the total loss, each output's loss
(Keras 3's ``<output>_loss`` logs) and every weight after the update. The classifier output is a
softmax under a categorical cross-entropy, so its fused logits path is what is compared."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

import nnscratch as nn
from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._models import floatx
from tests.parity._tf import load_tf

pytestmark = pytest.mark.tf

CASES = {
    "list_losses_list_weights_dict_y": dict(loss=["mse", "categorical_crossentropy"], loss_weights=[0.5, 2.0],
                                            y="dict", sample_weight=None),
    "dict_losses_dict_weights_sample_weight_per_output": dict(
        loss={"cls": "categorical_crossentropy", "score": "mse"}, loss_weights={"cls": 0.25, "score": 3.0},
        y="list", sample_weight="list"),
}


def build(lib):
    a, b = lib.Input((4,), name="a"), lib.Input((3,), name="b")
    h = lib.layers.Concatenate(name="concat")([a, b])
    h = lib.layers.Dense(6, activation="tanh", name="hidden")(h)
    score = lib.layers.Dense(2, name="score")(h)
    cls = lib.layers.Dense(3, activation="softmax", name="cls")(h)
    return lib.Model([a, b], [score, cls])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_one_train_on_batch_step_matches_keras(case, dtype):
    tf, keras = load_tf()
    cfg = CASES[case]
    gen = np.random.default_rng(3)
    xa, xb = gen.normal(size=(8, 4)).astype(dtype), gen.normal(size=(8, 3)).astype(dtype)
    y_score = gen.normal(size=(8, 2)).astype(dtype)
    y_cls = np.eye(3, dtype=dtype)[gen.integers(0, 3, 8)]
    y = {"score": y_score, "cls": y_cls} if cfg["y"] == "dict" else [y_score, y_cls]
    sw = [gen.random(8).astype(dtype), gen.random(8).astype(dtype)] if cfg["sample_weight"] else None

    with floatx(keras, dtype):  # both libraries' float type (and Keras's cached dtype policy)
        theirs = build(keras)
        theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=cfg["loss"], loss_weights=cfg["loss_weights"])
        start = {layer.name: [w.copy() for w in layer.get_weights()] for layer in theirs.layers if layer.get_weights()}
        keras_logs = theirs.train_on_batch([xa, xb], y, sample_weight=sw, return_dict=True)
        keras_after = {name: theirs.get_layer(name).get_weights() for name in start}
        assert keras_after["cls"][0].dtype == dtype, "Keras computed in another float type"
        ours = build(nn)
        for name, weights in start.items():
            ours.get_layer(name).set_weights(weights)
        ours.compile(optimizer=nn.optimizers.SGD(0.1), loss=cfg["loss"], loss_weights=cfg["loss_weights"])
        assert ours._output_losses.fused == [False, True], "the softmax output should train from its logits"
        logs = ours.train_on_batch([xa, xb], y, sample_weight=sw, return_dict=True)

    assert set(logs) == set(keras_logs), f"log keys: ours {sorted(logs)}, Keras {sorted(keras_logs)}"
    for key in ("loss", "score_loss", "cls_loss"):
        assert_close("multi-output loss", f"{case} {dtype} {key}", logs[key], keras_logs[key], tolerances.LOSS[dtype])
    for name in start:
        for i, (w_ours, w_theirs) in enumerate(zip(ours.get_layer(name).get_weights(), keras_after[name])):
            assert_close("multi-output step", f"{case} {dtype} {name} weight {i} after the update", w_ours, w_theirs,
                         tolerances.LAYER[dtype])
