"""The seed models end to end against Keras (same initial weights, same batches, train_on_batch):
per-step losses, final weights and predictions; and summary() shapes and parameter counts."""
from __future__ import annotations

import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._models import SEED_MODELS, float32_skip_reason, model_cases, run_model_case, summary_pairs

pytestmark = pytest.mark.tf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in model_cases()])
def test_seed_model_training_matches_keras(case, dtype):
    if dtype == "float32" and float32_skip_reason(case):
        pytest.skip(float32_skip_reason(case))
    for quantity, ours, theirs in run_model_case(case.config["model"], dtype):
        # the first step's loss is a pure forward pass from identical weights: loss tolerance
        tol = tolerances.LOSS[dtype] if quantity == "loss[step 0]" else tolerances.TRAINING[dtype]
        assert_close(case.component, f"{quantity} {dtype}", ours, theirs, tol)


@pytest.mark.parametrize("model", [m for m in SEED_MODELS if m != "dropout_mlp_masked"])
def test_summary_shapes_and_param_counts_match_keras(model):
    rows, totals, counts = summary_pairs(model)
    assert counts[0] == counts[1], f"{model}: {counts[0]} layers in nnscratch, {counts[1]} in Keras"
    for i, ours_cls, keras_cls, (our_shape, keras_shape), (our_n, keras_n) in rows:
        where = f"{model} layer {i} ({ours_cls})"
        assert ours_cls == keras_cls, f"{where}: class {ours_cls} vs Keras {keras_cls}"
        assert our_shape == keras_shape, f"{where}: output shape {our_shape} vs Keras {keras_shape}"
        assert our_n == keras_n, f"{where}: {our_n} parameters vs Keras {keras_n}"
    assert totals[0] == totals[1], f"{model}: {totals[0]} parameters in total vs Keras {totals[1]}"
